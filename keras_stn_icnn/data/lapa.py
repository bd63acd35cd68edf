"""LaPa: 22,176 faces with 11-class labels and 106 landmarks.

Layout:

    <root>/{train,val,test}/images/<name>.jpg
    <root>/{train,val,test}/labels/<name>.png       uint8 ids 0-10 (labels.LAPA_CLASS_NAMES)
    <root>/{train,val,test}/landmarks/<name>.txt    "106" then 106 lines "x y"

Examples are the images of a split in sorted order; each needs its label and
landmark files. `LapaReader(root, landmarks=False)` reads sets in LaPa's
layout that have no landmark files, such as the real-photo evaluation set of
`examples/make_real_face_set.py`.
"""

import numpy as np
import tensorflow as tf

from keras_stn_icnn.data.files import DatasetError, check_class_ids, check_same_size, read_grayscale, read_rgb
from keras_stn_icnn.data.reader import Example, FaceParsingReader
from keras_stn_icnn.labels import get_schema

NUM_LANDMARKS = 106
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def read_landmarks(path):
    """Read a LaPa landmark file.

    Args:
        path: Path of `<name>.txt`: the count 106, then 106 `x y` pairs.

    Returns:
        float32 numpy array `[106, 2]` of `(x, y)` pixel coordinates.

    Example:
    >>> read_landmarks("lapa/test/landmarks/x.txt").shape  # doctest: +SKIP
    (106, 2)
    """
    try:
        values = np.asarray(path.read_text().split(), dtype=np.float32)
    except ValueError as error:
        raise DatasetError(f"corrupt landmark file {path}: {error}") from error
    if values.size == 0 or values[0] != NUM_LANDMARKS or values.size != 1 + 2 * NUM_LANDMARKS:
        raise DatasetError(
            f"corrupt landmark file {path}: expected {NUM_LANDMARKS} followed by "
            f"{NUM_LANDMARKS} x y pairs, got {values.size} numbers"
        )
    return values[1:].reshape(NUM_LANDMARKS, 2)


class LapaReader(FaceParsingReader):
    """Reader of LaPa, with its 106 landmarks.

    Args:
        root: str or Path, the folder holding `train/`, `val/` and `test/`.
        schema: str or LabelSchema, the label schema to produce (default
            `"lapa"`).
        skip_bad: bool; leave bad examples out with a warning instead of
            raising.
        landmarks: bool; False neither needs nor reads `landmarks/`, and the
            examples have no `"landmarks"` entry. Defaults to True.

    Example:
    >>> reader = LapaReader("LaPa")  # doctest: +SKIP
    >>> example = next(iter(reader.dataset("val")))  # doctest: +SKIP
    >>> example["landmarks"].shape  # doctest: +SKIP
    TensorShape([106, 2])
    """

    native_schema = "lapa"

    def __init__(self, root, *, schema=None, skip_bad=False, landmarks=True):
        super().__init__(root, schema=schema, skip_bad=skip_bad)
        self.landmarks = bool(landmarks)
        self.extra_signature = {"landmarks": tf.TensorSpec([NUM_LANDMARKS, 2], tf.float32)} if self.landmarks else {}

    def _list_examples(self, split):
        image_dir = self.root / split / "images"
        if not image_dir.is_dir():
            raise DatasetError(f"missing folder {image_dir} (LaPa split {split!r})")
        examples = []
        for path in sorted(image_dir.iterdir()):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            name = path.stem
            files = (path, self.root / split / "labels" / f"{name}.png")
            if self.landmarks:
                files += (self.root / split / "landmarks" / f"{name}.txt",)
            examples.append(Example(name, files))
        return examples

    def _read(self, example):
        image_path, label_path = example.files[:2]
        image = read_rgb(image_path)
        label = read_grayscale(label_path)
        check_same_size(image, image_path, label, label_path)
        check_class_ids(label, get_schema("lapa").num_classes, label_path)
        extras = {"landmarks": read_landmarks(example.files[2])} if self.landmarks else {}
        return image, label, "lapa", extras
