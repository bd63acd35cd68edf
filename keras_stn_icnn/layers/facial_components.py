"""RNN-G's facial-component crops of HELEN faces as layers: box placement, crops and merge.

The rules are those of `ops.facial_components`, on maps of HELEN's 11
classes.
"""

import keras
import tensorflow as tf

from keras_stn_icnn.checks import check_choice
from keras_stn_icnn.choices import CROP_PLACEMENTS
from keras_stn_icnn.labels import HELEN_CLASS_NAMES
from keras_stn_icnn.ops.facial_components import COMPONENTS, component_thetas, crop_components, merge_components


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class ComponentThetas(keras.layers.Layer):
    """`component_thetas` of the first stage's argmax or probabilities (no gradient flows through it).

    With `placement="argmax"` the boxes are measured on the first stage's
    labels; with `"probabilities"` each pixel counts with its softmax
    probability of the component's classes (centroids and eye distance
    alike), so that an argmax that loses an eye, or keeps a stray pixel far
    from a part, no longer moves a box by whole box heights. Which is better
    depends on the first stage (`docs/zoo_learning.md`,
    `benchmarks/rnn_g_two_stage_crops.py`): on the whole photo
    (`rnn_g_two_stage_context`) the probabilities (0.783 against 0.722 on one
    run's weights); on a face box, whose pasted probabilities are more diffuse
    and pull the eyes' centroids together, the argmax (0.807 against 0.535).

    Args:
        margin: float >= 0, extra extent of a box relative to its component.
        placement: str, one of `CROP_PLACEMENTS`: `"argmax"` (the default)
            or `"probabilities"`.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        scores: float tensor `[B, h, w, 11]`, first-stage logits.
        images: tensor `[B, H, W, ...]` (only its size is used).

    Returns:
        float32 tensor `[B, 4, 2, 3]`.

    Example:
    >>> ComponentThetas(placement="probabilities")(tf.zeros([1, 32, 32, 11]), tf.zeros([1, 90, 60, 3])).shape
    TensorShape([1, 4, 2, 3])
    """

    def __init__(self, margin=0.2, placement="argmax", **kwargs):
        super().__init__(**kwargs)
        self.margin = float(margin)
        if self.margin < 0:
            raise ValueError(f"margin must not be negative, got {margin!r}")
        check_choice(placement, CROP_PLACEMENTS, "placement")
        self.placement = placement

    def call(self, scores, images):
        scores = tf.stop_gradient(tf.cast(scores, tf.float32))
        if self.placement == "argmax":
            class_maps = tf.one_hot(tf.argmax(scores, axis=-1), len(HELEN_CLASS_NAMES))
        else:
            class_maps = tf.nn.softmax(scores, axis=-1)
        return component_thetas(class_maps, tf.shape(images)[1:3], HELEN_CLASS_NAMES, self.margin)

    def compute_output_shape(self, scores_shape, images_shape):
        return (scores_shape[0], len(COMPONENTS), 2, 3)

    def get_config(self):
        return {**super().get_config(), "margin": self.margin, "placement": self.placement}


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class ComponentCrops(keras.layers.Layer):
    """`crop_components` of an image (bilinear), as a layer.

    Args:
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        images: float tensor `[B, H, W, 3]`.
        thetas: float tensor `[B, 4, 2, 3]`.

    Returns:
        list of 4 tensors `[B, h_k, w_k, 3]` in `COMPONENTS` order.

    Example:
    >>> crops = ComponentCrops()(tf.zeros([1, 50, 50, 3]), tf.eye(2, 3, batch_shape=[1, 4]))
    >>> tuple(crops[0].shape)
    (1, 64, 64, 3)
    """

    def call(self, images, thetas):
        return crop_components(images, thetas)

    def compute_output_shape(self, images_shape, thetas_shape):
        return [(images_shape[0], *c.input_size, images_shape[-1]) for c in COMPONENTS]


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class ComponentMerge(keras.layers.Layer):
    """`merge_components` of HELEN probabilities, as a layer.

    Args:
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        probabilities: float tensor `[B, H, W, 11]`.
        thetas: float tensor `[B, 4, 2, 3]`.
        component_probabilities: list of 4 tensors `[B, h_k, w_k, 1 + n_k]`.

    Returns:
        float tensor `[B, H, W, 11]`.

    Example:
    >>> first = tf.fill([1, 40, 40, 11], 1.0 / 11)
    >>> others = [tf.one_hot(tf.zeros([1, *c.input_size], tf.int32), 1 + len(c.classes)) for c in COMPONENTS]
    >>> ComponentMerge()(first, tf.eye(2, 3, batch_shape=[1, 4]), others).shape
    TensorShape([1, 40, 40, 11])
    """

    def call(self, probabilities, thetas, component_probabilities):
        return merge_components(probabilities, thetas, component_probabilities, HELEN_CLASS_NAMES)

    def compute_output_shape(self, probabilities_shape, thetas_shape, component_probabilities_shape):
        return tuple(probabilities_shape)
