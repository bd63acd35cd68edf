"""Training speed of the face-box parsers: one run of the face parser a step, or Keras' step with two.

Keras' `train_step` runs the whole model, the face parser on the box the
finder places included, and the loss then runs the face parser again on the
ground truth's box, the only run its gradient reads. `FaceBoxParser.train_step`
runs the finder and the face parser on the ground truth's box alone, with the
same loss and gradients (`tests/test_red_net_face_box.py`). This times a whole
`train_on_batch` step of the face-box zoo models (batch 8, 256 px, as the
comparison trains them) on random faces both ways, each model built twice from
the same seed, the settings timed in turns so that both see the same machine
load. It prints milliseconds, median (min-max), and the ratio.

Usage:
    python benchmarks/face_box_step_speed.py [--models red_net_cpu_face_box rnn_g_face_box] [--repeats 5]
"""

import argparse
import contextlib

import keras

from keras_stn_icnn.benchmarking.zoo_comparison import step_ratio_table
from keras_stn_icnn.models.face_box import FaceBoxParser
from keras_stn_icnn.models.zoo import ZOO, zoo_names


@contextlib.contextmanager
def keras_train_step():
    """Within the block, face-box parsers (and every step traced) train with Keras' own `train_step`."""
    own = FaceBoxParser.train_step
    FaceBoxParser.train_step = keras.Model.train_step
    try:
        yield
    finally:
        FaceBoxParser.train_step = own


def main():
    face_box_parsers = [name for name in zoo_names("single_pass") if issubclass(ZOO[name].model_class, FaceBoxParser)]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models", nargs="+", default=["red_net_cpu_face_box", "rnn_g_face_box"], choices=face_box_parsers
    )
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    step_ratio_table(
        args.models, {"Keras' step": keras_train_step, "one face parse": contextlib.nullcontext}, repeats=args.repeats
    )


if __name__ == "__main__":
    main()
