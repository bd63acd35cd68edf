"""Keras layers for PyTorch-exact pooling and resizing (see `ops.resize`)."""

import keras

from keras_stn_icnn.ops import resize


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class PaddedMaxPooling2D(keras.layers.Layer):
    """3x3 max pooling, stride 2, one pixel of padding on every side.

    PyTorch's `max_pool2d(x, 3, 2, padding=1)`: unlike Keras'
    `MaxPooling2D(3, 2, padding="same")`, it pads both sides, so even sizes
    give the same windows as the authors' code (128 -> 64, 81 -> 41).

    Args:
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:
    >>> PaddedMaxPooling2D()(keras.ops.zeros([1, 128, 128, 3])).shape
    TensorShape([1, 64, 64, 3])
    """

    def call(self, inputs):
        return resize.max_pool_3x3_stride2(inputs)

    def compute_output_shape(self, input_shape):
        def halve(size):
            return None if size is None else (size + 1) // 2

        batch, height, width, channels = input_shape
        return (batch, halve(height), halve(width), channels)


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class AlignedBilinearResize(keras.layers.Layer):
    """Bilinear resize to a fixed size with corner pixels aligned.

    PyTorch's `interpolate(..., mode="bilinear", align_corners=True)`, which
    STN-iCNN uses to make its 128x128 stage-1 input. The aspect ratio is not
    kept.

    Args:
        size: `(height, width)` of the output.

    Example:
    >>> AlignedBilinearResize((128, 128))(keras.ops.zeros([1, 300, 200, 3])).shape
    TensorShape([1, 128, 128, 3])
    """

    def __init__(self, size, **kwargs):
        super().__init__(**kwargs)
        self.size = tuple(int(s) for s in size)

    def call(self, inputs):
        return resize.resize_bilinear_align_corners(inputs, self.size)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.size, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "size": self.size}


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class AlignedBilinearResizeLike(keras.layers.Layer):
    """Bilinear resize of a map to another tensor's height and width, corners aligned.

    The inverse of `AlignedBilinearResize` for single-pass parsers: logits
    computed at the working size are brought back to the size of the image
    they came from, whatever that size is (it may differ per call).

    Args:
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        maps: float tensor `[B, h, w, C]`, the map to resize.
        reference: tensor `[B, H, W, ...]` whose `H, W` the output takes.

    Returns:
        float32 tensor `[B, H, W, C]`.

    Example:
    >>> AlignedBilinearResizeLike()(keras.ops.zeros([1, 64, 64, 9]),
    ...                             keras.ops.zeros([1, 300, 200, 3])).shape
    TensorShape([1, 300, 200, 9])
    """

    def call(self, maps, reference):
        size = keras.ops.shape(reference)[1:3]
        return resize.resize_bilinear_align_corners(maps, (size[0], size[1]))

    def compute_output_shape(self, maps_shape, reference_shape):
        return (maps_shape[0], reference_shape[1], reference_shape[2], maps_shape[-1])
