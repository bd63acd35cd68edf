"""Two channels holding each pixel's position (CoordConv, Liu et al., NeurIPS 2018)."""

import keras
import numpy as np


def coordinate_grid(height, width):
    """Each pixel centre's column and row, scaled to [-1, 1] across the map.

    Args:
        height: int, rows of the map.
        width: int, columns of the map.

    Returns:
        float32 array `[height, width, 2]`: `[..., 0]` the column (-1 at the
        left edge, 1 at the right), `[..., 1]` the row (-1 at the top).

    Example:
    >>> coordinate_grid(1, 4)[0, :, 0].tolist()
    [-0.75, -0.25, 0.25, 0.75]
    """
    columns = (2.0 * np.arange(width, dtype=np.float32) + 1.0) / width - 1.0
    rows = (2.0 * np.arange(height, dtype=np.float32) + 1.0) / height - 1.0
    return np.stack(np.meshgrid(columns, rows), axis=-1)


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class CoordinateChannels(keras.layers.Layer):
    """Appends each pixel's column and row, in [-1, 1], as two more channels.

    A convolution does not know where it is: on a framed face the face's
    left and right parts look alike up close, and only their position tells
    them apart. With the position as input (CoordConv, Liu et al., "An
    intriguing failing of convolutional neural networks and the CoordConv
    solution", NeurIPS 2018) a 1x1 convolution that follows can add a ramp
    across the face to each class's score. The map's height and width must be
    known when the layer is built (a parser's working size is).

    Args:
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        inputs: float tensor `[B, H, W, C]` with static `H` and `W`.

    Returns:
        float tensor `[B, H, W, C + 2]`: the inputs, then the column, then the
        row (see `coordinate_grid`).

    Example:
    >>> outputs = CoordinateChannels()(keras.ops.zeros([2, 3, 4, 5]))
    >>> outputs.shape
    TensorShape([2, 3, 4, 7])
    >>> outputs[0, 0, :, 5].numpy().tolist()
    [-0.75, -0.25, 0.25, 0.75]
    """

    def build(self, input_shape):
        height, width = input_shape[1], input_shape[2]
        if height is None or width is None:
            raise ValueError(f"CoordinateChannels needs a static height and width, got input shape {input_shape}")
        self._grid = coordinate_grid(height, width)

    def call(self, inputs):
        grid = keras.ops.zeros_like(inputs[..., :1]) + keras.ops.cast(self._grid, inputs.dtype)
        return keras.ops.concatenate([inputs, grid], axis=-1)

    def compute_output_shape(self, input_shape):
        channels = None if input_shape[-1] is None else input_shape[-1] + 2
        return (*input_shape[:-1], channels)
