"""RED-Net's residual encoder unit (RE-Unit) and residual decoder unit (RD-Unit).

Guo et al., "Residual Encoder Decoder Network and Adaptive Prior for Face
Parsing" (AAAI 2018), sections "Residual Encoder Network" and "Residual
Decoder Network", Fig. 3 and Fig. 6-(a). Every convolution and deconvolution
is followed by batch normalisation and a ReLU (Fig. 3); in a residual
module the ReLU comes after the addition, as in He et al. (2016a). The
convolutions before a batch normalisation have no bias (the normalisation's
offset replaces it).

A "deconvolution bottleneck" is three stride-1 transposed convolutions,
1x1 (to `channels // 4`), 3x3, 1x1 (to the module's output channels), as
the bottleneck of a ResNet with deconvolutions in place of convolutions.
"""

import keras

from keras_stn_icnn.layers.batch_normalization import BatchNormalization
from keras_stn_icnn.layers.max_unpooling import MaxUnpooling2D

DECODER_INITIALIZER = {"class_name": "RandomNormal", "config": {"mean": 0.0, "stddev": 0.01}}
"""The decoder's deconvolutions start from N(0, 0.01) (section "Dataset and Network configuration")."""


def _conv_bn(filters, kernel_size, name, transposed=False):
    layer_class = keras.layers.Conv2DTranspose if transposed else keras.layers.Conv2D
    initializer = DECODER_INITIALIZER if transposed else "he_normal"
    return (
        layer_class(
            filters, kernel_size, padding="same", use_bias=False, kernel_initializer=initializer, name=f"{name}_conv"
        ),
        BatchNormalization(name=f"{name}_bn"),
    )


def _apply(pair, inputs, training):
    conv, norm = pair
    return norm(conv(inputs), training=training)


def _build(pair, input_shape):
    conv, norm = pair
    conv.build(input_shape)
    output_shape = conv.compute_output_shape(input_shape)
    norm.build(output_shape)
    return output_shape


def _bottleneck(middle, filters, name):
    """A deconvolution bottleneck: `(reduce, deconv, expand)` pairs of (deconvolution, normalisation)."""
    return (
        _conv_bn(middle, 1, f"{name}_reduce", transposed=True),
        _conv_bn(middle, 3, f"{name}_deconv", transposed=True),
        _conv_bn(filters, 1, f"{name}_expand", transposed=True),
    )


def _build_bottleneck(bottleneck, input_shape):
    for stage in bottleneck:
        input_shape = _build(stage, input_shape)
    return input_shape


