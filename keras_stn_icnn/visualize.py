"""Pictures of label maps: colour overlays, side-by-side figures, contact sheets, atomic PNGs.

Example:
>>> from keras_stn_icnn.visualize import overlay
>>> picture = overlay(image, labels, schema="stn_icnn")  # doctest: +SKIP
"""

import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from keras_stn_icnn.checks import check_int
from keras_stn_icnn.labels import get_schema


def colorize(labels, schema="stn_icnn"):
    """The palette colour of every pixel of a label map.

    Args:
        labels: integer array `[H, W]` of class ids of `schema`.
        schema: str or LabelSchema whose palette is used.

    Returns:
        uint8 numpy array `[H, W, 3]`.

    Example:
    >>> colorize(np.array([[0, 1]]), "lfw_pl").tolist()
    [[[0, 0, 255], [0, 255, 0]]]
    """
    labels = np.asarray(labels)
    palette = np.asarray(get_schema(schema).palette, np.uint8)
    if labels.ndim != 2:
        raise ValueError(f"labels must be a [H, W] map, got shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= len(palette)):
        raise ValueError(f"labels hold ids outside 0-{len(palette) - 1} of schema {get_schema(schema).name!r}")
    return palette[labels]


def overlay(image, labels, schema="stn_icnn", alpha=0.5):
    """Blend the colours of a label map over its image; background pixels stay as they are.

    Args:
        image: uint8 array `[H, W, 3]`.
        labels: integer array `[H, W]` of class ids of `schema`.
        schema: str or LabelSchema whose palette is used.
        alpha: float in [0, 1], the weight of the label colour.

    Returns:
        uint8 numpy array `[H, W, 3]`.

    Example:
    >>> overlay(np.zeros((1, 2, 3), np.uint8), np.array([[0, 1]]), "lfw_pl", alpha=1.0).tolist()
    [[[0, 0, 0], [0, 255, 0]]]
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be uint8 [H, W, 3], got {image.dtype} {image.shape}")
    if np.shape(labels) != image.shape[:2]:
        raise ValueError(f"labels of shape {np.shape(labels)} do not match the image's {image.shape[:2]}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    colours = colorize(labels, schema).astype(np.float32)
    blended = (1.0 - alpha) * image.astype(np.float32) + alpha * colours
    foreground = (np.asarray(labels) > 0)[..., np.newaxis]
    return np.where(foreground, np.round(blended), image).astype(np.uint8)


def side_by_side(image, labels, schema="stn_icnn", alpha=0.5, gap=8):
    """A figure of three panels in a row: the image, its colour label map, and the overlay.

    Args:
        image: uint8 array `[H, W, 3]`.
        labels: integer array `[H, W]` of class ids of `schema`.
        schema: str or LabelSchema whose palette is used.
        alpha: float in [0, 1], the overlay weight.
        gap: int >= 0, white pixels between panels.

    Returns:
        uint8 numpy array `[H, 3 * W + 2 * gap, 3]`.

    Example:
    >>> side_by_side(np.zeros((2, 3, 3), np.uint8), np.zeros((2, 3), int), gap=1).shape
    (2, 11, 3)
    """
    check_int(gap, "gap", minimum=0)
    blended = overlay(image, labels, schema, alpha)  # checks image and labels
    height, width = blended.shape[:2]
    figure = np.full((height, 3 * width + 2 * gap, 3), 255, np.uint8)
    for index, panel in enumerate((np.asarray(image), colorize(labels, schema), blended)):
        left = index * (width + gap)
        figure[:, left : left + width] = panel
    return figure


def contact_sheet(images, labels, schema="stn_icnn", columns=4, cell_size=192, alpha=0.5):
    """A grid of image / label-overlay pairs, each fitted into a square cell.

    Args:
        images: sequence of uint8 arrays `[H, W, 3]` (sizes may differ).
        labels: sequence of integer arrays `[H, W]`, one per image.
        schema: str or LabelSchema whose palette is used.
        columns: int, image/overlay pairs per row.
        cell_size: int, the side of each square cell in pixels.
        alpha: float, the overlay weight.

    Returns:
        uint8 numpy array `[rows * cell_size, columns * 2 * cell_size, 3]`.

    Example:
    >>> sheet = contact_sheet([np.zeros((30, 40, 3), np.uint8)], [np.zeros((30, 40), int)], columns=1, cell_size=16)
    >>> sheet.shape
    (16, 32, 3)
    """
    if len(images) != len(labels) or not images:
        raise ValueError(f"need as many label maps as images (at least one), got {len(images)} and {len(labels)}")
    rows = -(-len(images) // columns)
    sheet = np.full((rows * cell_size, columns * 2 * cell_size, 3), 255, np.uint8)
    for index, (image, label) in enumerate(zip(images, labels)):
        row, column = divmod(index, columns)
        for offset, picture in enumerate((np.asarray(image), overlay(image, label, schema, alpha))):
            cell = _fit(picture, cell_size)
            top = row * cell_size + (cell_size - cell.shape[0]) // 2
            left = (2 * column + offset) * cell_size + (cell_size - cell.shape[1]) // 2
            sheet[top : top + cell.shape[0], left : left + cell.shape[1]] = cell
    return sheet


def save_png(array, path):
    """Write a PNG through a temporary file in the same folder, so a reader never sees half of it.

    Args:
        array: uint8 numpy array `[H, W]` or `[H, W, 3]`.
        path: str or Path of the PNG.

    Example:
    >>> save_png(overlay(image, labels), "outputs/overlay.png")  # doctest: +SKIP
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".png")
    os.close(handle)
    try:
        Image.fromarray(array).save(temporary, format="PNG")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes owner-only files
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _fit(picture, size):
    height, width = picture.shape[:2]
    scale = size / max(height, width)
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(picture).resize(new_size, Image.BILINEAR))
