"""Reading dataset files with errors that name the file and the problem.

Images are decoded with Pillow and fully loaded, so a truncated file fails
here instead of turning into a silently grey image later.
"""

from pathlib import Path

import numpy as np
from PIL import Image


class DatasetError(ValueError):
    """A dataset file is missing, unreadable or inconsistent; the message names it."""


def read_rgb(path):
    """Decode an image file to RGB.

    Args:
        path: str or Path of a JPEG, PNG, PPM or any format Pillow reads.

    Returns:
        uint8 numpy array `[H, W, 3]`.

    Example:
    >>> image = read_rgb("faces/grace_hopper.jpg")  # doctest: +SKIP
    """
    return _read(path, "RGB")


def read_grayscale(path):
    """Decode a single-channel label or mask file (colour files are converted).

    Args:
        path: str or Path.

    Returns:
        uint8 numpy array `[H, W]`.

    Example:
    >>> mask = read_grayscale("labels/x/x_lbl01.png")  # doctest: +SKIP
    """
    return _read(path, "L")


def _read(path, mode):
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"missing file {path}")
    try:
        with Image.open(path) as image:
            image.load()
            return np.asarray(image.convert(mode))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise DatasetError(f"corrupt or truncated image {path}: {error}") from error


def check_same_size(reference, reference_path, array, path):
    """Raise DatasetError unless `array` has the height and width of `reference`.

    Args:
        reference: numpy array `[H, W, ...]`, usually the image.
        reference_path: the file `reference` came from.
        array: numpy array `[H', W', ...]`, usually a label.
        path: the file `array` came from.

    Example:
    >>> check_same_size(np.zeros((2, 3, 3)), "a.jpg", np.zeros((2, 3)), "a.png")
    """
    if array.shape[:2] != reference.shape[:2]:
        height, width = array.shape[:2]
        ref_height, ref_width = reference.shape[:2]
        raise DatasetError(
            f"size mismatch: {path} is {width}x{height} but {reference_path} is {ref_width}x{ref_height}"
        )


def check_class_ids(label, num_classes, path):
    """Raise DatasetError if `label` holds an id outside `0 ... num_classes - 1`.

    Args:
        label: integer numpy array.
        num_classes: int.
        path: the file the label came from.

    Example:
    >>> check_class_ids(np.array([[0, 10]]), 11, "x.png")
    """
    largest = int(label.max()) if label.size else 0
    if largest >= num_classes:
        count = int(np.count_nonzero(label >= num_classes))
        raise DatasetError(f"unknown class id {largest} in {path} ({count} pixels); ids must be 0-{num_classes - 1}")


def read_lines(path):
    """The non-empty, stripped lines of a text file.

    Args:
        path: str or Path.

    Returns:
        list of str.

    Example:
    >>> read_lines("exemplars.txt")  # doctest: +SKIP
    ['1 , 100032540_1', ...]
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"missing split list {path}")
    lines = [line.strip() for line in path.read_text().splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        raise DatasetError(f"empty split list {path}: it names no images")
    return lines
