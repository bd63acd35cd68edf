"""RNN-G's first stage (Liu et al., BMVC 2017, §3, Fig. 1): a shallow CNN and a spatially variant RNN."""

import keras
from keras import layers

from keras_stn_icnn.checks import check_choice, check_initializer, check_int, check_widths
from keras_stn_icnn.labels import HELEN_CLASS_NAMES
from keras_stn_icnn.layers.resampling import AlignedBilinearResize
from keras_stn_icnn.layers.spatial_rnn import SpatialRNN
from keras_stn_icnn.losses.rnn_g import BoundaryGateLoss
from keras_stn_icnn.models.single_pass import (
    DEFAULT_CANVAS_SIZE,
    SinglePassParsingMixin,
    checked_class_names,
    single_pass_inputs,
    single_pass_outputs,
)

LOSS_TERMS = ("coarse", "gate", "final")
"""The three losses of §3.3: coarse labels, gate (label boundaries), final labels."""

RNN_CHANNELS = 8
"""Channels of each half of Deconv6's 16-channel map: the labels `X` and the gate `G` (§3.3)."""

RNN_STRIDES = (2, 4)
"""Strides of the map the spatial RNN runs on: the paper's `s/2` (Deconv6 upsamples Conv5's `s/4`), or `s/4`."""


def relu_layer(layer_class, width, kernel_size, kernel_initializer, name, **options):
    """A "same"-padded convolution (or transposed one) followed by ReLU, with a fresh `kernel_initializer`.

    Args:
        layer_class: `keras.layers.Conv2D` or `keras.layers.Conv2DTranspose`.
        width: int, output channels.
        kernel_size: int.
        kernel_initializer: a checked initializer (`checks.check_initializer`):
            a name or a serialised config, made into its own instance here.
        name: str, the layer's name.
        **options: further arguments of `layer_class` (e.g. `strides`).

    Returns:
        The layer.

    Example:
    >>> relu_layer(layers.Conv2D, 8, 3, "he_normal", "conv").kernel_initializer.__class__.__name__
    'HeNormal'
    """
    initializer = keras.initializers.get(kernel_initializer)
    return layer_class(
        width, kernel_size, padding="same", activation="relu", kernel_initializer=initializer, name=name, **options
    )


