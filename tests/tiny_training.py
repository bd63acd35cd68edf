"""One tiny STN-iCNN training run through every stage, shared by the trainer and job tests.

Tracing a stage's training graph costs tens of seconds on a 2-core CPU however little data it
sees, so the suite trains all four stages once (the `trained_run` fixture of conftest.py) and
the tests of what each stage trains, of resuming finished stages and of the training job all
read that one run.
"""

import dataclasses
import shutil

import numpy as np
from fake_datasets import write_helen

from keras_stn_icnn.data import HelenReader
from keras_stn_icnn.train import HELEN_RECIPE, STN_ICNN_STAGES, JointSettings, StageSettings, StageTrainer
from keras_stn_icnn.train.stage_models import variable_groups

CANVAS = 128
TINY_RECIPE = HELEN_RECIPE.replace(
    stage1=StageSettings(1, 4, 0.002),
    localizer=StageSettings(1, 4, 0.002),
    parts=StageSettings(1, 4, 0.002),
    joint=JointSettings(1, 4, 1e-3, 1e-3, 1e-3),
    copies=2,
)
SPLITS = {"exemplars.txt": list("abcd"), "tuning.txt": ["e"], "testing.txt": ["f", "g"]}


@dataclasses.dataclass
class TrainedRun:
    """What `train_every_stage` leaves: the data, the run folder, and what each stage changed."""

    data_dir: object
    run_dir: object
    trainer: StageTrainer
    changes: dict

    def copy_to(self, folder):
        """A copy of the run folder (tests that write into a run must not touch the shared one)."""
        shutil.copytree(self.run_dir, folder)
        return folder


def snapshot(parser):
    return {group: [v.numpy().copy() for v in variables] for group, variables in variable_groups(parser).items()}


def changed_groups(before, after):
    return {group for group in before if any(not np.array_equal(a, b) for a, b in zip(before[group], after[group]))}


def write_tiny_helen(root):
    write_helen(root, SPLITS, shape=(60, 90))
    return root


def train_every_stage(data_dir, run_dir):
    """Trains `TINY_RECIPE` stage by stage, recording which variable groups each stage changed."""
    trainer = StageTrainer(run_dir, TINY_RECIPE, canvas_size=CANVAS, verbose=0)
    train_split = HelenReader(data_dir, schema="stn_icnn").dataset("train")
    changes = {}
    for stage in STN_ICNN_STAGES:
        before = snapshot(trainer.parser)
        trainer.run_stage(stage, train_split)
        changes[stage] = changed_groups(before, snapshot(trainer.parser))
    return TrainedRun(data_dir, run_dir, trainer, changes)
