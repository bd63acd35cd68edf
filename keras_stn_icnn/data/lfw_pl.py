"""LFW part labels (LFW-PL): 2,927 funneled LFW faces labelled background, skin, hair.

Layout (as released with the part-label ground truth):

    <root>/lfw_funneled/<person>/<person>_<NNNN>.jpg          250x250
    <root>/parts_lfw_funneled_gt_images/<person>_<NNNN>.ppm   RGB: blue background, green skin, red hair
    <root>/parts_train.txt        (1,500)  lines "<person> <number>"
    <root>/parts_validation.txt   (500)
    <root>/parts_test.txt         (927)

A ground-truth pixel is the class of its one channel above 127; any other
colour is an unknown class.
"""

import numpy as np

from keras_stn_icnn.data.files import DatasetError, check_same_size, read_lines, read_rgb
from keras_stn_icnn.data.reader import Example, FaceParsingReader

SPLIT_FILES = {"train": "parts_train.txt", "val": "parts_validation.txt", "test": "parts_test.txt"}
IMAGE_DIR = "lfw_funneled"
LABEL_DIR = "parts_lfw_funneled_gt_images"
CHANNEL_CLASS = np.array([2, 1, 0], np.uint8)
"""The LFW-PL class of a pixel whose red, green or blue channel is on: hair, skin, background."""


def decode_lfw_pl_label(rgb, path):
    """LFW-PL class ids from a ground-truth image.

    Args:
        rgb: uint8 numpy array `[H, W, 3]`.
        path: the file it came from, for error messages.

    Returns:
        uint8 numpy array `[H, W]`: 0 background, 1 skin, 2 hair.

    Example:
    >>> decode_lfw_pl_label(np.array([[[255, 0, 0], [0, 0, 255]]], np.uint8), "x.ppm").tolist()
    [[2, 0]]
    """
    on = rgb > 127
    single = on.sum(axis=-1) == 1
    if not single.all():
        row, col = np.argwhere(~single)[0]
        raise DatasetError(
            f"unknown class colour {tuple(int(v) for v in rgb[row, col])} at row {row}, column {col} "
            f"of {path} ({int((~single).sum())} pixels); expected red, green or blue"
        )
    return CHANNEL_CLASS[np.argmax(on, axis=-1)]


class LfwPartLabelsReader(FaceParsingReader):
    """Reader of LFW part labels (Kae et al.).

    Args:
        root: str or Path, the folder holding `lfw_funneled/`, the ground
            truth folder and the split lists.
        schema: str or LabelSchema, the label schema to produce (default
            `"lfw_pl"`).
        skip_bad: bool; leave bad examples out with a warning instead of
            raising.

    Example:
    >>> reader = LfwPartLabelsReader("lfw")  # doctest: +SKIP
    >>> dataset = reader.dataset("test")  # doctest: +SKIP
    """

    native_schema = "lfw_pl"

    def _list_examples(self, split):
        list_path = self.root / SPLIT_FILES[split]
        examples = []
        for number, line in enumerate(read_lines(list_path), start=1):
            fields = line.split()
            if len(fields) != 2 or not fields[1].isdigit():
                raise DatasetError(f"{list_path}, line {number}: expected '<person> <number>', got {line!r}")
            person, index = fields[0], int(fields[1])
            name = f"{person}_{index:04d}"
            examples.append(
                Example(
                    name,
                    (self.root / IMAGE_DIR / person / f"{name}.jpg", self.root / LABEL_DIR / f"{name}.ppm"),
                )
            )
        return examples

    def _read(self, example):
        image_path, label_path = example.files
        image = read_rgb(image_path)
        label = decode_lfw_pl_label(read_rgb(label_path), label_path)
        check_same_size(image, image_path, label, label_path)
        return image, label, "lfw_pl", {}
