"""RED-Net's adaptive prior as a layer whose exemplar bank is part of the saved model."""

import keras
import numpy as np
import tensorflow as tf

from keras_stn_icnn.ops import adaptive_prior


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class AdaptivePrior(keras.layers.Layer):
    """Refines the decoder's score map with the prior of the nearest exemplars (Eq. 5-8).

    Guo et al., section "Adaptive prior": the decoder's softmax `P_net` is
    labelled by argmax, the five key points of that label map are projected
    into the bank's PCA subspace, the `num_exemplars` nearest exemplars give
    the prior `Pr` (Eq. 5, the mean of their one-hot label maps), the
    normalised entropy of `P_net` gives the adaptive scale `As` (Eq. 6) and

        P_final = N(P_net + As * Pr)        (Eq. 7-8)

    with `N` dividing by the class sum (see `ops.adaptive_prior`). The
    prior carries no gradient (the key points and the search are discrete);
    `P_final` does, through `P_net` and `As`.

    The bank (label maps, PCA projections, PCA mean and basis) is held in
    non-trainable weights, so it is saved in `.keras` files and exported
    with the model; `set_exemplar_bank` fills it. Its label maps are stored
    as uint8 class ids rather than one-hot maps (the same information at
    1/C of the size; Eq. 5 averages their one-hot form).

    Neutral until filled: while no exemplar is stored the prior is zero, so
    `P_final = P_net` exactly (RED-Net without the prior, "Ours" in the
    paper's Table 1).

    Deviation: the paper takes the key points from a landmark detector; here
    they come from the decoder's own prediction (rule in
    `ops.adaptive_prior`), so the model parses an image alone.

    Args:
        size: int, side of the working size (the label maps' size).
        key_point_classes: the class ids of left eye, right eye, nose and
            mouth, as `ops.adaptive_prior.key_point_class_ids` gives them.
        num_exemplars: int, `N`, the nearest exemplars averaged. Defaults to
            5 (the paper's choice).
        bank_size: int, the most exemplars the bank holds. Defaults to 330
            (HELEN's validation set, which the paper's bank is made of).
        pca_components: int in [1, 10], the subspace's dimension. Defaults
            to 5 (not given in the paper).
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        logits: float tensor `[B, size, size, C]`, the decoder's logits.

    Returns:
        float32 `[B, size, size, C]`: `log(P_final)`, logits whose softmax is
        `P_final`.

    Example:
    >>> layer = AdaptivePrior(8, ((1,), (2,), (3,), (4,)), num_exemplars=1, bank_size=2)
    >>> logits = keras.ops.zeros([1, 8, 8, 5])
    >>> bool(np.allclose(keras.ops.softmax(layer(logits)), 0.2))  # neutral before filling
    True
    >>> labels = np.zeros((2, 8, 8), np.uint8)
    >>> labels[:, 2, 2], labels[:, 2, 5], labels[:, 4, 3], labels[:, 6, 2:6] = 1, 2, 3, 4
    >>> layer.set_exemplar_bank(adaptive_prior.exemplar_bank_from_labels(
    ...     labels, ((1,), (2,), (3,), (4,)), 8, 5))
    >>> round(float(keras.ops.softmax(layer(logits))[0, 2, 2, 1]), 4)  # (0.2 + 1 * 1) / 2
    0.6
    """

    def __init__(self, size, key_point_classes, num_exemplars=5, bank_size=330, pca_components=5, **kwargs):
        super().__init__(**kwargs)
        for name, value, minimum in (
            ("size", size, 2),
            ("num_exemplars", num_exemplars, 1),
            ("bank_size", bank_size, 1),
            ("pca_components", pca_components, 1),
        ):
            if isinstance(value, bool) or int(value) != value or value < minimum:
                raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
        if pca_components > 10:
            raise ValueError(f"pca_components must be at most 10 (5 key points x 2), got {pca_components!r}")
        if bank_size < num_exemplars:
            raise ValueError(f"bank_size ({bank_size!r}) must be at least num_exemplars ({num_exemplars!r})")
        key_point_classes = tuple(tuple(int(i) for i in ids) for ids in key_point_classes)
        if len(key_point_classes) != 4 or not all(key_point_classes):
            raise ValueError(
                "key_point_classes must be four non-empty groups of class ids (left eye, right eye, "
                f"nose, mouth), got {key_point_classes!r}"
            )
        self.size = int(size)
        self.key_point_classes = key_point_classes
        self.num_exemplars = int(num_exemplars)
        self.bank_size = int(bank_size)
        self.pca_components = int(pca_components)

    def build(self, logits_shape):
        num_classes = logits_shape[-1]
        if num_classes is None or num_classes > 256:
            raise ValueError(f"AdaptivePrior needs 2 to 256 classes, got logits of shape {logits_shape}")
        if max(max(ids) for ids in self.key_point_classes) >= num_classes:
            raise ValueError(f"key_point_classes {self.key_point_classes} name ids beyond the {num_classes} classes")

        def bank_weight(name, shape, dtype="float32"):
            return self.add_weight(name=name, shape=shape, dtype=dtype, initializer="zeros", trainable=False)

        self.bank_label_maps = bank_weight("bank_label_maps", (self.bank_size, self.size, self.size), "uint8")
        self.bank_projections = bank_weight("bank_projections", (self.bank_size, self.pca_components))
        self.bank_valid = bank_weight("bank_valid", (self.bank_size,))
        self.key_point_mean = bank_weight("key_point_mean", (10,))
        self.pca_basis = bank_weight("pca_basis", (10, self.pca_components))

    @property
    def is_fitted(self):
        """Whether the bank holds exemplars (before that, the prior is zero)."""
        return self.built and float(keras.ops.max(self.bank_valid)) > 0.0

    def set_exemplar_bank(self, bank):
        """Stores an exemplar bank in the layer's weights, replacing the previous one.

        Args:
            bank: an `ops.adaptive_prior.ExemplarBank` with `num_exemplars`
                to `bank_size` exemplars at the layer's size and
                `pca_components` components.

        Raises:
            ValueError naming the mismatch.
        """
        if not self.built:
            raise ValueError("call the layer (or the model) once before setting its exemplar bank")
        label_maps = np.asarray(bank.label_maps)
        count = label_maps.shape[0]
        if not self.num_exemplars <= count <= self.bank_size:
            raise ValueError(
                f"the bank must hold num_exemplars ({self.num_exemplars}) to bank_size "
                f"({self.bank_size}) exemplars, got {count}"
            )
        if label_maps.shape[1:] != (self.size, self.size):
            raise ValueError(f"bank label maps must be {self.size}x{self.size}, got {label_maps.shape[1:]}")
        if np.asarray(bank.pca_basis).shape != (10, self.pca_components):
            raise ValueError(
                f"bank pca_basis must be (10, {self.pca_components}), got {np.asarray(bank.pca_basis).shape}"
            )
        if label_maps.min() < 0 or label_maps.max() >= 256:
            raise ValueError("bank label maps must hold class ids in [0, 255]")
        padding = self.bank_size - count
        self.bank_label_maps.assign(np.pad(label_maps, ((0, padding), (0, 0), (0, 0))).astype(np.uint8))
        self.bank_projections.assign(np.pad(np.asarray(bank.projections, np.float32), ((0, padding), (0, 0))))
        self.bank_valid.assign(np.arange(self.bank_size) < count)
        self.key_point_mean.assign(np.asarray(bank.key_point_mean, np.float32))
        self.pca_basis.assign(np.asarray(bank.pca_basis, np.float32))

    def call(self, logits):
        net_probabilities = tf.nn.softmax(logits, axis=-1)
        num_classes = logits.shape[-1]
        labels = tf.cast(tf.argmax(net_probabilities, axis=-1), tf.int32)
        points, present = adaptive_prior.facial_key_points(labels, self.key_point_classes)
        points = adaptive_prior.fill_missing_key_points(points, present, self.key_point_mean)
        projections = adaptive_prior.project_key_points(points, self.key_point_mean, self.pca_basis)
        nearest = adaptive_prior.nearest_exemplars(
            projections, self.bank_projections, self.bank_valid, self.num_exemplars
        )
        prior = adaptive_prior.averaged_prior(self.bank_label_maps, nearest, num_classes)
        prior = tf.stop_gradient(prior * tf.reduce_max(self.bank_valid))
        scale = adaptive_prior.normalized_entropy(net_probabilities)
        final = adaptive_prior.combine_with_prior(net_probabilities, prior, scale)
        return tf.math.log(tf.maximum(final, 1e-30))

    def compute_output_shape(self, logits_shape):
        return tuple(logits_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "size": self.size,
            "key_point_classes": self.key_point_classes,
            "num_exemplars": self.num_exemplars,
            "bank_size": self.bank_size,
            "pca_components": self.pca_components,
        }
