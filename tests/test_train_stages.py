"""Each training stage trains what the paper says it trains, and nothing else."""

import numpy as np
import pytest

from fake_datasets import write_helen
from keras_stn_icnn.data import HelenReader
from keras_stn_icnn.train import HELEN_RECIPE, STN_ICNN_STAGES, JointSettings, StageSettings, StageTrainer
from keras_stn_icnn.train.stage_models import variable_groups

TINY = HELEN_RECIPE.replace(
    stage1=StageSettings(1, 4, 0.002),
    localizer=StageSettings(1, 4, 0.002),
    parts=StageSettings(1, 4, 0.002),
    joint=JointSettings(1, 4, 1e-3, 1e-3, 1e-3),
    copies=2,
)


@pytest.fixture(scope="module")
def train_split(tmp_path_factory):
    root = tmp_path_factory.mktemp("helen")
    write_helen(root, {"exemplars.txt": list("abcd"), "tuning.txt": ["e"], "testing.txt": ["f"]}, shape=(60, 90))
    return HelenReader(root, schema="stn_icnn").dataset("train")


def snapshot(parser):
    return {group: [v.numpy().copy() for v in variables] for group, variables in variable_groups(parser).items()}


def changed_groups(before, after):
    return {group for group in before if any(not np.array_equal(a, b) for a, b in zip(before[group], after[group]))}


def run_stages(trainer, train_split):
    changes = {}
    for stage in STN_ICNN_STAGES:
        before = snapshot(trainer.parser)
        trainer.run_stage(stage, train_split)
        changes[stage] = changed_groups(before, snapshot(trainer.parser))
    return changes


def test_stages_train_their_own_parts_and_joint_training_trains_all(tmp_path, train_split):
    trainer = StageTrainer(tmp_path / "run", TINY, canvas_size=128, verbose=0)
    changes = run_stages(trainer, train_split)
    assert changes == {
        "stage1": {"stage1"},
        "localizer": {"localizer"},  # stage 1 frozen, BatchNorm statistics included
        "parts": {"parts"},
        "joint": {"stage1", "localizer", "parts"},  # the loss reaches theta through the crop
    }
    for stage in STN_ICNN_STAGES:
        stage_dir = tmp_path / "run" / stage
        assert (stage_dir / "final.weights.h5").is_file()
        assert (stage_dir / "checkpoints" / "epoch-001.weights.h5").is_file()
        header, row = (stage_dir / "metrics.csv").read_text().splitlines()
        assert header.startswith("epoch,") and "images_per_second" in header and row.startswith("0,")
        assert any((stage_dir / "logs").rglob("events.out.tfevents.*"))
    for name, history in trainer.histories.items():
        assert np.isfinite(history["loss"]).all(), name


def test_the_authors_variant_freezes_stage1_and_localizer_end_to_end(tmp_path, train_split):
    trainer = StageTrainer(tmp_path / "run", TINY.replace(freeze_stage1_and_localizer=True), canvas_size=128,
                           verbose=0)
    before = snapshot(trainer.parser)
    trainer.run_stage("joint", train_split)
    assert changed_groups(before, snapshot(trainer.parser)) == {"parts"}


def test_finished_stages_are_loaded_not_retrained(tmp_path, train_split, capsys):
    first = StageTrainer(tmp_path / "run", TINY, canvas_size=128, verbose=0)
    first.train(train_split, stages=["stage1"])
    again = StageTrainer(tmp_path / "run", TINY, canvas_size=128, seed=5, verbose=0)
    again.train(train_split, stages=["stage1"])
    assert "already done" in capsys.readouterr().out
    for a, b in zip(first.parser.get_layer("stage1").weights, again.parser.get_layer("stage1").weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(ValueError, match="order"):
        again.train(train_split, stages=["parts", "stage1"])
    with pytest.raises(ValueError, match="unknown stage"):
        again.train(train_split, stages=["warmup"])
