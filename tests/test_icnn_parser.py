"""The one-stage iCNN parser: outputs, training, saving and export (the zoo's shared checks)."""

import numpy as np
import pytest
import zoo_checks

from keras_stn_icnn.labels import STN_ICNN_CLASS_NAMES
from keras_stn_icnn.models.icnn import ICNN, ICNNParser


@pytest.fixture(scope="module")
def model():
    return ICNNParser(class_names=STN_ICNN_CLASS_NAMES, input_size=64, canvas_size=256)


def test_outputs_follow_the_image(model):
    zoo_checks.check_outputs_follow_the_image(model)


def test_logits_are_the_icnn_on_the_resized_image(model):
    image = np.random.default_rng(1).integers(0, 256, (1, 64, 64, 3)).astype(np.float32)
    expected = model.get_layer("icnn")(image / 255.0)
    np.testing.assert_allclose(model(image)["logits"], expected, rtol=1e-5, atol=1e-5)


def test_loss_is_the_mean_pixel_cross_entropy(model):
    images, labels = zoo_checks.random_faces(model, seed=2)
    logits = np.array(model(images.astype(np.float32))["logits"], np.float64)
    log_probabilities = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = -np.take_along_axis(log_probabilities, labels[..., None].astype(int), -1).mean()
    outputs = model(images.astype(np.float32))
    actual = float(model.compute_loss(y=labels, y_pred=outputs))
    assert actual == pytest.approx(expected, rel=1e-5)


def test_a_training_step_moves_every_weight():
    zoo_checks.check_a_training_step_changes_every_trainable_weight(ICNNParser(input_size=32))


def test_keras_file_round_trip(model, tmp_path):
    zoo_checks.check_keras_file_round_trip(model, tmp_path / "icnn_parser.keras")


def test_exports(model, tmp_path):
    zoo_checks.check_exports(model, tmp_path, "icnn_parser")


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"input_size": 60}, "input_size"),
        ({"class_names": ("background",)}, "class_names"),
        ({"class_names": "skin"}, "class_names"),
        ({"canvas_size": 0}, "canvas_size"),
        ({"filters": 8}, r"filters must be a sequence of positive ints, got 8"),
        ({"filters": (8, 0, 24, 32)}, r"filters must be a sequence of positive ints, got \(8, 0, 24, 32\)"),
    ],
)
def test_bad_arguments_are_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        ICNNParser(**arguments)


def test_fit_without_labels_is_refused(model):
    with pytest.raises(ValueError, match="label maps"):
        model.compute_loss(y=None, y_pred=model(np.zeros((1, 64, 64, 3), np.float32)))


def test_icnn_is_the_stage1_network():
    assert isinstance(ICNNParser(input_size=32).get_layer("icnn"), ICNN)
