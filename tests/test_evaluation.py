"""Loading saved parsers and scoring them on a set; the evaluate example end to end."""

import re
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_stn_icnn import STNiCNN
from keras_stn_icnn.cli import main
from keras_stn_icnn.data.synthetic import render_face
from keras_stn_icnn.evaluation import (
    EvaluationResult,
    evaluate_on_real_faces,
    evaluate_parser,
    landmark_label_agreement,
)
from keras_stn_icnn.export import serving_archive
from keras_stn_icnn.inference import FaceParser
from keras_stn_icnn.labels import STN_ICNN_CLASS_NAMES, get_schema, label_mapping
from keras_stn_icnn.metrics import PAPER_F1_GROUPS, PART_IOU_GROUPS
from keras_stn_icnn.models.loading import load_parser

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "evaluate.py"


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory):
    """A small untrained STNiCNN saved as .keras, and the model it was saved from."""
    model = STNiCNN()
    model(np.zeros((1, 64, 48, 3), np.float32))
    path = tmp_path_factory.mktemp("keras_model") / "stn_icnn.keras"
    model.save(path)
    return path, model


def _tiny_parser():
    """A functional model with a parser's outputs (`labels`, `probabilities`), quick to export."""
    images = keras.Input((None, None, 3))
    logits = keras.layers.Conv2D(9, 1, name="logits")(keras.layers.Rescaling(1 / 255)(images))
    probabilities = keras.layers.Softmax()(logits)
    labels = keras.ops.cast(keras.ops.argmax(probabilities, axis=-1), "uint8")
    return keras.Model(images, {"labels": labels, "probabilities": probabilities})


@pytest.fixture(scope="module")
def tiny_saved_model(tmp_path_factory):
    """A SavedModel with the serving contract, written by the package's exporter, and its model."""
    model = _tiny_parser()
    path = tmp_path_factory.mktemp("saved_model") / "1"
    serving_archive(model).write_out(str(path), verbose=False)
    return path, model


def _image(height=96, width=80, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def test_load_parser_reads_a_keras_file(keras_file):
    path, model = keras_file
    parser = load_parser(path)
    assert parser.kind == "keras" and isinstance(parser.model, STNiCNN)
    for loaded, saved in zip(parser.model.weights, model.weights, strict=True):
        np.testing.assert_array_equal(loaded.numpy(), saved.numpy())
    labels = parser(_image())
    assert labels.shape == (96, 80) and labels.dtype == np.uint8 and labels.max() < 9


def test_load_parser_reads_an_authors_checkpoint(reference_checkpoint_path):
    parser = load_parser(reference_checkpoint_path, localizer="resnet18")
    assert parser.kind == "pytorch_checkpoint" and parser.model.loaded_parts
    labels = parser(_image(120, 100))
    assert labels.shape == (120, 100) and labels.dtype == np.uint8 and labels.max() < 9


def test_load_parser_reads_a_saved_model_with_the_serving_contract(tiny_saved_model):
    path, model = tiny_saved_model
    parser = load_parser(path)
    assert parser.kind == "saved_model"
    image = _image(40, 30)
    expected = model(image[None].astype(np.float32))["labels"][0]
    np.testing.assert_array_equal(parser(image), expected)


def test_load_parser_saved_model_without_the_contract_is_refused(tmp_path):
    archive = keras.export.ExportArchive()
    model = _tiny_parser()
    archive.track(model)
    archive.add_endpoint(
        name="serving_default",
        fn=lambda x: {"out": model(x)["probabilities"]},
        input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name="x")],
    )
    archive.write_out(str(tmp_path / "other"), verbose=False)
    with pytest.raises(ValueError, match="must take 'images' uint8"):
        load_parser(tmp_path / "other")


def test_load_parser_reads_an_exported_stn_icnn(cli_exports, converted_model):
    out, status, printed = cli_exports
    assert status == 0, printed
    parser = load_parser(out / "stn_icnn" / "1")
    assert parser.kind == "saved_model"
    image = _image()
    np.testing.assert_array_equal(parser(image), converted_model.parse(image))


