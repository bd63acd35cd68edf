"""The ResNet-18 localizer of the authors' released STN-iCNN checkpoints."""

import keras
from keras import layers

from keras_stn_icnn.layers.batch_normalization import BatchNormalization
from keras_stn_icnn.layers.interlink import BATCH_NORM_EPSILON, BATCH_NORM_MOMENTUM
from keras_stn_icnn.layers.resampling import PaddedMaxPooling2D
from keras_stn_icnn.layers.theta import ScaleTranslationTheta


def _padded_conv(x, filters, kernel_size, strides, name, use_bias=False):
    """A convolution with PyTorch's symmetric zero padding of kernel_size // 2."""
    padding = kernel_size // 2
    if padding:
        x = layers.ZeroPadding2D(padding, name=f"{name}_pad")(x)
    return layers.Conv2D(filters, kernel_size, strides=strides, use_bias=use_bias, name=name)(x)


def _batch_norm(x, name):
    return BatchNormalization(epsilon=BATCH_NORM_EPSILON, momentum=BATCH_NORM_MOMENTUM, name=name)(x)


def _basic_block(x, filters, strides, name):
    shortcut = x
    y = _padded_conv(x, filters, 3, strides, f"{name}_conv1")
    y = layers.ReLU()(_batch_norm(y, f"{name}_bn1"))
    y = _padded_conv(y, filters, 3, 1, f"{name}_conv2")
    y = _batch_norm(y, f"{name}_bn2")
    if strides != 1 or x.shape[-1] != filters:
        shortcut = _padded_conv(x, filters, 1, strides, f"{name}_downsample_0")
        shortcut = _batch_norm(shortcut, f"{name}_downsample_1")
    return layers.ReLU()(layers.Add()([y, shortcut]))


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class ResNet18Localizer(keras.Model):
    """ResNet-18 (no pretraining) from a soft stage-1 mask to part thetas.

    torchvision's ResNet-18 with a `num_mask_channels -> 64` 7x7 stride-2
    first convolution and a `512 -> num_parts * 6` fully connected head; its
    output is reshaped to `[B, num_parts, 2, 3]` and masked to
    `[[sx, 0, tx], [0, sy, ty]]`. This is the localizer of the authors'
    released checkpoints. Layer names follow torchvision's module paths with
    "." replaced by "_" (e.g. `layer2_0_downsample_0`).

    Args:
        num_mask_channels: int, channels of the input mask. Defaults to 9.
        num_parts: int, number of thetas. Defaults to 6.
        **kwargs: standard `keras.Model` arguments.

    Call arguments:
        mask: float tensor `[B, H, W, num_mask_channels]`, the softmax of the
            stage-1 logits (128x128 in STN-iCNN).

    Example:
    >>> ResNet18Localizer()(keras.ops.zeros([1, 128, 128, 9])).shape
    TensorShape([1, 6, 2, 3])
    """

    def __init__(self, num_mask_channels=9, num_parts=6, **kwargs):
        inputs = keras.Input(shape=(None, None, num_mask_channels), name="mask")
        x = _padded_conv(inputs, 64, 7, 2, "conv1")
        x = layers.ReLU()(_batch_norm(x, "bn1"))
        x = PaddedMaxPooling2D(name="maxpool")(x)
        for stage, filters in enumerate((64, 128, 256, 512), start=1):
            strides = 1 if stage == 1 else 2
            x = _basic_block(x, filters, strides, f"layer{stage}_0")
            x = _basic_block(x, filters, 1, f"layer{stage}_1")
        x = layers.GlobalAveragePooling2D(name="avgpool")(x)
        x = layers.Dense(num_parts * 6, name="fc")(x)
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