def _apply_bottleneck(bottleneck, inputs, training, last_relu):
    outputs = inputs
    for index, stage in enumerate(bottleneck):
        outputs = _apply(stage, outputs, training)
        if index < len(bottleneck) - 1 or last_relu:
            outputs = keras.ops.relu(outputs)
    return outputs


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class ResidualEncoderUnit(keras.layers.Layer):
    """RE-Unit: `blocks` residual blocks of two 3x3 convolutions at one resolution.

    The basic block of He et al. (2016a): `relu(x + bn(conv(relu(bn(conv(x))))))`,
    the shortcut a 1x1 convolution with batch normalisation where the number
    of channels changes (the first block of a unit), the identity otherwise.
    RED-Net's encoder is a stack of such units separated by max pooling
    (section "Residual Encoder Network").

    Args:
        filters: int, the unit's output channels.
        blocks: int, residual blocks in the unit. Defaults to 2.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        inputs: float tensor `[B, H, W, C_in]`.
        training: bool, batch statistics or moving averages.

    Returns:
        float tensor `[B, H, W, filters]`.

    Example:
    >>> ResidualEncoderUnit(8)(keras.ops.zeros([1, 16, 16, 3])).shape
    TensorShape([1, 16, 16, 8])
    """

    def __init__(self, filters, blocks=2, **kwargs):
        super().__init__(**kwargs)
        if isinstance(filters, bool) or int(filters) != filters or filters < 1:
            raise ValueError(f"filters must be a positive int, got {filters!r}")
        if isinstance(blocks, bool) or int(blocks) != blocks or blocks < 1:
            raise ValueError(f"blocks must be a positive int, got {blocks!r}")
        self.filters = int(filters)
        self.blocks = int(blocks)
        self.block_layers = [
            (_conv_bn(self.filters, 3, f"block{b}_a"), _conv_bn(self.filters, 3, f"block{b}_b"))
            for b in range(self.blocks)
        ]
        self.projection = None

    def build(self, input_shape):
        if input_shape[-1] != self.filters:
            self.projection = _conv_bn(self.filters, 1, "projection")
            _build(self.projection, input_shape)
        for first, second in self.block_layers:
            _build(second, _build(first, input_shape))
            input_shape = (*input_shape[:-1], self.filters)

    def call(self, inputs, training=None):
        outputs = inputs
        for index, (first, second) in enumerate(self.block_layers):
            shortcut = outputs
            if index == 0 and self.projection is not None:
                shortcut = _apply(self.projection, outputs, training)
            branch = _apply(second, keras.ops.relu(_apply(first, outputs, training)), training)
            outputs = keras.ops.relu(shortcut + branch)
        return outputs

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "blocks": self.blocks}


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class ResidualDecoderUnit(keras.layers.Layer):
    """RD-Unit (Fig. 6-(a)): max unpooling, then densification, detail-learning and dimension-reduction.

    Section "Residual Decoder Network":
    - densification module: a deconvolution bottleneck on the unpooled
      (sparse) map, filling the holes around the active positions;
    - detail-learning module: `relu(x + F(x))`, an identity shortcut plus a
      deconvolution bottleneck `F` that learns the details `H(x) - x`;
    - dimension-reduction module: `relu(P(x) + F(x))`, a 1x1 deconvolution
      projection `P` plus a deconvolution bottleneck `F`, both to `filters`
      channels, so the next unit takes this one's output.
    Each bottleneck narrows to a quarter of its input's channels.

    Args:
        filters: int, the output channels (those of the encoder unit one
            level up).
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        inputs: float tensor `[B, h, w, C]`.
        switches: float 0/1 tensor `[B, 2h, 2w, C]`, the switches of the
            encoder's matching `MaxPoolingWithSwitches`.
        training: bool.

    Returns:
        float tensor `[B, 2h, 2w, filters]`.

    Example:
    >>> from keras_stn_icnn.layers.max_unpooling import MaxPoolingWithSwitches
    >>> pooled, switches = MaxPoolingWithSwitches()(keras.ops.ones([1, 8, 8, 16]))
    >>> ResidualDecoderUnit(8)(pooled, switches).shape
    TensorShape([1, 8, 8, 8])
    """

    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        if isinstance(filters, bool) or int(filters) != filters or filters < 1:
            raise ValueError(f"filters must be a positive int, got {filters!r}")
        self.filters = int(filters)
        self.unpooling = MaxUnpooling2D(name="unpooling")
        self.densification = None
        self.detail_learning = None
        self.reduction_branch = None
        self.reduction_projection = None

    def build(self, inputs_shape, switches_shape):
        channels = inputs_shape[-1]
        middle = max(1, channels // 4)
        self.densification = _bottleneck(middle, channels, "densification")
        self.detail_learning = _bottleneck(middle, channels, "detail")
        self.reduction_branch = _bottleneck(middle, self.filters, "reduction")
        self.reduction_projection = _conv_bn(self.filters, 1, "reduction_projection", transposed=True)
        unpooled_shape = (inputs_shape[0], *switches_shape[1:3], channels)
        self.unpooling.build(inputs_shape, switches_shape)
        for bottleneck in (self.densification, self.detail_learning, self.reduction_branch):
            _build_bottleneck(bottleneck, unpooled_shape)
        _build(self.reduction_projection, unpooled_shape)

    def call(self, inputs, switches, training=None):
        sparse = self.unpooling(inputs, switches)
        dense = _apply_bottleneck(self.densification, sparse, training, last_relu=True)
        details = _apply_bottleneck(self.detail_learning, dense, training, last_relu=False)
        detailed = keras.ops.relu(dense + details)
        projection = _apply(self.reduction_projection, detailed, training)
        reduced = _apply_bottleneck(self.reduction_branch, detailed, training, last_relu=False)
        return keras.ops.relu(projection + reduced)

    def compute_output_shape(self, inputs_shape, switches_shape):
        return (inputs_shape[0], *switches_shape[1:3], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters}
