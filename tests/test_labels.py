"""Class schemas and the mappings between them."""

import itertools

import numpy as np
import pytest

from keras_stn_icnn.labels import SCHEMAS, get_schema, label_mapping

SHARED_WITH_HELEN = {
    "stn_icnn": [
        "left_eyebrow",
        "right_eyebrow",
        "left_eye",
        "right_eye",
        "nose",
        "upper_lip",
        "inner_mouth",
        "lower_lip",
    ],
    "lapa": [
        "skin",
        "left_eyebrow",
        "right_eyebrow",
        "left_eye",
        "right_eye",
        "nose",
        "upper_lip",
        "inner_mouth",
        "lower_lip",
        "hair",
    ],
}


@pytest.mark.parametrize("source, target", list(itertools.product(SCHEMAS, SCHEMAS)))
def test_every_mapping_is_a_valid_lookup_table(source, target):
    table = label_mapping(source, target)
    assert table.dtype == np.uint8 and table.shape == (get_schema(source).num_classes,)
    assert table.max() < get_schema(target).num_classes
    assert table[0] == 0  # background stays background
    if source == target:
        np.testing.assert_array_equal(table, np.arange(len(table)))


@pytest.mark.parametrize("schema", sorted(SCHEMAS))
def test_classes_shared_with_helen_survive_a_round_trip(schema):
    there, back = label_mapping("helen", schema), label_mapping(schema, "helen")
    kept = [i for i in range(11) if back[there[i]] == i]
    names = [SCHEMAS["helen"].class_names[i] for i in kept]
    expected = {
        "helen": list(SCHEMAS["helen"].class_names),
        "lapa": list(SCHEMAS["helen"].class_names),
        "stn_icnn": ["background", *SHARED_WITH_HELEN["stn_icnn"]],
        "celebamask_hq": list(SCHEMAS["helen"].class_names),
        "lfw_pl": ["background", "skin", "hair"],
    }[schema]
    assert names == expected


def test_mappings_keep_part_names():
    celeb = SCHEMAS["celebamask_hq"]
    to_stn = label_mapping("celebamask_hq", "stn_icnn")
    stn_names = SCHEMAS["stn_icnn"].class_names
    assert stn_names[to_stn[celeb.class_id("l_brow")]] == "left_eyebrow"
    assert stn_names[to_stn[celeb.class_id("mouth")]] == "inner_mouth"
    assert stn_names[to_stn[celeb.class_id("hair")]] == "background"  # STN-iCNN folds hair into background
    for dropped in ("eye_g", "l_ear", "hat", "neck", "cloth", "ear_r", "neck_l"):
        assert label_mapping("celebamask_hq", "helen")[celeb.class_id(dropped)] == 0
    # LFW-PL has no inner parts: they become skin, hair stays hair.
    assert label_mapping("helen", "lfw_pl").tolist() == [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2]


def test_schema_lookup_errors_name_the_value():
    with pytest.raises(ValueError, match="unknown label schema 'celeba'"):
        get_schema("celeba")
    with pytest.raises(ValueError, match="no class 'teeth'"):
        SCHEMAS["helen"].class_id("teeth")


def test_palettes_match_the_lapa_colormap():
    lapa = SCHEMAS["lapa"].palette
    assert lapa[1] == (0, 153, 255) and lapa[10] == (255, 0, 102)
    for schema in SCHEMAS.values():
        helen_ids = [schema.to_helen[i] for i in range(schema.num_classes)]
        for class_id, helen_id in enumerate(helen_ids):
            if schema.name in ("stn_icnn", "lapa", "helen") or (schema.name == "celebamask_hq" and helen_id):
                assert schema.palette[class_id] == lapa[helen_id], (schema.name, class_id)
