"""The zoo's variants (CPU: `bass_cpu`, `red_net_cpu`, `red_net_cpu_face_box`; whole photo: `rnn_g_context`) pass
every single-pass model's checks."""

import numpy as np
import pytest
import zoo_checks

from keras_stn_icnn.models.zoo import ZOO, build_zoo_model, zoo_name_of

VARIANTS = ["bass_cpu", "red_net_cpu", "red_net_cpu_face_box"]
SMALL_ARGUMENTS = {
    "bass_cpu": dict(input_size=64),
    "red_net_cpu": dict(input_size=64, num_exemplars=2, bank_size=8, pca_components=3),
    "red_net_cpu_face_box": dict(input_size=64, face_size=32, num_exemplars=2, bank_size=8, pca_components=3),
    "rnn_g_context": dict(input_size=64),
}
"""Each variant as its entry builds it, at a small working size (and a small exemplar bank)."""


def test_the_variants_are_the_cpu_ones_rnn_g_context_and_the_face_box_parser():
    # The two-stage ones have their checks in test_rnn_g.py (context) and test_rnn_g_face_box.py (face box).
    assert [name for name, entry in ZOO.items() if entry.arguments] == [
        "rnn_g_context",
        "rnn_g_two_stage_context",
        "rnn_g_two_stage_face_box",
        *VARIANTS,
    ]


@pytest.mark.parametrize("name", VARIANTS)
def test_a_variant_is_its_class_at_a_smaller_size(name):
    variant = build_zoo_model(name, **SMALL_ARGUMENTS[name])
    paper_name = name.replace("_cpu", "")
    assert type(variant) is ZOO[paper_name].model_class
    assert zoo_name_of(variant) == name
    paper = build_zoo_model(paper_name, input_size=variant.input_size)
    assert variant.count_params() < paper.count_params() / 10


def test_rnn_g_context_is_rnn_g_wider_seeing_further_on_a_coarser_rnn_grid():
    variant = build_zoo_model("rnn_g_context", **SMALL_ARGUMENTS["rnn_g_context"])
    paper = build_zoo_model("rnn_g", input_size=variant.input_size)
    assert type(variant) is type(paper) and (zoo_name_of(variant), zoo_name_of(paper)) == ("rnn_g_context", "rnn_g")
    assert variant.get_layer("conv3").filters == 2 * paper.get_layer("conv3").filters
    assert len(variant.context_filters) == 3 and paper.context_filters == ()
    assert variant.get_layer("spatial_rnn").output.shape[1:3] == (16, 16)
    assert paper.get_layer("spatial_rnn").output.shape[1:3] == (32, 32)


@pytest.mark.parametrize("name", [*VARIANTS, "rnn_g_context"])
def test_a_variant_passes_the_zoo_checks(name, tmp_path):
    model = build_zoo_model(name, **SMALL_ARGUMENTS[name])
    if hasattr(model, "fit_prior"):  # RED-Net's exemplar bank, as the exports carry it
        rng = np.random.default_rng(0)
        model.fit_prior(rng.integers(0, model.num_classes, (8, model.input_size, model.input_size)).astype(np.uint8))
    zoo_checks.check_outputs_follow_the_image(model)
    zoo_checks.check_a_training_step_changes_every_trainable_weight(model)
    loaded = zoo_checks.check_keras_file_round_trip(model, tmp_path / f"{name}.keras")
    assert zoo_name_of(loaded) == name
    zoo_checks.check_exports(model, tmp_path, name)
