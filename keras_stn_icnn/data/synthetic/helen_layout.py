"""The files of a synthetic set in HELEN's layout: photos, one PNG per class, split lists and manifest."""

import json
import os
import sys

import numpy as np
from PIL import Image

from keras_stn_icnn.data.synthetic.class_ids import NUM_CLASSES
from keras_stn_icnn.data.synthetic.rendering import render_face_jpeg

MANIFEST_NAME = "synthetic.json"
SPLIT_FILES = {"train": "exemplars.txt", "val": "tuning.txt", "test": "testing.txt"}
NAME_FORMAT = "synthetic_{:06d}"
_PROGRESS_STEPS = 20  # a progress line every 5 %


def write_set(folder, seed, counts, manifest, progress):
    """Renders and writes every face, the split lists and the manifest into `folder`."""
    images = folder / "images"
    labels = folder / "labels"
    images.mkdir()
    labels.mkdir()
    # mkdtemp makes the folder private (0700); give it the mode a plain mkdir gets.
    os.chmod(folder, images.stat().st_mode & 0o777)
    total = sum(counts.values())
    step = max(1, total // _PROGRESS_STEPS)
    index = 0
    for list_name, count in zip(SPLIT_FILES.values(), counts.values()):
        lines = []
        for number in range(1, count + 1):
            name = NAME_FORMAT.format(index)
            jpeg_bytes, label, _ = render_face_jpeg(_face_seed(seed, index))
            (images / f"{name}.jpg").write_bytes(jpeg_bytes)
            label_dir = labels / name
            label_dir.mkdir()
            for class_id in range(NUM_CLASSES):
                binary = np.where(label == class_id, np.uint8(255), np.uint8(0))
                Image.fromarray(binary).save(label_dir / f"{name}_lbl{class_id:02d}.png", compress_level=1)
            lines.append(f"{number} , {name}\n")
            index += 1
            if progress and (index % step == 0 or index == total):
                print(f"synthetic faces: {index}/{total}", file=sys.stderr, flush=True)
        (folder / list_name).write_text("".join(lines))
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def _face_seed(seed, index):
    return (*seed, index) if isinstance(seed, tuple) else (seed, index)
