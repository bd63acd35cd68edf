"""CelebAMask-HQ: 30,000 faces with 19-class masks.

Layout:

    <root>/CelebA-HQ-img/<id>.jpg                                  1024x1024
    <root>/CelebAMask-HQ-mask-anno/<id // 2000>/<id:05d>_<part>.png 512x512, one binary mask a part
    <root>/CelebA-HQ-to-CelebA-mapping.txt    (official split only)
    <root>/list_eval_partition.txt            (official split only; CelebA's own file)

The label is painted from the part masks in the official order
(`labels.CELEBAMASK_HQ_CLASS_NAMES`, later parts over earlier ones, as the
dataset's `g_mask.py` does); a mask pixel counts when it is above 127. The
image is resized to the masks' 512x512 (Pillow bilinear, antialiased), or
both are resized to `resolution`.

Splits: `split_protocol="official"` follows CelebA's partition through the
mapping file (about 24,183 / 2,993 / 2,824); `"paper"` is the STN-iCNN paper's
random 6:2:2 split (18,000 / 6,000 / 6,000), drawn with `split_seed`.
"""

import numpy as np
from PIL import Image

from keras_stn_icnn.data.files import DatasetError, check_same_size, read_grayscale, read_lines, read_rgb
from keras_stn_icnn.data.reader import Example, FaceParsingReader
from keras_stn_icnn.labels import CELEBAMASK_HQ_CLASS_NAMES

IMAGE_DIR = "CelebA-HQ-img"
MASK_DIR = "CelebAMask-HQ-mask-anno"
MAPPING_FILE = "CelebA-HQ-to-CelebA-mapping.txt"
PARTITION_FILE = "list_eval_partition.txt"
MASK_RESOLUTION = 512
PAPER_SPLIT_FRACTIONS = (0.6, 0.2, 0.2)
OFFICIAL_PARTITION_IDS = {"train": "0", "val": "1", "test": "2"}


class CelebAMaskHQReader(FaceParsingReader):
    """Reader of CelebAMask-HQ.

    Args:
        root: str or Path, the folder holding `CelebA-HQ-img/` and
            `CelebAMask-HQ-mask-anno/`.
        schema: str or LabelSchema, the label schema to produce (default
            `"celebamask_hq"`; `"stn_icnn"` keeps the classes shared with
            HELEN, as the paper does).
        skip_bad: bool; leave bad examples out with a warning instead of
            raising.
        split_protocol: `"official"` (CelebA's partition) or `"paper"` (a
            random 6:2:2 split).
        split_seed: int, the seed of the `"paper"` split.
        resolution: int, the side of the square image and label produced.

    Example:
    >>> reader = CelebAMaskHQReader("CelebAMask-HQ", schema="stn_icnn", split_protocol="paper")  # doctest: +SKIP
    >>> dataset = reader.dataset("train")  # doctest: +SKIP
    """

    native_schema = "celebamask_hq"

    def __init__(
        self, root, *, schema=None, skip_bad=False, split_protocol="official", split_seed=0, resolution=MASK_RESOLUTION
    ):
        super().__init__(root, schema=schema, skip_bad=skip_bad)
        if split_protocol not in ("official", "paper"):
            raise ValueError(f"split_protocol must be 'official' or 'paper', got {split_protocol!r}")
        if int(resolution) < 1:
            raise ValueError(f"resolution must be a positive number of pixels, got {resolution!r}")
        self.split_protocol = split_protocol
        self.split_seed = int(split_seed)
        self.resolution = int(resolution)
        self._mask_files = None

    def _image_ids(self):
        image_dir = self.root / IMAGE_DIR
        if not image_dir.is_dir():
            raise DatasetError(f"missing folder {image_dir} (CelebAMask-HQ images)")
        ids = [int(path.stem) for path in image_dir.glob("*.jpg") if path.stem.isdigit()]
        if not ids:
            raise DatasetError(f"no <id>.jpg images in {image_dir}")
        return sorted(ids)

    def _split_ids(self, split):
        ids = self._image_ids()
        if self.split_protocol == "paper":
            order = np.random.default_rng(self.split_seed).permutation(len(ids))
            train_end = round(PAPER_SPLIT_FRACTIONS[0] * len(ids))
            val_end = train_end + round(PAPER_SPLIT_FRACTIONS[1] * len(ids))
            bounds = {"train": (0, train_end), "val": (train_end, val_end), "test": (val_end, len(ids))}
            start, end = bounds[split]
            return sorted(ids[i] for i in order[start:end])
        partition = {}
        for line in read_lines(self.root / PARTITION_FILE):
            fields = line.split()
            if len(fields) == 2:
                partition[fields[0]] = fields[1]
        wanted = OFFICIAL_PARTITION_IDS[split]
        present = set(ids)
        chosen = []
        for number, line in enumerate(read_lines(self.root / MAPPING_FILE)[1:], start=2):
            fields = line.split()
            if len(fields) != 3 or not fields[0].isdigit():
                raise DatasetError(f"{self.root / MAPPING_FILE}, line {number}: expected 'idx orig_idx orig_file'")
            if partition.get(fields[2]) == wanted and int(fields[0]) in present:
                chosen.append(int(fields[0]))
        return sorted(chosen)

    def _masks_by_id(self):
        if self._mask_files is None:
            mask_root = self.root / MASK_DIR
            if not mask_root.is_dir():
                raise DatasetError(f"missing folder {mask_root} (CelebAMask-HQ masks)")
            masks = {}
            for path in sorted(mask_root.glob("*/*.png")):
                number, _, part = path.stem.partition("_")
                if number.isdigit():
                    masks.setdefault(int(number), []).append(path)
            self._mask_files = masks
        return self._mask_files

    def _list_examples(self, split):
        masks = self._masks_by_id()
        return [
            Example(str(image_id), (self.root / IMAGE_DIR / f"{image_id}.jpg", *masks.get(image_id, ())))
            for image_id in self._split_ids(split)
        ]

    def _read(self, example):
        if len(example.files) == 1:
            raise DatasetError(
                f"missing label: no mask files {example.name:0>5}_<part>.png for {example.image_path} "
                f"under {self.root / MASK_DIR}"
            )
        masks = {}
        for path in example.files[1:]:
            part = path.stem.partition("_")[2]
            if part not in CELEBAMASK_HQ_CLASS_NAMES[1:]:
                raise DatasetError(
                    f"unknown class {part!r} in mask file {path}; known parts are {CELEBAMASK_HQ_CLASS_NAMES[1:]}"
                )
            masks[part] = (path, read_grayscale(path))
        first_path, first_mask = next(iter(masks.values()))
        label = np.zeros(first_mask.shape, np.uint8)
        for class_id, part in enumerate(CELEBAMASK_HQ_CLASS_NAMES[1:], start=1):
            if part in masks:
                path, mask = masks[part]
                check_same_size(first_mask, first_path, mask, path)
                label[mask > 127] = class_id
        image = read_rgb(example.image_path)
        if image.shape[0] != image.shape[1]:
            raise DatasetError(f"{example.image_path} is {image.shape[1]}x{image.shape[0]}, expected a square image")
        size = (self.resolution, self.resolution)
        if image.shape[:2] != size:
            image = np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR))
        if label.shape != size:
            label = np.asarray(Image.fromarray(label).resize(size, Image.NEAREST))
        return image, label, "celebamask_hq", {}
