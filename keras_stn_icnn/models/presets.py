"""Presets: trained zoo models saved as folders, loaded by name or path (keras-hub style).

A preset is a folder:

    <name>/config.json        the model's Keras config (`keras.saving.serialize_keras_object`)
    <name>/model.weights.h5   its weights
    <name>/metadata.json      what it is: model class, class names, training data and recipe,
                              the command that made it, its scores, package and Keras versions,
                              and the SHA-256 of the weights file
    <name>/<version>/         its SavedModel, the layout TF Serving watches
                              (`export.export_saved_model`), so `savedmodels/` serves its presets

The presets that ship with the package are the folders of `savedmodels/`
holding a `metadata.json` (`pip install` copies them to
`<prefix>/share/keras_stn_icnn/presets/`). `list_presets()` finds them,
`load_preset(name_or_path)` (and each zoo class's `from_preset`) loads one
with no network, checking every file it reads, and `save_preset(model, path)`
(a model's `save_to_preset`) writes one.

Example:
>>> model = STNiCNN.from_preset("stn_icnn_synthetic")  # doctest: +SKIP
>>> model.save_to_preset("my_presets/stn_icnn_finetuned", metadata={"training_data": "my faces"})  # doctest: +SKIP
"""

import hashlib
import json
import os
import shutil
import sys
import uuid
from pathlib import Path

import keras

from keras_stn_icnn import __version__
from keras_stn_icnn.export.saved_model import export_saved_model

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
METADATA_FILE = "metadata.json"
SERVING_VERSION = 1
"""The version folder of a preset's SavedModel."""

PRESETS_ENVIRONMENT_VARIABLE = "KERAS_STN_ICNN_PRESETS"
"""Folders (separated by `os.pathsep`) searched for presets before the package's own."""


def preset_folders():
    """The folders searched for presets by name, in order.

    1. those of the `KERAS_STN_ICNN_PRESETS` environment variable;
    2. `savedmodels/` of the source checkout the package runs from;
    3. `<prefix>/share/keras_stn_icnn/presets/`, where `pip install` puts them.

    Returns:
        list of `Path` (existing or not).

    Example:
    >>> preset_folders()[-1].parts[-3:]
    ('share', 'keras_stn_icnn', 'presets')
    """
    folders = [Path(entry) for entry in os.environ.get(PRESETS_ENVIRONMENT_VARIABLE, "").split(os.pathsep) if entry]
    folders.append(Path(__file__).resolve().parents[2] / "savedmodels")
    folders.append(Path(sys.prefix) / "share" / "keras_stn_icnn" / "presets")
    return folders


def list_presets():
    """The presets found by name, with their metadata.

    Returns:
        dict preset name -> its `metadata.json` as a dict, sorted by name (a
        name found in several folders is the first folder's).

    Example:
    >>> "stn_icnn_synthetic" in list_presets()  # doctest: +SKIP
    True
    """
    found = {}
    for folder in preset_folders():
        if not folder.is_dir():
            continue
        for candidate in sorted(folder.iterdir()):
            if candidate.name not in found and (candidate / METADATA_FILE).is_file():
                found[candidate.name] = read_metadata(candidate)
    return dict(sorted(found.items()))


def find_preset(preset):
    """The folder of a preset given by name or path, or None when `preset` is neither.

    Args:
        preset: str or path-like: a folder holding `metadata.json`, or (when
            no folder of that path exists) a bare name looked up in
            `preset_folders()`.

    Returns:
        `Path` or None.

    Example:
    >>> find_preset("no_such_preset") is None
    True
    """
    path = Path(preset)
    if path.is_dir():
        return path if (path / METADATA_FILE).is_file() else None
    if len(path.parts) == 1:
        for folder in preset_folders():
            if (folder / path / METADATA_FILE).is_file():
                return folder / path
    return None


def preset_path(preset):
    """The folder of a preset given by name or path.

    Args:
        preset: str or path-like: the path of a preset folder, or the name of
            one in `preset_folders()`.

    Returns:
        `Path` of a folder holding `metadata.json`.

    Raises:
        FileNotFoundError: no such preset, naming what was looked for and the
            presets there are.

    Example:
    >>> preset_path("stn_icnn_synthetic").name  # doctest: +SKIP
    'stn_icnn_synthetic'
    """
    found = find_preset(preset)
    if found is not None:
        return found
    path = Path(preset)
    if path.is_dir():
        raise FileNotFoundError(f"{path} is not a preset folder: it has no {METADATA_FILE}")
    raise FileNotFoundError(
        f"no preset {str(preset)!r}: not a preset folder, nor a preset name in "
        f"{[str(folder) for folder in preset_folders()]}; the presets there are {sorted(list_presets())}"
    )


def read_metadata(preset):
    """A preset's `metadata.json`, checked to be a JSON object naming its model class.

    Args:
        preset: str or path-like, a preset name or folder.

    Returns:
        dict.

    Raises:
        ValueError: the file is not such JSON, naming it.
    """
    path = preset_path(preset) / METADATA_FILE
    try:
        metadata = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"corrupt preset metadata {path}: {error}") from error
    if not isinstance(metadata, dict) or not isinstance(metadata.get("model_class"), str):
        raise ValueError(f"corrupt preset metadata {path}: expected a JSON object with a 'model_class'")
    return metadata


