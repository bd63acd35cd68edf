"""The training job behind examples/train_helen.py: stages, evaluation, .keras files, SavedModel export."""

import dataclasses
import json
import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from tiny_training import TINY_RECIPE

from keras_stn_icnn.jobs import run_training_job
from keras_stn_icnn.models import ICNNBaseline
from keras_stn_icnn.models.zoo import ZOO, ZooEntry

TINY = [
    "--canvas-size",
    "128",
    "--copies",
    "2",
    "--verbose",
    "0",
    "--stage1-epochs",
    "1",
    "--localizer-epochs",
    "1",
    "--parts-epochs",
    "1",
    "--joint-epochs",
    "1",
    "--stage1-batch-size",
    "4",
    "--localizer-batch-size",
    "4",
    "--parts-batch-size",
    "4",
    "--joint-batch-size",
    "4",
    "--stage1-lr",
    "0.002",
    "--localizer-lr",
    "0.002",
    "--parts-lr",
    "0.002",
    "--lr1",
    "0.001",
    "--lr2",
    "0.001",
    "--lr3",
    "0.001",
]
"""The command-line form of tiny_training.TINY_RECIPE."""


def test_the_job_evaluates_three_models_and_exports_after_the_stages(tmp_path, trained_run, capsys):
    # The stages are those of the session's tiny run (training them again here would cost minutes):
    # the job finds each one done, loads it, then evaluates, saves and exports as after training.
    run_dir = trained_run.copy_to(tmp_path / "run")
    (tmp_path / "saved" / "stn_icnn" / "1").mkdir(parents=True)  # an earlier export stays untouched
    args = [
        "--data-dir",
        str(trained_run.data_dir),
        "--run-dir",
        str(run_dir),
        "--export-dir",
        str(tmp_path / "saved"),
        *TINY,
    ]
    assert run_training_job(args) == 0
    out = capsys.readouterr().out
    assert out.count("already done") == 4
    for name in ("icnn_baseline", "stn_icnn_pretrained", "stn_icnn"):
        assert f"=== {name} on the test split ===" in out
        assert (run_dir / f"{name}.keras").is_file()
    assert len(re.findall(r"^overall F1: \d\.\d{3}$", out, flags=re.MULTILINE)) == 3
    summary = json.loads((run_dir / "summary.json").read_text())
    assert set(summary["images_per_second"]) == {"stage1", "localizer", "parts", "joint"}
    assert summary["recipe"] == json.loads(json.dumps(dataclasses.asdict(TINY_RECIPE)))  # the run's own recipe
    assert summary["results"]["stn_icnn"]["num_images"] == 2
    assert 0.0 <= summary["results"]["stn_icnn"]["scores"]["overall"] <= 1.0
    phases = summary["seconds_per_phase"]  # the job's time, phase by phase, adds up to its total
    assert set(phases) == {"data", "stage1", "localizer", "parts", "joint", "saving", "evaluation", "export"}
    assert abs(sum(phases.values()) - summary["seconds"]) < 1e-6 and min(phases.values()) >= 0.0
    assert "minutes per phase: data " in out

    # The export is the next free version and serves uint8 images of any size with the model's labels.
    export = tmp_path / "saved" / "stn_icnn" / "2"
    assert summary["export"] == str(export) and (export / "saved_model.pb").is_file()
    assert not any((tmp_path / "saved" / "stn_icnn" / "1").iterdir())
    assert not list((tmp_path / "saved" / "stn_icnn").glob(".partial-*"))
    serving = tf.saved_model.load(str(export)).signatures["serving_default"]
    image = np.random.default_rng(0).integers(0, 256, (1, 50, 70, 3)).astype(np.uint8)
    outputs = serving(images=tf.constant(image))
    assert outputs["labels"].shape == (1, 50, 70) and outputs["labels"].dtype == tf.uint8


def test_with_no_data_dir_the_synthetic_set_is_generated_and_used(tmp_path, capsys):
    args = [
        "--synthetic-dir",
        str(tmp_path / "synthetic"),
        "--num-train",
        "2",
        "--num-val",
        "0",
        "--num-test",
        "1",
        "--run-dir",
        str(tmp_path / "run"),
        "--stop-after",
        "stage1",
        "--stage1-batch-size",
        "2",
        "--stage1-epochs",
        "1",
        "--copies",
        "1",
        "--verbose",
        "0",
    ]
    assert run_training_job(args) == 0
    out = capsys.readouterr().out
    assert "recipe synthetic on synthetic" in out and "stopped after stage1" in out
    assert (tmp_path / "synthetic" / "synthetic.json").is_file()
    assert (tmp_path / "run" / "stage1" / "final.weights.h5").is_file()
    assert not (tmp_path / "run" / "localizer").exists()


