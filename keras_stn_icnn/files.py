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
