"""Turning a localizer's raw output into crop parameters."""

import keras

from keras_stn_icnn.ops import affine


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class ScaleTranslationTheta(keras.layers.Layer):
    """Reshapes raw localizer outputs to `[B, N, 2, 3]` and keeps scale and shift.

    Multiplies elementwise by `[[1, 0, 1], [0, 1, 1]]`, as every localizer of
    the authors' code does, so each theta is `[[sx, 0, tx], [0, sy, ty]]`: a
    crop can move and scale but not rotate or shear.

    Args:
        num_parts: int, number of thetas per image. Defaults to 6.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        inputs: float tensor with `num_parts * 6` values per image, in the
            order of a row-major `[num_parts, 2, 3]` array.

    Example:
    >>> ScaleTranslationTheta()(keras.ops.ones([2, 36]))[0, 0].numpy().tolist()
    [[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]
    """

    def __init__(self, num_parts=6, **kwargs):
        super().__init__(**kwargs)
        self.num_parts = int(num_parts)

    def call(self, inputs):
        theta = keras.ops.reshape(inputs, (-1, self.num_parts, 2, 3))
        mask = keras.ops.convert_to_tensor(affine.SCALE_TRANSLATION_MASK, theta.dtype)
        return theta * mask

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_parts, 2, 3)

    def get_config(self):
        return {**super().get_config(), "num_parts": self.num_parts}
