"""Shared fixtures: the authors' reference outputs in ../shared/parity."""

import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

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
