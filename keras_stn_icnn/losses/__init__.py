"""Training losses of the zoo models, one family per module."""

from keras_stn_icnn.losses.boundary_attention import (
    BalancedBoundaryCrossEntropy,
    BoundaryAttentionLoss,
    BoundaryWeightedCrossEntropy,
)
from keras_stn_icnn.losses.rnn_g import BoundaryGateLoss
