"""One training step of every single-pass zoo parser on two logical CPU devices, against one device.

Run as `python zoo_mirrored_script.py OUT.json` (a fresh process: the logical devices must be set
before TensorFlow starts). For each model it builds two copies with the same initial weights, takes
one SGD step on the same global batch of 4 faces, once with `MirroredStrategy` over two devices
(2 faces each, BatchNorm over the global batch as the trainers run it) and once on one device,
and writes the largest weight difference and the largest weight change to OUT.json. Models of one class (and,
for RNN-G's two-stage parser, one first stage, whose class decides its loss) step alike whatever their widths,
context pyramid, initializer or coordinate channels: none of those changes how a loss or BatchNorm is averaged
over the replicas. Such a model is stepped once, as the first of its kind, and reported under every name.
"""

import json
import sys

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402
from zoo_checks import TINY_ZOO_ARGUMENTS  # noqa: E402

from keras_stn_icnn.models.zoo import ZOO, build_zoo_model  # noqa: E402
from keras_stn_icnn.train.strategy import global_batch_norm  # noqa: E402


def faces(model, seed=0):
    """Four random faces whose labels come in 4x4 blocks (so label boundaries are lines, not every pixel)."""
    rng = np.random.default_rng(seed)
    side = model.input_size
    images = rng.integers(0, 256, (4, side, side, 3)).astype(np.float32)
    blocks = rng.integers(0, model.num_classes, (4, side // 4, side // 4))
    return images, np.repeat(np.repeat(blocks, 4, axis=1), 4, axis=2).astype(np.uint8)


def one_step(model, strategy, images, labels, run_eagerly=False):
    with strategy.scope():
        model.compile(optimizer=keras.optimizers.SGD(0.01), run_eagerly=run_eagerly)
    with global_batch_norm(model, strategy):
        model.fit(images, labels, batch_size=4, epochs=1, shuffle=False, verbose=0)
    return [keras.ops.convert_to_numpy(w) for w in model.weights]


def main(out_path):
    mirrored = tf.distribute.MirroredStrategy([device.name for device in tf.config.list_logical_devices("CPU")])
    report = {"replicas": mirrored.num_replicas_in_sync}
    first_of_model = {}
    for name, arguments in TINY_ZOO_ARGUMENTS.items():
        entry = ZOO[name]
        kind = (entry.model_class, entry.arguments.get("first_stage"))
        if kind in first_of_model:  # the same class (and first stage): the same averaging over replicas
            report[name] = report[first_of_model[kind]]
            continue
        first_of_model[kind] = name
        keras.utils.set_random_seed(0)
        single = build_zoo_model(name, **arguments)
        initial = single.get_weights()
        with mirrored.scope():
            replicated = build_zoo_model(name, **arguments)
        replicated.set_weights(initial)
        images, labels = faces(single)
        # One device steps eagerly: the same kernels without a graph to trace, against the traced step
        # under the strategy, which is the one the trainers run.
        after_single = one_step(single, tf.distribute.get_strategy(), images, labels, run_eagerly=True)
        after_mirrored = one_step(replicated, mirrored, images, labels)
        report[name] = {
            "difference": max(float(np.abs(a - b).max()) for a, b in zip(after_single, after_mirrored)),
            "step": max(float(np.abs(a - b).max()) for a, b in zip(after_single, initial)),
        }
    with open(out_path, "w") as f:
        json.dump(report, f)


if __name__ == "__main__":
    main(sys.argv[1])
