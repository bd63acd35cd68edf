"""A single-pass model's learning curve on whole synthetic photos against face crops: test F1 against images seen.

The papers' RNN-G and RED-Net parse a face detected and aligned first (RNN-G at 128x128, Liu et al. 2017, §4;
RED-Net on the face region scaled to 250x250 and cropped to 224x224, Guo et al. 2018); the zoo parses whole
photos, where the face's parts are a few pixels at the working size. This trains a single-pass zoo model
(`--model`, `rnn_g` by default) on the synthetic training faces either way, batch `--batch`, class priors, its
default rate (or `--lr`), warm-up and cosine over `--steps`, and prints the test F1 of its final logits at the
working size (merged foreground, on `--test-num` unseen faces) every `--every` steps, its BatchNorm statistics
(if any) recomputed from the weights of the moment over 32 training batches first, as `SinglePassTrainer` does
when training ends:

- `--crop 0`: the whole photo resized to `--size`;
- `--crop F`: a square F times the larger side of the box around the face's parts, cut with the ground
  truth's help from the training and the test photos alike (an oracle alignment in place of the paper's
  detector), resized to `--size`.

docs/zoo_learning.md's RNN-G and RED-Net face-scale tables come from it.

Usage:
    python benchmarks/face_scale.py --synthetic-dir data/synthetic_helen_2000 --crop 1.6
        [--model rnn_g] [--lr 2e-3] [--size 128] [--steps 1500] [--every 250] [--no-gate-loss]
"""

import argparse
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from keras_stn_icnn.data.helen import HelenReader
from keras_stn_icnn.data.synthetic import generate_synthetic_helen
from keras_stn_icnn.evaluation import synthetic_test_set
from keras_stn_icnn.metrics import FaceParsingF1
from keras_stn_icnn.models.zoo import build_zoo_model, zoo_entry, zoo_names
from keras_stn_icnn.optimizers import ADAM_EPSILON
from keras_stn_icnn.train.callbacks import batch_norm_layers, recompute_batch_norm_statistics
from keras_stn_icnn.train.optimizers import warmup_cosine_schedule


def face_views(dataset, size, crop, limit):
    """Images `[N, size, size, 3]` float32 and labels `[N, size, size]` int32: whole photos or face crops."""
    images, labels = [], []
    for example in dataset.take(limit):
        image = tf.cast(example["image"], tf.float32)
        label = example["label"][..., tf.newaxis]
        if crop:
            rows, cols = np.nonzero(label.numpy()[..., 0])
            if rows.size == 0:
                raise ValueError("a face crop needs the face's parts in the label map; one label map has none")
            centre_y, centre_x = (rows.min() + rows.max()) / 2, (cols.min() + cols.max()) / 2
            half = crop * max(rows.max() - rows.min(), cols.max() - cols.min()) / 2
            height, width = image.shape[:2]
            box = [[(centre_y - half) / height, (centre_x - half) / width, (centre_y + half) / height,
                    (centre_x + half) / width]]  # fmt: skip
            image = tf.image.crop_and_resize(image[tf.newaxis], box, [0], (size, size))[0]
            label = tf.image.crop_and_resize(tf.cast(label, tf.float32)[tf.newaxis], box, [0], (size, size), "nearest")
            label = tf.cast(label[0], tf.int32)
        else:
            image = tf.image.resize(image, (size, size), antialias=True)
            label = tf.image.resize(label, (size, size), method="nearest")
        images.append(image.numpy())
        labels.append(label.numpy()[..., 0])
    return np.stack(images).astype(np.float32), np.stack(labels).astype(np.int32)


def working_size_f1(model, images, labels, batch=20):
    """Overall F1 of the final logits at the working size."""
    metric = FaceParsingF1()
    for start in range(0, len(images), batch):
        metric.update_state(labels[start : start + batch], model(images[start : start + batch])["logits"])
    return float(metric.result())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="rnn_g", choices=zoo_names("single_pass"))
    parser.add_argument("--synthetic-dir", default="data/synthetic_helen_2000")
    parser.add_argument("--num-train", type=int, default=2000)
    parser.add_argument("--test-seed", type=int, default=424242)
    parser.add_argument("--test-num", type=int, default=100)
    parser.add_argument("--size", type=int, default=128, help="working size")
    parser.add_argument("--crop", type=float, default=0.0, help="0: whole photo; F: crop F x the parts' extent")
    parser.add_argument("--lr", type=float, help="Adam's peak rate; the model's default_learning_rate if not given")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--every", type=int, default=250)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--no-gate-loss", action="store_true", help="rnn_g: loss weights coarse 1, gate 0, final 1")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.crop < 0 or args.steps < 1 or args.every < 1:
        parser.error(f"--crop must be >= 0 and --steps, --every >= 1, got {args.crop}, {args.steps}, {args.every}")
    if zoo_entry(args.model).label_schema != "stn_icnn":
        parser.error(f"--model {args.model} labels HELEN's classes; this benchmark scores STN-iCNN's")
    if args.no_gate_loss and args.model != "rnn_g":
        parser.error(f"--no-gate-loss is RNN-G's gate loss; --model {args.model} has none")

    keras.utils.set_random_seed(args.seed)
    root = generate_synthetic_helen(args.synthetic_dir, num_train=args.num_train, num_val=20, num_test=100, seed=0)
    train = HelenReader(root, schema="stn_icnn").dataset("train")
    test = HelenReader(synthetic_test_set(args.test_seed, args.test_num), schema="stn_icnn").dataset("test")
    images, labels = face_views(train, args.size, args.crop, args.num_train)
    test_images, test_labels = face_views(test, args.size, args.crop, args.test_num)

    arguments = {"loss_weights": {"coarse": 1.0, "gate": 0.0, "final": 1.0}} if args.no_gate_loss else {}
    model = build_zoo_model(args.model, input_size=args.size, **arguments)
    model.set_class_priors(labels[:256])
    rate = model.default_learning_rate if args.lr is None else args.lr
    model.compile(optimizer=keras.optimizers.Adam(warmup_cosine_schedule(rate, args.steps), epsilon=ADAM_EPSILON))
    rng = np.random.default_rng(args.seed)
    statistics_rng = np.random.default_rng(args.seed + 1)
    has_batch_norm = bool(batch_norm_layers(model))
    start, step = time.perf_counter(), 0
    print("images seen, test F1, training loss, seconds")
    while step < args.steps:
        chunk = min(args.every, args.steps - step)
        index = rng.integers(0, len(images), size=chunk * args.batch)
        history = model.fit(
            images[index], labels[index], batch_size=args.batch, verbose=0, shuffle=False, class_priors=False
        )
        step += chunk
        if has_batch_norm:
            statistics_batches = statistics_rng.integers(0, len(images), size=(32, args.batch))
            recompute_batch_norm_statistics(model, [images[batch] for batch in statistics_batches])
        f1 = working_size_f1(model, test_images, test_labels)
        loss = history.history["loss"][-1]
        print(f"{step * args.batch}, {f1:.3f}, {loss:.3f}, {time.perf_counter() - start:.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
