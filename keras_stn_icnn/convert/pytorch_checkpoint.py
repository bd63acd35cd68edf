"""Read PyTorch ``torch.save`` checkpoints into numpy arrays, without torch.

Two on-disk layouts are understood:

* the zip layout that ``torch.save`` writes by default since torch 1.6: a zip
  archive holding ``<name>/data.pkl`` (the pickled object), one raw record
  ``<name>/data/<key>`` per tensor storage and an optional ``<name>/byteorder``
  record;
* the legacy layout (torch < 1.6, or ``_use_new_zipfile_serialization=False``):
  four pickles in a row (magic number, protocol version, system info, the
  object), a pickled list of storage keys, then every storage as an 8-byte
  little-endian element count followed by its little-endian elements.

Checkpoints are untrusted input, so the pickle is never executed as such: the
unpickler resolves only an allow-list of globals (``collections.OrderedDict``,
torch's tensor and parameter rebuild functions and the typed storage classes),
each mapped to a small stand-in defined here. Any other global, such as
``os.system``, makes reading fail before anything is called.

Example:
    >>> from keras_stn_icnn.convert.pytorch_checkpoint import read_pytorch_checkpoint
    >>> checkpoint = read_pytorch_checkpoint("stn_icnn.pth.tar")  # doctest: +SKIP
    >>> checkpoint["model1"]["input_conv.0.weight"].shape  # doctest: +SKIP
    (8, 3, 5, 5)
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import numpy as np

__all__ = ["CheckpointFormatError", "UnsafeCheckpointError", "read_pytorch_checkpoint"]

_ZIP_MAGIC = b"PK\x03\x04"
_LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL_VERSION = 1001


class UnsafeCheckpointError(ValueError):
    """The checkpoint's pickle refers to a global that is not on the allow-list.

    Such a file could run arbitrary code if it were unpickled normally, so it is
    refused before any object is built from it.

    Example:
        >>> try:  # doctest: +SKIP
        ...     read_pytorch_checkpoint("malicious.pth")
        ... except UnsafeCheckpointError as error:
        ...     print(error)
        refusing to load 'posix.system' from checkpoint malicious.pth: ...
    """


class CheckpointFormatError(ValueError):
    """The file is missing, is not a torch checkpoint, or is truncated or corrupt.

    Example:
        >>> try:  # doctest: +SKIP
        ...     read_pytorch_checkpoint("missing.pth")
        ... except CheckpointFormatError as error:
        ...     print(error)
        checkpoint missing.pth does not exist
    """


class _StorageType(NamedTuple):
    """What a ``torch.<Name>Storage`` global says about the stored elements."""

    name: str
    dtype: np.dtype  # element type in native byte order; the file's order is applied on read
    is_bfloat16: bool = False  # elements are the upper halves of float32 values


class _StorageRef(NamedTuple):
    """A storage named by a persistent id; its bytes are read after the pickle."""

    key: str
    storage_type: _StorageType
    numel: int


class _TensorRef(NamedTuple):
    """A tensor as a strided view of a storage, resolved once storages are read."""

    storage: _StorageRef
    offset: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]


class _StateDict(dict):
    """What ``collections.OrderedDict`` unpickles to; turned into a plain dict at the end."""

    def __setstate__(self, state: Any) -> None:
        """Drops the ``_metadata`` attribute that torch attaches to state dicts."""


def _ordered_dict(*args: Any) -> _StateDict:
    """Stand-in for ``collections.OrderedDict``."""
    return _StateDict(*args)


def _rebuild_tensor_v2(storage: Any, storage_offset: Any, size: Any, stride: Any, *_autograd_state: Any) -> _TensorRef:
    """Stand-in for ``torch._utils._rebuild_tensor_v2``.

    ``requires_grad``, backward hooks and tensor metadata are ignored. The view
    is checked against the storage size so that reading it can never go out of
    bounds.
    """
    if not isinstance(storage, _StorageRef):
        raise ValueError(f"tensor is not backed by a storage but by {type(storage).__name__}")
    if not (isinstance(size, tuple) and isinstance(stride, tuple) and len(size) == len(stride)):
        raise ValueError(f"malformed tensor size {size!r} or stride {stride!r}")
    _check_non_negative_ints(storage_offset, *size, *stride)
    if 0 not in size:
        last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= storage.numel:
            raise ValueError(
                f"tensor of shape {size} needs element {last} of storage {storage.key!r}, "
                f"which has {storage.numel} elements"
            )
    return _TensorRef(storage, storage_offset, size, stride)


def _rebuild_parameter(data: Any, *_autograd_state: Any) -> _TensorRef:
    """Stand-in for ``torch._utils._rebuild_parameter`` (and ``..._with_state``)."""
    if not isinstance(data, _TensorRef):
        raise ValueError(f"parameter holds {type(data).__name__} instead of a tensor")
    return data


def _check_non_negative_ints(*values: Any) -> None:
    """Raises ValueError unless every value is an int >= 0."""
    for value in values:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"expected a non-negative integer in a tensor layout, got {value!r}")


_STORAGE_TYPES = {
    name: _StorageType(name, np.dtype(code))
    for name, code in [
        ("DoubleStorage", "f8"),
        ("FloatStorage", "f4"),
        ("HalfStorage", "f2"),
        ("LongStorage", "i8"),
        ("IntStorage", "i4"),
        ("ShortStorage", "i2"),
        ("CharStorage", "i1"),
        ("ByteStorage", "u1"),
        ("BoolStorage", "?"),
    ]
}
_STORAGE_TYPES["BFloat16Storage"] = _StorageType("BFloat16Storage", np.dtype("u2"), is_bfloat16=True)

# The stand-ins are plain functions and immutable tuples, so a pickle that sets
# attributes on them (BUILD opcode) cannot change what later reads do with them.
_SAFE_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): _ordered_dict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    **{("torch", name): storage_type for name, storage_type in _STORAGE_TYPES.items()},
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that builds only allow-listed globals and records storage ids.

    Args:
        file: Binary stream positioned at the start of a pickle.
        path: Checkpoint path, for error messages.
        safe_globals: ``(module, name) -> object`` allow-list; empty for pickles
            that may only contain plain data.
    """

    def __init__(self, file: BinaryIO, path: Path, safe_globals: dict[tuple[str, str], Any]):
        super().__init__(file)
        self._path = path
        self._safe_globals = safe_globals
        self.storages: dict[str, _StorageRef] = {}

    def find_class(self, module: str, name: str) -> Any:
        """Resolves a global from the allow-list, refusing everything else."""
        try:
            return self._safe_globals[module, name]
        except KeyError:
            raise UnsafeCheckpointError(
                f"refusing to load '{module}.{name}' from checkpoint {self._path}: "
                "only tensors and plain containers are allowed"
            ) from None

    def persistent_load(self, pid: Any) -> _StorageRef:
        """Turns ``('storage', type, key, location, numel[, view])`` into a _StorageRef."""
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"):
            raise ValueError(f"unsupported persistent id {pid!r}")
        _, storage_type, key, _location, numel, *view_metadata = pid
        if view_metadata and view_metadata[0] is not None:
            raise ValueError("storage views (written by torch < 0.4) are not supported")
        if not isinstance(storage_type, _StorageType) or not isinstance(key, str):
            raise ValueError(f"malformed storage id {pid!r}")
        _check_non_negative_ints(numel)
        ref = _StorageRef(key, storage_type, numel)
        if self.storages.setdefault(key, ref) != ref:
            raise ValueError(f"storage {key!r} is used with two different types or sizes")
        return ref


