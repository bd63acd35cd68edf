"""The authors' fully convolutional localizer ("SelectNet")."""

import keras
from keras import layers

from keras_stn_icnn.layers.batch_normalization import BatchNormalization
from keras_stn_icnn.layers.interlink import BATCH_NORM_EPSILON, BATCH_NORM_MOMENTUM
from keras_stn_icnn.layers.theta import ScaleTranslationTheta

# (kernel, strides, batch norm, relu) of each convolution, in order. Five
# blocks of [stride-2 conv, conv] take 128 -> 4 (the last block's second conv
# has no ReLU), a (3, 2) stride-2 conv takes 4x4 -> 2x3, then three more
# convs and a final one that feeds tanh.
_CONVS = (
    *(((3, 3), 2, True, True), ((3, 3), 1, True, True)) * 4,
    ((3, 3), 2, True, True),
    ((3, 3), 1, True, False),
    ((3, 2), 2, True, True),
    ((3, 3), 1, True, True),
    ((3, 3), 1, True, True),
    ((3, 3), 1, True, True),
    ((3, 3), 1, False, False),
)


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class FCNLocalizer(keras.Model):
    """Fifteen narrow convolutions from a 128x128 mask to a 2x3 theta per part.

    Every convolution has `num_parts` channels and one pixel of zero padding
    on each side; the last one ends in tanh, and output channel `i` (a 2x3
    map) is part `i`'s theta, masked to `[[sx, 0, tx], [0, sy, ty]]`. Layer
    names `localize_net_<i>` follow the indices of the authors'
    `nn.Sequential`.

    Args:
        num_mask_channels: int, channels of the input mask. Defaults to 9.
        num_parts: int, number of thetas (and channels). Defaults to 6.
        **kwargs: standard `keras.Model` arguments.

    Call arguments:
        mask: float tensor `[B, 128, 128, num_mask_channels]`.

    Example:
    >>> FCNLocalizer()(keras.ops.zeros([1, 128, 128, 9])).shape
    TensorShape([1, 6, 2, 3])
    """

    def __init__(self, num_mask_channels=9, num_parts=6, **kwargs):
        inputs = keras.Input(shape=(128, 128, num_mask_channels), name="mask")
        x = inputs
        index = 0
        for kernel, strides, batch_norm, relu in _CONVS:
            x = layers.ZeroPadding2D(1, name=f"localize_net_{index}_pad")(x)
            x = layers.Conv2D(num_parts, kernel, strides=strides, name=f"localize_net_{index}")(x)
            index += 1
            if batch_norm:
                x = BatchNormalization(
                    epsilon=BATCH_NORM_EPSILON,
                    momentum=BATCH_NORM_MOMENTUM,
                    name=f"localize_net_{index}",
                )(x)
                index += 1
            if relu:
                x = layers.ReLU()(x)
                index += 1
        x = layers.Activation("tanh")(x)
        x = layers.Permute((3, 1, 2))(x)  # [B, 2, 3, parts] -> [B, parts, 2, 3]
        theta = ScaleTranslationTheta(num_parts, name="theta")(x)
        super().__init__(inputs=inputs, outputs=theta, **kwargs)

        self.num_mask_channels = int(num_mask_channels)
        self.num_parts = int(num_parts)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "num_mask_channels": self.num_mask_channels,
            "num_parts": self.num_parts,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
