"""The training job behind examples/train_helen.py: stages, evaluation, .keras files, SavedModel export."""

import json
import re

import numpy as np
import pytest
import tensorflow as tf

from fake_datasets import write_helen
from keras_stn_icnn.jobs import run_training_job

TINY = ["--canvas-size", "128", "--copies", "1", "--verbose", "0",
        "--stage1-epochs", "1", "--localizer-epochs", "1", "--parts-epochs", "1", "--joint-epochs", "1",
        "--stage1-batch-size", "2", "--localizer-batch-size", "2", "--parts-batch-size", "2",
        "--joint-batch-size", "2"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("helen")
    write_helen(root, {"exemplars.txt": list("abcd"), "tuning.txt": ["e"], "testing.txt": ["f", "g"]}, shape=(60, 90))
    return root


def test_the_job_trains_every_stage_evaluates_three_models_and_exports(tmp_path, data, capsys):
    args = ["--data-dir", str(data), "--run-dir", str(tmp_path / "run"), "--export-dir", str(tmp_path / "saved"),
            *TINY]
    assert run_training_job(args) == 0
    out = capsys.readouterr().out
    for name in ("icnn_baseline", "stn_icnn_pretrained", "stn_icnn"):
        assert f"=== {name} on the test split ===" in out
        assert (tmp_path / "run" / f"{name}.keras").is_file()
    assert len(re.findall(r"^overall F1: \d\.\d{3}$", out, flags=re.MULTILINE)) == 3
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert set(summary["images_per_second"]) == {"stage1", "localizer", "parts", "joint"}
    assert summary["recipe"]["name"] == "helen" and summary["results"]["stn_icnn"]["num_images"] == 2
    assert 0.0 <= summary["results"]["stn_icnn"]["scores"]["overall"] <= 1.0

    # The export serves uint8 images of any size with the model's labels.
    export = tmp_path / "saved" / "stn_icnn" / "1"
    assert summary["export"] == str(export) and (export / "saved_model.pb").is_file()
    serving = tf.saved_model.load(str(export)).signatures["serving_default"]
    image = np.random.default_rng(0).integers(0, 256, (1, 50, 70, 3)).astype(np.uint8)
    outputs = serving(images=tf.constant(image))
    assert outputs["labels"].shape == (1, 50, 70) and outputs["labels"].dtype == tf.uint8

    # The same command again: every stage is done, nothing retrains, a new version is exported.
    assert run_training_job(args) == 0
    again = capsys.readouterr().out
    assert again.count("already done") == 4
    assert (tmp_path / "saved" / "stn_icnn" / "2" / "saved_model.pb").is_file()
    assert not list((tmp_path / "saved" / "stn_icnn").glob(".partial-*"))


def test_with_no_data_dir_the_synthetic_set_is_generated_and_used(tmp_path, capsys):
    args = ["--synthetic-dir", str(tmp_path / "synthetic"), "--num-train", "2", "--num-val", "0", "--num-test", "1",
            "--run-dir", str(tmp_path / "run"), "--stop-after", "stage1", "--stage1-batch-size", "2",
            "--stage1-epochs", "1", "--copies", "1", "--verbose", "0"]
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
