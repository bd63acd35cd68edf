"""Runs in a subprocess of test_distributed.py: training under a real multi-replica strategy.

Modes:
  two-devices DATA RUN OUT: splits the CPU into two logical devices, then checks that
      one step under MirroredStrategy over both equals one step on a single
      device (SGD, so a wrongly scaled gradient would show), for the stage-1
      model (a compiled Keras loss) and the joint model (its own
      compute_loss), then trains stage 1 with a StageTrainer on the two
      replicas (Keras fit) on the HELEN-layout set DATA. Writes a JSON
      report to OUT.
  worker DATA RUN OUT: one worker of a MultiWorkerMirroredStrategy cluster
      (TF_CONFIG set by the test) trains stage 1 on the
      HELEN-layout set DATA (through the custom loop, as Keras fit cannot
      run there), saves its parser's weights to OUT and a report to
      OUT.json.
"""

import json
import sys
import time

import tensorflow as tf

MODE = sys.argv[1]
if MODE == "two-devices":
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402
from tiny_training import CANVAS, TINY_RECIPE  # noqa: E402

from keras_stn_icnn import STNiCNN  # noqa: E402
from keras_stn_icnn.data import HelenReader  # noqa: E402
from keras_stn_icnn.train import StageSettings, StageTrainer  # noqa: E402
from keras_stn_icnn.train.stage_models import JointModel, stage1_model  # noqa: E402

TINY = TINY_RECIPE.replace(stage1=StageSettings(2, 4, 0.002))  # two epochs: losses compared per epoch


def one_step_weights(strategy, make_model, x, y, synchronized=False):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        parser = STNiCNN(canvas_size=CANVAS)
        model = make_model(parser)
        model.compile(
            optimizer=keras.optimizers.SGD(0.5),
            loss=None if y is None else keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=False,
            # One device steps eagerly (the same kernels, no graph to trace), against the traced step
            # under MirroredStrategy, which is the one the trainers run.
            run_eagerly=isinstance(strategy, tf.distribute.OneDeviceStrategy),
        )
    # Both sides compute BatchNorm statistics the same way (one replica synchronised is one replica
    # alone, up to the formula: E[x^2] - E[x]^2 instead of two passes), so only the split differs.
    # Synchronising 180 layers costs minutes on CPU, so only the check that needs it asks for it.
    for layer in parser._flatten_layers():
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = synchronized
    started = time.perf_counter()
    model.fit(tf.data.Dataset.from_tensors((x, y) if y is not None else x), epochs=1, verbose=0, shuffle=False)
    print(f"one step on {type(strategy).__name__}: {time.perf_counter() - started:.1f}s", flush=True)
    return [w.numpy() for w in parser.weights]


def max_difference(a, b):
    return max(float(np.abs(u - v).max()) if u.size else 0.0 for u, v in zip(a, b))


def relative_step_difference(a, b, initial, trainable):
    """|a - b| / |b - initial| over the trainable weights (Euclidean norms of all of them together).

    How far two steps from the same `initial` weights differ, relative to the step: 1 for a step twice
    as long, and a pixel that float rounding moves from one label to the next barely shows in it (in
    the largest difference of any one weight, 1.08 against a step of 83, it did).
    """
    kept = [(u, v, w) for u, v, w, t in zip(a, b, initial, trainable) if t]
    difference = np.sqrt(sum(float(np.square(u - v).sum()) for u, v, _ in kept))
    step = np.sqrt(sum(float(np.square(v - w).sum()) for _, v, w in kept))
    return difference / step


def two_devices(data, run, out):
    rng = np.random.default_rng(0)
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    single = tf.distribute.OneDeviceStrategy("/cpu:0")
    report = {"replicas": mirrored.num_replicas_in_sync}

    # A global batch of four different images: each replica holds two, and only BatchNormalization
    # over the global batch (what global_batch_norm sets) makes the step one device's on all four.
    four = (rng.uniform(0, 1, (4, 128, 128, 3)).astype(np.float32), rng.integers(0, 9, (4, 128, 128)).astype(np.uint8))
    four_single = one_step_weights(single, stage1_model, *four, synchronized=True)
    report["stage1_global_batch"] = max_difference(
        one_step_weights(mirrored, stage1_model, *four, synchronized=True), four_single
    )
    report["stage1_global_batch_unsynchronized"] = max_difference(
        one_step_weights(mirrored, stage1_model, *four), four_single
    )
    half = {
        "stage1_image": rng.uniform(0, 1, (2, 128, 128, 3)).astype(np.float32),
        "canvas_image": rng.integers(0, 256, (2, CANVAS, CANVAS, 3)).astype(np.uint8),
        "canvas_label": rng.integers(0, 9, (2, CANVAS, CANVAS)).astype(np.uint8),
    }
    doubled = {key: np.concatenate([value] * 2) for key, value in half.items()}
    joint_mirrored = one_step_weights(mirrored, JointModel, doubled, None)
    joint_single = one_step_weights(single, JointModel, half, None)
    keras.utils.set_random_seed(0)
    untrained_weights = STNiCNN(canvas_size=CANVAS).weights
    untrained = [w.numpy() for w in untrained_weights]
    trainable = [w.trainable for w in untrained_weights]
    report["joint"] = relative_step_difference(joint_mirrored, joint_single, untrained, trainable)
    report["stage1_step_size"] = max_difference(four_single, untrained)
    started = time.perf_counter()
    trainer = StageTrainer(run, TINY, canvas_size=CANVAS, strategy=mirrored, verbose=0)
    trainer.train(HelenReader(data, schema="stn_icnn").dataset("train"), stages=["stage1"])
    print(f"StageTrainer on two devices: {time.perf_counter() - started:.1f}s", flush=True)
    report["trainer_replicas"] = trainer.strategy.num_replicas_in_sync
    report["trainer_losses"] = trainer.histories["stage1"]["loss"]
    json.dump(report, open(out, "w"))


def worker(data, run, out):
    trainer = StageTrainer(run, TINY, canvas_size=CANVAS, verbose=0)
    trainer.train(HelenReader(data, schema="stn_icnn").dataset("train"), stages=["stage1"])
    trainer.parser.save_weights(out)
    json.dump(
        {
            "replicas": trainer.strategy.num_replicas_in_sync,
            "chief": trainer.chief,
            "multi_worker": isinstance(trainer.strategy, tf.distribute.MultiWorkerMirroredStrategy),
            "losses": {"stage1": trainer.histories["stage1"]["loss"]},
        },
        open(out + ".json", "w"),
    )


if __name__ == "__main__":
    if MODE == "two-devices":
        two_devices(*sys.argv[2:5])
    else:
        worker(*sys.argv[2:5])
