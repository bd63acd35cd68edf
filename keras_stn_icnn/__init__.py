"""keras_stn_icnn: face parsing models for TensorFlow and Keras 3.

Example:
>>> from keras_stn_icnn import STNiCNN
>>> model = STNiCNN.from_pytorch_checkpoint("after_end2_end_10mean.pth.tar")
>>> labels = model.parse(image)  # uint8 [H, W] ids of model.class_names
>>> photo_labels = FaceParser(model)(photo).labels  # every face of a whole photo
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402

if keras.backend.backend() != "tensorflow":
    raise ImportError(
        "keras_stn_icnn needs the TensorFlow backend of Keras, but KERAS_BACKEND is "
        f"{keras.backend.backend()!r}; set KERAS_BACKEND=tensorflow before importing keras"
    )

from keras_stn_icnn.inference import FaceParser  # noqa: E402
from keras_stn_icnn.layers import (  # noqa: E402
    CentroidTheta,
    CropTransformer,
    InterlinkBlock,
    InverseCropTransformer,
    OutputIntegration,
    PartAssembly,
    SpatialRNN,
)
from keras_stn_icnn.models import (  # noqa: E402
    BASS,
    ICNN,
    CentroidLocalizer,
    FCNLocalizer,
    ICNNBaseline,
    ICNNParser,
    RedNet,
    ResNet18Localizer,
    RNNG,
    RNNGTwoStage,
    STNiCNN,
    VGG9Localizer,
)

__version__ = "0.1.0"
