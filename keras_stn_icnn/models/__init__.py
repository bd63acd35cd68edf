"""The model zoo: one sub-package per model family."""

from keras_stn_icnn.models.icnn import ICNN, ICNNBaseline, ICNNParser
from keras_stn_icnn.models.stn_icnn import (
    LOCALIZERS,
    FCNLocalizer,
    ResNet18Localizer,
    STNiCNN,
    VGG9Localizer,
)
