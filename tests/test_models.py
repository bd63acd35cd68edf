"""Models: shapes, named outputs, options, .keras saving and config round trips."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_stn_icnn import ICNN, FCNLocalizer, ResNet18Localizer, STNiCNN, VGG9Localizer


@pytest.mark.parametrize("size, classes", [(128, 9), (81, 2), (81, 4), (127, 2)])
def test_icnn_gives_logits_at_input_resolution(size, classes):
    model = ICNN(classes)
    assert tuple(model(np.zeros((2, size, size, 3), np.float32)).shape) == (2, size, size, classes)


@pytest.mark.parametrize("localizer", [ResNet18Localizer, FCNLocalizer, VGG9Localizer])
def test_localizers_give_scale_translation_thetas(localizer):
    theta = localizer()(np.random.default_rng(0).random((2, 128, 128, 9)).astype(np.float32))
    assert tuple(theta.shape) == (2, 6, 2, 3)
    np.testing.assert_array_equal(theta[..., 0, 1], 0)
    np.testing.assert_array_equal(theta[..., 1, 0], 0)


@pytest.fixture(scope="module")
def small_model():
    keras.utils.set_random_seed(0)
    return STNiCNN(localizer="fcn")


def test_stn_icnn_outputs_at_the_image_resolution(small_model):
    images = np.random.default_rng(1).integers(0, 256, (2, 300, 220, 3)).astype(np.float32)
    outputs = small_model(images)
    assert tuple(outputs["stage1_logits"].shape) == (2, 128, 128, 9)
    assert tuple(outputs["theta"].shape) == (2, 6, 2, 3)
    assert {k: tuple(v.shape)[-1] for k, v in outputs["part_logits"].items()} == {
        "eyebrow1": 2,
        "eyebrow2": 2,
        "eye1": 2,
        "eye2": 2,
        "nose": 2,
        "mouth": 4,
    }
    assert tuple(outputs["probabilities"].shape) == (2, 300, 220, 9)
    np.testing.assert_allclose(
        np.asarray(outputs["probabilities"]).sum(-1).min(), 1.0, atol=0.5
    )  # windows may overlap, so only roughly a distribution
    assert outputs["labels"].dtype == tf.uint8
    np.testing.assert_array_equal(outputs["labels"], np.argmax(outputs["probabilities"], -1))


def test_shared_eye_model_sees_the_second_eye_mirrored(small_model):
    """Two mirror-image eye crops must give mirror-image logits."""
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (1, 512, 512, 3)).astype(np.float32)
    outputs = small_model(image)
    eye_model = small_model.get_layer("eye_model")
    crops = small_model.get_layer("crop")(image / 255.0, outputs["theta"])
    expected = np.flip(eye_model(np.flip(crops[:, 3], 2)), 2)
    np.testing.assert_allclose(outputs["part_logits"]["eye2"], expected, atol=1e-5)


def test_independent_part_models():
    model = STNiCNN(localizer="fcn", shared_part_models=False)
    names = {layer.name for layer in model.layers}
    assert {f"{p}_model" for p in ("eyebrow1", "eyebrow2", "eye1", "eye2", "nose", "mouth")} <= names
    assert "eye_model" not in names


def test_window_127_for_celebamask():
    model = STNiCNN(localizer="fcn", window=127)
    outputs = model(np.zeros((1, 256, 256, 3), np.float32))
    assert tuple(outputs["part_logits"]["mouth"].shape) == (1, 127, 127, 4)


def test_unknown_localizer_is_refused():
    with pytest.raises(ValueError, match="localizer must be one of"):
        STNiCNN(localizer="resnet50")


def test_keras_file_round_trip_gives_identical_outputs(small_model, tmp_path):
    images = np.random.default_rng(3).integers(0, 256, (1, 200, 160, 3)).astype(np.float32)
    expected = small_model(images)
    path = tmp_path / "stn_icnn.keras"
    small_model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is STNiCNN and loaded.get_config() == small_model.get_config()
    actual = loaded(images)
    for key in ("stage1_logits", "theta", "probabilities", "labels"):
        np.testing.assert_array_equal(actual[key], expected[key])


def test_config_round_trip_gives_identical_outputs(small_model):
    images = np.random.default_rng(4).integers(0, 256, (1, 150, 150, 3)).astype(np.float32)
    clone = STNiCNN.from_config(small_model.get_config())
    clone.set_weights(small_model.get_weights())
    np.testing.assert_array_equal(clone(images)["probabilities"], small_model(images)["probabilities"])


@pytest.mark.parametrize(
    "model_class, arguments",
    [
        (ICNN, {"num_classes": 4, "filters": (4, 8, 12, 16)}),
        (VGG9Localizer, {"filters": (4,) * 8}),
        (ResNet18Localizer, {}),
    ],
)
def test_sub_models_save_and_load(tmp_path, model_class, arguments):
    model = model_class(**arguments)
    inputs = (
        np.random.default_rng(5).random((1, 81, 81, 3) if model_class is ICNN else (1, 128, 128, 9)).astype(np.float32)
    )
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(loaded(inputs), model(inputs))
