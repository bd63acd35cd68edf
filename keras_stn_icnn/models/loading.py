"""Loading a saved face parser, whatever it was saved as, into one callable.

`load_parser(path)` turns a saved parser (a preset's name or folder, a
`.keras` file of any zoo model, a SavedModel folder written by
`keras_stn_icnn.export`, or an authors' PyTorch checkpoint) into a
`LoadedParser`: a function `uint8 [H, W, 3] -> uint8 [H, W]` that knows what
it loaded and, for Keras models, its zoo name (`models.zoo`). The evaluation,
the command line, `FaceParser` and the benchmarks all load through it.

Example:
>>> parser = load_parser("savedmodels/stn_icnn/1")  # doctest: +SKIP
>>> parser(np.zeros((256, 256, 3), np.uint8)).shape  # doctest: +SKIP
(256, 256)
"""

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_stn_icnn.checks import check_image
from keras_stn_icnn.models.presets import find_preset, load_preset
from keras_stn_icnn.models.stn_icnn import STNiCNN
from keras_stn_icnn.models.zoo import ZOO, zoo_name_of

SAVED_MODEL_SIGNATURE = "serving_default"
"""The SavedModel signature `load_parser` calls: `images` uint8 `[B, H, W, 3]` -> `labels` uint8 `[B, H, W]`."""

PYTORCH_SUFFIXES = (".pth.tar", ".pth")
_EXPECTED = (
    "a preset (a name of list_presets() or a folder holding metadata.json), a .keras file, a SavedModel "
    "folder (holding saved_model.pb) or an authors' PyTorch checkpoint (*.pth.tar or *.pth)"
)


class LoadedParser:
    """A face parser loaded by `load_parser`: call it on one image.

    Args:
        parse_fn: callable taking one uint8 `[H, W, 3]` numpy image and
            returning its `[H, W]` label map.
        kind: str, `"preset"`, `"keras"`, `"saved_model"` or `"pytorch_checkpoint"`.
        path: Path it was loaded from.
        model: the loaded object (a Keras model or the SavedModel), kept alive.
        zoo_name: str or None, the zoo model it is (`models.zoo.ZOO`): from
            a Keras model's class, or from the folder a SavedModel version
            sits in (`savedmodels/<name>/<version>`); None when unknown.

    Example:
    >>> parser = load_parser("model.keras")  # doctest: +SKIP
    >>> parser(np.zeros((256, 256, 3), np.uint8)).shape  # doctest: +SKIP
    (256, 256)
    """

    def __init__(self, parse_fn, kind, path, model=None, zoo_name=None):
        self._parse_fn = parse_fn
        self.kind = kind
        self.path = Path(path)
        self.model = model
        self.zoo_name = zoo_name

    def __call__(self, image):
        """Labels one uint8 `[H, W, 3]` image; returns uint8 `[H, W]` STN-iCNN ids."""
        check_image(image, "image")
        labels = np.asarray(self._parse_fn(image))
        if labels.shape != image.shape[:2]:
            raise ValueError(
                f"the parser from {self.path} returned a label map of shape {labels.shape} "
                f"for an image of shape {image.shape}"
            )
        return labels.astype(np.uint8, copy=False)

    def __repr__(self):
        return f"LoadedParser(kind={self.kind!r}, path={str(self.path)!r}, zoo_name={self.zoo_name!r})"


def load_parser(path, localizer="resnet18"):
    """A parse function `uint8 [H, W, 3] -> uint8 [H, W]` (STN-iCNN ids) from a saved parser.

    What `path` is decides how it is read:

    * a preset: the name of one in `presets.list_presets()`, or a folder
      holding `metadata.json` (`presets.load_preset`), then the model's
      `parse`;
    * a `.keras` file: `keras.models.load_model` (not compiled), then the
      model's `parse` (`STNiCNN` has one);
    * a SavedModel folder (holding `saved_model.pb`, e.g. a version folder
      written by `keras_stn_icnn.export.export_saved_model`): its
      `serving_default` signature, which takes `images` uint8
      `[B, H, W, 3]` and returns `labels` uint8 `[B, H, W]`;
    * an authors' PyTorch checkpoint (`*.pth.tar`, `*.pth`):
      `STNiCNN.from_pytorch_checkpoint(path, localizer=localizer)`, no torch.

    Args:
        path: str or path-like (a preset name is a bare name, no folders).
        localizer: str, the localizer of a PyTorch checkpoint (`"resnet18"`,
            the released checkpoints', or `"fcn"`); ignored otherwise.

    Returns:
        A `LoadedParser` (callable on one image; `.model` is what was loaded).

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: `path` is none of the above, or the loaded object is not
            a parser (no `parse`, or no `serving_default` signature with that
            contract).

    Example:
    >>> parser = load_parser("savedmodels/stn_icnn/1")  # doctest: +SKIP
    >>> labels = parser(image)  # doctest: +SKIP
    """
    path = Path(path)
    if find_preset(path) is not None:
        model = load_preset(path)
        return LoadedParser(model.parse, "preset", path, model, zoo_name=zoo_name_of(model))
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; load_parser expects {_EXPECTED}")
    if path.is_dir():
        if (path / "saved_model.pb").is_file():
            return _load_saved_model(path)
        versions = sorted(p.name for p in path.iterdir() if p.is_dir() and p.name.isdigit())
        hint = f"; it has version folders {versions}: pass one of them" if versions else ""
        raise ValueError(f"{path} is a folder without saved_model.pb{hint}; load_parser expects {_EXPECTED}")
    name = path.name.lower()
    if name.endswith(".keras"):
        return _load_keras(path)
    if name.endswith(PYTORCH_SUFFIXES):
        model = STNiCNN.from_pytorch_checkpoint(path, localizer=localizer)
        return LoadedParser(model.parse, "pytorch_checkpoint", path, model, zoo_name="stn_icnn")
    raise ValueError(f"{path}: unknown kind of file; load_parser expects {_EXPECTED}")


def _load_keras(path):
    model = keras.models.load_model(path, compile=False)
    if not callable(getattr(model, "parse", None)):
        raise ValueError(
            f"{path} holds a {type(model).__name__}, which has no parse() method; load_parser "
            f"needs a face parser: a zoo model ({', '.join(entry.model_class.__name__ for entry in ZOO.values())})"
        )
    return LoadedParser(model.parse, "keras", path, model, zoo_name=zoo_name_of(model))


def _load_saved_model(path):
    loaded = tf.saved_model.load(str(path))
    if SAVED_MODEL_SIGNATURE not in loaded.signatures:
        raise ValueError(
            f"SavedModel {path} has no {SAVED_MODEL_SIGNATURE!r} signature (it has "
            f"{sorted(loaded.signatures)}); load_parser needs one taking 'images' uint8 [B, H, W, 3]"
        )
    signature = loaded.signatures[SAVED_MODEL_SIGNATURE]
    _, inputs = signature.structured_input_signature
    outputs = signature.structured_outputs
    spec = inputs.get("images")
    if spec is None or spec.dtype != tf.uint8 or "labels" not in outputs:
        raise ValueError(
            f"SavedModel {path}: {SAVED_MODEL_SIGNATURE!r} must take 'images' uint8 [B, H, W, 3] and "
            f"return 'labels'; it takes {inputs} and returns {sorted(outputs)}"
        )

    def parse(image):
        return signature(images=tf.constant(image[np.newaxis]))["labels"][0].numpy()

    zoo_name = path.parent.name if path.parent.name in ZOO else None
    return LoadedParser(parse, "saved_model", path, loaded, zoo_name=zoo_name)
