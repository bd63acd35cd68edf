"""RED-Net (Guo et al., AAAI 2018): residual encoder-decoder with an adaptive prior."""

import keras

from keras_stn_icnn.checks import check_int, check_widths
from keras_stn_icnn.labels import HELEN_CLASS_NAMES
from keras_stn_icnn.layers.adaptive_prior import AdaptivePrior
from keras_stn_icnn.layers.coordinate_channels import CoordinateChannels
from keras_stn_icnn.layers.max_unpooling import MaxPoolingWithSwitches
from keras_stn_icnn.layers.red_net_units import ResidualDecoderUnit, ResidualEncoderUnit
from keras_stn_icnn.models.single_pass import (
    DEFAULT_CANVAS_SIZE,
    SinglePassParsingMixin,
    checked_class_names,
    single_pass_inputs,
    single_pass_outputs,
)
from keras_stn_icnn.ops import adaptive_prior


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class RedNet(SinglePassParsingMixin, keras.Model):
    """RED-Net: residual encoder, residual decoder with max unpooling, adaptive prior.

    Guo et al., "Residual Encoder Decoder Network and Adaptive Prior for
    Face Parsing" (AAAI 2018), Fig. 2-3:
    - RE-Net: `ResidualEncoderUnit`s (residual blocks, He et al. 2016a),
      each followed by a 2x2 `MaxPoolingWithSwitches`;
    - RD-Net: one `ResidualDecoderUnit` per encoder unit, deepest first,
      each unpooling with the matching pooling's switches and reducing to
      the channels of the encoder unit above; a 1x1 convolution gives the
      decoder's score map `P_net` (logits `"decoder_logits"`);
    - adaptive prior (`AdaptivePrior`, Eq. 5-8): `P_final = N(P_net + As *
      Pr)`, whose log is `"logits"`.
    It trains with per-pixel cross-entropy of the final map (Eq. 2), mean
    over pixels and images. Call `fit_prior(label_maps)` with held-out
    ground truth (the paper uses the validation set) to fill the exemplar
    bank; until then the prior is zero and `"logits"` is the decoder's
    log-softmax (RED-Net without prior, the paper's "Ours").

    Deviations from the paper, and why:
    - The key points that choose the exemplars come from the decoder's own
      argmax (eye and nose centroids, the mouth's extreme columns; missing
      points take the bank's mean position; see `ops.adaptive_prior`), not
      from a landmark detector: the model parses an image alone.
    - The prior is also used in training (Eq. 2) with those key points, but
      carries no gradient.
    - Fig. 3's exact widths and depths are not in the text: the encoder's
      widths (`encoder_filters`) and residual blocks per unit are arguments;
      the defaults are ResNet-18-like. A pooling follows every encoder unit,
      so the decoder has one unpooling per pooling (as VGG-Deconv).
    - No face-recognition pretraining (CASIA-WebFace, Eq. 3-4): the encoder
      starts from He initialisation. The decoder's deconvolutions start from
      N(0, 0.01) as in the paper, but the final 1x1 classifier from Keras'
      Glorot default: with N(0, 0.01) there the first gradients are ~100x
      smaller, and the batch-normalisation scales behind a
      BN-ReLU-deconvolution-BN chain (whose gradient at initialisation comes
      only from the normalisation's epsilon) would not move in a first step.

    Args:
        class_names: tuple of str, the label ids it predicts; must include
            HELEN's `left_eye`, `right_eye`, `nose`, `upper_lip`,
            `inner_mouth` and `lower_lip` (the key points' classes).
            Defaults to HELEN's 11 classes.
        input_size: int, side of the working size, a multiple of
            `2 ** len(encoder_filters)`. Defaults to 224 (the paper's crops).
        encoder_filters: tuple of int, the channels of each encoder unit.
            Defaults to `(64, 128, 256, 512, 512)` (five units, as the paper
            keeps).
        blocks_per_unit: int, residual blocks in each encoder unit.
            Defaults to 2.
        num_exemplars: int, `N`, nearest exemplars averaged into the prior.
            Defaults to 5 (the paper's value).
        bank_size: int, the most exemplars `fit_prior` stores. Defaults to
            330 (HELEN's validation set).
        pca_components: int in [1, 10], dimension of the key points' PCA
            subspace. Defaults to 5.
        canvas_size: int, the largest image side `parse` accepts. Defaults
            to 1024.
        coordinate_channels: bool, whether the classifier also reads each
            pixel's column and row (`CoordinateChannels`), not in the paper.
            On a framed face, RED-Net's decoder confuses the face's left and
            right parts, which look alike up close (`docs/zoo_learning.md`);
            with the position the classifier can tell them apart. Defaults
            to False (the paper's network).
        **kwargs: standard `keras.Model` arguments.

    Call arguments:
        images: float or uint8 tensor `[B, H, W, 3]` with values in [0, 255].

    Returns:
        A dict: `"logits"` `[B, input_size, input_size, C]` (log of the
        final score map), `"decoder_logits"` (the decoder's, before the
        prior), `"probabilities"` `[B, H, W, C]` and `"labels"` uint8
        `[B, H, W]`.

    Example:
    >>> model = RedNet(input_size=32, encoder_filters=(4, 8), blocks_per_unit=1, bank_size=8)
    >>> model(keras.ops.zeros([1, 50, 40, 3]))["labels"].shape
    TensorShape([1, 50, 40])
    >>> labels = np.zeros((6, 32, 32), np.uint8)
    >>> labels[:, 8, 8], labels[:, 8, 20], labels[:, 16, 14], labels[:, 24, 10:20] = 4, 5, 6, 7
    >>> model.fit_prior(labels)
    >>> model.get_layer("adaptive_prior").is_fitted
    True
    >>> model.compile(optimizer="adam")
    >>> model.fit(np.zeros((2, 32, 32, 3)), np.zeros((2, 32, 32), np.uint8), verbose=0).history["loss"][0] > 0
    True
    """

    prior_bias_layer_names = ("classifier",)
    default_learning_rate = 2e-3  # with recomputed BatchNorm statistics 0.841, 1e-3 0.819 (docs/zoo_learning.md)
    config_keys = (
        "class_names",
        "input_size",
        "encoder_filters",
        "blocks_per_unit",
        "num_exemplars",
        "bank_size",
        "pca_components",
        "canvas_size",
        "coordinate_channels",
    )

    def __init__(
        self,
        class_names=HELEN_CLASS_NAMES,
        input_size=224,
        encoder_filters=(64, 128, 256, 512, 512),
        blocks_per_unit=2,
        num_exemplars=5,
        bank_size=330,
        pca_components=5,
        canvas_size=DEFAULT_CANVAS_SIZE,
        coordinate_channels=False,
        **kwargs,
    ):
        class_names = checked_class_names(class_names)
        key_point_classes = adaptive_prior.key_point_class_ids(class_names)
        encoder_filters = check_widths(encoder_filters, "encoder_filters")
        input_size = check_int(
            input_size, "input_size", minimum=2 ** len(encoder_filters), multiple=2 ** len(encoder_filters)
        )
        blocks_per_unit = check_int(blocks_per_unit, "blocks_per_unit")
        num_exemplars = check_int(num_exemplars, "num_exemplars")
        bank_size = check_int(bank_size, "bank_size", minimum=num_exemplars)
        pca_components = check_int(pca_components, "pca_components")
        if pca_components > 10:
            raise ValueError(f"pca_components must be an int in [1, 10], got {pca_components!r}")
        canvas_size = check_int(canvas_size, "canvas_size")
        if not isinstance(coordinate_channels, bool):
            raise ValueError(f"coordinate_channels must be a bool, got {coordinate_channels!r}")

        # === Layers ===
        encoder_units = [
            ResidualEncoderUnit(filters, blocks_per_unit, name=f"encoder_unit{level}")
            for level, filters in enumerate(encoder_filters, start=1)
        ]
        poolings = [MaxPoolingWithSwitches(name=f"pooling{level}") for level in range(1, len(encoder_filters) + 1)]
        # Decoder unit k unpools pooling k and reduces to encoder unit k-1's channels (unit 1: to its own).
        decoder_units = [
            ResidualDecoderUnit(encoder_filters[max(level - 2, 0)], name=f"decoder_unit{level}")
            for level in range(1, len(encoder_filters) + 1)
        ]
        classifier = keras.layers.Conv2D(len(class_names), 1, name="classifier")
        prior = AdaptivePrior(
            input_size,
            key_point_classes,
            num_exemplars=num_exemplars,
            bank_size=bank_size,
            pca_components=pca_components,
            name="adaptive_prior",
        )

        # === Functional model ===
        images, features = single_pass_inputs(input_size)
        switches = []
        for unit, pooling in zip(encoder_units, poolings):
            features, unit_switches = pooling(unit(features))
            switches.append(unit_switches)
        for unit, unit_switches in reversed(list(zip(decoder_units, switches))):
            features = unit(features, unit_switches)
        if coordinate_channels:
            features = CoordinateChannels(name="coordinate_channels")(features)
        decoder_logits = classifier(features)
        outputs = single_pass_outputs(prior(decoder_logits), images, decoder_logits=decoder_logits)
        super().__init__(inputs=images, outputs=outputs, **kwargs)

        # === Config ===
        self.class_names = class_names
        self.input_size = input_size
        self.encoder_filters = encoder_filters
        self.blocks_per_unit = blocks_per_unit
        self.num_exemplars = num_exemplars
        self.bank_size = bank_size
        self.pca_components = pca_components
        self.canvas_size = canvas_size
        self.coordinate_channels = coordinate_channels
        self._cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def fit_prior(self, label_maps):
        """Fills the adaptive prior's exemplar bank from ground-truth label maps.

        The maps are resized (nearest) to the working size; their key points
        (same rule as at inference) are fitted with a PCA, and the maps,
        projections, PCA mean and basis are stored in the `"adaptive_prior"`
        layer's weights, replacing any earlier bank. Use maps the model is
        not trained on (the paper uses the validation set): a training image
        would otherwise find its own labels among its neighbours.

        Args:
            label_maps: integer array `[M, H, W]` of class ids, with
                `num_exemplars <= M <= bank_size`.

        Raises:
            ValueError when `M` is out of range or the maps are not integer.
        """
        layer = self.get_layer("adaptive_prior")
        bank = adaptive_prior.exemplar_bank_from_labels(
            label_maps, layer.key_point_classes, self.input_size, self.pca_components
        )
        layer.set_exemplar_bank(bank)

    def parsing_loss(self, labels, outputs):
        """Eq. 2: per-pixel cross-entropy of the final score map, mean over pixels and images.

        Args:
            labels: int32 `[B, input_size, input_size]`.
            outputs: the model's output dict.

        Returns:
            scalar loss.
        """
        return self._cross_entropy(labels, outputs["logits"])
