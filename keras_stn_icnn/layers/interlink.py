"""The interlinked CNN's building blocks: interlink layer and output integration.

An iCNN keeps four scales of features side by side. An `InterlinkBlock` updates
every scale from its own features and its neighbours' (the finer one max-pooled,
the coarser one upsampled); `OutputIntegration` folds the scales back into the
finest one. Both follow the authors' code (Zhou et al.'s iCNN as re-implemented
for STN-iCNN), including PyTorch's pooling and nearest-upsampling index rules,
so odd pyramids such as 81 -> 41 -> 21 -> 11 line up exactly.
"""

import keras
from keras import layers

from keras_stn_icnn.layers.batch_normalization import BatchNormalization
from keras_stn_icnn.ops import resize

BATCH_NORM_EPSILON = 1e-5
BATCH_NORM_MOMENTUM = 0.9  # PyTorch's momentum 0.1


def _conv(filters, kernel_size, name):
    return layers.Conv2D(filters, kernel_size, padding="same", name=name)


def _batch_norm(name):
    return BatchNormalization(epsilon=BATCH_NORM_EPSILON, momentum=BATCH_NORM_MOMENTUM, name=name)


def _upsample_like(features, reference):
    size = keras.ops.shape(reference)[1:3]
    return resize.resize_nearest(features, (size[0], size[1]))


def _check_pyramid(input_shape, filters, layer_name):
    if not isinstance(input_shape, (list, tuple)) or len(input_shape) != len(filters):
        raise ValueError(
            f"{layer_name} expects a list of {len(filters)} feature maps (one per scale), got {input_shape!r}"
        )
    for scale, (shape, expected) in enumerate(zip(input_shape, filters)):
        if len(shape) != 4 or shape[-1] != expected:
            raise ValueError(f"{layer_name}: scale {scale} must be [B, H, W, {expected}], got shape {tuple(shape)}")


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class InterlinkBlock(keras.layers.Layer):
    """One interlink layer over a pyramid of feature maps.

    Every scale `i` is updated in parallel from the previous features:
    `concat([maxpool(x[i-1]), x[i], upsample(x[i+1])])` (the finest scale has
    no finer neighbour, the coarsest no coarser one), then
    conv -> BatchNorm -> ReLU -> conv -> BatchNorm -> ReLU, keeping
    `filters[i]` channels. Pooling is 3x3, stride 2, padding 1; upsampling is
    nearest-neighbour to exactly the finer scale's size.

    Args:
        filters: tuple of int, channels per scale from fine to coarse.
            Defaults to `(8, 16, 24, 32)`.
        kernel_size: int, size of every convolution. Defaults to 5 (the
            authors' code; the paper's figure says 3).
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:
    >>> pyramid = [keras.ops.zeros([1, s, s, c]) for s, c in
    ...            zip((81, 41, 21, 11), (8, 16, 24, 32))]
    >>> [tuple(y.shape) for y in InterlinkBlock()(pyramid)]
    [(1, 81, 81, 8), (1, 41, 41, 16), (1, 21, 21, 24), (1, 11, 11, 32)]
    """

    def __init__(self, filters=(8, 16, 24, 32), kernel_size=5, **kwargs):
        super().__init__(**kwargs)
        self.filters = tuple(int(f) for f in filters)
        self.kernel_size = int(kernel_size)
        if len(self.filters) < 2:
            raise ValueError(f"filters needs at least two scales, got {filters!r}")
        self.inter_convs = [_conv(f, self.kernel_size, f"inter_conv_{i}") for i, f in enumerate(self.filters)]
        self.inter_norms = [_batch_norm(f"inter_norm_{i}") for i in range(len(self.filters))]
        self.convs = [_conv(f, self.kernel_size, f"conv_{i}") for i, f in enumerate(self.filters)]
        self.norms = [_batch_norm(f"norm_{i}") for i in range(len(self.filters))]

    def _concat_width(self, scale):
        width = self.filters[scale]
        if scale > 0:
            width += self.filters[scale - 1]
        if scale < len(self.filters) - 1:
            width += self.filters[scale + 1]
        return width

    def build(self, input_shape):
        _check_pyramid(input_shape, self.filters, type(self).__name__)
        for scale, shape in enumerate(input_shape):
            batch, height, width = shape[:3]
            concat_shape = (batch, height, width, self._concat_width(scale))
            out_shape = (batch, height, width, self.filters[scale])
            self.inter_convs[scale].build(concat_shape)
            self.inter_norms[scale].build(out_shape)
            self.convs[scale].build(out_shape)
            self.norms[scale].build(out_shape)

    def call(self, inputs, training=None):
        outputs = []
        last = len(self.filters) - 1
        for scale, features in enumerate(inputs):
            pieces = []
            if scale > 0:
                pieces.append(resize.max_pool_3x3_stride2(inputs[scale - 1]))
            pieces.append(features)
            if scale < last:
                pieces.append(_upsample_like(inputs[scale + 1], features))
            x = keras.ops.concatenate(pieces, axis=-1)
            x = self.inter_norms[scale](self.inter_convs[scale](x), training=training)
            x = keras.ops.relu(x)
            x = self.norms[scale](self.convs[scale](x), training=training)
            outputs.append(keras.ops.relu(x))
        return outputs

    def compute_output_shape(self, input_shape):
        return [tuple(shape) for shape in input_shape]

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
        }


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class OutputIntegration(keras.layers.Layer):
    """Folds a feature pyramid into its finest scale, from coarse to fine.

    For `i` from the coarsest scale down to 1: upsample scale `i` to scale
    `i - 1`'s size (nearest), concatenate `[x[i-1], upsampled]`, then
    conv -> BatchNorm -> tanh with `filters[i-1]` channels; the result replaces
    scale `i - 1`. Returns the finest scale.

    Args:
        filters: tuple of int, channels per scale from fine to coarse.
            Defaults to `(8, 16, 24, 32)`.
        kernel_size: int, size of every convolution. Defaults to 5.
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:
    >>> pyramid = [keras.ops.zeros([1, s, s, c]) for s, c in
    ...            zip((64, 32, 16, 8), (8, 16, 24, 32))]
    >>> tuple(OutputIntegration()(pyramid).shape)
    (1, 64, 64, 8)
    """

    def __init__(self, filters=(8, 16, 24, 32), kernel_size=5, **kwargs):
        super().__init__(**kwargs)
        self.filters = tuple(int(f) for f in filters)
        self.kernel_size = int(kernel_size)
        if len(self.filters) < 2:
            raise ValueError(f"filters needs at least two scales, got {filters!r}")
        # convs[j] writes scale j (j = 0 .. len - 2).
        self.convs = [_conv(f, self.kernel_size, f"conv_{j}") for j, f in enumerate(self.filters[:-1])]
        self.norms = [_batch_norm(f"norm_{j}") for j in range(len(self.filters) - 1)]

    def build(self, input_shape):
        _check_pyramid(input_shape, self.filters, type(self).__name__)
        for j in range(len(self.filters) - 1):
            batch, height, width = input_shape[j][:3]
            concat = self.filters[j] + self.filters[j + 1]
            self.convs[j].build((batch, height, width, concat))
            self.norms[j].build((batch, height, width, self.filters[j]))

    def call(self, inputs, training=None):
        coarser = inputs[-1]
        for j in range(len(self.filters) - 2, -1, -1):
            x = keras.ops.concatenate([inputs[j], _upsample_like(coarser, inputs[j])], axis=-1)
            x = self.norms[j](self.convs[j](x), training=training)
            coarser = keras.ops.tanh(x)
        return coarser

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
        }
