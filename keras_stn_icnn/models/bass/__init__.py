"""BASS: boundary-attention semantic segmentation (Liu et al., AAAI 2020, the LaPa paper)."""

from keras_stn_icnn.models.bass.bass import BASS
from keras_stn_icnn.models.bass.resnet_backbone import ResNetBackbone, load_backbone_weights
