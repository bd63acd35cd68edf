"""How close a pre-trained localizer puts the crops: one change at a time, same data, same steps.

Renders synthetic faces once (stage-1 view and ground-truth theta from the
full-resolution label, as `data.stn_icnn_inputs` makes them), trains one
stage-1 iCNN with the package's defaults (log-prior output bias) and keeps
its softmax maps, then trains each localizer variant on them with the
localizer stage's loss (Huber on theta) and prints the mean crop-centre
error on unseen faces, in canvas pixels (`ops.crop_centres`), every
`--eval-every` steps.

    python benchmarks/localizer_ablation.py --steps 600   # the table in docs/stage1_ablation.md
"""

import argparse
import json
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
from keras_stn_icnn.models.stn_icnn.stn_icnn import LOCALIZERS  # noqa: E402
from keras_stn_icnn.ops.affine import crop_centres  # noqa: E402
from keras_stn_icnn.train.optimizers import warmup_cosine_schedule  # noqa: E402

CANVAS = 1024
HELEN_TO_STN = label_mapping("helen", "stn_icnn")

BASE = dict(localizer="resnet18", learning_rate=0.0017, batch_size=8, mean_theta_bias=False, loss="huber")
VARIANTS = {
    "authors": {},
    "mean_theta_bias": dict(mean_theta_bias=True),
    "vgg9": dict(localizer="vgg9"),
    "fcn": dict(localizer="fcn"),
    "lr_0.0005": dict(learning_rate=0.0005),
    "pixel_l1": dict(loss="pixel_l1"),
    "vgg9+mean_theta_bias": dict(localizer="vgg9", mean_theta_bias=True),
    "vgg9+mean_theta_bias+pixel_l1": dict(localizer="vgg9", mean_theta_bias=True, loss="pixel_l1"),
    "centroid": dict(localizer="centroid"),
}


def views(seed, count, cache_dir):
    cached = Path(cache_dir) / f"localizer_views_v{GENERATOR_VERSION}_{seed}_{count}.npz"
    if cached.is_file():
        with np.load(cached) as data:
            return data["images"], data["labels"], data["theta"]
    images, labels, thetas = [], [], []
    for index in range(count):
        image, label = render_face((seed, index))
        v = stn_icnn_inputs(
            tf.constant(image),
            tf.constant(HELEN_TO_STN[label]),
            canvas_size=CANVAS,
            with_parts=False,
            with_canvas=False,
        )
        images.append(v["stage1_image"].numpy())
        labels.append(v["stage1_label"].numpy())
        thetas.append(v["theta"].numpy())
    images, labels, thetas = np.stack(images), np.stack(labels).astype(np.int32), np.stack(thetas)
    cached.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cached, images=images, labels=labels, theta=thetas)
    return images, labels, thetas


