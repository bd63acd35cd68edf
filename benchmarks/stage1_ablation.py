"""Why a from-scratch stage-1 iCNN learns slowly: one change at a time, same data, same steps.

Trains the stage-1 iCNN (128x128, 9 classes) on synthetic faces' stage-1
views for a fixed number of steps and prints the test F1 (merged
foreground, the paper's "overall") every `--eval-every` steps, so each row is
a learning curve. Every variant changes one thing against `authors`: the
authors' settings as the package ran them (Keras' default initialisation,
plain cross-entropy, Adam 0.002, batch 4, 200 faces, no augmentation here).

    python benchmarks/stage1_ablation.py --steps 300 --output docs/stage1_ablation.md
    python benchmarks/stage1_ablation.py --variants authors prior_bias --steps 100
"""

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_stn_icnn.data.stn_icnn_inputs import stn_icnn_inputs  # noqa: E402
from keras_stn_icnn.data.synthetic import GENERATOR_VERSION, render_face  # noqa: E402
from keras_stn_icnn.labels import label_mapping  # noqa: E402
from keras_stn_icnn.metrics import FaceParsingF1  # noqa: E402
from keras_stn_icnn.models.class_priors import label_frequencies, set_prior_bias  # noqa: E402
from keras_stn_icnn.models.icnn import ICNN  # noqa: E402

SIZE = 128
HELEN_TO_STN = label_mapping("helen", "stn_icnn")


def stage1_views(seed, indices, cache_dir=None):
    """The 128x128 stage-1 views of faces `(seed, i)`, rendered once and kept in `cache_dir`."""
    indices = list(indices)
    cached = cache_dir and Path(cache_dir) / f"stage1_views_v{GENERATOR_VERSION}_{seed}_{len(indices)}.npz"
    if cached and cached.is_file():
        with np.load(cached) as views:
            return views["images"], views["labels"]
    images, labels = [], []
    for index in indices:
        image, label = render_face((seed, index))
        views = stn_icnn_inputs(
            tf.constant(image), tf.constant(HELEN_TO_STN[label]), with_parts=False, with_canvas=False
        )
        images.append(views["stage1_image"].numpy())
        labels.append(views["stage1_label"].numpy())
    images, labels = np.stack(images), np.stack(labels).astype(np.int32)
    if cached:
        cached.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cached, images=images, labels=labels)
    return images, labels


BASE = dict(
    init="keras", loss="ce", learning_rate=0.002, batch_size=4, faces=200, prior_bias=False, schedule="constant"
)

VARIANTS = {
    "authors": {},
    "torch_init": dict(init="torch"),
    "he_init": dict(init="he"),
    "prior_bias": dict(prior_bias=True),
    "lr_0.01": dict(learning_rate=0.01),
    "lr_0.0005": dict(learning_rate=0.0005),
    "batch_16": dict(batch_size=16),
    "faces_2000": dict(faces=2000),
    "weighted_ce": dict(loss="weighted_ce"),
    "ce_dice": dict(loss="ce_dice"),
    "focal": dict(loss="focal"),
    "warmup_cosine": dict(schedule="warmup_cosine"),
}
"""Round 1: one change each against the authors' settings."""

ROUND_2 = {
    "lr_0.005": dict(learning_rate=0.005),
    **{
        name: VARIANTS[name]
        for name in ("torch_init", "lr_0.0005", "batch_16", "faces_2000", "weighted_ce", "warmup_cosine")
    },
}
VARIANTS.update({f"prior_bias+{name}": dict(prior_bias=True, **change) for name, change in ROUND_2.items()})
"""Round 2: one change each on top of the log-prior output bias, the one change of round 1 that fixed it."""


def reinitialise(model, scheme, seed):
    """Re-draws every conv kernel and bias: `torch` (PyTorch's default) or `he`."""
    rng = np.random.default_rng(seed)
    for layer in _conv_layers(model):
        kernel, bias = layer.kernel, layer.bias
        fan_in = int(np.prod(kernel.shape[:-1]))
        if scheme == "torch":  # kaiming_uniform(a=sqrt(5)) -> U(+-1/sqrt(fan_in)), bias likewise
            bound = 1.0 / math.sqrt(fan_in)
            kernel.assign(rng.uniform(-bound, bound, kernel.shape).astype("float32"))
            bias.assign(rng.uniform(-bound, bound, bias.shape).astype("float32"))
        elif scheme == "he":
            kernel.assign((rng.standard_normal(kernel.shape) * math.sqrt(2.0 / fan_in)).astype("float32"))


def _conv_layers(layer):
    found = []
    for sub in getattr(layer, "_flatten_layers", lambda **_: [])(include_self=False, recursive=True):
        if isinstance(sub, keras.layers.Conv2D):
            found.append(sub)
    return found


