"""The one-stage iCNN face parser (Zhou et al.): one `ICNN` over the whole face."""

import keras

from keras_stn_icnn.checks import check_int, check_widths
from keras_stn_icnn.labels import HELEN_CLASS_NAMES
from keras_stn_icnn.models.icnn.icnn import ICNN
from keras_stn_icnn.models.single_pass import (
    DEFAULT_CANVAS_SIZE,
    SinglePassParsingMixin,
    checked_class_names,
    single_pass_inputs,
    single_pass_outputs,
)


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class ICNNParser(SinglePassParsingMixin, keras.Model):
    """One-stage iCNN parser: every class labelled by one `ICNN` at one working size.

    The image (values 0-255, any size up to `canvas_size`) is scaled to
    [0, 1] and resized to `input_size x input_size`; an `ICNN` (sub-model
    `"icnn"`, the same network as STN-iCNN's stage 1) gives the logits, which
    are resized back to the image's size. This is the first stage of Zhou et
    al.'s iCNN used on its own, the simplest entry of the zoo; it trains with
    per-pixel cross-entropy.

    Args:
        class_names: tuple of str, the label ids it predicts. Defaults to
            HELEN's 11 classes.
        input_size: int, side of the working size, a multiple of 8 (the
            pyramid halves three times). Defaults to 128.
        filters: tuple of int, the `ICNN`'s channels per scale. Defaults to
            `(8, 16, 24, 32)`.
        canvas_size: int, the largest image side `parse` accepts. Defaults
            to 1024.
        **kwargs: standard `keras.Model` arguments.

    Call arguments:
        images: float or uint8 tensor `[B, H, W, 3]` with values in [0, 255].

    Returns:
        A dict: `"logits"` `[B, input_size, input_size, C]`,
        `"probabilities"` `[B, H, W, C]` and `"labels"` uint8 `[B, H, W]`.

    Example:
    >>> model = ICNNParser(input_size=64)
    >>> model(keras.ops.zeros([1, 300, 200, 3]))["labels"].shape
    TensorShape([1, 300, 200])
    >>> model.compile(optimizer="adam")
    >>> model.fit(np.zeros((2, 64, 64, 3)), np.zeros((2, 64, 64), np.uint8), verbose=0).history["loss"][0] > 0
    True
    """

    default_learning_rate = 2e-3  # STN-iCNN's stage-1 rate
    config_keys = ("class_names", "input_size", "filters", "canvas_size")

    def __init__(
        self,
        class_names=HELEN_CLASS_NAMES,
        input_size=128,
        filters=(8, 16, 24, 32),
        canvas_size=DEFAULT_CANVAS_SIZE,
        **kwargs,
    ):
        class_names = checked_class_names(class_names)
        input_size = check_int(input_size, "input_size", minimum=8, multiple=8)
        canvas_size = check_int(canvas_size, "canvas_size")
        filters = check_widths(filters, "filters")

        # === Layers ===
        icnn = ICNN(len(class_names), filters=filters, name="icnn")

        # === Functional model ===
        images, working = single_pass_inputs(input_size)
        outputs = single_pass_outputs(icnn(working), images)
        super().__init__(inputs=images, outputs=outputs, **kwargs)

        # === Config ===
        self.class_names = class_names
        self.input_size = input_size
        self.filters = filters
        self.canvas_size = canvas_size
        self._cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def prior_bias_layers(self):
        """The `ICNN`'s logits convolution (see `SinglePassParsingMixin.set_class_priors`)."""
        return [self.get_layer("icnn").logits_layer]

    def parsing_loss(self, labels, outputs):
        """Per-pixel cross-entropy of the logits, averaged over pixels and images.

        Args:
            labels: int32 `[B, input_size, input_size]`.
            outputs: the model's output dict.

        Returns:
            scalar loss.
        """
        return self._cross_entropy(labels, outputs["logits"])
