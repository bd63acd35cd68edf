"""A face box found on the whole photo: where it is, the crop it cuts, and the paste back (`models.face_box`).

The box is placed on a coarse face map by the moment rule of `ops.boxes`
(the rule of RNN-G's component crops), as a square: the face's parts
(`FACE_PART_CLASSES`) as one mask, its centroid the box's centre, its extent
times `1 + margin` the box's side.
"""

import keras
import tensorflow as tf

from keras_stn_icnn.ops.boxes import moment_box_thetas
from keras_stn_icnn.ops.grid_sample import crop, paste_box

MIN_FACE_BOX_FRACTION = 1.0 / 8.0
"""Smallest face box side, as a fraction of the image's shorter side (and the box of a face not found)."""

LOG_FLOOR = 1e-7
"""`FaceBoxPaste` floors probabilities here before the log that makes its logits."""


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class FaceBoxTheta(keras.layers.Layer):
    """The square face box of a face map's hard argmax, as a crop theta (not differentiable).

    Args:
        margin: float >= 0, extra side relative to the face's extent.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        face_scores: float tensor `[B, h, w, 2]`, logits or probabilities
            of (not face, face); only their argmax is used.
        images: tensor `[B, H, W, ...]` (only its size is used).

    Returns:
        float32 tensor `[B, 2, 3]`: `[[s / (W - 1), 0, tx], [0, s / (H - 1),
        ty]]` for a box of side `s` pixels (`ops.affine` conventions).

    Example:
    >>> face = tf.pad(tf.ones([1, 4, 4]), [[0, 0], [2, 2], [2, 2]])
    >>> scores = tf.one_hot(tf.cast(face, tf.int32), 2)
    >>> FaceBoxTheta(margin=0.0)(scores, tf.zeros([1, 8, 8, 3])).shape
    TensorShape([1, 2, 3])
    """

    def __init__(self, margin=0.4, **kwargs):
        super().__init__(**kwargs)
        self.margin = float(margin)
        if not self.margin >= 0:
            raise ValueError(f"margin must be a number >= 0, got {margin!r}")

    def call(self, face_scores, images):
        face = tf.cast(tf.argmax(tf.stop_gradient(face_scores), axis=-1) == 1, tf.float32)[..., tf.newaxis]
        thetas = moment_box_thetas(face, tf.shape(images)[1:3], self.margin, [1.0], MIN_FACE_BOX_FRACTION)
        return tf.stop_gradient(thetas[:, 0])

    def compute_output_shape(self, face_scores_shape, images_shape):
        return (face_scores_shape[0], 2, 3)

    def get_config(self):
        return {**super().get_config(), "margin": self.margin}


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class FaceBoxCrop(keras.layers.Layer):
    """The face box of an image, resampled to `size x size` (bilinear, or nearest for label maps).

    Args:
        size: int, the crop's side in pixels.
        mode: `"bilinear"` or `"nearest"`.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        images: float tensor `[B, H, W, C]`.
        theta: float tensor `[B, 2, 3]` from `FaceBoxTheta`.

    Returns:
        float tensor `[B, size, size, C]`.

    Example:
    >>> FaceBoxCrop(32)(tf.zeros([2, 100, 80, 3]), tf.eye(2, 3, batch_shape=[2])).shape
    TensorShape([2, 32, 32, 3])
    """

    def __init__(self, size, mode="bilinear", **kwargs):
        super().__init__(**kwargs)
        self.size = int(size)
        self.mode = mode

    def call(self, images, theta):
        return crop(images, theta[:, tf.newaxis], self.size, mode=self.mode)[:, 0]

    def compute_output_shape(self, images_shape, theta_shape):
        return (images_shape[0], self.size, self.size, images_shape[-1])

    def get_config(self):
        return {**super().get_config(), "size": self.size, "mode": self.mode}


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class FaceBoxPaste(keras.layers.Layer):
    """Class probabilities of a face crop pasted back into the image's frame, as logits; background outside the box.

    Args:
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        probabilities: float tensor `[B, s, s, C]` on the crop (channel 0
            the background).
        theta: float tensor `[B, 2, 3]`, where the crop was taken.
        frame: tensor `[B, H, W, ...]` (only its size is used).

    Returns:
        float tensor `[B, H, W, C]`: the log of the pasted probabilities
        (floored at `LOG_FLOOR`), whose softmax is those probabilities.

    Example:
    >>> theta = tf.eye(2, 3, batch_shape=[1]) * 0.5  # the middle half of the frame
    >>> logits = FaceBoxPaste()(tf.fill([1, 4, 4, 3], 1 / 3), theta, tf.zeros([1, 9, 9]))
    >>> probabilities = tf.nn.softmax(logits)
    >>> [round(float(v), 3) for v in probabilities[0, 0, 0]], [round(float(v), 3) for v in probabilities[0, 4, 4]]
    ([1.0, 0.0, 0.0], [0.333, 0.333, 0.333])
    """

    def call(self, probabilities, theta, frame):
        background = tf.one_hot(0, tf.shape(probabilities)[-1], dtype=probabilities.dtype)
        frame_size = (tf.shape(frame)[1], tf.shape(frame)[2])
        pasted = paste_box(probabilities - background, theta, frame_size) + background
        return tf.math.log(tf.maximum(pasted, LOG_FLOOR))

    def compute_output_shape(self, probabilities_shape, theta_shape, frame_shape):
        return (probabilities_shape[0], frame_shape[1], frame_shape[2], probabilities_shape[-1])
