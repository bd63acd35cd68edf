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

from keras_stn_icnn.benchmarking.zoo_comparison import time_training_steps
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
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")

    print("\n| train_on_batch, batch 8, 256 px | Keras' step, ms | one face parse, ms | ratio |")
    print("|---|---|---|---|")
    for name in args.models:
        contexts = {"keras": keras_train_step, "own": contextlib.nullcontext}
        timings = time_training_steps(name, contexts, repeats=args.repeats)
        print(
            f"| {name} | {timings['keras'].milliseconds()} | {timings['own'].milliseconds()} | "
            f"{timings['keras'].median / timings['own'].median:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
