"""Tests for keras_stn_icnn.convert.pytorch_checkpoint (no torch needed)."""

import os
import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from keras_stn_icnn.convert.pytorch_checkpoint import (
    CheckpointFormatError,
    UnsafeCheckpointError,
    read_pytorch_checkpoint,
)

DATA_DIR = Path(__file__).resolve().parent / "data"
PARITY_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "parity"
REFERENCE_CHECKPOINT = PARITY_DIR / "stn_icnn_reference_checkpoint.pth.tar"
CUSTOM_LOCALIZER_CHECKPOINT = PARITY_DIR / "custom_localizer_reference_checkpoint.pth.tar"
LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C  # first pickle of every legacy torch.save file
LEGACY_PROTOCOL_VERSION = 1001

requires_parity_fixtures = pytest.mark.skipif(
    not REFERENCE_CHECKPOINT.exists() or not CUSTOM_LOCALIZER_CHECKPOINT.exists(),
    reason=f"reference checkpoints not found in {PARITY_DIR}",
)


def expected_fixture_model():
    """The "model" entry of tests/data/*_format_checkpoint.pth, rebuilt from its formulas."""
    base = np.arange(20, dtype=np.float32).reshape(4, 5)
    return {
        "weight": np.arange(6, dtype=np.float32).reshape(2, 3),
        "transposed": np.arange(12, dtype=np.float32).reshape(3, 4).T,
        "base": base,
        "sliced": base[1:3, ::2],
        "steps": np.arange(3, dtype=np.int64) * 10**10,
        "half": np.arange(4, dtype=np.float16) / np.float16(4),
        "bfloat16": np.arange(4, dtype=np.float32) / 4,
        "mask": np.arange(5) % 2 == 0,
        "scalar": np.array(2.5, dtype=np.float64),
    }


def assert_same_array(actual, expected):
    assert isinstance(actual, np.ndarray)
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    assert actual.flags.c_contiguous and actual.flags.writeable
    np.testing.assert_array_equal(actual, expected)


@pytest.mark.parametrize("name", ["legacy_format_checkpoint.pth", "zip_format_checkpoint.pth"])
def test_reads_torch_written_fixture(name):
    checkpoint = read_pytorch_checkpoint(DATA_DIR / name)

    assert list(checkpoint) == ["model", "param", "epoch"]
    assert checkpoint["epoch"] == 3
    assert_same_array(checkpoint["param"], np.arange(3, dtype=np.float32))
    model = checkpoint["model"]
    assert type(model) is dict
    expected = expected_fixture_model()
    assert list(model) == list(expected)
    for key, value in expected.items():
        assert_same_array(model[key], value)
    assert not np.shares_memory(model["base"], model["sliced"])


@requires_parity_fixtures
def test_reads_reference_stn_icnn_checkpoint():
    checkpoint = read_pytorch_checkpoint(REFERENCE_CHECKPOINT)

    assert list(checkpoint) == ["model1", "select_net", "model2", "step", "epoch", "best_error"]
    assert checkpoint["model1"]["input_conv.0.weight"].shape == (8, 3, 5, 5)
    assert checkpoint["select_net"]["model_res.conv1.weight"].shape == (64, 9, 7, 7)
    assert checkpoint["select_net"]["model_res.fc.weight"].shape == (36, 512)
    assert checkpoint["model2"]["model.3.last_conv3.weight"].shape == (4, 4, 9, 9)
    for state_dict in (checkpoint["model1"], checkpoint["select_net"], checkpoint["model2"]):
        assert type(state_dict) is dict
        for key, value in state_dict.items():
            if key.endswith("num_batches_tracked"):
                assert value.dtype == np.int64 and value.shape == ()
            else:
                assert value.dtype == np.float32, key
    assert "model_res.layer1.0.bn1.num_batches_tracked" in checkpoint["select_net"]


@requires_parity_fixtures
def test_reads_reference_custom_localizer_checkpoint():
    checkpoint = read_pytorch_checkpoint(CUSTOM_LOCALIZER_CHECKPOINT)

    assert list(checkpoint) == ["select_net"]
    weight = checkpoint["select_net"]["localize_net.0.weight"]
    assert weight.shape == (6, 9, 3, 3) and weight.dtype == np.float32


class RunsShellCommand:
    """Pickles to a call of os.system, as a malicious checkpoint would."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def write_zip_checkpoint(path, data_pkl, records=()):
    """Writes data_pkl (plus extra (name, bytes) records) in torch's zip layout."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", data_pkl)
        archive.writestr("archive/.format_version", "1")
        archive.writestr("archive/version", "3\n")
        for name, data in records:
            archive.writestr(f"archive/{name}", data)
    return path


def write_legacy_checkpoint(path, main_pickle):
    """Writes main_pickle (with no storages) in torch's legacy layout."""
    sys_info = {
        "protocol_version": LEGACY_PROTOCOL_VERSION,
        "little_endian": True,
        "type_sizes": {"short": 2, "int": 4, "long": 8},
    }
    header = [LEGACY_MAGIC_NUMBER, LEGACY_PROTOCOL_VERSION, sys_info]
    parts = [pickle.dumps(item, protocol=2) for item in header]
    path.write_bytes(b"".join(parts) + main_pickle + pickle.dumps([], protocol=2))
    return path


