"""The label map of a probability map: the most probable class per pixel."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class LabelMap(keras.layers.Layer):
    """Argmax over the class axis, as uint8 class ids.

    Ties go to the lowest class id. This is `tf.argmax` rather than
    `keras.ops.argmax`: the Keras op first maps -0.0 to the smallest negative
    float with a bitcast and a bitwise AND, which LiteRT has no builtin op
    for, and probabilities are never negative anyway.

    Args:
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        probabilities: float tensor `[..., C]` with `C <= 256`.

    Returns:
        uint8 tensor `[...]`.

    Example:
    >>> LabelMap()(keras.ops.convert_to_tensor([[0.2, 0.7, 0.1]])).numpy()
    array([1], dtype=uint8)
    """

    def call(self, probabilities):
        return tf.cast(tf.argmax(probabilities, axis=-1), tf.uint8)

    def compute_output_shape(self, probabilities_shape):
        return tuple(probabilities_shape[:-1])

    def compute_output_spec(self, probabilities):
        return keras.KerasTensor(probabilities.shape[:-1], dtype="uint8")