def test_load_parser_errors_name_the_path(tmp_path):
    missing = tmp_path / "nothing.keras"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing)) + ".*SavedModel"):
        load_parser(missing)
    odd = tmp_path / "weights.h5"
    odd.write_bytes(b"")
    with pytest.raises(ValueError, match=re.escape(str(odd)) + ": unknown kind"):
        load_parser(odd)
    base = tmp_path / "savedmodels" / "stn_icnn"
    (base / "3").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"without saved_model.pb; it has version folders \['3'\]"):
        load_parser(base)


def test_load_parser_refuses_a_keras_model_that_cannot_parse(tmp_path):
    path = tmp_path / "plain.keras"
    _tiny_parser().save(path)
    with pytest.raises(ValueError, match="no parse\\(\\) method"):
        load_parser(path)


# ----------------------------------------------------------------------------
# evaluate_parser


def _examples(count=3, seed=0):
    """Label maps with every class, and images that carry their label in channel 0."""
    rng = np.random.default_rng(seed)
    examples = []
    for index in range(count):
        label = rng.integers(0, 9, size=(20 + index, 16)).astype(np.uint8)
        image = rng.integers(0, 256, size=label.shape + (3,), dtype=np.uint8)
        image[..., 0] = label
        examples.append({"image": image, "label": label})
    return examples


def _ground_truth(image):
    return image[..., 0]


def test_a_parser_returning_the_truth_scores_one():
    result = evaluate_parser(_ground_truth, _examples(), progress=False)
    assert isinstance(result, EvaluationResult)
    assert result.num_images == 3
    assert result.confusion.sum() == sum(e["label"].size for e in _examples())
    assert np.count_nonzero(result.confusion - np.diag(np.diag(result.confusion))) == 0
    assert list(result.scores) == list(PAPER_F1_GROUPS)
    assert all(score == 1.0 for score in result.scores.values())
    assert all(score == 1.0 for score in result.class_scores.values())
    assert result.overall == 1.0
    assert result.report().splitlines()[-1] == "overall F1: 1.000"


def test_a_parser_returning_background_scores_zero():
    result = evaluate_parser(lambda image: np.zeros(image.shape[:2], np.uint8), _examples(), progress=False)
    assert result.overall == 0.0
    assert all(score == 0.0 for score in result.scores.values())


def test_evaluate_parser_reads_a_tf_data_dataset_and_shows_progress(capsys):
    examples = _examples(4, seed=1)
    dataset = tf.data.Dataset.from_generator(
        lambda: iter(examples),
        output_signature={
            "image": tf.TensorSpec([None, None, 3], tf.uint8),
            "label": tf.TensorSpec([None, None], tf.uint8),
        },
    )
    from_list = evaluate_parser(_ground_truth, examples, progress=False)
    result = evaluate_parser(lambda image: np.where(image[..., 0] == 3, 4, image[..., 0]), dataset)
    assert result.num_images == 4
    assert result.confusion.sum() == from_list.confusion.sum()
    # left eye read as right eye: right for "eyes", wrong per class
    assert result.scores["eyes"] == 1.0 and result.class_scores["left_eye"] == 0.0
    assert "overall F1" in capsys.readouterr().out


def test_evaluate_parser_errors_name_the_example():
    examples = _examples()
    with pytest.raises(ValueError, match="example 0: the parser returned shape"):
        evaluate_parser(lambda image: image[1:, :, 0], examples, progress=False)
    examples[1]["label"] = np.full(examples[1]["label"].shape, 12, np.uint8)
    with pytest.raises(ValueError, match=r"example 1: labels must hold class ids in \[0, 9\)"):
        evaluate_parser(_ground_truth, examples, progress=False)
    with pytest.raises(ValueError, match="example 0: expected a dict"):
        evaluate_parser(_ground_truth, [(1, 2)], progress=False)
    with pytest.raises(ValueError, match="empty"):
        evaluate_parser(_ground_truth, [], progress=False)


def test_other_class_counts_give_overall_and_per_class_only():
    examples = [{"image": np.zeros((2, 2, 3), np.uint8), "label": np.array([[0, 1], [2, 2]], np.uint8)}]
    result = evaluate_parser(lambda image: np.array([[0, 2], [2, 0]]), examples, num_classes=3, progress=False)
    # foreground: truth 3 pixels, predicted 2, both foreground at 2 of them -> 4 / 5
    assert result.overall == pytest.approx(0.8)
    assert list(result.scores) == ["overall"] and list(result.class_scores) == ["class_1", "class_2"]
    assert "overall F1: 0.800" in result.report()


