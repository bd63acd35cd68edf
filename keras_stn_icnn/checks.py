"""Argument checks the whole package shares: images, integer sizes, choices, layer widths and initializers.

Every public entry point that takes a picture or a count checks it here, so
a bad value gets the same clear error (naming the argument, what was
expected and what was given) wherever it enters, before TensorFlow sees it.
"""

import numbers

import keras
import numpy as np


def check_int(value, name, minimum=1, maximum=None, multiple=1):
    """An integer argument, checked: not a bool, within bounds, divisible by `multiple`.

    Args:
        value: the argument (a Python or numpy integer; floats are refused).
        name: str, its name for the error message.
        minimum: int, the smallest allowed value.
        maximum: int or None, the largest allowed value.
        multiple: int, the value must be divisible by it.

    Returns:
        int.

    Raises:
        ValueError naming the argument, the rule and the value.

    Example:
    >>> check_int(128, "input_size", multiple=16)
    128
    >>> check_int(0, "epochs")
    Traceback (most recent call last):
    ...
    ValueError: epochs must be an int >= 1, got 0
    """
    rule = f"an int >= {minimum}" + (f" and <= {maximum}" if maximum is not None else "")
    rule += f" divisible by {multiple}" if multiple != 1 else ""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < minimum
        or (maximum is not None and value > maximum)
        or value % multiple
    ):
        raise ValueError(f"{name} must be {rule}, got {value!r}")
    return int(value)


def check_choice(value, choices, name):
    """An argument that takes one of a fixed set of values, checked.

    Args:
        value: the argument.
        choices: the allowed values (a tuple, or the keys of a dict).
        name: str, its name for the error message.

    Returns:
        The value.

    Raises:
        ValueError naming the argument, the choices and the value (also for a
        value that cannot be compared, such as a list, and for a bool where no
        choice is one).

    Example:
    >>> check_choice("nearest", ("bilinear", "nearest"), "mode")
    'nearest'
    >>> check_choice("cubic", ("bilinear", "nearest"), "mode")
    Traceback (most recent call last):
    ...
    ValueError: mode must be one of ('bilinear', 'nearest'), got 'cubic'
    """
    choices = tuple(choices)
    is_stray_bool = isinstance(value, bool) and not any(isinstance(choice, bool) for choice in choices)
    if is_stray_bool or not any(_equal(value, choice) for choice in choices):
        raise ValueError(f"{name} must be one of {choices!r}, got {value!r}")
    return value


def _equal(value, choice):
    try:
        return bool(value == choice)
    except (TypeError, ValueError):  # e.g. a numpy array, whose == is elementwise
        return False


def check_widths(widths, name, length=None, allow_empty=False):
    """Layer widths, checked: a sequence of positive ints, of `length` items if given.

    Args:
        widths: the widths as given (a list or tuple; integral floats pass).
        name: str, the argument's name for the error message.
        length: int or None, the number of widths required.
        allow_empty: bool, whether no width at all is allowed.

    Returns:
        tuple of int.

    Raises:
        ValueError naming the argument, the rule and the value.

    Example:
    >>> check_widths([16, 32.0], "encoder_filters")
    (16, 32)
    >>> check_widths((16, 32), "filters", length=3)
    Traceback (most recent call last):
    ...
    ValueError: filters must be a sequence of 3 positive ints, got (16, 32)
    """
    rule = "a sequence of " + (f"{length} " if length is not None else "") + "positive ints"
    if isinstance(widths, (str, bytes)) or not hasattr(widths, "__iter__"):
        raise ValueError(f"{name} must be {rule}, got {widths!r}")
    given, widths = widths, tuple(widths)
    if (
        not all(
            isinstance(width, numbers.Real) and not isinstance(width, bool) and float(width).is_integer() and width >= 1
            for width in widths
        )
        or (length is not None and len(widths) != length)
        or (not allow_empty and not widths)
    ):
        raise ValueError(f"{name} must be {rule}, got {given!r}")
    return tuple(int(width) for width in widths)


