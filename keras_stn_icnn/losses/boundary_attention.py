"""BASS's losses (Liu et al., AAAI 2020, Eq. 1-4): boundary-weighted parsing and boundary detection.

Every loss here takes the integer label maps as `y_true` and derives the
boundary indicator `y^b` from them (`ops.label_boundaries`), so a BASS model
trains on label maps alone:

- `BoundaryWeightedCrossEntropy`: `L_bs` (Eq. 4), the per-pixel cross-entropy
  with weight `w_i = 1 + alpha` on boundary pixels and 1 elsewhere (with
  `alpha = 0` it is `L_s`, Eq. 2);
- `BalancedBoundaryCrossEntropy`: `L_b` (Eq. 3), the binary cross-entropy of
  the boundary map, with the positive/negative balancing the paper's
  experimental settings take from Ruan et al. 2019;
- `BoundaryAttentionLoss`: `L = l1 L_s + l2 L_b + l3 L_bs` (Eq. 1) over the
  three branch outputs of a `BASS` model.

Each returns one value per pixel and Keras' `"sum_over_batch_size"` reduction
divides their sum by the number of pixels `N` (the `1/N` of Eq. 2-4; under
`tf.distribute`, by the global number of pixels).
"""

import numbers

import keras

from keras_stn_icnn.checks import check_int
from keras_stn_icnn.ops.label_boundaries import label_boundaries

PAPER_ALPHA = 10.0
"""The boundary weight `alpha` of the paper's best reported result (90.07% mean F1).

Sec. "Evaluation with different parameter alpha"; its Table 1 uses 1.
"""


def checked_loss_weights(loss_weights):
    """BASS's `(l1, l2, l3)` loss weights (Eq. 1), checked: three floats >= 0.

    Args:
        loss_weights: sequence of three numbers.

    Returns:
        tuple of three floats.

    Raises:
        ValueError: naming the value when it is not three numbers >= 0.

    Example:
    >>> checked_loss_weights([1, 1, 0.5])
    (1.0, 1.0, 0.5)
    """
    try:
        weights = tuple(float(weight) for weight in loss_weights)
    except (TypeError, ValueError):
        raise ValueError(f"loss_weights must be three numbers >= 0, got {loss_weights!r}") from None
    if len(weights) != 3 or min(weights) < 0:
        raise ValueError(f"loss_weights must be three numbers >= 0, got {loss_weights!r}")
    return weights


def _checked_alpha(alpha):
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or alpha < 0:
        raise ValueError(f"alpha must be a number >= 0, got {alpha!r}")
    return float(alpha)


def _checked_radius(radius):
    check_int(radius, "radius")
    return int(radius)


def _pixel_cross_entropy(labels, logits):
    # -log p_{i, y_i} per pixel: [B, H, W].
    return keras.ops.sparse_categorical_crossentropy(labels, logits, from_logits=True)


def _boundary_weighted_cross_entropy(labels, logits, alpha, radius):
    # w_i * -log p_{i, y_i}, w_i = 1 + alpha on boundaries (Eq. 4).
    weights = 1.0 + alpha * label_boundaries(labels, radius)
    return weights * _pixel_cross_entropy(labels, logits)


def _boundary_cross_entropy(labels, boundary_logits, radius, balanced):
    # The binary cross-entropy of the boundary map (Eq. 3); when balanced, a
    # boundary pixel weighs the share of non-boundary pixels of its image and
    # a non-boundary pixel the share of boundary pixels (Ruan et al. 2019).
    targets = label_boundaries(labels, radius)
    logits = boundary_logits[..., 0]
    losses = keras.ops.binary_crossentropy(targets, logits, from_logits=True)
    if not balanced:
        return losses
    positive_share = keras.ops.mean(targets, axis=(1, 2), keepdims=True)
    weights = targets * (1.0 - positive_share) + (1.0 - targets) * positive_share
    return weights * losses


