"""keras_stn_icnn: face parsing models for TensorFlow and Keras 3.

Importing the package is quick: it loads neither Keras nor TensorFlow. A public
name (`STNiCNN`, `FaceParser`, ...) or a subpackage (`keras_stn_icnn.models`, ...)
loads its module, and with it TensorFlow, the first time it is used. Keras
learns the package's layers and models when their modules load, so load a saved
`.keras` file after touching a model name or importing `keras_stn_icnn.models`.

Example:
>>> from keras_stn_icnn import STNiCNN
>>> model = STNiCNN.from_pytorch_checkpoint("after_end2_end_10mean.pth.tar")
>>> labels = model.parse(image)  # uint8 [H, W] ids of model.class_names
>>> photo_labels = FaceParser(model)(photo).labels  # every face of a whole photo
"""

import importlib
import os
import pkgutil
import sys

__version__ = "0.1.0"

os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def _keras_backend():
    """The backend Keras runs on, or will run on once imported, read without importing Keras."""
    keras = sys.modules.get("keras")
    return keras.backend.backend() if keras is not None else os.environ["KERAS_BACKEND"]


if _keras_backend() != "tensorflow":
    raise ImportError(
        f"keras_stn_icnn needs the TensorFlow backend of Keras, but KERAS_BACKEND is {_keras_backend()!r}; "
        "set KERAS_BACKEND=tensorflow before importing keras"
    )

_PUBLIC_NAMES = {
    "keras_stn_icnn.inference": ("FaceParser",),
    "keras_stn_icnn.layers": (
        "CentroidTheta",
        "CropTransformer",
        "InterlinkBlock",
        "InverseCropTransformer",
        "OutputIntegration",
        "PartAssembly",
        "SpatialRNN",
    ),
    "keras_stn_icnn.models": (
        "BASS",
        "ICNN",
        "CentroidLocalizer",
        "FCNLocalizer",
        "ICNNBaseline",
        "ICNNParser",
        "RedNet",
        "RedNetFaceBox",
        "ResNet18Localizer",
        "RNNG",
        "RNNGFaceBox",
        "RNNGTwoStage",
        "STNiCNN",
        "VGG9Localizer",
        "list_presets",
        "load_preset",
    ),
}
_MODULE_OF_NAME = {name: module for module, names in _PUBLIC_NAMES.items() for name in names}
_SUBMODULES = frozenset(module.name for module in pkgutil.iter_modules(__path__))

__all__ = sorted(_MODULE_OF_NAME)


def __getattr__(name):
    """Loads a public name's module, or a subpackage, on first use (PEP 562)."""
    if name in _MODULE_OF_NAME:
        value = getattr(importlib.import_module(_MODULE_OF_NAME[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__) | _SUBMODULES)
