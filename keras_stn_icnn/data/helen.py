"""HELEN in Smith et al.'s resized layout, read as the authors' code reads it.

Layout:

    <root>/images/<name>.jpg
    <root>/labels/<name>/<name>_lbl00.png ... <name>_lbl10.png
    <root>/exemplars.txt   (train, 2000)   lines "<index> , <name>"
    <root>/tuning.txt      (val, 230)
    <root>/testing.txt     (test, 100)

The eleven label files are soft grayscale maps (0-255) of the classes of
`labels.HELEN_CLASS_NAMES`. The `helen` label is their argmax. The
`stn_icnn` label follows the authors' code: background = 255 minus the sum of
maps 02-09, clipped to [0, 255], then the argmax over background and maps
02-09 (the authors' uint8 arithmetic wraps where maps 02-09 sum above 255;
here the difference is computed in integers and clipped, so such pixels are
not background). Other schemas are mapped from the `helen` label.
"""

import numpy as np

from keras_stn_icnn.data.files import DatasetError, check_same_size, read_grayscale, read_lines, read_rgb
from keras_stn_icnn.data.reader import Example, FaceParsingReader
from keras_stn_icnn.labels import HELEN_CLASS_NAMES

SPLIT_FILES = {"train": "exemplars.txt", "val": "tuning.txt", "test": "testing.txt"}
"""The split list of each split."""

NUM_LABEL_FILES = len(HELEN_CLASS_NAMES)
INNER_FACE_MAPS = slice(2, 10)


class HelenReader(FaceParsingReader):
    """Reader of HELEN (Smith et al.'s resized release) and of the synthetic set.

    Args:
        root: str or Path, the folder holding `images/`, `labels/` and the
            split lists.
        schema: `"helen"` (default, 11 classes), `"stn_icnn"` (9 classes, the
            authors' rule) or any schema of `keras_stn_icnn.labels`.
        skip_bad: bool; leave bad examples out with a warning instead of
            raising.

    Example:
    >>> reader = HelenReader("helen", schema="stn_icnn")  # doctest: +SKIP
    >>> for example in reader.dataset("test").take(1):  # doctest: +SKIP
    ...     print(example["image"].shape, example["label"].dtype)
    """

    native_schema = "helen"

    def _list_examples(self, split):
        list_path = self.root / SPLIT_FILES[split]
        examples = []
        for number, line in enumerate(read_lines(list_path), start=1):
            fields = [field.strip() for field in line.split(",")]
            if len(fields) < 2 or not fields[1]:
                raise DatasetError(f"{list_path}, line {number}: expected '<index> , <name>', got {line!r}")
            name = fields[1]
            label_dir = self.root / "labels" / name
            label_files = tuple(label_dir / f"{name}_lbl{k:02d}.png" for k in range(NUM_LABEL_FILES))
            examples.append(Example(name, (self.root / "images" / f"{name}.jpg", *label_files)))
        return examples

    def _read(self, example):
        image = read_rgb(example.image_path)
        maps = []
        for path in example.files[1:]:
            label_map = read_grayscale(path)
            check_same_size(image, example.image_path, label_map, path)
            maps.append(label_map)
        maps = np.stack(maps).astype(np.int32)
        if self.schema.name == "stn_icnn":
            background = np.clip(255 - maps[INNER_FACE_MAPS].sum(axis=0), 0, 255)
            scores = np.concatenate([background[np.newaxis], maps[INNER_FACE_MAPS]])
            return image, np.argmax(scores, axis=0).astype(np.uint8), "stn_icnn", {}
        return image, np.argmax(maps, axis=0).astype(np.uint8), "helen", {}