def stage1_softmax(train, test, steps, seed, weights_path):
    keras.utils.set_random_seed(seed)
    model = ICNN(9, name="stage1")
    model(tf.zeros([1, 128, 128, 3]))
    if weights_path.is_file():
        model.load_weights(str(weights_path))
    else:
        set_prior_bias(model.logits_layer, label_frequencies([train[1]], 9))
        model.compile(
            optimizer=keras.optimizers.Adam(warmup_cosine_schedule(0.002, steps), epsilon=1e-8),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        rng = np.random.default_rng(seed)
        for _ in range(steps):
            pick = rng.choice(len(train[0]), 4, replace=False)
            model.train_on_batch(train[0][pick], train[1][pick])
        model.save_weights(str(weights_path))
    metric = FaceParsingF1()
    maps = []
    for images, labels in ((train[0], train[1]), (test[0], test[1])):
        out = []
        for first in range(0, len(images), 50):
            logits = model.predict_on_batch(images[first : first + 50])
            out.append(tf.nn.softmax(logits).numpy())
            if images is test[0]:
                metric.update_state(labels[first : first + 50], logits)
        maps.append(np.concatenate(out))
    return maps[0], maps[1], float(metric.result())


def centre_errors(theta_pred, theta_true):
    """Distances `[faces, 6]` between predicted and ground-truth crop centres, canvas pixels."""
    offsets = crop_centres(theta_pred, (CANVAS, CANVAS)) - crop_centres(theta_true, (CANVAS, CANVAS))
    return tf.norm(offsets, axis=-1).numpy()


def centre_error(theta_pred, theta_true):
    return float(centre_errors(theta_pred, theta_true).mean())


def run_variant(name, settings, train_maps, train_theta, test_maps, test_theta, steps, eval_every, seed):
    keras.utils.set_random_seed(seed)
    localizer = LOCALIZERS[settings["localizer"]](num_mask_channels=9, name="localizer")
    localizer(tf.zeros([1, 128, 128, 9]))
    if not localizer.trainable_weights:
        errors = centre_errors(localizer(test_maps), test_theta)
        print(
            f"{name}: nothing to train; test centre error {errors.mean():.1f} px, per part "
            f"{np.round(errors.mean(axis=0), 1).tolist()}",
            flush=True,
        )
        return {
            "variant": name,
            "settings": settings,
            "curve": [(0, 0, round(float(errors.mean()), 1), None)],
            "per_part": errors.mean(axis=0).tolist(),
            "seconds": 0.0,
        }
    if settings["mean_theta_bias"]:
        fc = localizer.get_layer("fc")
        mean = train_theta.mean(axis=0).reshape(-1)
        fc.bias.assign(mean.astype("float32"))
        fc.kernel.assign(fc.kernel.numpy() * 0.1)
    if settings["loss"] == "huber":
        loss = keras.losses.Huber(delta=1.0)
    else:
        half = (CANVAS - 1) / 2.0

        def loss(y_true, y_pred):  # mean |error| of the crop translation in canvas pixels
            return tf.reduce_mean(tf.abs(y_true[..., 2] - y_pred[..., 2])) * half

    localizer.compile(optimizer=keras.optimizers.Adam(settings["learning_rate"], epsilon=1e-8), loss=loss)
    rng = np.random.default_rng(seed)
    curve = []
    start = time.perf_counter()
    for step in range(1, steps + 1):
        pick = rng.choice(len(train_maps), settings["batch_size"], replace=False)
        localizer.train_on_batch(train_maps[pick], train_theta[pick])
        if step % eval_every == 0 or step == steps:
            predicted = np.concatenate(
                [localizer.predict_on_batch(test_maps[i : i + 50]) for i in range(0, len(test_maps), 50)]
            )
            train_pred = localizer.predict_on_batch(train_maps[:100])
            curve.append(
                (
                    step,
                    step * settings["batch_size"],
                    round(centre_error(predicted, test_theta), 1),
                    round(centre_error(train_pred, train_theta[:100]), 1),
                )
            )
            print(f"{name}: step {step} test centre error {curve[-1][2]} px (train {curve[-1][3]})", flush=True)
    return {"variant": name, "settings": settings, "curve": curve, "seconds": time.perf_counter() - start}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--faces", type=int, default=1000)
    parser.add_argument("--test-faces", type=int, default=100)
    parser.add_argument("--stage1-steps", type=int, default=1500)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", type=Path, default=Path("runs/localizer_ablation"))
    parser.add_argument("--results", type=Path, default=Path("runs/localizer_ablation.jsonl"))
    args = parser.parse_args(argv)
    train = views(0, args.faces, args.cache_dir)
    test = views(424242, args.test_faces, args.cache_dir)
    weights = args.cache_dir / f"stage1_{args.faces}_{args.stage1_steps}.weights.h5"
    train_maps, test_maps, f1 = stage1_softmax(train, test, args.stage1_steps, args.seed, weights)
    print(f"stage 1 ({args.stage1_steps} steps): test F1 {f1:.3f}", flush=True)
    for name in args.variants:
        result = run_variant(
            name,
            {**BASE, **VARIANTS[name]},
            train_maps,
            train[2],
            test_maps,
            test[2],
            args.steps,
            args.eval_every,
            args.seed,
        )
        result["stage1_f1"] = f1
        with args.results.open("a") as f:
            f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
