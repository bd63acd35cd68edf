"""How far a parser's crops are from the parts, and how much F1 crop error can cost.

On the synthetic test faces (the set `examples/evaluate.py --synthetic` uses):

1. How well the window fits the parts: the share of every present part's
   pixels inside its ground-truth `window` x `window` crop, over all faces
   and for the worst face.
2. The ceiling of any crop-and-paste parser: the ground-truth labels of
   each part, kept only inside its crop, centred on the ground-truth centre
   moved `shift` pixels in a random direction (seeded), scored with the
   paper's table. Shift 0 is what the window alone costs.
3. With `--model`, the distance in canvas pixels between the crop centres a
   parser predicts (its `"theta"` output) and the ground-truth centres, per
   part and overall.

Usage:
    python benchmarks/crop_accuracy.py [--shifts 0 10 20] [--window 81] [--seed 424242 --num 100]
        [--model runs/train_helen/stn_icnn.keras]
"""

import argparse

import keras
import numpy as np
import tensorflow as tf

import keras_stn_icnn.models  # noqa: F401  (registers the package's Keras objects for load_model)
from keras_stn_icnn.data import HelenReader
from keras_stn_icnn.data.stn_icnn_inputs import ground_truth_theta
from keras_stn_icnn.evaluation import synthetic_test_set
from keras_stn_icnn.labels import STN_ICNN_PART_NAMES
from keras_stn_icnn.metrics import confusion_matrix, f1_scores, format_f1_table
from keras_stn_icnn.ops.affine import crop_centres
from keras_stn_icnn.ops.centroids import STN_ICNN_PART_CLASSES
from keras_stn_icnn.ops.grid_sample import frame_offset

CANVAS_SIZE = 1024
NUM_CLASSES = 9


def windowed_ground_truth(label, centres, window):
    """The label map with each part's classes kept only inside its window around `centres` (image px)."""
    height, width = label.shape
    half = window // 2
    kept = np.zeros_like(label)
    for (row, column), classes in zip(centres, STN_ICNN_PART_CLASSES):
        top, bottom = max(row - half, 0), min(row + half + 1, height)
        left, right = max(column - half, 0), min(column + half + 1, width)
        patch = label[top:bottom, left:right]
        inside = np.isin(patch, classes)
        kept[top:bottom, left:right][inside] = patch[inside]
    return kept


def crop_ceilings(faces, window, shifts, seed=0):
    """Paper-table F1 of the windowed ground truth, for each shift of the crop centres."""
    confusions = {shift: np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64) for shift in shifts}
    rng = np.random.default_rng(seed)
    for label, centres in faces:
        for shift in shifts:
            angles = rng.uniform(0.0, 2.0 * np.pi, len(centres))
            moved = centres + np.rint(shift * np.stack([np.sin(angles), np.cos(angles)], axis=-1)).astype(int)
            confusions[shift] += confusion_matrix(label, windowed_ground_truth(label, moved, window), NUM_CLASSES)
    return {shift: f1_scores(confusion) for shift, confusion in confusions.items()}


def window_fit(faces, window):
    """Per part, the share of its pixels inside its ground-truth window: over all faces, and the worst face's."""
    inside = np.zeros(len(STN_ICNN_PART_NAMES))
    total = np.zeros(len(STN_ICNN_PART_NAMES))
    worst = np.ones(len(STN_ICNN_PART_NAMES))
    for label, centres in faces:
        kept = windowed_ground_truth(label, centres, window)
        for part, classes in enumerate(STN_ICNN_PART_CLASSES):
            pixels = np.isin(label, classes).sum()
            if pixels:
                within = np.isin(kept, classes).sum()
                inside[part] += within
                total[part] += pixels
                worst[part] = min(worst[part], within / pixels)
    return inside / np.maximum(total, 1), worst


def centre_errors(model, examples):
    """Canvas-pixel distances `[faces, 6]` between the model's crop centres and the ground truth's."""
    errors = []
    for image, label in examples:
        truth, _, _ = ground_truth_theta(tf.constant(label), canvas_size=CANVAS_SIZE)
        predicted = model(image[np.newaxis])["theta"][0]
        offsets = crop_centres(predicted, (CANVAS_SIZE, CANVAS_SIZE)) - crop_centres(truth, (CANVAS_SIZE, CANVAS_SIZE))
        errors.append(np.linalg.norm(offsets.numpy(), axis=-1))
    return np.array(errors)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--window", type=int, default=81)
    parser.add_argument("--shifts", type=float, nargs="+", default=[0.0, 10.0, 20.0])
    parser.add_argument("--seed", type=int, default=424242, help="seed of the synthetic test set")
    parser.add_argument("--num", type=int, default=100, help="synthetic test faces")
    parser.add_argument("--model", help="a .keras STN-iCNN whose crop centres to measure")
    args = parser.parse_args()

    root = synthetic_test_set(seed=args.seed, num=args.num, progress=False)
    examples = [
        (ex["image"].numpy(), ex["label"].numpy()) for ex in HelenReader(root, schema="stn_icnn").dataset("test")
    ]
    faces = []
    for _, label in examples:
        _, _, canvas_centres = ground_truth_theta(tf.constant(label), window=args.window, canvas_size=CANVAS_SIZE)
        top, left = (int(v) for v in frame_offset(label.shape, (CANVAS_SIZE, CANVAS_SIZE)))
        faces.append((label, canvas_centres.numpy().astype(int) - np.array([top, left])))

    print(f"{len(faces)} synthetic test faces (seed {args.seed}), window {args.window}")
    overall, worst = window_fit(faces, args.window)
    print("share of each present part's pixels inside its ground-truth window, all faces (worst face):")
    print("  " + ", ".join(f"{name} {o:.4f} ({w:.3f})" for name, o, w in zip(STN_ICNN_PART_NAMES, overall, worst)))
    for shift, scores in crop_ceilings(faces, args.window, args.shifts).items():
        print(f"\nground truth kept inside windows whose centres moved {shift:g} px:")
        print(format_f1_table(scores))
    if args.model:
        errors = centre_errors(keras.saving.load_model(args.model), examples)
        print(
            f"\ncrop-centre error of {args.model} (canvas px): mean {errors.mean():.1f}, "
            f"median {np.median(errors):.1f}, 90th percentile {np.percentile(errors, 90):.1f}"
        )
        per_part = zip(STN_ICNN_PART_NAMES, errors.mean(axis=0))
        print("  per part: " + ", ".join(f"{name} {e:.1f}" for name, e in per_part))


if __name__ == "__main__":
    main()
