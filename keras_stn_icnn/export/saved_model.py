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

from keras_stn_icnn.checks import check_int
from keras_stn_icnn.export import signatures
from keras_stn_icnn.export.serving_config import write_models_config

SERVING_SIGNATURE = "serving_default"
"""Signature of uint8 images: `images` `[B, H, W, 3]` -> `labels`, `probabilities`."""

BYTES_SIGNATURE = "serve_bytes"
"""Signature of encoded photos: `encoded` string `[B]` -> `labels`, `probabilities`, `image_size`."""


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
    """A `keras.export.ExportArchive` of a face parser with its two serving signatures.

    - `serving_default` (`signatures.images_function`): `images`, uint8
      `[B, H, W, 3]` of any size up to the model's canvas -> `labels` uint8
      `[B, H, W]` and `probabilities` float32 `[B, H, W, C]`.
    - `serve_bytes` (`signatures.encoded_function`): `encoded`, JPEG/PNG
      files as strings `[B]` (what TF Serving's REST API sends as base64) ->
      `labels` and `probabilities` padded to the largest photo, and
      `image_size` int32 `[B, 2]`.

    Preprocessing (decoding, scaling to [0, 1], the stage-1 resize) is inside
    the graph; images larger than the canvas are refused with an error.

    Args:
        model: a parser whose call returns a dict with `"labels"` and
            `"probabilities"` (`STNiCNN`, `ICNNBaseline`); its `canvas_size`,
            if it has one, bounds the image size the signatures accept.

    Returns:
        The `ExportArchive`, ready for `write_out`.

    Example:
    >>> archive = serving_archive(STNiCNN())  # doctest: +SKIP
    >>> archive.write_out("/tmp/stn_icnn/1")  # doctest: +SKIP
    """
    # No archive.track(model): the endpoints capture every variable already,
    # and tracking the model as well stores each weight twice (a 2x larger
    # SavedModel and 2x the memory in TF Serving, keras-team/keras#23553).
    archive = keras.export.ExportArchive()
    archive.add_endpoint(
        name=SERVING_SIGNATURE,
        fn=signatures.images_function(model),
        input_signature=signatures.images_signature(),
    )
    archive.add_endpoint(
        name=BYTES_SIGNATURE,
        fn=signatures.encoded_function(model),
        input_signature=signatures.encoded_signature(),
    )
    return archive


def export_saved_model(model, base_dir, model_name="stn_icnn", version=None, check=None, models_config=True):
    """Writes `model` as `<base_dir>/<model_name>/<version>/`, atomically.

    Args:
        model: a parser (see `serving_archive`).
        base_dir: str or path-like, the folder TF Serving is given
            (`--model_base_path` is `<base_dir>/<model_name>`).
        model_name: str, the model's folder name.
        version: positive int, or None for the next free version.
        check: callable or None, called with the path of the complete
            SavedModel before it is renamed into place; if it raises, nothing
            is put in place (`export.exporter` validates exports this way).
        models_config: bool. True (re)writes `<base_dir>/models.config` to
            list every model folder of `base_dir`
            (`serving_config.write_models_config`), unless it is a config
            of the user's; False leaves `base_dir` alone but for the model
            folder (a preset written into a temporary folder does this).

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
    check_int(version, "version (a TF Serving version folder)")
    target = model_dir / str(version)
    if target.exists():
        raise FileExistsError(f"{target} already exists; a SavedModel version is never overwritten")
    model_dir.mkdir(parents=True, exist_ok=True)
    partial = model_dir / f".partial-{version}-{uuid.uuid4().hex[:8]}"
    try:
        serving_archive(model).write_out(str(partial), verbose=False)
        if check is not None:
            check(partial)
        os.rename(partial, target)
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
    if models_config:
        write_models_config(base_dir)
    return target
