"""The paper's localization network (Fig. 3): a 9-layer simplified VGG-16."""

import keras
from keras import layers

from keras_stn_icnn.layers.batch_normalization import BatchNormalization
from keras_stn_icnn.layers.interlink import BATCH_NORM_EPSILON, BATCH_NORM_MOMENTUM
from keras_stn_icnn.layers.theta import ScaleTranslationTheta


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class VGG9Localizer(keras.Model):
    """Eight 3x3 conv -> BatchNorm -> ReLU layers and one dense layer.

    As the paper's Fig. 3 describes: 3x3 convolutions with stride 1 and
    padding 1, a 3x3 stride-2 average pooling after every two of them, then a
    fully connected layer to `num_parts * 6` values, masked to
    `[[sx, 0, tx], [0, sy, ty]]`. The paper gives no channel widths; the
    defaults double every two layers from 16. The figure also shows a ReLU on
    the fully connected layer, which would forbid negative translations (every
    crop left of or above the image centre), so the output is linear here.

    Args:
        filters: tuple of 8 ints, channels of the convolutions. Defaults to
            `(16, 16, 32, 32, 64, 64, 128, 128)`.
        input_size: int, side of the square input mask. Defaults to 128.
        num_mask_channels: int. Defaults to 9.
        num_parts: int. Defaults to 6.
        **kwargs: standard `keras.Model` arguments.

    Example:
    >>> VGG9Localizer()(keras.ops.zeros([1, 128, 128, 9])).shape
    TensorShape([1, 6, 2, 3])
    """

    def __init__(
        self,
        filters=(16, 16, 32, 32, 64, 64, 128, 128),
        input_size=128,
        num_mask_channels=9,
        num_parts=6,
        **kwargs,
    ):
        filters = tuple(int(f) for f in filters)
        if len(filters) != 8:
            raise ValueError(f"filters must list 8 widths, got {filters!r}")
        inputs = keras.Input(shape=(input_size, input_size, num_mask_channels), name="mask")
        x = inputs
        for index, width in enumerate(filters):
            x = layers.Conv2D(width, 3, padding="same", name=f"conv_{index}")(x)
            x = BatchNormalization(epsilon=BATCH_NORM_EPSILON, momentum=BATCH_NORM_MOMENTUM, name=f"norm_{index}")(x)
            x = layers.ReLU()(x)
            if index % 2 == 1:
                x = layers.AveragePooling2D(3, strides=2, name=f"pool_{index // 2}")(x)
        x = layers.Flatten()(x)
        x = layers.Dense(num_parts * 6, name="fc")(x)
        theta = ScaleTranslationTheta(num_parts, name="theta")(x)
        super().__init__(inputs=inputs, outputs=theta, **kwargs)

        self.filters = filters
        self.input_size = int(input_size)
        self.num_mask_channels = int(num_mask_channels)
        self.num_parts = int(num_parts)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "filters": self.filters,
            "input_size": self.input_size,
            "num_mask_channels": self.num_mask_channels,
            "num_parts": self.num_parts,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