# ----------------------------------------------------------------------------
# keras-stn-icnn evaluate (examples/evaluate.py is a wrapper over it)


def test_evaluate_command_on_a_tiny_synthetic_set(tiny_saved_model, tmp_path, capsys):
    # Any parser will do here; the tiny SavedModel keeps the test quick (an STNiCNN is traced in ~10 s).
    path, _ = tiny_saved_model
    status = main(
        [
            "evaluate",
            "--model",
            str(path),
            "--synthetic",
            "--seed",
            "3",
            "--num",
            "3",
            "--cache-dir",
            str(tmp_path),
            "--tf-log",
        ]
    )
    out = capsys.readouterr().out
    assert status == 0, out
    lines = out.rstrip("\n").splitlines()
    assert re.fullmatch(r"overall F1: \d\.\d{3}", lines[-1]), lines[-1]
    assert "F1 on 3 images" in out and "per-class F1:" in out and "merged-foreground F1" in out
    assert any(line.split()[:2] == ["eyes", "brows"] for line in lines)
    assert (tmp_path / "synthetic_eval_seed3_n3" / "testing.txt").read_text().count("\n") == 3


def test_evaluate_command_reports_bad_paths(tmp_path, capsys):
    assert main(["evaluate", "--model", str(tmp_path / "missing.keras"), "--data-dir", str(tmp_path), "--tf-log"]) == 2
    assert "missing.keras does not exist" in capsys.readouterr().err
    assert main(["evaluate", "--model", "m.keras", "--synthetic", "--split", "train", "--tf-log"]) == 2
    assert "the synthetic set is evaluated on its test split" in capsys.readouterr().err


def test_the_example_script_is_the_evaluate_command():
    result = subprocess.run([sys.executable, str(EXAMPLE), "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "usage: keras-stn-icnn evaluate" in result.stdout and "--synthetic" in result.stdout


# The real-photo set's scoring (its photos and landmark labels are made by examples/make_real_face_set.py)


def write_real_face_set(root, seeds, second_label=lambda label: label):
    """Synthetic faces in the real-photo set's layout: LaPa ids, and the "second model's" labels."""
    for folder in ("test/images", "test/labels", "second_model/labels"):
        (root / folder).mkdir(parents=True)
    for seed in seeds:
        image, label = render_face(seed)
        Image.fromarray(image).save(root / "test" / "images" / f"{seed}.png")
        Image.fromarray(label).save(root / "test" / "labels" / f"{seed}.png")
        Image.fromarray(second_label(label)).save(root / "second_model" / "labels" / f"{seed}.png")


def test_landmark_label_agreement_scores_the_second_models_labels_per_part(tmp_path):
    nose = get_schema("helen").class_names.index("nose")
    write_real_face_set(tmp_path, [5, 6], second_label=lambda label: np.where(label == nose, 0, label).astype(np.uint8))
    scores = landmark_label_agreement(tmp_path)
    assert scores["nose"] == 0.0
    assert [scores[group] for group in ("brows", "eyes", "lips")] == [1.0, 1.0, 1.0]
    assert scores["mean"] == pytest.approx(np.nanmean([scores[group] for group in PART_IOU_GROUPS]))


def test_evaluate_on_real_faces_scores_what_the_face_parser_pastes_into_each_photo(tmp_path):
    """A parser that calls every pixel of its crop nose: the score is the nose IoU of the pasted labels."""
    seeds = [1001, 1003]  # faces MTCNN finds (it misses many synthetic ones, as 1000)
    write_real_face_set(tmp_path, seeds)
    nose = STN_ICNN_CLASS_NAMES.index("nose")

    def all_nose(image):
        return np.full(image.shape[:2], nose, np.uint8)

    scores = evaluate_on_real_faces(all_nose, tmp_path)
    to_stn_icnn = label_mapping("helen", "stn_icnn")
    intersection = union = 0
    for seed in seeds:
        image, label = render_face(seed)
        truth, predicted = to_stn_icnn[label] == nose, FaceParser(all_nose)(image).labels == nose
        assert predicted.any()  # the face was found and its crop pasted back
        intersection += (truth & predicted).sum()
        union += (truth | predicted).sum()
    assert scores["nose"] == pytest.approx(intersection / union)
    assert [scores[group] for group in ("brows", "eyes", "lips")] == [0.0, 0.0, 0.0]
