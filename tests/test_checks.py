"""The package's shared argument checks: one error text wherever a bad value enters."""

import numpy as np
import pytest

from keras_stn_icnn.checks import check_choice, check_image, check_image_batch, check_int


@pytest.mark.parametrize("value", [1, 7, np.int64(3)])
def test_check_int_returns_python_ints(value):
    assert check_int(value, "epochs") == int(value)
    assert type(check_int(value, "epochs")) is int


@pytest.mark.parametrize(
    "value, arguments, message",
    [
        (0, {}, "epochs must be an int >= 1, got 0"),
        (True, {}, "epochs must be an int >= 1, got True"),
        (2.0, {}, "epochs must be an int >= 1, got 2.0"),
        ("3", {}, "epochs must be an int >= 1, got '3'"),
        (6, {"maximum": 5}, "epochs must be an int >= 1 and <= 5, got 6"),
        (20, {"multiple": 8}, "epochs must be an int >= 1 divisible by 8, got 20"),
    ],
)
def test_check_int_names_the_argument_the_rule_and_the_value(value, arguments, message):
    with pytest.raises(ValueError) as error:
        check_int(value, "epochs", **arguments)
    assert str(error.value) == message


@pytest.mark.parametrize(
    "value, choices",
    [
        ("nearest", ("bilinear", "nearest")),
        (4, (2, 4)),
        (np.int64(4), (2, 4)),
        (None, ("a", None)),
        ("b", {"a": 1, "b": 2}),
    ],
)
def test_check_choice_returns_an_allowed_value(value, choices):
    assert check_choice(value, choices, "mode") is value


@pytest.mark.parametrize(
    "value, choices, message",
    [
        ("cubic", ("bilinear", "nearest"), "mode must be one of ('bilinear', 'nearest'), got 'cubic'"),
        (3, (2, 4), "mode must be one of (2, 4), got 3"),
        (True, (1, 2), "mode must be one of (1, 2), got True"),
        (None, ("a", "b"), "mode must be one of ('a', 'b'), got None"),
        (["a"], {"a": 1}, "mode must be one of ('a',), got ['a']"),
        (np.array([2, 4]), (2, 4), "mode must be one of (2, 4), got array([2, 4])"),
    ],
)
def test_check_choice_names_the_argument_the_choices_and_the_value(value, choices, message):
    with pytest.raises(ValueError) as error:
        check_choice(value, choices, "mode")
    assert str(error.value) == message


def test_check_image_accepts_floats_in_range_only_when_asked():
    image = np.full((2, 3, 3), 255.0, np.float32)
    assert check_image(image, allow_float=True) is image
    with pytest.raises(TypeError, match="image: expected a uint8 \\[H, W, 3\\] array, got dtype float32"):
        check_image(image)
    with pytest.raises(ValueError, match=r"float values must lie in \[0, 255\], got \[-1.0, 255.0\]"):
        check_image(np.concatenate([image, np.full((2, 3, 3), -1.0, np.float32)]), allow_float=True)
    with pytest.raises(ValueError, match="NaN"):
        check_image(np.full((2, 3, 3), np.nan, np.float32), allow_float=True)


@pytest.mark.parametrize(
    "image, error, message",
    [
        ("face.jpg", TypeError, "photo: expected a uint8 \\[H, W, 3\\] numpy array, got str"),
        (
            np.zeros((4, 4), np.uint8),
            ValueError,
            r"photo: expected a uint8 \[H, W, 3\] \(RGB\) array, got shape \(4, 4\)",
        ),
        (np.zeros((0, 4, 3), np.uint8), ValueError, r"photo: the image is empty \(shape \(0, 4, 3\)\)"),
        (np.zeros((9, 4, 3), np.uint8), ValueError, "photo: 9x4 is larger than the model's 8x8 canvas"),
    ],
)
def test_check_image_names_the_problem_and_the_value(image, error, message):
    with pytest.raises(error, match=message):
        check_image(image, "photo", canvas_size=8)


@pytest.mark.parametrize(
    "images, error, message",
    [
        (np.zeros((1, 4, 4, 3), np.float32), TypeError, "images: expected a uint8 .* got an array of float32"),
        (np.zeros((4, 4, 3), np.uint8), ValueError, r"got shape \(4, 4, 3\)"),
        (np.zeros((0, 4, 4, 3), np.uint8), ValueError, "must not be empty"),
        (np.zeros((1, 4, 9, 3), np.uint8), ValueError, "4x9 is larger than the model's 8x8 canvas"),
    ],
)
def test_check_image_batch_names_the_problem_and_the_value(images, error, message):
    with pytest.raises(error, match=message):
        check_image_batch(images, canvas_size=8)