def test_bad_arguments_are_refused_with_the_value(tmp_path, capsys):
    with pytest.raises(SystemExit):
        run_training_job(["--data-dir", str(tmp_path), "--window", "80"])
    assert "window must be an odd int >= 3, got 80" in capsys.readouterr().err


def test_the_job_trains_a_single_pass_model_in_one_fit_then_evaluates_saves_and_exports(tmp_path, capsys):
    args = [
        "--model",
        "icnn",
        "--synthetic-dir",
        str(tmp_path / "synthetic"),
        "--num-train",
        "2",
        "--num-val",
        "1",
        "--num-test",
        "1",
        "--run-dir",
        str(tmp_path / "run"),
        "--export-dir",
        str(tmp_path / "saved"),
        "--input-size",
        "32",
        "--epochs",
        "1",
        "--batch-size",
        "2",
        "--copies",
        "1",
        "--verbose",
        "0",
    ]
    assert run_training_job(args) == 0
    out = capsys.readouterr().out
    assert "icnn schedule on synthetic" in out and "=== icnn on the test split ===" in out
    assert (tmp_path / "run" / "icnn" / "final.weights.h5").is_file()
    assert (tmp_path / "run" / "icnn.keras").is_file()
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["model"] == "icnn" and summary["schedule"]["epochs"] == 1
    assert summary["export"] == str(tmp_path / "saved" / "icnn" / "1")
    assert set(summary["images_per_second"]) == {"icnn"}
    assert set(summary["seconds_per_phase"]) == {"data", "training", "saving", "evaluation", "export"}


def test_a_new_two_stage_model_is_one_registry_entry(tmp_path, trained_run, monkeypatch, capsys):
    # A variant no code names: the job builds it from its entry, trains exactly the stages the entry lists (here
    # only stage 1: the six part models keep their initial weights), saves and evaluates it under its own name.
    # (Exporting under the entry's name is the same code for every model, which the single-pass test above checks;
    # the SavedModel export of a two-stage parser, the three-model test; training stage 1, every other job test.)
    entry = ZooEntry(
        "icnn_baseline_unshared",
        ICNNBaseline,
        "stages",
        "the iCNN baseline with one part model per part",
        {"shared_part_models": False},
        stages=("stage1",),
    )
    monkeypatch.setitem(ZOO, entry.name, entry)
    run_dir = tmp_path / "run"
    args = ["--model", entry.name, "--data-dir", str(trained_run.data_dir), "--run-dir", str(run_dir)]
    assert run_training_job([*args, "--no-export", *TINY]) == 0
    out = capsys.readouterr().out
    assert "=== icnn_baseline_unshared on the test split ===" in out
    assert sorted(path.name for path in run_dir.iterdir() if path.is_dir()) == ["stage1"]
    model = keras.saving.load_model(run_dir / "icnn_baseline_unshared.keras")
    assert isinstance(model, ICNNBaseline) and not model.shared_part_models
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["model"] == entry.name and set(summary["images_per_second"]) == {"stage1"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--stop-after", "localizer"], "--stop-after localizer: icnn_baseline has no such stage"),
        (["--localizer", "resnet18"], "--localizer resnet18: icnn_baseline has no localizer"),
        (["--recentre-crops"], "--recentre-crops re-centres STN-iCNN's crops; icnn_baseline has no localizer"),
    ],
)
def test_a_two_stage_model_is_refused_what_it_does_not_have(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit):
        run_training_job(["--model", "icnn_baseline", "--synthetic-dir", str(tmp_path), *argv])
    assert message in capsys.readouterr().err


def test_a_single_pass_model_has_no_stages_to_stop_after(tmp_path, capsys):
    with pytest.raises(SystemExit):
        run_training_job(["--model", "rnn_g", "--synthetic-dir", str(tmp_path), "--stop-after", "stage1"])
    assert "rnn_g is a single-pass model, trained in one fit" in capsys.readouterr().err


def test_a_model_of_helen_classes_trains_on_helen_labels_and_is_scored_in_stn_icnn_ids(tmp_path, capsys):
    args = ["--model", "rnn_g_two_stage", "--synthetic-dir", str(tmp_path / "synthetic"), "--num-train", "2"]
    args += ["--num-val", "1", "--num-test", "1", "--run-dir", str(tmp_path / "run"), "--no-export"]
    args += ["--input-size", "16", "--epochs", "1", "--batch-size", "2", "--copies", "1", "--verbose", "0"]
    assert run_training_job(args) == 0
    assert "=== rnn_g_two_stage on the test split ===" in capsys.readouterr().out
    model = keras.saving.load_model(tmp_path / "run" / "rnn_g_two_stage.keras")
    assert model.num_classes == 11  # trained on HELEN's classes (skin and hair too)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert set(summary["results"]["rnn_g_two_stage"]["scores"]) >= {"overall", "brows"}  # STN-iCNN's F1 groups