def check_initializer(initializer, name):
    """A Keras initializer, checked, in the form a layer config stores: its name, or its serialised config.

    Args:
        initializer: str (a Keras initializer's name), a
            `keras.initializers.Initializer`, or its serialised config dict.
        name: str, the argument's name for the error message.

    Returns:
        str or dict, for `keras.initializers.get` to turn into a fresh
        initializer for each layer.

    Raises:
        ValueError naming the argument and the value.

    Example:
    >>> check_initializer("he_normal", "kernel_initializer")
    'he_normal'
    >>> check_initializer("bogus", "kernel_initializer")
    Traceback (most recent call last):
    ...
    ValueError: kernel_initializer must be a Keras initializer or its name, got 'bogus'
    """
    try:
        found = None if initializer is None else keras.initializers.get(initializer)
    except (ValueError, TypeError):
        found = None
    if found is None:
        raise ValueError(f"{name} must be a Keras initializer or its name, got {initializer!r}")
    return initializer if isinstance(initializer, str) else keras.initializers.serialize(found)


def check_image(image, where="image", *, canvas_size=None, allow_float=False):
    """One picture, checked: a non-empty `[H, W, 3]` numpy array of uint8 (or of floats in [0, 255]).

    Args:
        image: the argument.
        where: str, how the error message names it (e.g. `"image 3"`).
        canvas_size: int or None, the largest side the model takes.
        allow_float: bool, also accept floats with values in [0, 255].

    Returns:
        The image (the same array).

    Raises:
        TypeError: not a numpy array, or of another dtype.
        ValueError: wrong shape, empty, larger than the canvas, or floats
            outside [0, 255] or not finite.

    Example:
    >>> check_image(np.zeros((4, 5, 3), np.uint8)).shape
    (4, 5, 3)
    >>> check_image(np.zeros((4, 5), np.uint8))
    Traceback (most recent call last):
    ...
    ValueError: image: expected a uint8 [H, W, 3] (RGB) array, got shape (4, 5)
    """
    kind = "uint8 (or float in [0, 255])" if allow_float else "uint8"
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{where}: expected a {kind} [H, W, 3] numpy array, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"{where}: expected a {kind} [H, W, 3] (RGB) array, got shape {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"{where}: the image is empty (shape {image.shape})")
    if image.dtype != np.uint8:
        if not allow_float or image.dtype.kind != "f":
            raise TypeError(f"{where}: expected a {kind} [H, W, 3] array, got dtype {image.dtype}")
        if not np.all(np.isfinite(image)):
            raise ValueError(f"{where}: contains NaN or infinite values")
        low, high = float(image.min()), float(image.max())
        if low < 0 or high > 255:
            raise ValueError(f"{where}: float values must lie in [0, 255], got [{low}, {high}]")
    _check_fits(image.shape[0], image.shape[1], where, canvas_size)
    return image


def check_image_batch(images, where="images", *, canvas_size=None):
    """A batch of pictures, checked: a non-empty uint8 `[B, H, W, 3]` numpy array.

    Args:
        images: the argument.
        where: str, how the error message names it.
        canvas_size: int or None, the largest side the model takes.

    Returns:
        The batch (the same array).

    Raises:
        TypeError: not a uint8 numpy array.
        ValueError: wrong shape, empty, or larger than the canvas.

    Example:
    >>> check_image_batch(np.zeros((2, 4, 5, 3), np.uint8), canvas_size=8).shape
    (2, 4, 5, 3)
    """
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
        found = f"an array of {images.dtype}" if isinstance(images, np.ndarray) else type(images).__name__
        raise TypeError(f"{where}: expected a uint8 [B, H, W, 3] numpy array, got {found}")
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"{where}: expected a uint8 [B, H, W, 3] array, got shape {images.shape}")
    if 0 in images.shape:
        raise ValueError(f"{where}: must not be empty, got shape {images.shape}")
    _check_fits(images.shape[1], images.shape[2], where, canvas_size)
    return images


def _check_fits(height, width, where, canvas_size):
    if canvas_size is not None and (height > canvas_size or width > canvas_size):
        raise ValueError(
            f"{where}: {height}x{width} is larger than the model's {canvas_size}x{canvas_size} "
            "canvas; crop or resize the face so that it fits"
        )
