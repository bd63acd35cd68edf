"""SavedModels for TF Serving, written with `keras.export` and put in place atomically.

TF Serving watches `<base>/<model_name>/` and loads the highest numeric
version folder it finds. A model is therefore written to a hidden sibling
folder (`.partial-...`, which the server ignores) and renamed to its version
number only when complete, so a watching server never loads half a model,
and an existing version is never overwritten.
"""

import os
import re
import shutil
import uuid
from pathlib import Path

import keras
import tensorflow as tf

SERVING_INPUT_NAME = "images"
"""Name of the input of the `serving_default` signature."""


def next_version(model_dir):
    """The version number after the highest numeric folder in `model_dir` (1 if none).

    Args:
        model_dir: str or path-like, `<base>/<model_name>`.

    Returns:
        int.

    Example:
    >>> next_version("/nonexistent/stn_icnn")
    1
    """
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        return 1
    versions = [int(p.name) for p in model_dir.iterdir() if p.is_dir() and re.fullmatch(r"\d+", p.name)]
    return max(versions, default=0) + 1


def serving_archive(model):
    """A `keras.export.ExportArchive` of a face parser with its serving signature.

    `serving_default` takes `images`, uint8 `[B, H, W, 3]` of any size up to
    the model's canvas, and returns `labels` (uint8 `[B, H, W]`) and
    `probabilities` (float32 `[B, H, W, C]`). Preprocessing (scaling to [0, 1]
    and the stage-1 resize) is part of the model, so it is inside the graph.

    Args:
        model: a parser whose call returns a dict with `"labels"` and
            `"probabilities"` (`STNiCNN`, `ICNNBaseline`).

    Returns:
        The `ExportArchive`, ready for `write_out`.

    Example:
    >>> archive = serving_archive(STNiCNN())  # doctest: +SKIP
    >>> archive.write_out("/tmp/stn_icnn/1")  # doctest: +SKIP
    """
    archive = keras.export.ExportArchive()
    archive.track(model)

    def serve(images):
        outputs = model(tf.cast(images, tf.float32), training=False)
        return {"labels": outputs["labels"], "probabilities": outputs["probabilities"]}

    archive.add_endpoint(
        name="serving_default",
        fn=serve,
        input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name=SERVING_INPUT_NAME)],
    )
    return archive


def export_saved_model(model, base_dir, model_name="stn_icnn", version=None):
    """Writes `model` as `<base_dir>/<model_name>/<version>/`, atomically.

    Args:
        model: a parser (see `serving_archive`).
        base_dir: str or path-like, the folder TF Serving is given
            (`--model_base_path` is `<base_dir>/<model_name>`).
        model_name: str, the model's folder name.
        version: positive int, or None for the next free version.

    Returns:
        `Path` of the version folder.

    Raises:
        ValueError: the version is not a positive int.
        FileExistsError: that version already exists (it is never
            overwritten).

    Example:
    >>> export_saved_model(STNiCNN(), "savedmodels")  # doctest: +SKIP
    PosixPath('savedmodels/stn_icnn/1')
    """
    model_dir = Path(base_dir) / model_name
    if version is None:
        version = next_version(model_dir)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"version must be a positive int (TF Serving's version folders), got {version!r}")
    target = model_dir / str(version)
    if target.exists():
        raise FileExistsError(f"{target} already exists; a SavedModel version is never overwritten")
    model_dir.mkdir(parents=True, exist_ok=True)
    partial = model_dir / f".partial-{version}-{uuid.uuid4().hex[:8]}"
    try:
        serving_archive(model).write_out(str(partial), verbose=False)
        os.rename(partial, target)
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
    return target