def _integer_labels(y_true):
    # Keras' Loss.__call__ converts y_true to the loss dtype; the ids are exact.
    return keras.ops.cast(keras.ops.round(y_true), "int32")


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class BoundaryWeightedCrossEntropy(keras.losses.Loss):
    """BASS's boundary-attention semantic loss `L_bs` (Eq. 4).

    `L_bs = -1/N sum_i w_i log p_{i, y_i}` with `w_i = 1 + alpha` where pixel
    `i` is on a boundary between two labels (`ops.label_boundaries` with
    `radius`) and `w_i = 1` elsewhere. With `alpha = 0` it is the plain
    per-pixel cross-entropy `L_s` (Eq. 2).

    Args:
        alpha: float >= 0, the extra weight of boundary pixels. Defaults to
            10 (the paper's best reported value).
        radius: int >= 1, boundary half-width (see `label_boundaries`).
            Defaults to 1.
        reduction: Keras reduction. Defaults to `"sum_over_batch_size"`
            (the mean over all pixels, Eq. 4's `1/N`).
        name: str.
        dtype: the loss dtype.

    Call arguments:
        y_true: integer label maps `[B, H, W]`.
        y_pred: logits `[B, H, W, C]`.

    Returns:
        The reduced loss (a scalar by default).

    Example:
    >>> loss = BoundaryWeightedCrossEntropy(alpha=1.0)
    >>> labels = np.array([[[0, 1]]])
    >>> logits = np.zeros((1, 1, 2, 2), "float32")
    >>> round(float(loss(labels, logits)), 4)  # both pixels on the boundary: 2 log 2
    1.3863
    """

    def __init__(
        self,
        alpha=PAPER_ALPHA,
        radius=1,
        reduction="sum_over_batch_size",
        name="boundary_weighted_cross_entropy",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.alpha = _checked_alpha(alpha)
        self.radius = _checked_radius(radius)

    def call(self, y_true, y_pred):
        return _boundary_weighted_cross_entropy(_integer_labels(y_true), y_pred, self.alpha, self.radius)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "radius": self.radius}


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class BalancedBoundaryCrossEntropy(keras.losses.Loss):
    """BASS's boundary-aware loss `L_b` (Eq. 3), balanced between boundary and non-boundary pixels.

    `L_b = -1/N sum_i v_i (y^b_i log p^b_i + (1 - y^b_i) log(1 - p^b_i))`,
    the binary cross-entropy of the predicted boundary map against the
    boundaries of the label map (`ops.label_boundaries`). Eq. 3 has
    `v_i = 1`; the paper's experimental settings add Ruan et al.'s
    positive/negative balancing, "the ratio of pixels belonging to specific
    class as the weights of the opposite one": with `balanced=True`,
    `v_i = 1 - r` on boundary pixels and `v_i = r` elsewhere, `r` the share
    of boundary pixels in the pixel's image (per image, so the value does
    not depend on how a batch is split over replicas). An image without
    boundaries then adds nothing.

    Args:
        radius: int >= 1, boundary half-width (see `label_boundaries`).
            Defaults to 1.
        balanced: bool, weight the two kinds of pixels as above. Defaults to
            True; False gives Eq. 3 as printed.
        reduction: Keras reduction. Defaults to `"sum_over_batch_size"`
            (Eq. 3's `1/N`).
        name: str.
        dtype: the loss dtype.

    Call arguments:
        y_true: integer label maps `[B, H, W]`.
        y_pred: boundary logits `[B, H, W, 1]` (`p^b = sigmoid(logit)`).

    Returns:
        The reduced loss (a scalar by default).

    Example:
    >>> loss = BalancedBoundaryCrossEntropy(balanced=False)
    >>> labels = np.array([[[0, 0, 0, 1]]])  # boundary: the last two pixels
    >>> logits = np.zeros((1, 1, 4, 1), "float32")
    >>> round(float(loss(labels, logits)), 4)  # log 2 at every pixel
    0.6931
    """

    def __init__(
        self,
        radius=1,
        balanced=True,
        reduction="sum_over_batch_size",
        name="balanced_boundary_cross_entropy",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.radius = _checked_radius(radius)
        self.balanced = bool(balanced)

    def call(self, y_true, y_pred):
        return _boundary_cross_entropy(_integer_labels(y_true), y_pred, self.radius, self.balanced)

    def get_config(self):
        return {**super().get_config(), "radius": self.radius, "balanced": self.balanced}


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class BoundaryAttentionLoss(keras.losses.Loss):
    """BASS's total loss `L = l1 L_s + l2 L_b + l3 L_bs` (Eq. 1) over its three branches.

    `L_s` is the cross-entropy of the semantic branch (Eq. 2), `L_b` the
    (balanced) boundary cross-entropy of the boundary-aware branch (Eq. 3,
    `BalancedBoundaryCrossEntropy`) and `L_bs` the boundary-weighted
    cross-entropy of the boundary-attention semantic branch (Eq. 4,
    `BoundaryWeightedCrossEntropy`). The three share the `1/N`, so the sum
    is taken per pixel and reduced once.

    Args:
        loss_weights: `(l1, l2, l3)`, three floats >= 0. Defaults to
            `(1.0, 1.0, 1.0)`, the paper's setting.
        alpha: float >= 0, the extra weight of boundary pixels in `L_bs`.
            Defaults to 10.
        radius: int >= 1, boundary half-width. Defaults to 1.
        balanced: bool, balance `L_b` (see `BalancedBoundaryCrossEntropy`).
            Defaults to True.
        reduction: Keras reduction. Defaults to `"sum_over_batch_size"`.
        name: str.
        dtype: the loss dtype.

    Call arguments:
        y_true: integer label maps `[B, H, W]`.
        y_pred: dict with `"semantic_logits"` `[B, H, W, C]`,
            `"boundary_logits"` `[B, H, W, 1]` and `"logits"` `[B, H, W, C]`
            (the boundary-attention branch), as a `BASS` model returns.

    Returns:
        The reduced loss (a scalar by default).

    Example:
    >>> loss = BoundaryAttentionLoss(alpha=0.0, balanced=False)
    >>> outputs = {"semantic_logits": np.zeros((1, 1, 2, 3), "float32"),
    ...            "boundary_logits": np.zeros((1, 1, 2, 1), "float32"),
    ...            "logits": np.zeros((1, 1, 2, 3), "float32")}
    >>> round(float(loss(np.array([[[0, 2]]]), outputs)), 4)  # 2 log 3 + log 2
    2.8904
    """

    def __init__(
        self,
        loss_weights=(1.0, 1.0, 1.0),
        alpha=PAPER_ALPHA,
        radius=1,
        balanced=True,
        reduction="sum_over_batch_size",
        name="boundary_attention_loss",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.loss_weights = checked_loss_weights(loss_weights)
        self.alpha = _checked_alpha(alpha)
        self.radius = _checked_radius(radius)
        self.balanced = bool(balanced)

    def call(self, y_true, y_pred):
        labels = _integer_labels(y_true)
        semantic_weight, boundary_weight, attention_weight = self.loss_weights
        return (
            semantic_weight * _pixel_cross_entropy(labels, y_pred["semantic_logits"])
            + boundary_weight * _boundary_cross_entropy(labels, y_pred["boundary_logits"], self.radius, self.balanced)
            + attention_weight * _boundary_weighted_cross_entropy(labels, y_pred["logits"], self.alpha, self.radius)
        )

    def get_config(self):
        return {
            **super().get_config(),
            "loss_weights": self.loss_weights,
            "alpha": self.alpha,
            "radius": self.radius,
            "balanced": self.balanced,
        }
