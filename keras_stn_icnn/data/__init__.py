"""Datasets as tf.data pipelines of {"image": uint8[H, W, 3], "label": uint8[H, W]}.

Readers for HELEN, LaPa, CelebAMask-HQ and LFW-PL, the built-in synthetic
face set (written in HELEN's layout), the paper's augmentation, and the
training views of STN-iCNN (stage-1 input, ground-truth theta, part crops,
canvas).
"""

from keras_stn_icnn.data.augment import (
    PAPER_AUGMENTATION,
    AugmentationConfig,
    augment,
    expand_with_augmentation,
)
from keras_stn_icnn.data.celebamask_hq import CelebAMaskHQReader
from keras_stn_icnn.data.files import DatasetError
from keras_stn_icnn.data.helen import HelenReader
from keras_stn_icnn.data.lapa import LapaReader
from keras_stn_icnn.data.lfw_pl import LfwPartLabelsReader
from keras_stn_icnn.data.reader import BadDataWarning, FaceParsingReader, SkippedExample
from keras_stn_icnn.data.stn_icnn_inputs import ground_truth_theta, stn_icnn_inputs
