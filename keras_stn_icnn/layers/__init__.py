"""Keras layers of keras_stn_icnn, one family per module."""

from keras_stn_icnn.layers.adaptive_prior import AdaptivePrior
from keras_stn_icnn.layers.batch_normalization import BatchNormalization
from keras_stn_icnn.layers.centroid_theta import CentroidTheta
from keras_stn_icnn.layers.coordinate_channels import CoordinateChannels
from keras_stn_icnn.layers.crop_transformer import (
    CropTransformer,
    InverseCropTransformer,
    PartAssembly,
)
from keras_stn_icnn.layers.facial_components import ComponentCrops, ComponentMerge, ComponentThetas
from keras_stn_icnn.layers.interlink import InterlinkBlock, OutputIntegration
from keras_stn_icnn.layers.label_map import LabelMap
from keras_stn_icnn.layers.max_unpooling import MaxPoolingWithSwitches, MaxUnpooling2D
from keras_stn_icnn.layers.part_recentring import PartRecentring
from keras_stn_icnn.layers.red_net_units import ResidualDecoderUnit, ResidualEncoderUnit
from keras_stn_icnn.layers.resampling import (
    AlignedBilinearResize,
    AlignedBilinearResizeLike,
    PaddedMaxPooling2D,
)
from keras_stn_icnn.layers.spatial_rnn import SpatialRNN
from keras_stn_icnn.layers.theta import ScaleTranslationTheta
