"""Writing files so that a reader never sees half of one.

Every file the package writes for the user (checkpoints, `.keras` models,
summaries, LiteRT and ONNX exports) goes through `atomic_write`: it is written
to a hidden sibling and renamed into place, so the target is either the
complete new file or what was there before.
"""

import os
from pathlib import Path


def atomic_write(path, write):
    """Writes a file through a temporary sibling and a rename: `path` is whole or absent.

    Args:
        path: str or path-like, the file to write.
        write: callable taking the temporary path (same folder, same file
            suffix) and writing the file there.

    Returns:
        `Path` of the written file.

    Example:
    >>> atomic_write("runs/stage1/final.weights.h5", lambda p: model.save_weights(str(p)))  # doctest: +SKIP
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".partial-{os.getpid()}-{path.name}")
    try:
        write(partial)
        os.replace(partial, path)
    finally:
        if partial.exists():
            partial.unlink()
    return path


def write_file(path, make_content, suffix, overwrite=False, check=None):
    """Checks the target, then writes `make_content()` to `path` with `atomic_write`.

    The name and the existing file are checked before `make_content` runs,
    so a slow conversion is not wasted on a target that would be refused.

    Args:
        path: str or path-like, the file to write.
        make_content: callable returning the file's bytes.
        suffix: str, the suffix `path` must have (e.g. `".onnx"`).
        overwrite: bool, replace an existing file (once the new one is
            complete); otherwise an existing file is an error.
        check: callable or None, called with the path of the complete
            temporary file before it is renamed into place; if it raises,
            nothing is put in place and an existing file stays.

    Returns:
        `Path` of the file.

    Raises:
        ValueError: `path` does not end in `suffix`.
        FileExistsError: `path` exists and `overwrite` is False.

    Example:
    >>> write_file("exports/stn_icnn.onnx", lambda: proto.SerializeToString(), ".onnx")  # doctest: +SKIP
    PosixPath('exports/stn_icnn.onnx')
    """
    path = Path(path)
    if path.suffix != suffix:
        raise ValueError(f"the file name must end in {suffix}, got {str(path)!r}")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True (--overwrite) to replace it")
    content = make_content()

    def write(partial):
        partial.write_bytes(content)
        if check is not None:
            check(partial)

    return atomic_write(path, write)


def size_on_disk(path):
    """Bytes taken by a file, or by every file under a folder (a SavedModel).

    Args:
        path: str or path-like.

    Returns:
        int.

    Example:
    >>> size_on_disk("savedmodels/stn_icnn/1")  # doctest: +SKIP
    64172345
    """
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(child.stat().st_size for child in path.rglob("*") if child.is_file())