def _checked_loss_weights(loss_weights):
    if loss_weights is None:
        return {term: 1.0 for term in LOSS_TERMS}
    if not isinstance(loss_weights, dict) or set(loss_weights) != set(LOSS_TERMS):
        raise ValueError(f"loss_weights must be a dict with keys {LOSS_TERMS}, got {loss_weights!r}")
    weights = {term: float(loss_weights[term]) for term in LOSS_TERMS}
    if any(weight < 0 for weight in weights.values()):
        raise ValueError(f"loss_weights must not be negative, got {loss_weights!r}")
    return weights


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class RNNG(SinglePassParsingMixin, keras.Model):
    """RNN-G: a shallow CNN whose coarse labels a gated spatial RNN propagates (first stage).

    The network of Fig. 1 and §3.3, at `input_size x input_size`
    (`s`, 128 in the paper, §4):

    1. Conv1 5x5x16, Pool2 (2x2 max), Conv3 3x3x32, Pool4, Conv5 3x3x32
       (ReLU) down to `s/4`, and Deconv6 (4x4, stride 2, 16 channels,
       linear) back to `s/2`. At most 32 channels per layer.
    2. Deconv6's 16 channels split in two halves of 8: the label
       representation `X` and the gate representation `G`.
    3. `X` -> 1x1 conv to `C` channels -> `"coarse_logits"`, and `G` -> 1x1
       conv to one channel -> `"gate_logits"` (both resized bilinearly to
       `s`), supervised by the labels and the label boundaries (§3.3).
    4. `SpatialRNN` (four directions of Eq. 3 in parallel, node-wise max;
       `g = tanh(G)`, recurrent matrices of spectral norm <= 1) on `X`, `G`,
       then Deconv7 (4x4, stride 2, `C` channels) up to `s`: `"logits"`.

    For whole photos, where the face is small and anywhere, the network can
    be widened and see further than the paper's (the zoo's `rnn_g_context`,
    which also weights the gate loss 0 and He-initialises its ReLU
    convolutions, `kernel_initializer`):
    `filters` sets the widths of Conv1, Conv3 and Conv5; `context_filters`
    adds a pyramid after Conv5 (each level a 2x2 max pool and a 3x3
    convolution with ReLU, at `s/8`, `s/16`, ...), whose levels, upsampled
    bilinearly to `s/4`, are concatenated with Conv5 and fused by a 1x1
    convolution with ReLU to `filters[2]` channels; `rnn_channels` sets the
    width of `X` and `G`; `rnn_stride=4` runs the RNN on the `s/4` grid
    (Deconv6 then a stride-1 4x4 transposed convolution, Deconv7 8x8 with
    stride 4), a quarter of the paper's pixels and half its recurrence steps.

    The loss (`parsing_loss`) is the weighted sum of the three terms of
    `loss_terms`: cross-entropy of the coarse logits, `BoundaryGateLoss` of
    the gate logits (boundary pixels balanced 1:5 with the others, §5.1) and
    cross-entropy of the final logits. The paper gives no weights; they
    default to 1 each.

    Deviations from the paper: Fig. 1's kernel sizes other than Conv1's
    and the deconvolutions' kernels are not in the text; 3x3 convolutions
    and 4x4 deconvolutions are this implementation's choice. The coarse
    and gate maps (computed at `s/2`) are compared with the labels after a
    bilinear resize to `s` rather than at `s/2`. The gate loss uses the
    expectation of the paper's 1:5 boundary sampling as weights rather than
    random samples. The recurrent matrices are full `C x C` matrices (the
    paper's square `w_h`, §3.1), one per direction.

    Args:
        class_names: tuple of str, the label ids it predicts. Defaults to
            HELEN's 11 classes (the paper's one-stage HELEN setting, Table 3).
        input_size: int, side of the working size, a multiple of 4 (two
            poolings). Defaults to 128 (§4).
        loss_weights: dict with keys `"coarse"`, `"gate"` and `"final"`, the
            weights of the three losses, or None for 1 each. With the coarse
            or gate loss weighted 0 its 1x1 classifier is frozen (its output
            is then untrained), and `G` learns through the final loss alone.
        canvas_size: int, the largest image side `parse` accepts. Defaults
            to 1024.
        filters: three ints, the channels of Conv1, Conv3 and Conv5.
            Defaults to the paper's `(16, 32, 32)`.
        rnn_channels: int, the channels of each of `X` and `G`. Defaults to
            the paper's 8.
        rnn_stride: int in `RNN_STRIDES`, the stride of the RNN's map: 2 (the
            paper's `s/2`, the default) or 4.
        context_filters: tuple of int, the channels of the context pyramid's
            levels, or `()` for none (the paper, the default). `input_size`
            must be divisible by `4 * 2 ** len(context_filters)`.
        kernel_initializer: str or `keras.initializers.Initializer`, the
            initializer of the convolutions followed by ReLU (Conv1, Conv3,
            Conv5, the context pyramid and its fusion). Defaults to Keras'
            `"glorot_uniform"` (the paper does not say), which halves the
            second moment of each of them (equal fan in and out);
            `"he_normal"` (`rnn_g_context`) keeps it.
        **kwargs: standard `keras.Model` arguments.

    Call arguments:
        images: float or uint8 tensor `[B, H, W, 3]` with values in [0, 255].

    Returns:
        A dict: `"logits"`, `"coarse_logits"` `[B, s, s, C]`, `"gate_logits"`
        `[B, s, s, 1]`, `"probabilities"` `[B, H, W, C]` and `"labels"` uint8
        `[B, H, W]`.

    Example:
    >>> model = RNNG(input_size=32)
    >>> model(keras.ops.zeros([1, 300, 200, 3]))["labels"].shape
    TensorShape([1, 300, 200])
    >>> model.compile(optimizer="adam")
    >>> model.fit(np.zeros((2, 32, 32, 3)), np.zeros((2, 32, 32), np.uint8), verbose=0).history["loss"][0] > 0
    True
    >>> wide = RNNG(input_size=64, filters=(32, 64, 64), rnn_channels=16, rnn_stride=4, context_filters=(64, 128))
    >>> wide.get_layer("spatial_rnn").output.shape
    (None, 16, 16, 16)
    """

    config_keys = (
        "class_names",
        "input_size",
        "loss_weights",
        "canvas_size",
        "filters",
        "rnn_channels",
        "rnn_stride",
        "context_filters",
        "kernel_initializer",
    )
    default_learning_rate = 2e-3  # on 2,000 faces 1e-2 stalls on the all-background answer (docs/zoo_learning.md)
    prior_bias_layer_names = ("coarse_classifier", "deconv7")

    def __init__(
        self,
        class_names=HELEN_CLASS_NAMES,
        input_size=128,
        loss_weights=None,
        canvas_size=DEFAULT_CANVAS_SIZE,
        filters=(16, 32, 32),
        rnn_channels=RNN_CHANNELS,
        rnn_stride=2,
        context_filters=(),
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        class_names = checked_class_names(class_names)
        filters = check_widths(filters, "filters", length=3)
        rnn_channels = check_int(rnn_channels, "rnn_channels")
        check_choice(rnn_stride, RNN_STRIDES, "rnn_stride")
        context_filters = check_widths(context_filters, "context_filters", allow_empty=True)
        input_size = check_int(input_size, "input_size", minimum=8, multiple=4 * 2 ** len(context_filters))
        loss_weights = _checked_loss_weights(loss_weights)
        canvas_size = check_int(canvas_size, "canvas_size")
        num_classes = len(class_names)

        kernel_initializer = check_initializer(kernel_initializer, "kernel_initializer")

        # === Layers ===
        def relu_conv(width, kernel_size, name):
            return relu_layer(layers.Conv2D, width, kernel_size, kernel_initializer, name)

        conv1 = relu_conv(filters[0], 5, "conv1")
        pool2 = layers.MaxPooling2D(2, name="pool2")
        conv3 = relu_conv(filters[1], 3, "conv3")
        pool4 = layers.MaxPooling2D(2, name="pool4")
        conv5 = relu_conv(filters[2], 3, "conv5")
        context_layers = [
            (
                layers.MaxPooling2D(2, name=f"context_pool{level}"),
                relu_conv(width, 3, f"context_conv{level}"),
                layers.UpSampling2D(2 ** (level + 1), interpolation="bilinear", name=f"context_upsample{level}"),
            )
            for level, width in enumerate(context_filters)
        ]
        deconv6 = layers.Conv2DTranspose(2 * rnn_channels, 4, strides=4 // rnn_stride, padding="same", name="deconv6")
        # A head whose loss is weighted 0 learns nothing: frozen, so that every trainable weight is trained.
        coarse_classifier = layers.Conv2D(
            num_classes, 1, name="coarse_classifier", trainable=loss_weights["coarse"] > 0
        )
        gate_classifier = layers.Conv2D(1, 1, name="gate_classifier", trainable=loss_weights["gate"] > 0)
        spatial_rnn = SpatialRNN(name="spatial_rnn")
        deconv7 = layers.Conv2DTranspose(
            num_classes, 2 * rnn_stride, strides=rnn_stride, padding="same", name="deconv7"
        )

        # === Functional model ===
        images, working = single_pass_inputs(input_size)
        encoded = conv5(pool4(conv3(pool2(conv1(working)))))
        if context_layers:
            pyramid, context = [encoded], encoded
            for pool, conv, upsample in context_layers:
                context = conv(pool(context))
                pyramid.append(upsample(context))
            encoded = relu_conv(filters[2], 1, "context_fusion")(layers.Concatenate(name="context_concat")(pyramid))
        features = deconv6(encoded)
        label_features = features[..., :rnn_channels]
        gate_features = features[..., rnn_channels:]
        coarse_logits = AlignedBilinearResize((input_size, input_size), name="coarse_resize")(
            coarse_classifier(label_features)
        )
        gate_logits = AlignedBilinearResize((input_size, input_size), name="gate_resize")(
            gate_classifier(gate_features)
        )
        logits = deconv7(spatial_rnn(label_features, gate_features))
        outputs = single_pass_outputs(logits, images, coarse_logits=coarse_logits, gate_logits=gate_logits)
        super().__init__(inputs=images, outputs=outputs, **kwargs)

        # === Config ===
        self.class_names = class_names
        self.input_size = input_size
        self.loss_weights = loss_weights
        self.canvas_size = canvas_size
        self.filters = filters
        self.rnn_channels = rnn_channels
        self.rnn_stride = rnn_stride
        self.context_filters = context_filters
        self.kernel_initializer = kernel_initializer
        self._cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self._gate_loss = BoundaryGateLoss()

    def loss_terms(self, labels, outputs):
        """The three unweighted losses of §3.3.

        Args:
            labels: int32 `[B, input_size, input_size]`.
            outputs: the model's output dict.

        Returns:
            dict `"coarse"`, `"gate"`, `"final"` -> scalar loss.
        """
        return {term: self._loss_term(term, labels, outputs) for term in LOSS_TERMS}

    def parsing_loss(self, labels, outputs):
        """The `loss_weights`-weighted sum of `loss_terms`; a term weighted zero is not computed.

        Args:
            labels: int32 `[B, input_size, input_size]`.
            outputs: the model's output dict.

        Returns:
            scalar loss.
        """
        return sum(
            self.loss_weights[term] * self._loss_term(term, labels, outputs)
            for term in LOSS_TERMS
            if self.loss_weights[term]
        )

    def _loss_term(self, term, labels, outputs):
        if term == "gate":
            return self._gate_loss(labels, outputs["gate_logits"])
        return self._cross_entropy(labels, outputs["coarse_logits" if term == "coarse" else "logits"])
