"""Shared fixtures: the authors' reference outputs in ../shared/parity."""

import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import contextlib  # noqa: E402
import io  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

PARITY_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "parity"


def nhwc(array):
    """NCHW (the reference's layout) -> NHWC (ours), for any leading dims."""
    return np.moveaxis(array, -3, -1)


def relative_error(actual, expected):
    """max |actual - expected| relative to the largest |expected|."""
    actual = np.asarray(actual, np.float64)
    expected = np.asarray(expected, np.float64)
    return float(np.abs(actual - expected).max() / np.abs(expected).max())


def _parity_file(name):
    path = PARITY_DIR / name
    if not path.exists():
        pytest.skip(f"reference fixture {path} is not available")
    return path


@pytest.fixture(scope="session")
def pipeline_reference():
    return dict(np.load(_parity_file("stn_icnn_reference_pipeline.npz")))


@pytest.fixture(scope="session")
def crop_reference():
    return dict(np.load(_parity_file("affine_crop_reference.npz")))


@pytest.fixture(scope="session")
def reference_checkpoint_path():
    return _parity_file("stn_icnn_reference_checkpoint.pth.tar")


@pytest.fixture(scope="session")
def custom_localizer_checkpoint_path():
    return _parity_file("custom_localizer_reference_checkpoint.pth.tar")


@pytest.fixture(scope="session")
def converted_model(reference_checkpoint_path):
    from keras_stn_icnn import STNiCNN

    return STNiCNN.from_pytorch_checkpoint(reference_checkpoint_path)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """A tiny STN-iCNN run through every stage (tiny_training.py), trained once per session."""
    from tiny_training import train_every_stage, write_tiny_helen

    data_dir = write_tiny_helen(tmp_path_factory.mktemp("tiny_helen"))
    return train_every_stage(data_dir, tmp_path_factory.mktemp("tiny_run") / "run")


@pytest.fixture(scope="session")
def cli_exports(tmp_path_factory, reference_checkpoint_path):
    """`keras-stn-icnn export --format all` of the reference checkpoint: (folder, exit status, printout).

    Made once per session (converting and checking five exports of the full model takes minutes);
    test_export.py checks them, test_evaluation.py and test_serving_client.py read the SavedModel.
    """
    from keras_stn_icnn import cli

    out = tmp_path_factory.mktemp("exports")
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        status = cli.main(["export", str(reference_checkpoint_path), "--format", "all", "--out", str(out)])
    return out, status, stdout.getvalue()


SHARED_FIXTURE_GROUPS = ("trained_run", "cli_exports")
"""Session fixtures that take minutes to build: every test that needs one runs on the same worker."""

LONGEST_GROUPS = (
    "trained_run",
    "cli_exports",
    "test_single_pass_training",
    "test_distributed",
    "test_zoo_learning",
    "test_learning",
    "test_resume",
)
"""The groups that take longest (2-8 minutes each on a 2-core CPU, from `--durations`), longest first: they are
scheduled before the rest, which then fills the workers around them. pytest-xdist would otherwise order groups by
their number of tests, which puts the one-test and two-test groups of minutes (`test_learning`,
`test_distributed`) last, where they ran alone for the suite's last ten minutes."""


def _group(item):
    shared = [name for name in SHARED_FIXTURE_GROUPS if name in item.fixturenames]
    return shared[0] if shared else item.module.__name__


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Groups the tests for pytest-xdist's `--dist loadgroup` (pyproject.toml's addopts).

    A module's tests stay on one worker, so its module fixtures are built once; the tests of an
    expensive session fixture all go to one worker, so that fixture is built once per run. First
    of the hooks: xdist's worker reads the groups in its own hook of the same name, which
    otherwise runs before this one and finds none (every test was then scheduled alone, and CI
    built `cli_exports` and `trained_run` on both workers). The `LONGEST_GROUPS` go first, in
    that order (pyproject.toml's `--no-loadscope-reorder` keeps it); the rest keep theirs.
    """
    for item in items:
        item.add_marker(pytest.mark.xdist_group(_group(item)))
    position = {name: index for index, name in enumerate(LONGEST_GROUPS)}
    items.sort(key=lambda item: position.get(_group(item), len(LONGEST_GROUPS)))
