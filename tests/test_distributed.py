"""Training on several replicas: two logical CPU devices, and two worker processes on 127.0.0.1."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fake_datasets import write_helen

SCRIPT = Path(__file__).with_name("distributed_script.py")
ROOT = Path(__file__).resolve().parents[1]


def environment(**extra):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]), TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("helen")
    write_helen(root, {"exemplars.txt": list("abcd"), "tuning.txt": ["e"], "testing.txt": ["f"]}, shape=(60, 90))
    return root


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def weight_arrays(path):
    import h5py

    found = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, item: found.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset) else None)
    return found


@pytest.fixture(scope="module")
def two_devices(tmp_path_factory, data):
    """One process, MirroredStrategy over two logical CPU devices (Keras fit): its report."""
    folder = tmp_path_factory.mktemp("two_devices")
    out = folder / "report.json"
    subprocess.run(
        [sys.executable, str(SCRIPT), "two-devices", str(data), str(folder / "run"), str(out)],
        env=environment(),
        check=True,
        timeout=600,
    )
    return json.loads(out.read_text())


def test_two_replicas_take_the_same_step_as_one_device_on_the_global_batch(two_devices):
    report = two_devices
    assert report["replicas"] == 2 and report["trainer_replicas"] == 2
    # Stage 1 on four different faces, two a replica, BatchNorm over the global batch: one device's step
    # on all four. A gradient summed but not averaged over the replicas would double SGD's step, a
    # difference as large as the step itself; BatchNorm over each replica's half, the unsynchronised
    # control, differs by more than a hundredth of it. The joint model (its own compute_loss) gets one
    # half-batch twice, so each replica's BatchNorm statistics and the mean gradient equal one device's on
    # that half-batch; what remains is float rounding, which can move a nearest-neighbour label crop by a
    # pixel, so its steps are compared over all trainable weights together: a gradient summed over the two
    # replicas doubles the step, a relative difference of 1; rounding gave 0.0066 (7 December).
    print(report)
    assert report["stage1_global_batch"] < 1e-3 * report["stage1_step_size"]
    assert report["stage1_global_batch_unsynchronized"] > 1e-2 * report["stage1_step_size"]
    assert report["joint"] < 5e-2
    assert len(report["trainer_losses"]) == 2 and np.isfinite(report["trainer_losses"]).all()


@pytest.mark.slow
def test_two_workers_on_localhost_end_with_identical_weights(tmp_path, data, two_devices):
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    workers = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        out = tmp_path / f"worker-{index}.weights.h5"
        log = open(tmp_path / f"worker-{index}.log", "w")
        process = subprocess.Popen(
            [sys.executable, str(SCRIPT), "worker", str(data), str(tmp_path / "run"), str(out)],
            env=environment(TF_CONFIG=tf_config),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        workers.append((process, out, log))
    for process, _, log in workers:
        try:
            process.wait(timeout=600)
        finally:
            process.kill()
            log.close()
    for index, (process, _, _) in enumerate(workers):
        assert process.returncode == 0, (tmp_path / f"worker-{index}.log").read_text()[-3000:]

    reports = [json.loads(Path(f"{out}.json").read_text()) for _, out, _ in workers]
    assert [r["multi_worker"] for r in reports] == [True, True]
    assert [r["chief"] for r in reports] == [True, False] and reports[0]["replicas"] == 2
    # The metrics are reduced over both workers, so both report the same history.
    assert reports[0]["losses"] == reports[1]["losses"]

    first, second = (weight_arrays(out) for _, out, _ in workers)
    assert first.keys() == second.keys() and len(first) > 100
    for name in first:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)

    # Two workers of one replica each see the global batch split as two local replicas see it, with
    # BatchNorm over the global batch in both, so stage 1 has the two-device run's loss history: the
    # first epoch to float precision, the second up to the order of float sums in the all-reduce (which
    # Adam amplifies where gradients are near zero). Each worker on the whole global batch, or a summed
    # rather than averaged gradient, would change the first epoch's second step.
    np.testing.assert_allclose(reports[0]["losses"]["stage1"][0], two_devices["trainer_losses"][0], rtol=1e-5)
    np.testing.assert_allclose(reports[0]["losses"]["stage1"], two_devices["trainer_losses"], rtol=1e-3)

    # Only the chief writes the run's shared files; each worker keeps its own backup.
    assert (tmp_path / "run" / "stage1" / "final.weights.h5").is_file()
    assert sorted(p.name for p in (tmp_path / "run" / "stage1" / "backup").iterdir()) == ["worker-0", "worker-1"]
    assert (tmp_path / "run" / "stage1" / "metrics.csv").is_file()
