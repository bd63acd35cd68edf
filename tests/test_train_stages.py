"""Each training stage trains what the paper says it trains, and nothing else."""

import numpy as np
import pytest
from tiny_training import CANVAS, TINY_RECIPE, changed_groups, snapshot

from keras_stn_icnn.data import HelenReader
from keras_stn_icnn.models.zoo import StageResult, ZooEntry
from keras_stn_icnn.train import STAGES, STN_ICNN_STAGES, StageTrainer


@pytest.fixture(scope="module")
def train_split(trained_run):
    return HelenReader(trained_run.data_dir, schema="stn_icnn").dataset("train")


def test_stages_train_their_own_parts_and_joint_training_trains_all(trained_run):
    assert trained_run.changes == {
        "stage1": {"stage1"},
        "localizer": {"localizer"},  # stage 1 frozen, BatchNorm statistics included
        "parts": {"parts"},
        "joint": {"stage1", "localizer", "parts"},  # the loss reaches theta through the crop
    }
    for stage in STN_ICNN_STAGES:
        stage_dir = trained_run.run_dir / stage
        assert (stage_dir / "final.weights.h5").is_file()
        assert (stage_dir / "checkpoints" / "epoch-001.weights.h5").is_file()
        header, row = (stage_dir / "metrics.csv").read_text().splitlines()
        assert header.startswith("epoch,") and "images_per_second" in header and row.startswith("0,")
        assert any((stage_dir / "logs").rglob("events.out.tfevents.*"))
    # The localizer logs how far its crops land from the parts, in canvas pixels.
    header, row = (trained_run.run_dir / "localizer" / "metrics.csv").read_text().splitlines()
    error = float(row.split(",")[header.split(",").index("crop_centre_error_px")])
    assert 0.0 <= error < CANVAS
    for name, history in trained_run.trainer.histories.items():
        assert np.isfinite(history["loss"]).all(), name


def test_the_authors_variant_freezes_stage1_and_localizer_end_to_end(tmp_path, train_split):
    trainer = StageTrainer(
        tmp_path / "run", TINY_RECIPE.replace(freeze_stage1_and_localizer=True), canvas_size=CANVAS, verbose=0
    )
    before = snapshot(trainer.parser)
    trainer.run_stage("joint", train_split)
    assert changed_groups(before, snapshot(trainer.parser)) == {"parts"}


def test_finished_stages_are_loaded_not_retrained(tmp_path, trained_run, train_split, capsys):
    run_dir = trained_run.copy_to(tmp_path / "run")
    again = StageTrainer(run_dir, TINY_RECIPE, canvas_size=CANVAS, seed=5, verbose=0)
    again.train(train_split, stages=list(STN_ICNN_STAGES))
    assert capsys.readouterr().out.count("already done") == len(STN_ICNN_STAGES)
    for a, b in zip(trained_run.trainer.parser.weights, again.parser.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(ValueError, match="order"):
        again.train(train_split, stages=["parts", "stage1"])
    with pytest.raises(ValueError, match="unknown stage"):
        again.train(train_split, stages=["warmup"])


def test_the_stage_table_is_in_the_order_the_command_line_offers():
    assert tuple(STAGES) == STN_ICNN_STAGES


def test_a_zoo_entry_refuses_stages_it_cannot_train():
    with pytest.raises(ValueError, match="a two-stage parser lists its stages"):
        ZooEntry("x", object, "stages", "no stages")
    with pytest.raises(ValueError, match="a two-stage parser lists its stages"):
        ZooEntry("x", object, "single_pass", "stages", stages=("stage1",))
    with pytest.raises(ValueError, match="in that order"):
        ZooEntry("x", object, "stages", "out of order", stages=("parts", "stage1"))
    with pytest.raises(ValueError, match="in that order"):
        ZooEntry("x", object, "stages", "unknown", stages=("stage1", "warmup"))
    with pytest.raises(ValueError, match=r"after stages \['joint'\] it does not train"):
        ZooEntry("x", object, "stages", "stray", stages=("stage1",), stage_results=(StageResult("joint", "y", id),))


def test_a_stage_trainer_trains_a_two_stage_model_only_through_its_own_stages(tmp_path):
    trainer = StageTrainer(tmp_path / "run", TINY_RECIPE, model="icnn_baseline", canvas_size=CANVAS, verbose=0)
    assert trainer.stages == ("stage1", "parts") and type(trainer.parser).__name__ == "ICNNBaseline"
    with pytest.raises(ValueError, match="unknown stage"):
        trainer.train(None, stages=["localizer"])
    with pytest.raises(ValueError, match="single-pass model"):
        StageTrainer(tmp_path / "run", TINY_RECIPE, model="icnn")
    with pytest.raises(ValueError, match="icnn_baseline has no localizer"):
        StageTrainer(tmp_path / "run", TINY_RECIPE, model="icnn_baseline", localizer="resnet18")
