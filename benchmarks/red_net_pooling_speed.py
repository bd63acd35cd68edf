"""Training speed of RED-Net's pooling with switches: the pooled map from `tf.nn.max_pool2d` or from the switches.

`MaxPoolingWithSwitches` returns the pooled map of `tf.nn.max_pool2d`, whose
gradient goes to each window's first maximum, the pixel its switches mark.
Taking the pooled map from the switches instead (the sum of each window's
pixels times its switches, as the layer did before) gives the same values and
gradients (`tests/test_red_net.py`), through a backward pass over the four
split pixels of every window. This times a whole `train_on_batch` step of
RED-Net zoo models (batch 8, 256 px, as the comparison trains them) on random
faces both ways, each model built twice from the same seed, the settings timed
in turns so that both see the same machine load. It prints milliseconds, median (min-max), and the ratio.

Usage:
    python benchmarks/red_net_pooling_speed.py [--models red_net_cpu red_net_cpu_face_box] [--repeats 5]
"""

import argparse
import contextlib

import tensorflow as tf

from keras_stn_icnn.benchmarking.zoo_comparison import step_ratio_table
from keras_stn_icnn.layers.max_unpooling import MaxPoolingWithSwitches
from keras_stn_icnn.models.zoo import zoo_names


@contextlib.contextmanager
def pooled_from_switches():
    """Within the block, `MaxPoolingWithSwitches` (and every graph traced) sums the pixels times their switches."""
    original = MaxPoolingWithSwitches.call

    def call(layer, inputs):
        _, switches = original(layer, inputs)
        channels = inputs.shape[-1]
        selected = tf.nn.space_to_depth(inputs * switches, 2)
        return tf.add_n([selected[..., k * channels : (k + 1) * channels] for k in range(4)]), switches

    MaxPoolingWithSwitches.call = call
    try:
        yield
    finally:
        MaxPoolingWithSwitches.call = original


def main():
    red_nets = [name for name in zoo_names("single_pass") if name.startswith("red_net")]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["red_net_cpu", "red_net_cpu_face_box"], choices=red_nets)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    contexts = {"pooled from the switches": pooled_from_switches, "tf.nn.max_pool2d": contextlib.nullcontext}
    step_ratio_table(args.models, contexts, repeats=args.repeats)


if __name__ == "__main__":
    main()