def read_pytorch_checkpoint(path: str | os.PathLike[str]) -> Any:
    """Reads a ``torch.save`` file without importing torch.

    Tensors (and parameters) become C-contiguous numpy arrays of the tensor's
    dtype and shape, copied out of their storage with the saved offset and
    strides; bfloat16 tensors become float32. ``collections.OrderedDict``
    becomes a plain ``dict`` in the same order. Numbers, strings, ``None``,
    lists, tuples and dicts are returned as they are.

    Args:
        path: A ``.pth`` / ``.pth.tar`` file in torch's zip or legacy layout.

    Returns:
        The saved object, with every tensor replaced by a ``numpy.ndarray``.

    Raises:
        CheckpointFormatError: If the file is missing or unreadable, is not a
            torch checkpoint (or is a pre-0.4 tar checkpoint), or is truncated
            or corrupt.
        UnsafeCheckpointError: If the pickle names any global besides tensors,
            storages and ``OrderedDict``; nothing from the file is executed.

    Example:
        >>> checkpoint = read_pytorch_checkpoint("stn_icnn.pth.tar")  # doctest: +SKIP
        >>> checkpoint["select_net"]["model_res.fc.weight"].dtype  # doctest: +SKIP
        dtype('float32')
    """
    path = Path(path)
    head = _read_head(path)
    if head[257:262] == b"ustar":
        raise CheckpointFormatError(
            f"checkpoint {path} uses the tar layout of torch < 0.4, which is not supported; "
            "load it with an old torch and save it again"
        )
    if not head.startswith((_ZIP_MAGIC, b"\x80")):
        raise CheckpointFormatError(f"{path} is not a PyTorch checkpoint (unrecognised file header)")
    try:
        if head.startswith(_ZIP_MAGIC):
            obj, storages = _load_zip(path)
        else:
            obj, storages = _load_legacy(path)
        return _resolve(obj, storages)
    except (UnsafeCheckpointError, CheckpointFormatError):
        raise
    except Exception as error:  # decoding untrusted bytes can fail in many ways
        raise CheckpointFormatError(
            f"checkpoint {path} is truncated or corrupt: {str(error) or type(error).__name__}"
        ) from error


