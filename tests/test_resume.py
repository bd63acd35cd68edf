"""A training run killed in the middle of an epoch and started again with the same command
finishes with the same epochs and metrics as a run that was never interrupted."""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fake_datasets import write_helen

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT / "examples" / "train_helen.py"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("helen")
    write_helen(root, {"exemplars.txt": list("abcdef"), "tuning.txt": ["g"], "testing.txt": ["h"]}, shape=(60, 90))
    return root


def command(data, run_dir):
    return [
        sys.executable,
        str(TRAIN),
        "--data-dir",
        str(data),
        "--run-dir",
        str(run_dir),
        "--canvas-size",
        "128",
        "--stop-after",
        "stage1",
        "--stage1-epochs",
        "4",
        "--stage1-batch-size",
        "2",
        "--copies",
        "2",
        "--deterministic",
        "--verbose",
        "2",
    ]


def environment():
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("TF_CONFIG", None)
    return env


def metrics(run_dir):
    with open(run_dir / "stage1" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    # Wall-clock throughput differs from run to run; everything else must not.
    return [{key: value for key, value in row.items() if key != "images_per_second"} for row in rows]


def rows_written(run_dir):
    path = run_dir / "stage1" / "metrics.csv"
    return max(len(path.read_text().strip().splitlines()) - 1, 0) if path.is_file() else 0


def test_a_killed_run_resumes_and_ends_as_an_uninterrupted_one(tmp_path, data):
    reference_dir, resumed_dir = tmp_path / "reference", tmp_path / "resumed"
    subprocess.run(
        command(data, reference_dir),
        env=environment(),
        check=True,
        timeout=600,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert len(metrics(reference_dir)) == 4

    # Kill the second run as soon as its first epoch is logged: it is then inside epoch 2.
    process = subprocess.Popen(
        command(data, resumed_dir), env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 600
    while rows_written(resumed_dir) < 1 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert rows_written(resumed_dir) == 1  # killed before epoch 2 ended
    assert not (resumed_dir / "stage1" / "final.weights.h5").exists()

    finished = subprocess.run(
        command(data, resumed_dir), env=environment(), timeout=600, capture_output=True, text=True
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert "resuming after epoch 1 of 4" in finished.stdout
    assert "Epoch 1/4" not in finished.stdout and "Epoch 2/4" in finished.stdout
    assert metrics(resumed_dir) == metrics(reference_dir)
