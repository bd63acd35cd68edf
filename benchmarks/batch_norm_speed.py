"""Training speed of keras_stn_icnn's `BatchNormalization` (the fused kernel) next to Keras's, side by side.

Two tables. First one normalisation layer, forward and backward in a
`tf.function`, at the shapes the zoo's CPU variants train at (batch 8, 256 px
and below, few channels), next to the 3x3 convolution that comes before it.
Then a whole `train_on_batch` step of zoo models on random faces, each model
built twice from the same seed: once as it is, once with every
`keras_stn_icnn.layers.BatchNormalization` traced on Keras's own path. The settings take turns,
so that both see the same machine load. It prints milliseconds, median
(min-max), and the ratio.

Usage:
    python benchmarks/batch_norm_speed.py [--models red_net_cpu bass_cpu icnn] [--repeats 5]
"""

import argparse
import contextlib

import keras
import tensorflow as tf

from keras_stn_icnn.benchmarking.timing import time_in_turns, time_per_item
from keras_stn_icnn.benchmarking.zoo_comparison import time_training_steps
from keras_stn_icnn.layers import BatchNormalization as FusedKernelBatchNormalization
from keras_stn_icnn.models.zoo import zoo_names

LAYER_SHAPES = ((8, 256, 256, 4), (8, 256, 256, 16), (8, 128, 128, 8), (8, 128, 128, 32), (8, 64, 64, 64))


@contextlib.contextmanager
def keras_path():
    """Within the block, our BatchNormalization calls (and so every graph traced) take Keras's path."""
    original = FusedKernelBatchNormalization._uses_fused_kernel
    FusedKernelBatchNormalization._uses_fused_kernel = lambda *_: False
    try:
        yield
    finally:
        FusedKernelBatchNormalization._uses_fused_kernel = original


def layer_step(layer, inputs):
    """A traced forward and backward pass of `layer` in training mode."""
    layer.build(inputs.shape)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            outputs = layer(inputs, training=True)
            loss = tf.reduce_sum(outputs * outputs)
        return tape.gradient(loss, [inputs, *layer.trainable_weights])

    return lambda: [g.numpy() for g in step()]


def print_row(label, timings):
    keras_timing, fused_timing = timings["keras"], timings["fused"]
    print(
        f"| {label} | {keras_timing.milliseconds()} | {fused_timing.milliseconds()} | "
        f"{keras_timing.median / fused_timing.median:.2f} |",
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models", nargs="+", default=["red_net_cpu", "bass_cpu", "icnn"], choices=zoo_names("single_pass")
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--input-size", type=int, default=256)
    args = parser.parse_args()
    for flag in ("repeats", "batch_size", "input_size"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} must be at least 1, got {getattr(args, flag)}")

    print("\n| forward and backward, training mode | Keras BatchNormalization, ms | fused, ms | ratio |")
    print("|---|---|---|---|")
    for shape in LAYER_SHAPES:
        inputs = tf.random.stateless_normal(shape, seed=[0, 0])
        steps = {"keras": layer_step(keras.layers.BatchNormalization(), inputs)}
        steps["fused"] = layer_step(FusedKernelBatchNormalization(), inputs)
        print_row(f"normalisation {list(shape)}", time_in_turns(steps, args.repeats, {"keras": keras_path}))
        convolution = time_per_item(layer_step(keras.layers.Conv2D(shape[-1], 3, padding="same"), inputs))
        print(f"| (the 3x3 convolution before it: {convolution.milliseconds()} ms) | | | |", flush=True)

    print(f"\n| train_on_batch, batch {args.batch_size}, {args.input_size} px | Keras path, ms | fused, ms | ratio |")
    print("|---|---|---|---|")
    for name in args.models:
        contexts = {"keras": keras_path, "fused": contextlib.nullcontext}
        print_row(name, time_training_steps(name, contexts, args.input_size, args.batch_size, args.repeats))


if __name__ == "__main__":
    main()