def _read_head(path: Path) -> bytes:
    """Returns the first 512 bytes of ``path`` (enough to tell the layouts apart)."""
    try:
        with path.open("rb") as file:
            return file.read(512)
    except FileNotFoundError:
        raise CheckpointFormatError(f"checkpoint {path} does not exist") from None
    except OSError as error:
        raise CheckpointFormatError(f"cannot read checkpoint {path}: {error.strerror or error}") from error


def _load_zip(path: Path) -> tuple[Any, dict[str, np.ndarray]]:
    """Unpickles a zip-layout checkpoint; returns the object and its storages."""
    with zipfile.ZipFile(path) as archive:
        records = [name for name in archive.namelist() if name.endswith("/data.pkl") and name.count("/") == 1]
        if len(records) != 1:
            raise CheckpointFormatError(
                f"{path} is a zip archive but not a torch.save checkpoint: "
                f"expected one '<name>/data.pkl' record, found {len(records)}"
            )
        prefix = records[0].removesuffix("data.pkl")
        byteorder = _zip_byteorder(archive, prefix, path)
        unpickler = _RestrictedUnpickler(io.BytesIO(archive.read(records[0])), path, _SAFE_GLOBALS)
        obj = unpickler.load()
        storages = {}
        for key, ref in unpickler.storages.items():
            record = f"{prefix}data/{key}"
            size = archive.getinfo(record).file_size
            if size != _nbytes(ref):
                raise ValueError(f"storage {key!r} holds {size} bytes, expected {_nbytes(ref)}")
            storages[key] = _storage_array(archive.read(record), ref, byteorder)
    return obj, storages


def _zip_byteorder(archive: zipfile.ZipFile, prefix: str, path: Path) -> str:
    """Returns ``"little"`` or ``"big"`` from the ``byteorder`` record."""
    try:
        record = archive.read(f"{prefix}byteorder")
    except KeyError:
        return "little"  # written before torch recorded the byte order
    byteorder = record.decode("ascii", errors="replace").strip()
    if byteorder not in ("little", "big"):
        raise CheckpointFormatError(f"checkpoint {path} has an unknown byte order {byteorder!r}")
    return byteorder


