"""Training speed of the parsers with their own step: `training_loss` alone, or Keras' step on the whole model.

Keras' `train_step` runs the whole model and then `compute_loss`. The
face-box parsers' loss runs the face parser again on the ground truth's box,
and RNN-G's two-stage parser's runs the component networks on the ground
truth's crops: Keras' run of the face parser on the found box, or of the
component networks on the crops the first stage places and the merge, is
work no gradient reads. `TrainingLossStep.train_step` runs the parser's
`training_loss`, which leaves that work out, with the same loss and gradients
(`tests/test_red_net_face_box.py`, `tests/test_rnn_g.py`). This times a whole `train_on_batch` step
of such zoo models (batch 8, 256 px, as the comparison trains them) on
random faces both ways, each model built twice from the same seed, the
settings timed in turns so that both see the same machine load. It prints
milliseconds, median (min-max), and the ratio.

Usage:
    python benchmarks/training_loss_step_speed.py [--models red_net_cpu_face_box ...] [--repeats 5]
"""

import argparse
import contextlib

import keras

from keras_stn_icnn.benchmarking.zoo_comparison import step_ratio_table
from keras_stn_icnn.models.single_pass import TrainingLossStep
from keras_stn_icnn.models.zoo import ZOO, zoo_names


@contextlib.contextmanager
def keras_train_step():
    """Within the block, parsers with their own step (and every step traced) train with Keras' `train_step`."""
    own = TrainingLossStep.train_step
    TrainingLossStep.train_step = keras.Model.train_step
    try:
        yield
    finally:
        TrainingLossStep.train_step = own


def main():
    own_step_parsers = [
        name for name in zoo_names("single_pass") if issubclass(ZOO[name].model_class, TrainingLossStep)
    ]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models",
        nargs="+",
        default=["red_net_cpu_face_box", "rnn_g_face_box", "rnn_g_two_stage_context"],
        choices=own_step_parsers,
    )
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    step_ratio_table(
        args.models, {"Keras' step": keras_train_step, "training_loss": contextlib.nullcontext}, repeats=args.repeats
    )


if __name__ == "__main__":
    main()
