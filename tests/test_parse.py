"""STNiCNN.parse: numpy in, label maps out, clear errors for bad input."""

import numpy as np
import pytest

from keras_stn_icnn import STNiCNN


@pytest.fixture(scope="module")
def model():
    return STNiCNN(localizer="fcn")


def test_parse_one_image_a_list_and_a_batch(model):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (120, 90, 3), dtype=np.uint8)
    b = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    single = model.parse(a)
    assert single.shape == (120, 90) and single.dtype == np.uint8
    assert single.max() < len(model.class_names)
    listed = model.parse([a, b, a])
    assert [m.shape for m in listed] == [(120, 90), (64, 64), (120, 90)]
    np.testing.assert_array_equal(listed[0], single)
    np.testing.assert_array_equal(listed[2], single)
    batch = model.parse(np.stack([a, a]))
    assert batch.shape == (2, 120, 90)
    np.testing.assert_array_equal(batch[1], single)
    np.testing.assert_array_equal(model.parse(a.astype(np.float32)), single)


def test_class_names_document_the_ids(model):
    assert model.class_names[0] == "background"
    assert len(model.class_names) == 9 and "inner_mouth" in model.class_names


@pytest.mark.parametrize(
    "image, error, message",
    [
        (np.zeros((10, 10, 4), np.uint8), ValueError, r"image 0: expected a .* \[H, W, 3\] \(RGB\) array, got shape"),
        (np.zeros((10, 10), np.uint8), ValueError, r"\[B, H, W, 3\], got an array of shape \(10, 10\)"),
        (np.zeros((0, 10, 3), np.uint8), ValueError, "image 0: the image is empty"),
        (np.zeros((10, 10, 3), np.int32), TypeError, "image 0: expected a uint8.*got dtype int32"),
        (np.full((10, 10, 3), np.nan, np.float32), ValueError, "image 0: contains NaN"),
        (np.full((10, 10, 3), 300.0, np.float32), ValueError, r"\[0, 255\], got \[300.0, 300.0\]"),
        (np.zeros((1025, 100, 3), np.uint8), ValueError, "1025x100 is larger than the model's 1024x1024"),
    ],
)
def test_bad_images_get_clear_errors(model, image, error, message):
    with pytest.raises(error, match=message):
        model.parse(image)


def test_bad_containers_get_clear_errors(model):
    with pytest.raises(TypeError, match="numpy array or a list"):
        model.parse("face.jpg")
    with pytest.raises(TypeError, match="image 1: expected a .* numpy array, got str"):
        model.parse([np.zeros((8, 8, 3), np.uint8), "face.jpg"])
    with pytest.raises(ValueError, match=r"got an array of shape \(1, 2, 2, 2, 3\)"):
        model.parse(np.zeros((1, 2, 2, 2, 3), np.uint8))