def _load_legacy(path: Path) -> tuple[Any, dict[str, np.ndarray]]:
    """Unpickles a legacy-layout checkpoint; returns the object and its storages."""
    file = io.BytesIO(path.read_bytes())
    try:
        magic_number = _load_plain_pickle(file, path)
    except Exception:
        magic_number = None
    if magic_number != _LEGACY_MAGIC_NUMBER:
        raise CheckpointFormatError(f"{path} is not a PyTorch checkpoint (no torch.save magic number)")
    protocol_version = _load_plain_pickle(file, path)
    if protocol_version != _LEGACY_PROTOCOL_VERSION:
        raise CheckpointFormatError(f"checkpoint {path} has unsupported legacy protocol version {protocol_version!r}")
    _load_plain_pickle(file, path)  # system info; storages are little-endian regardless
    unpickler = _RestrictedUnpickler(file, path, _SAFE_GLOBALS)
    obj = unpickler.load()
    keys = _load_plain_pickle(file, path)
    if not isinstance(keys, list) or sorted(keys) != sorted(unpickler.storages):
        raise ValueError("the list of storage keys does not match the storages the object uses")
    storages = {}
    for key in keys:
        ref = unpickler.storages[key]
        numel = int.from_bytes(_read_exactly(file, 8), "little", signed=True)
        if numel != ref.numel:
            raise ValueError(f"storage {key!r} has {numel} elements, expected {ref.numel}")
        storages[key] = _storage_array(_read_exactly(file, _nbytes(ref)), ref, "little")
    return obj, storages


def _load_plain_pickle(file: BinaryIO, path: Path) -> Any:
    """Unpickles the next pickle in ``file``, which may hold plain data only."""
    return _RestrictedUnpickler(file, path, safe_globals={}).load()


def _read_exactly(file: BinaryIO, size: int) -> bytes:
    """Reads ``size`` bytes, failing if the file ends first."""
    data = file.read(size)
    if len(data) != size:
        raise ValueError(f"file ends after {len(data)} of {size} expected bytes")
    return data


def _nbytes(ref: _StorageRef) -> int:
    """Returns the size of a storage in bytes."""
    return ref.numel * ref.storage_type.dtype.itemsize


def _storage_array(data: bytes, ref: _StorageRef, byteorder: str) -> np.ndarray:
    """Views a storage's raw bytes as a 1-D array in the file's byte order."""
    dtype = ref.storage_type.dtype.newbyteorder("<" if byteorder == "little" else ">")
    return np.frombuffer(data, dtype=dtype)


def _resolve(obj: Any, storages: dict[str, np.ndarray]) -> Any:
    """Replaces tensor references by arrays and ``_StateDict`` by ``dict``.

    Shared and self-referencing containers stay shared and self-referencing.
    """
    memo: dict[int, Any] = {}

    def resolve(item: Any) -> Any:
        if id(item) in memo:
            return memo[id(item)]
        if isinstance(item, _TensorRef):
            result = _tensor_array(item, storages[item.storage.key])
        elif isinstance(item, _StorageRef):  # a storage saved on its own
            result = _tensor_array(_TensorRef(item, 0, (item.numel,), (1,)), storages[item.key])
        elif isinstance(item, dict):
            result = memo[id(item)] = {}
            result.update((key, resolve(value)) for key, value in item.items())
        elif isinstance(item, list):
            result = memo[id(item)] = []
            result.extend(resolve(value) for value in item)
        elif type(item) is tuple:
            result = tuple(resolve(value) for value in item)
        elif isinstance(item, _StorageType) or callable(item):
            raise ValueError(f"a bare torch global ({item!r}) is not checkpoint data")
        else:
            return item
        memo[id(item)] = result
        return result

    return resolve(obj)


def _tensor_array(tensor: _TensorRef, storage: np.ndarray) -> np.ndarray:
    """Copies a (bounds-checked) strided view of ``storage`` into a new array."""
    view = np.lib.stride_tricks.as_strided(
        storage[tensor.offset :],
        shape=tensor.shape,
        strides=[stride * storage.itemsize for stride in tensor.strides],
        writeable=False,
    )
    if tensor.storage.storage_type.is_bfloat16:
        return (view.astype(np.uint32) << 16).view(np.float32)
    return np.array(view, dtype=tensor.storage.storage_type.dtype, order="C")