def load_preset(preset, expected_class=None):
    """A zoo model from a preset, its weights checked against the metadata's SHA-256.

    Args:
        preset: str or path-like, a preset name (`list_presets()`) or folder.
        expected_class: a class the model must be an instance of, or None.

    Returns:
        The Keras model, with its weights (not compiled).

    Raises:
        FileNotFoundError: no such preset, or one of its files is missing
            (named).
        ValueError: a file is corrupt (named): metadata or config not JSON
            or not a model's config, weights whose checksum or content does
            not match.
        TypeError: the preset holds another class than `expected_class`.

    Example:
    >>> model = load_preset("stn_icnn_synthetic")  # doctest: +SKIP
    """
    folder = preset_path(preset)
    metadata = read_metadata(folder)
    config_path, weights_path = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    for path in (config_path, weights_path):
        if not path.is_file():
            raise FileNotFoundError(f"preset {folder} is missing its {path.name} ({path})")
    digest = file_sha256(weights_path)
    if metadata.get("weights_sha256") not in (None, digest):
        raise ValueError(
            f"corrupt preset weights {weights_path}: SHA-256 {digest} differs from the "
            f"{metadata['weights_sha256']} its {METADATA_FILE} records"
        )
    try:
        config = json.loads(config_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"corrupt preset config {config_path}: {error}") from error
    try:
        model = keras.saving.deserialize_keras_object(config)
    except (TypeError, ValueError, KeyError) as error:
        raise ValueError(f"corrupt preset config {config_path}: {error}") from error
    if expected_class is not None and not isinstance(model, expected_class):
        raise TypeError(
            f"preset {folder} holds a model of class {type(model).__name__}, not {expected_class.__name__}; "
            f"load it with {type(model).__name__}.from_preset or load_preset"
        )
    try:
        model.load_weights(weights_path)
    except (OSError, ValueError) as error:
        raise ValueError(f"corrupt preset weights {weights_path}: {error}") from error
    return model


def save_preset(model, path, metadata=None, overwrite=False):
    """Writes `model` as a preset folder: config, weights, metadata and SavedModel.

    The folder is written beside its destination and renamed into place when
    complete; an existing preset is replaced only with `overwrite=True` (a
    retrained preset replaces its old version, never sits beside it).

    Args:
        model: a zoo model (serialisable, with `class_names`).
        path: str or path-like, the preset folder to write.
        metadata: dict of JSON values recorded in `metadata.json` beside what
            the package records itself (model class, class names, versions,
            weights checksum): e.g. `training_data`, `recipe`, `command`,
            `scores`.
        overwrite: bool, replace an existing preset at `path`.

    Returns:
        `Path` of the preset.

    Raises:
        FileExistsError: `path` exists and `overwrite` is False, or it exists
            and is not a preset (never replaced).

    Example:
    >>> save_preset(model, "my_presets/stn_icnn_finetuned", {"training_data": "my faces"})  # doctest: +SKIP
    PosixPath('my_presets/stn_icnn_finetuned')
    """
    path = Path(path)
    if path.exists():
        if not (path / METADATA_FILE).is_file():
            raise FileExistsError(f"{path} exists and is not a preset; save_preset never replaces it")
        if not overwrite:
            raise FileExistsError(f"preset {path} exists; pass overwrite=True to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".partial-{path.name}-{uuid.uuid4().hex[:8]}")
    try:
        partial.mkdir()
        (partial / CONFIG_FILE).write_text(json.dumps(keras.saving.serialize_keras_object(model), indent=1))
        model.save_weights(partial / WEIGHTS_FILE)
        export_saved_model(model, partial.parent, partial.name, version=SERVING_VERSION, models_config=False)
        record = {
            "model_class": type(model).__name__,
            "class_names": list(model.class_names),
            **(metadata or {}),
            "package_version": __version__,
            "keras_version": keras.__version__,
            "weights_sha256": file_sha256(partial / WEIGHTS_FILE),
        }
        (partial / METADATA_FILE).write_text(json.dumps(record, indent=1) + "\n")
        if path.exists():
            shutil.rmtree(path)
        os.rename(partial, path)
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
    return path


def file_sha256(path):
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class PresetMixin:
    """`from_preset` and `save_to_preset` for a zoo model class.

    Example:
    >>> model = STNiCNN.from_preset("stn_icnn_synthetic")  # doctest: +SKIP
    >>> model.save_to_preset("my_presets/copy")  # doctest: +SKIP
    """

    @classmethod
    def from_preset(cls, preset):
        """The model of a preset (a name of `list_presets()` or a folder), refused if not this class.

        Args:
            preset: str or path-like.

        Returns:
            An instance of this class with the preset's weights.
        """
        return load_preset(preset, expected_class=cls)

    def save_to_preset(self, path, metadata=None, overwrite=False):
        """Writes this model as a preset folder (`save_preset`).

        Args:
            path: str or path-like, the folder.
            metadata: dict of JSON values to record (training data, recipe,
                command, scores).
            overwrite: bool, replace an existing preset there.

        Returns:
            `Path` of the preset.
        """
        return save_preset(self, path, metadata=metadata, overwrite=overwrite)
