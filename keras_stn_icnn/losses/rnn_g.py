"""RNN-G's gate loss: the recurrent gate supervised by the label boundaries (Liu et al., BMVC 2017).

§3.3: the gate representation, reduced to one channel by a 1x1 convolution,
is supervised by "the boundary between different categories", whose ground
truth is 0 on boundary pixels and 1 everywhere else, so that the gate learns
to cut the propagation across a boundary. §5.1: boundary (positive) and
non-boundary (negative) pixels are balanced 1:5.
"""

import keras
import tensorflow as tf


def label_boundaries(labels):
    """The boundary pixels of label maps: 1 where a 4-neighbour has another label, else 0.

    Both pixels on either side of a label change are boundary pixels; pixels
    outside the map are not neighbours (the map's border is not a boundary).

    Args:
        labels: integer (or integral float) tensor `[B, H, W]`.

    Returns:
        float32 tensor `[B, H, W]` of 0 and 1.

    Example:
    >>> label_boundaries(tf.constant([[[0, 0, 1, 1]]])).numpy().tolist()
    [[[0.0, 1.0, 1.0, 0.0]]]
    """
    labels = tf.convert_to_tensor(labels)
    if labels.shape.rank != 3:
        raise ValueError(f"labels must be [B, H, W], got shape {labels.shape}")
    across_columns = tf.cast(tf.not_equal(labels[:, :, 1:], labels[:, :, :-1]), tf.float32)
    across_rows = tf.cast(tf.not_equal(labels[:, 1:], labels[:, :-1]), tf.float32)
    changes = (
        tf.pad(across_columns, [[0, 0], [0, 0], [0, 1]])
        + tf.pad(across_columns, [[0, 0], [0, 0], [1, 0]])
        + tf.pad(across_rows, [[0, 0], [0, 1], [0, 0]])
        + tf.pad(across_rows, [[0, 0], [1, 0], [0, 0]])
    )
    return tf.cast(changes > 0, tf.float32)


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class BoundaryGateLoss(keras.losses.Loss):
    """Sigmoid cross-entropy of gate logits against "not a boundary", boundaries balanced 1:`negative_ratio`.

    For each image, the target is `1 - label_boundaries(labels)` (0 on
    boundary pixels, 1 elsewhere, §3.3) and each pixel's loss is the sigmoid
    cross-entropy of its gate logit (the paper's softmax cross-entropy on a
    one-channel map is this two-class loss). The paper balances boundary
    ("positive") and other ("negative") pixels 1:5 by sampling; this loss
    takes the expectation of that sampling instead, deterministically:

        loss = (mean over boundary pixels + r * mean over other pixels) / (1 + r)

    with `r = negative_ratio`, i.e. the negatives together weigh `r` times
    as much as the positives together, whatever their counts. An image
    without boundary pixels (one label only) gets the mean over its other
    pixels alone. The per-image losses are averaged over the batch by the
    standard `keras.losses.Loss` reduction (which divides by the number of
    replicas under `tf.distribute`).

    Args:
        negative_ratio: float > 0, the total weight of non-boundary pixels
            relative to boundary pixels. Defaults to 5 (§5.1).
        reduction: standard `keras.losses.Loss` argument.
        name: str, the loss name.
        dtype: standard `keras.losses.Loss` argument.

    Call arguments:
        y_true: integer label maps `[B, H, W]`.
        y_pred: gate logits `[B, H, W, 1]` (or `[B, H, W]`).

    Returns:
        scalar loss (per-image `[B]` losses before the reduction).

    Example:
    >>> labels = tf.constant([[[0, 0, 1, 1]]])
    >>> float(BoundaryGateLoss()(labels, tf.zeros([1, 1, 4, 1])))  # log 2 everywhere
    0.6931471824645996
    """

    def __init__(
        self,
        negative_ratio=5.0,
        reduction="sum_over_batch_size",
        name="boundary_gate_loss",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.negative_ratio = float(negative_ratio)
        if not self.negative_ratio > 0:
            raise ValueError(f"negative_ratio must be positive, got {negative_ratio!r}")

    def call(self, y_true, y_pred):
        y_pred = tf.convert_to_tensor(y_pred)
        if y_pred.shape.rank == 4:
            y_pred = y_pred[..., 0]
        boundaries = label_boundaries(tf.cast(y_true, tf.int32))
        pixel_losses = tf.nn.sigmoid_cross_entropy_with_logits(
            labels=tf.cast(1.0 - boundaries, y_pred.dtype), logits=y_pred
        )
        positives = tf.cast(boundaries, y_pred.dtype)
        negatives = 1.0 - positives
        positive_count = tf.reduce_sum(positives, axis=[1, 2])
        negative_count = tf.reduce_sum(negatives, axis=[1, 2])
        positive_mean = tf.reduce_sum(pixel_losses * positives, axis=[1, 2]) / tf.maximum(positive_count, 1.0)
        negative_mean = tf.reduce_sum(pixel_losses * negatives, axis=[1, 2]) / tf.maximum(negative_count, 1.0)
        positive_weight = tf.cast(positive_count > 0, y_pred.dtype)
        negative_weight = self.negative_ratio * tf.cast(negative_count > 0, y_pred.dtype)
        return (positive_weight * positive_mean + negative_weight * negative_mean) / (positive_weight + negative_weight)

    def get_config(self):
        return {**super().get_config(), "negative_ratio": self.negative_ratio}
