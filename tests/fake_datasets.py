"""Tiny dataset trees in every real format, with ways to break them."""

import numpy as np
from PIL import Image

from keras_stn_icnn.labels import CELEBAMASK_HQ_CLASS_NAMES, LFW_PL_PALETTE


def random_label(rng, shape, num_classes):
    """Blocky label map with every class present."""
    coarse = rng.integers(0, num_classes, (4, 6))
    coarse.flat[:num_classes] = np.arange(num_classes)
    return np.kron(coarse, np.ones((shape[0] // 4 + 1, shape[1] // 6 + 1), np.int64))[: shape[0], : shape[1]].astype(
        np.uint8
    )


def random_image(rng, shape):
    return rng.integers(0, 256, (*shape, 3), dtype=np.uint8)


def save(array, path, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **kwargs)


def write_helen(root, splits=None, shape=(24, 36), seed=0):
    """HELEN layout; returns {name: (image, 11-class label)} as written (JPEG-decoded image)."""
    splits = splits or {"exemplars.txt": ["a", "b", "c"], "tuning.txt": ["d"], "testing.txt": ["e"]}
    rng = np.random.default_rng(seed)
    written = {}
    for list_name, names in splits.items():
        (root / list_name).parent.mkdir(parents=True, exist_ok=True)
        (root / list_name).write_text("".join(f"{i} , {name}\n" for i, name in enumerate(names, 1)))
        for name in names:
            image, label = random_image(rng, shape), random_label(rng, shape, 11)
            save(image, root / "images" / f"{name}.jpg", quality=95)
            for k in range(11):
                save(np.where(label == k, 255, 0).astype(np.uint8), root / "labels" / name / f"{name}_lbl{k:02d}.png")
            written[name] = (np.asarray(Image.open(root / "images" / f"{name}.jpg").convert("RGB")), label)
    return written


def write_lapa(root, shape=(24, 36), seed=0):
    rng = np.random.default_rng(seed)
    written = {}
    for split, names in {"train": ["p", "q"], "val": ["r"], "test": ["s"]}.items():
        for name in names:
            image, label = random_image(rng, shape), random_label(rng, shape, 11)
            save(image, root / split / "images" / f"{name}.jpg", quality=95)
            save(label, root / split / "labels" / f"{name}.png")
            landmarks = rng.uniform(0, 20, (106, 2)).round(3)
            (root / split / "landmarks").mkdir(parents=True, exist_ok=True)
            (root / split / "landmarks" / f"{name}.txt").write_text(
                "106\n" + "".join(f"{x} {y}\n" for x, y in landmarks)
            )
            written[(split, name)] = (label, landmarks.astype(np.float32))
    return written


def write_celebamask_hq(root, num_images=10, image_size=32, mask_size=16, seed=0):
    """Images 0..n-1 with masks; returns {id: 19-class label} painted in the official order."""
    rng = np.random.default_rng(seed)
    labels = {}
    mapping = ["idx orig_idx orig_file"]
    partition = []
    for image_id in range(num_images):
        save(random_image(rng, (image_size, image_size)), root / "CelebA-HQ-img" / f"{image_id}.jpg", quality=95)
        label = np.zeros((mask_size, mask_size), np.uint8)
        for class_id, part in enumerate(CELEBAMASK_HQ_CLASS_NAMES[1:], start=1):
            if rng.random() < 0.6:
                mask = np.zeros((mask_size, mask_size), bool)
                top, left = rng.integers(0, mask_size - 4, 2)
                mask[top : top + rng.integers(2, 9), left : left + rng.integers(2, 9)] = True
                save(
                    np.where(mask, 255, 0).astype(np.uint8),
                    root / "CelebAMask-HQ-mask-anno" / str(image_id // 2000) / f"{image_id:05d}_{part}.png",
                )
                label[mask] = class_id
        labels[image_id] = label
        original = f"{100000 + image_id:06d}.jpg"
        mapping.append(f"{image_id} {99999 + image_id} {original}")
        partition.append(f"{original} {[0, 0, 0, 0, 0, 0, 1, 1, 2, 2][image_id % 10]}")
    (root / "CelebA-HQ-to-CelebA-mapping.txt").write_text("\n".join(mapping) + "\n")
    (root / "list_eval_partition.txt").write_text("\n".join(partition) + "\n")
    return labels


def write_lfw_pl(root, shape=(25, 25), seed=0):
    rng = np.random.default_rng(seed)
    written = {}
    people = {
        "parts_train.txt": [("Ann_Lee", 1), ("Ann_Lee", 2)],
        "parts_validation.txt": [("Bo_Ma", 1)],
        "parts_test.txt": [("Cy_Ng", 3)],
    }
    palette = np.asarray(LFW_PL_PALETTE, np.uint8)
    for list_name, entries in people.items():
        (root / list_name).parent.mkdir(parents=True, exist_ok=True)
        (root / list_name).write_text("".join(f"{person} {number}\n" for person, number in entries))
        for person, number in entries:
            name = f"{person}_{number:04d}"
            label = random_label(rng, shape, 3)
            save(random_image(rng, shape), root / "lfw_funneled" / person / f"{name}.jpg", quality=95)
            save(palette[label], root / "parts_lfw_funneled_gt_images" / f"{name}.ppm")
            written[name] = label
    return written


def truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
