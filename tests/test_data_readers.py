"""Readers of HELEN, LaPa, CelebAMask-HQ and LFW-PL on small fake trees, broken ones included."""

import shutil

import numpy as np
import pytest
import tensorflow as tf
from fake_datasets import truncate, write_celebamask_hq, write_helen, write_lapa, write_lfw_pl
from PIL import Image

from keras_stn_icnn.data import (
    BadDataWarning,
    CelebAMaskHQReader,
    DatasetError,
    HelenReader,
    LapaReader,
    LfwPartLabelsReader,
)
from keras_stn_icnn.data.synthetic import generate_synthetic_helen, render_face
from keras_stn_icnn.labels import label_mapping


def read_all(dataset):
    return [{key: value.numpy() for key, value in example.items()} for example in dataset]


def assert_fails_naming(dataset, *fragments):
    with pytest.raises((DatasetError, tf.errors.InvalidArgumentError)) as raised:
        read_all(dataset)
    for fragment in fragments:
        assert str(fragment) in str(raised.value)


# HELEN ---------------------------------------------------------------------------------------


def test_helen_reads_every_split_exactly(tmp_path):
    written = write_helen(tmp_path)
    reader = HelenReader(tmp_path)
    for split, names in {"train": "abc", "val": "d", "test": "e"}.items():
        examples = read_all(reader.dataset(split))
        assert len(examples) == len(names)
        for example, name in zip(examples, names):
            image, label = written[name]
            assert example["image"].dtype == np.uint8 and example["label"].dtype == np.uint8
            np.testing.assert_array_equal(example["image"], image)
            np.testing.assert_array_equal(example["label"], label)


def test_helen_stn_icnn_schema_follows_the_authors_rule(tmp_path):
    write_helen(tmp_path, {"exemplars.txt": ["a"]}, shape=(4, 4))
    labels = tmp_path / "labels" / "a"
    maps = [np.zeros((4, 4), np.uint8) for _ in range(11)]
    maps[1][:] = 255  # skin everywhere, fully
    maps[6][0, 0] = 150  # a soft nose: argmax over 11 says skin, the authors' rule says nose
    maps[6][0, 1] = 100  # too faint: background (255 - 100 > 100)
    for k, label_map in enumerate(maps):
        Image.fromarray(label_map).save(labels / f"a_lbl{k:02d}.png")
    (stn_label,) = [e["label"] for e in read_all(HelenReader(tmp_path, schema="stn_icnn").dataset("train"))]
    (helen_label,) = [e["label"] for e in read_all(HelenReader(tmp_path).dataset("train"))]
    assert stn_label[0, 0] == 5 and stn_label[0, 1] == 0 and not stn_label[1:].any()
    assert (helen_label == 1).all()


def test_helen_hard_labels_agree_with_the_schema_mapping(tmp_path):
    written = write_helen(tmp_path)
    examples = read_all(HelenReader(tmp_path, schema="stn_icnn").dataset("train"))
    for example, name in zip(examples, "abc"):
        np.testing.assert_array_equal(example["label"], label_mapping("helen", "stn_icnn")[written[name][1]])


def test_helen_missing_label_file_names_the_file(tmp_path):
    write_helen(tmp_path)
    missing = tmp_path / "labels" / "b" / "b_lbl07.png"
    missing.unlink()
    with pytest.raises(DatasetError, match="b_lbl07.png"):
        HelenReader(tmp_path).dataset("train")
    reader = HelenReader(tmp_path, skip_bad=True)
    with pytest.warns(BadDataWarning, match="b_lbl07.png"):
        examples = read_all(reader.dataset("train"))
    assert len(examples) == 2 and [s.name for s in reader.skipped] == ["b"]


def test_helen_size_mismatch_names_both_files(tmp_path):
    write_helen(tmp_path)
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(tmp_path / "labels" / "c" / "c_lbl03.png")
    assert_fails_naming(HelenReader(tmp_path).dataset("train"), "size mismatch", "c_lbl03.png", "c.jpg")
    reader = HelenReader(tmp_path, skip_bad=True)
    with pytest.warns(BadDataWarning, match="size mismatch"):
        assert len(read_all(reader.dataset("train"))) == 2
    assert len(reader.skipped) == 1