@pytest.mark.parametrize("layout", ["zip", "legacy"])
def test_refuses_malicious_pickle_without_running_it(tmp_path, layout):
    marker = tmp_path / "pwned.txt"
    payload = pickle.dumps({"model": RunsShellCommand(f"echo pwned > {marker}")}, protocol=2)
    if layout == "zip":
        path = write_zip_checkpoint(tmp_path / "evil.pth.tar", payload, [("byteorder", b"little")])
    else:
        path = write_legacy_checkpoint(tmp_path / "evil.pth", payload)

    with pytest.raises(UnsafeCheckpointError) as raised:
        read_pytorch_checkpoint(path)

    assert f"'{os.system.__module__}.system'" in str(raised.value)
    assert str(path) in str(raised.value)
    assert not marker.exists()


@pytest.mark.parametrize("module, name", [("builtins", "eval"), ("subprocess", "Popen"), ("torch", "load")])
def test_refuses_any_global_off_the_allow_list(tmp_path, module, name):
    data_pkl = b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"."
    path = write_zip_checkpoint(tmp_path / "evil.pth", data_pkl)

    with pytest.raises(UnsafeCheckpointError, match=f"'{module}.{name}'"):
        read_pytorch_checkpoint(path)


def tensor_pickle(offset, size, stride, numel):
    """Protocol-0 pickle of one float tensor, built from opcodes as torch would write it."""

    def int_tuple(values):
        return b"(" + b"".join(b"I%d\n" % value for value in values) + b"t"

    storage_id = b"(S'storage'\nctorch\nFloatStorage\nS'0'\nS'cpu'\nI%d\ntQ" % numel
    arguments = storage_id + b"I%d\n" % offset + int_tuple(size) + int_tuple(stride) + b"I00\n(d"
    return b"ctorch._utils\n_rebuild_tensor_v2\n(" + arguments + b"tR."


def test_honours_big_endian_byteorder_record(tmp_path):
    storage = np.arange(6, dtype=">f4")
    path = write_zip_checkpoint(
        tmp_path / "big.pth",
        tensor_pickle(offset=1, size=(2, 2), stride=(1, 2), numel=6),
        [("byteorder", b"big"), ("data/0", storage.tobytes())],
    )

    assert_same_array(read_pytorch_checkpoint(path), np.array([[1, 3], [2, 4]], dtype=np.float32))


@pytest.mark.parametrize(
    "offset, size, stride",
    [(0, (7,), (1,)), (5, (2,), (1,)), (0, (2, 2), (5, 1))],
    ids=["too-long", "offset-past-end", "stride-past-end"],
)
def test_refuses_tensor_view_outside_its_storage(tmp_path, offset, size, stride):
    storage = np.arange(6, dtype="<f4")
    path = write_zip_checkpoint(
        tmp_path / "oob.pth",
        tensor_pickle(offset, size, stride, numel=6),
        [("byteorder", b"little"), ("data/0", storage.tobytes())],
    )

    with pytest.raises(CheckpointFormatError, match="needs element"):
        read_pytorch_checkpoint(path)


def test_refuses_storage_record_of_wrong_size(tmp_path):
    path = write_zip_checkpoint(
        tmp_path / "short.pth",
        tensor_pickle(offset=0, size=(6,), stride=(1,), numel=6),
        [("data/0", np.arange(5, dtype="<f4").tobytes())],
    )

    with pytest.raises(CheckpointFormatError, match="holds 20 bytes, expected 24"):
        read_pytorch_checkpoint(path)


def test_missing_file(tmp_path):
    path = tmp_path / "missing.pth"
    with pytest.raises(CheckpointFormatError, match="does not exist") as raised:
        read_pytorch_checkpoint(path)
    assert str(path) in str(raised.value)


@pytest.mark.parametrize(
    "content",
    [np.random.default_rng(0).bytes(4096), b"\x80" + bytes(range(256)), b"", b"just some text\n"],
    ids=["random", "pickle-like", "empty", "text"],
)
def test_file_that_is_not_a_checkpoint(tmp_path, content):
    path = tmp_path / "not_a_checkpoint.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointFormatError) as raised:
        read_pytorch_checkpoint(path)
    assert str(path) in str(raised.value)


def test_zip_that_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(CheckpointFormatError, match="data.pkl"):
        read_pytorch_checkpoint(path)


def test_tar_layout_is_refused_clearly(tmp_path):
    path = tmp_path / "ancient.pth"
    member = tmp_path / "pickle"
    member.write_bytes(pickle.dumps(1))
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as archive:
        archive.add(member, arcname="pickle")
    with pytest.raises(CheckpointFormatError, match="tar layout"):
        read_pytorch_checkpoint(path)


@pytest.mark.parametrize("name", ["legacy_format_checkpoint.pth", "zip_format_checkpoint.pth"])
@pytest.mark.parametrize("keep", [0.3, 0.9])
def test_truncated_checkpoint(tmp_path, name, keep):
    content = (DATA_DIR / name).read_bytes()
    path = tmp_path / name
    path.write_bytes(content[: int(len(content) * keep)])
    with pytest.raises(CheckpointFormatError, match="truncated or corrupt") as raised:
        read_pytorch_checkpoint(path)
    assert str(path) in str(raised.value)