def make_loss(kind):
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    weights = tf.constant(np.where(np.arange(9) == 0, 1.0, 20.0), tf.float32)

    def loss(y_true, logits):
        y_true = tf.cast(y_true, tf.int32)
        if kind == "ce":
            return ce(y_true, logits)
        if kind == "weighted_ce":
            pixel = tf.nn.sparse_softmax_cross_entropy_with_logits(y_true, logits)
            w = tf.gather(weights, y_true)
            return tf.reduce_sum(pixel * w) / tf.reduce_sum(w)
        if kind == "focal":
            pixel = tf.nn.sparse_softmax_cross_entropy_with_logits(y_true, logits)
            p = tf.exp(-pixel)
            return tf.reduce_mean((1 - p) ** 2 * pixel)
        if kind == "ce_dice":
            probs = tf.nn.softmax(logits)
            onehot = tf.one_hot(y_true, 9)
            inter = tf.reduce_sum(probs * onehot, [0, 1, 2])[1:]
            denom = tf.reduce_sum(probs + onehot, [0, 1, 2])[1:]
            dice = 1 - tf.reduce_mean((2 * inter + 1) / (denom + 1))
            return ce(y_true, logits) + dice
        raise ValueError(kind)

    return loss


def run_variant(name, settings, data, steps, eval_every, seed):
    train_images, train_labels, test_images, test_labels = data
    faces = settings["faces"]
    images, labels = train_images[:faces], train_labels[:faces]
    keras.utils.set_random_seed(seed)
    model = ICNN(num_classes=9, name="stage1")
    model(tf.zeros([1, SIZE, SIZE, 3]))
    if settings["init"] != "keras":
        reinitialise(model, settings["init"], seed)
    if settings["prior_bias"]:
        set_prior_bias(model.logits_layer, label_frequencies([labels], 9))
    lr = settings["learning_rate"]
    if settings["schedule"] == "warmup_cosine":
        lr = keras.optimizers.schedules.CosineDecay(
            lr / 10, decay_steps=steps - steps // 10, warmup_target=lr, warmup_steps=steps // 10
        )
    model.compile(optimizer=keras.optimizers.Adam(lr, epsilon=1e-8), loss=make_loss(settings["loss"]))
    batch = settings["batch_size"]
    rng = np.random.default_rng(seed)
    curve = []
    start = time.perf_counter()
    initial_loss = None
    for step in range(1, steps + 1):
        pick = rng.choice(len(images), batch, replace=False)
        loss = float(model.train_on_batch(images[pick], labels[pick]))
        if initial_loss is None:
            initial_loss = loss
        if step % eval_every == 0 or step == steps:
            metric = FaceParsingF1()
            for first in range(0, len(test_images), 20):
                metric.update_state(
                    test_labels[first : first + 20], model.predict_on_batch(test_images[first : first + 20])
                )
            curve.append((step, step * batch, round(float(metric.result()), 3), round(loss, 4)))
            print(
                f"{name}: step {step} images {step * batch} test F1 {curve[-1][2]:.3f} loss {loss:.4f} "
                f"head saturation {head_saturation(model, test_images[:20]):.3f}",
                flush=True,
            )
    return {
        "variant": name,
        "settings": settings,
        "initial_loss": initial_loss,
        "curve": curve,
        "seconds": time.perf_counter() - start,
        "head_saturation": head_saturation(model, test_images[:20]),
    }


def head_saturation(model, images):
    """Fraction of the head's tanh outputs (the input of `head_conv_2`) beyond +-0.99."""
    probe = keras.Model(model.inputs, model.get_layer("head_conv_2").input)
    hidden = probe.predict_on_batch(images)
    return round(float(np.mean(np.abs(hidden) > 0.99)), 3)


def markdown_table(results):
    """One row per run: the variant, its seed, the initial loss and test F1 at every evaluation."""
    steps = [point[0] for point in results[0]["curve"]]
    lines = [
        "| variant | seed | initial loss | " + " | ".join(f"F1 @ {s}" for s in steps) + " | head tanh saturated |",
        "|---|---|---|" + "---|" * len(steps) + "---|",
    ]
    for result in results:
        f1 = [f"{point[2]:.3f}" for point in result["curve"]]
        lines.append(
            f"| {result['variant']} | {result.get('seed', 0)} | {result['initial_loss']:.2f} | "
            + " | ".join(f1)
            + f" | {result.get('head_saturation', '-')} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--test-faces", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", type=Path, default=Path("runs/stage1_ablation.jsonl"))
    parser.add_argument("--cache-dir", type=Path, default=Path("runs/stage1_ablation_views"))
    parser.add_argument("--report", action="store_true", help="print the results file as a markdown table and stop")
    args = parser.parse_args(argv)
    if args.report:
        print(markdown_table([json.loads(line) for line in args.results.read_text().splitlines() if line]))
        return
    max_faces = max({**BASE, **VARIANTS[v]}["faces"] for v in args.variants)
    t = time.perf_counter()
    train = stage1_views(0, range(max_faces), args.cache_dir)
    test = stage1_views(424242, range(args.test_faces), args.cache_dir)
    print(
        f"rendered {max_faces} + {args.test_faces} faces in {time.perf_counter() - t:.0f} s; "
        f"foreground {np.mean(train[1] > 0):.4f} of training pixels",
        flush=True,
    )
    args.results.parent.mkdir(parents=True, exist_ok=True)
    for name in args.variants:
        result = run_variant(name, {**BASE, **VARIANTS[name]}, (*train, *test), args.steps, args.eval_every, args.seed)
        result["seed"] = args.seed
        with args.results.open("a") as f:
            f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
