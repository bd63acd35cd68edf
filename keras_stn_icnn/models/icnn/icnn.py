"""The interlinked CNN (iCNN) of Zhou et al., as STN-iCNN's authors built it."""

import keras
from keras import layers

from keras_stn_icnn.checks import check_widths
from keras_stn_icnn.layers.batch_normalization import BatchNormalization
from keras_stn_icnn.layers.interlink import (
    BATCH_NORM_EPSILON,
    BATCH_NORM_MOMENTUM,
    InterlinkBlock,
    OutputIntegration,
)
from keras_stn_icnn.layers.resampling import PaddedMaxPooling2D


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class ICNN(keras.Model):
    """Interlinked CNN: per-pixel logits from a four-scale feature pyramid.

    The RGB input (values in [0, 1], no normalisation) is max-pooled into four
    scales (3x3, stride 2, padding 1: 128 -> 64 -> 32 -> 16). Each scale gets
    conv -> BatchNorm -> tanh, then `num_interlink_layers` `InterlinkBlock`s
    exchange features between neighbouring scales, `OutputIntegration` folds
    them into the finest scale, and a head of three convolutions
    (`2L + 8` channels with BatchNorm and tanh, then `L`, then `L` with a 9x9
    kernel) gives `L = num_classes` logits at the input resolution.

    Args:
        num_classes: int, number of label channels `L` (9 for STN-iCNN's
            stage 1; 2 for eyebrow, eye and nose parts; 4 for the mouth).
        filters: tuple of int, channels per scale. Defaults to
            `(8, 16, 24, 32)`.
        kernel_size: int, size of every convolution but the last. Defaults
            to 5.
        output_kernel_size: int, size of the last convolution. Defaults to 9.
        num_interlink_layers: int. Defaults to 3.
        **kwargs: standard `keras.Model` arguments (e.g. `name`).

    Example:
    >>> model = ICNN(num_classes=9)
    >>> model(keras.ops.zeros([1, 128, 128, 3])).shape
    TensorShape([1, 128, 128, 9])
    """

    def __init__(
        self,
        num_classes,
        filters=(8, 16, 24, 32),
        kernel_size=5,
        output_kernel_size=9,
        num_interlink_layers=3,
        **kwargs,
    ):
        if int(num_classes) < 1:
            raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
        filters = check_widths(filters, "filters")

        # === Layers ===
        pools = [PaddedMaxPooling2D(name=f"pyramid_pool_{i}") for i in range(1, len(filters))]
        input_convs = [
            layers.Conv2D(f, kernel_size, padding="same", name=f"input_conv_{i}") for i, f in enumerate(filters)
        ]
        input_norms = [
            BatchNormalization(epsilon=BATCH_NORM_EPSILON, momentum=BATCH_NORM_MOMENTUM, name=f"input_norm_{i}")
            for i in range(len(filters))
        ]
        interlinks = [InterlinkBlock(filters, kernel_size, name=f"interlink_{k}") for k in range(num_interlink_layers)]
        integration = OutputIntegration(filters, kernel_size, name="output_integration")
        head_conv_1 = layers.Conv2D(2 * num_classes + 8, kernel_size, padding="same", name="head_conv_1")
        head_norm_1 = BatchNormalization(epsilon=BATCH_NORM_EPSILON, momentum=BATCH_NORM_MOMENTUM, name="head_norm_1")
        head_conv_2 = layers.Conv2D(num_classes, kernel_size, padding="same", name="head_conv_2")
        head_conv_3 = layers.Conv2D(num_classes, output_kernel_size, padding="same", name="head_conv_3")

        # === Functional model ===
        inputs = keras.Input(shape=(None, None, 3), name="images")
        pyramid = [inputs]
        for pool in pools:
            pyramid.append(pool(pyramid[-1]))
        features = [
            layers.Activation("tanh")(norm(conv(scale))) for scale, conv, norm in zip(pyramid, input_convs, input_norms)
        ]
        for interlink in interlinks:
            features = interlink(features)
        x = integration(features)
        x = layers.Activation("tanh")(head_norm_1(head_conv_1(x)))
        logits = head_conv_3(head_conv_2(x))
        super().__init__(inputs=inputs, outputs=logits, **kwargs)

        # === Config ===
        self.num_classes = int(num_classes)
        self.filters = filters
        self.kernel_size = int(kernel_size)
        self.output_kernel_size = int(output_kernel_size)
        self.num_interlink_layers = int(num_interlink_layers)

    @property
    def logits_layer(self):
        """The last convolution, whose outputs are the logits (its bias sets the starting class balance)."""
        return self.get_layer("head_conv_3")

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "num_classes": self.num_classes,
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "output_kernel_size": self.output_kernel_size,
            "num_interlink_layers": self.num_interlink_layers,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