def test_helen_truncated_image_is_an_error_not_a_grey_picture(tmp_path):
    write_helen(tmp_path)
    truncate(tmp_path / "images" / "a.jpg")
    assert_fails_naming(HelenReader(tmp_path).dataset("train"), "a.jpg")
    reader = HelenReader(tmp_path, skip_bad=True)
    with pytest.warns(BadDataWarning, match="a.jpg"):
        assert len(read_all(reader.dataset("train"))) == 2


@pytest.mark.parametrize("content, message", [("", "empty split list"), ("1 a b\n", "expected '<index> , <name>'")])
def test_helen_bad_split_lists(tmp_path, content, message):
    write_helen(tmp_path)
    (tmp_path / "testing.txt").write_text(content)
    with pytest.raises(DatasetError, match=message):
        HelenReader(tmp_path).dataset("test")


def test_reader_argument_errors(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        HelenReader(tmp_path / "nowhere")
    write_helen(tmp_path)
    with pytest.raises(ValueError, match="unknown split 'training'"):
        HelenReader(tmp_path).dataset("training")
    with pytest.raises(ValueError, match="unknown label schema 'helen9'"):
        HelenReader(tmp_path, schema="helen9")
    with pytest.raises(DatasetError, match="missing split list"):
        HelenReader(tmp_path / "images").dataset("train")


def test_every_bad_example_skipped_is_counted(tmp_path):
    write_helen(tmp_path, {"exemplars.txt": list("abcdef")})
    truncate(tmp_path / "images" / "b.jpg")
    (tmp_path / "labels" / "d" / "d_lbl00.png").unlink()
    Image.fromarray(np.zeros((3, 3), np.uint8)).save(tmp_path / "labels" / "f" / "f_lbl10.png")
    reader = HelenReader(tmp_path, skip_bad=True)
    with pytest.warns(BadDataWarning):
        examples = read_all(reader.dataset("train", shuffle=True, seed=3))
    assert len(examples) == 3
    assert sorted(s.name for s in reader.skipped) == ["b", "d", "f"]


# LaPa ----------------------------------------------------------------------------------------


def test_lapa_labels_and_landmarks(tmp_path):
    written = write_lapa(tmp_path)
    examples = read_all(LapaReader(tmp_path).dataset("train"))
    for example, name in zip(examples, ["p", "q"]):
        label, landmarks = written[("train", name)]
        np.testing.assert_array_equal(example["label"], label)
        np.testing.assert_allclose(example["landmarks"], landmarks)
        assert example["landmarks"].shape == (106, 2)


def test_lapa_unknown_class_id_and_bad_landmarks(tmp_path):
    write_lapa(tmp_path)
    label = np.zeros((24, 36), np.uint8)
    label[3, 4] = 11
    Image.fromarray(label).save(tmp_path / "train" / "labels" / "q.png")
    assert_fails_naming(LapaReader(tmp_path).dataset("train"), "unknown class id 11", "q.png")
    (tmp_path / "val" / "landmarks" / "r.txt").write_text("106\n1 2\n")
    assert_fails_naming(LapaReader(tmp_path).dataset("val"), "corrupt landmark file", "r.txt")
    (tmp_path / "test" / "labels" / "s.png").unlink()
    with pytest.raises(DatasetError, match="s.png"):
        LapaReader(tmp_path).dataset("test")


def test_lapa_layout_without_landmarks(tmp_path):
    written = write_lapa(tmp_path)
    shutil.rmtree(tmp_path / "train" / "landmarks")
    with pytest.raises(DatasetError, match="p.txt"):
        LapaReader(tmp_path).dataset("train")
    examples = read_all(LapaReader(tmp_path, landmarks=False).dataset("train"))
    assert [sorted(example) for example in examples] == [["image", "label"]] * 2
    for example, name in zip(examples, ["p", "q"]):
        np.testing.assert_array_equal(example["label"], written[("train", name)][0])


def test_lapa_to_stn_icnn_schema(tmp_path):
    written = write_lapa(tmp_path)
    (example,) = read_all(LapaReader(tmp_path, schema="stn_icnn").dataset("val"))
    np.testing.assert_array_equal(example["label"], label_mapping("lapa", "stn_icnn")[written[("val", "r")][0]])


# CelebAMask-HQ -------------------------------------------------------------------------------


def test_celebamask_hq_official_split_paints_masks_in_order(tmp_path):
    labels = write_celebamask_hq(tmp_path)
    reader = CelebAMaskHQReader(tmp_path, resolution=16)
    assert [e.name for e in reader.examples("val")] == ["6", "7"]
    assert [e.name for e in reader.examples("test")] == ["8", "9"]
    examples = read_all(reader.dataset("train"))
    assert len(examples) == 6
    for image_id, example in enumerate(examples):
        assert example["image"].shape == (16, 16, 3)  # the 32x32 image is resized to the masks' size
        np.testing.assert_array_equal(example["label"], labels[image_id])


def test_celebamask_hq_paper_split_is_6_2_2_disjoint_and_seeded(tmp_path):
    write_celebamask_hq(tmp_path, num_images=20)
    reader = CelebAMaskHQReader(tmp_path, split_protocol="paper", split_seed=4)
    splits = {split: [e.name for e in reader.examples(split)] for split in ("train", "val", "test")}
    assert [len(v) for v in splits.values()] == [12, 4, 4]
    assert len(set(sum(splits.values(), []))) == 20
    again = CelebAMaskHQReader(tmp_path, split_protocol="paper", split_seed=4)
    assert [e.name for e in again.examples("val")] == splits["val"]
    other = CelebAMaskHQReader(tmp_path, split_protocol="paper", split_seed=5)
    assert [e.name for e in other.examples("val")] != splits["val"]


def test_celebamask_hq_bad_data(tmp_path):
    write_celebamask_hq(tmp_path)
    mask_dir = tmp_path / "CelebAMask-HQ-mask-anno" / "0"
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(mask_dir / "00001_tattoo.png")
    assert_fails_naming(CelebAMaskHQReader(tmp_path).dataset("train"), "unknown class 'tattoo'", "00001_tattoo.png")
    reader = CelebAMaskHQReader(tmp_path, skip_bad=True, resolution=16)
    with pytest.warns(BadDataWarning, match="tattoo"):
        examples = read_all(reader.dataset("train"))
    assert len(examples) == 5 and reader.skipped[0].name == "1"
    for path in mask_dir.glob("00006_*.png"):
        path.unlink()
    assert_fails_naming(CelebAMaskHQReader(tmp_path).dataset("val"), "no mask files", "6.jpg")
    with pytest.raises(ValueError, match="split_protocol"):
        CelebAMaskHQReader(tmp_path, split_protocol="random")
    (tmp_path / "list_eval_partition.txt").unlink()
    with pytest.raises(DatasetError, match="list_eval_partition.txt"):
        CelebAMaskHQReader(tmp_path).examples("train")


# LFW-PL --------------------------------------------------------------------------------------


def test_lfw_pl_labels_from_colours(tmp_path):
    written = write_lfw_pl(tmp_path)
    examples = read_all(LfwPartLabelsReader(tmp_path).dataset("train"))
    for example, name in zip(examples, ["Ann_Lee_0001", "Ann_Lee_0002"]):
        np.testing.assert_array_equal(example["label"], written[name])
    (example,) = read_all(LfwPartLabelsReader(tmp_path, schema="helen").dataset("test"))
    assert set(np.unique(example["label"])) == {0, 1, 10}


def test_lfw_pl_unknown_colour_is_an_error(tmp_path):
    write_lfw_pl(tmp_path)
    path = tmp_path / "parts_lfw_funneled_gt_images" / "Bo_Ma_0001.ppm"
    ground_truth = np.asarray(Image.open(path)).copy()
    ground_truth[2, 3] = (255, 255, 0)
    Image.fromarray(ground_truth).save(path)
    assert_fails_naming(
        LfwPartLabelsReader(tmp_path).dataset("val"), "unknown class colour (255, 255, 0)", "Bo_Ma_0001.ppm"
    )


# The synthetic set, end to end through the HELEN reader --------------------------------------


def test_synthetic_set_reads_back_through_the_helen_reader(tmp_path):
    root = generate_synthetic_helen(tmp_path / "synthetic", num_train=2, num_val=1, num_test=1, seed=3, progress=False)
    for split, indices in {"train": [0, 1], "val": [2], "test": [3]}.items():
        examples = read_all(HelenReader(root).dataset(split))
        assert len(examples) == len(indices)
        for example, index in zip(examples, indices):
            image, label = render_face((3, index))
            np.testing.assert_array_equal(example["image"], image)
            np.testing.assert_array_equal(example["label"], label)
    (stn,) = read_all(HelenReader(root, schema="stn_icnn").dataset("val"))
    np.testing.assert_array_equal(stn["label"], label_mapping("helen", "stn_icnn")[render_face((3, 2))[1]])
