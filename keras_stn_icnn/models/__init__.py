"""The model zoo: one sub-package per model family."""

from keras_stn_icnn.models.bass import BASS, ResNetBackbone
from keras_stn_icnn.models.icnn import ICNN, ICNNBaseline, ICNNParser
from keras_stn_icnn.models.presets import list_presets, load_preset, save_preset
from keras_stn_icnn.models.red_net import RedNet, RedNetFaceBox
from keras_stn_icnn.models.rnn_g import RNNG, RNNGFaceBox, RNNGTwoStage
from keras_stn_icnn.models.stn_icnn import (
    LOCALIZERS,
    CentroidLocalizer,
    FCNLocalizer,
    ResNet18Localizer,
    STNiCNN,
    VGG9Localizer,
)
