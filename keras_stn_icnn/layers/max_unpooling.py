"""2x2 max pooling that remembers where the maxima were, and the unpooling that puts values back there.

RED-Net's encoder pools with "P" (max pooling) and its decoder enlarges with
"UP" (max unpooling) at the remembered positions (Guo et al., Fig. 3, after
Noh et al.'s deconvolution network). `tf.nn.max_pool_with_argmax` has no
LiteRT builtin, so the positions ("switches") are found with builtin ops
only: each 2x2 window is split into its four pixels by `space_to_depth`, each
pixel is compared with the window's maximum, and a cumulative rule keeps the
first one in row-major order (top-left, top-right, bottom-left,
bottom-right) that equals it. The switch mask is a 0/1 map of the input's
size with exactly one 1 per window and channel.

The pooled map itself is `tf.nn.max_pool2d`, whose gradient goes to the same
first maximum (`tests/test_red_net.py` checks it against the switches on
windows full of ties). Taking the pooled map from the switches instead
(`sum(pixel * switch)`) computes the same values and gradients, but its
backward pass through the split pixels made `red_net_cpu`'s training step at
256 px 1.17 times as long (969 against 830 ms, batch 8, on a 2-core CPU:
`benchmarks/red_net_pooling_speed.py`).
"""

import keras
import tensorflow as tf


def _window_pixels(maps, channels):
    """The four pixels of every 2x2 window, each `[B, H/2, W/2, C]`, in row-major order."""
    stacked = tf.nn.space_to_depth(maps, 2)
    return [stacked[..., k * channels : (k + 1) * channels] for k in range(4)]


def _check_even(shape, layer_name):
    for axis, size in zip(("height", "width"), shape[1:3]):
        if size is not None and size % 2:
            raise ValueError(f"{layer_name} needs an even {axis}, got input shape {tuple(shape)}")


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class MaxPoolingWithSwitches(keras.layers.Layer):
    """2x2 max pooling, stride 2, that also returns where each maximum was.

    Ties inside a window go to the first pixel in row-major order, as
    PyTorch's and Caffe's max pooling choose them. The gradient of the
    pooled map flows to that pixel only.

    Args:
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        inputs: float tensor `[B, H, W, C]` with even `H` and `W`.

    Returns:
        `(pooled, switches)`: float tensor `[B, H/2, W/2, C]` and a float
        0/1 mask `[B, H, W, C]`, 1 at each window's (first) maximum.

    Example:
    >>> pooled, switches = MaxPoolingWithSwitches()(
    ...     keras.ops.convert_to_tensor([[[[1.0], [3.0]], [[3.0], [0.0]]]]))
    >>> pooled.numpy().ravel().tolist(), switches.numpy().ravel().tolist()
    ([3.0], [0.0, 1.0, 0.0, 0.0])
    """

    def call(self, inputs):
        pooled = tf.nn.max_pool2d(inputs, 2, 2, "VALID")
        maximum = tf.stop_gradient(pooled)
        taken = tf.zeros_like(maximum)
        masks = []
        for pixel in _window_pixels(tf.stop_gradient(inputs), inputs.shape[-1]):
            is_max = tf.cast(tf.equal(pixel, maximum), inputs.dtype)
            masks.append(is_max * (1.0 - taken))
            taken = tf.maximum(taken, is_max)
        switches = tf.nn.depth_to_space(tf.concat(masks, axis=-1), 2)
        return pooled, switches

    def build(self, input_shape):
        _check_even(input_shape, type(self).__name__)

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape

        def halve(size):
            return None if size is None else size // 2

        return (batch, halve(height), halve(width), channels), tuple(input_shape)


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class MaxUnpooling2D(keras.layers.Layer):
    """Max unpooling: each value goes back to where its window's maximum was, zeros elsewhere.

    The inverse of `MaxPoolingWithSwitches`: the output is the input
    repeated over each 2x2 window times the switch mask, a sparse map of
    twice the size (Guo et al., "Residual Decoder Network": "the output of an
    unpooling layer is a sparse feature map which preserves efficient
    features and their positions").

    Args:
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        inputs: float tensor `[B, h, w, C]`.
        switches: float 0/1 tensor `[B, 2h, 2w, C]` from
            `MaxPoolingWithSwitches`.

    Returns:
        float tensor `[B, 2h, 2w, C]`.

    Example:
    >>> pooled, switches = MaxPoolingWithSwitches()(
    ...     keras.ops.convert_to_tensor([[[[1.0], [3.0]], [[3.0], [0.0]]]]))
    >>> MaxUnpooling2D()(pooled, switches).numpy().ravel().tolist()
    [0.0, 3.0, 0.0, 0.0]
    """

    def call(self, inputs, switches):
        repeated = tf.nn.depth_to_space(tf.tile(inputs, [1, 1, 1, 4]), 2)
        return repeated * tf.cast(switches, inputs.dtype)

    def build(self, inputs_shape, switches_shape):
        _check_even(switches_shape, type(self).__name__)

    def compute_output_shape(self, inputs_shape, switches_shape):
        return (inputs_shape[0], *switches_shape[1:3], inputs_shape[-1])
