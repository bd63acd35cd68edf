"""BASS: boundary-attention semantic segmentation (Liu et al., AAAI 2020, the LaPa paper)."""

import keras
from keras import layers

from keras_stn_icnn.checks import check_int
from keras_stn_icnn.labels import LAPA_CLASS_NAMES
from keras_stn_icnn.layers.batch_normalization import BatchNormalization
from keras_stn_icnn.layers.resampling import AlignedBilinearResize
from keras_stn_icnn.losses.boundary_attention import (
    PAPER_ALPHA,
    BoundaryAttentionLoss,
    checked_loss_weights,
)
from keras_stn_icnn.models.bass.pyramid_pooling import PAPER_BINS, PyramidPooling
from keras_stn_icnn.models.bass.resnet_backbone import (
    RESNET101_DEPTHS,
    ImageNetCaffePreprocessing,
    ResNetBackbone,
    load_backbone_weights,
)
from keras_stn_icnn.models.single_pass import (
    DEFAULT_CANVAS_SIZE,
    SinglePassParsingMixin,
    checked_class_names,
    single_pass_inputs,
    single_pass_outputs,
)

PAPER_INPUT_SIZE = 473
"""BASS's input side ("The input size of the network is 473x473")."""

BOUNDARY_STAGES = ("conv2", "conv3", "conv4")
"""The backbone stages the boundary-aware branch reads (the paper's conv2.3, conv3.4, conv4.23)."""


def _conv_norm_relu(filters, kernel_size, name):
    return keras.Sequential(
        [
            layers.Conv2D(filters, kernel_size, padding="same", use_bias=False, name="conv"),
            BatchNormalization(name="bn"),
            layers.ReLU(name="relu"),
        ],
        name=name,
    )


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class BASS(SinglePassParsingMixin, keras.Model):
    """Boundary-attention semantic segmentation: three branches around a dilated ResNet-101.

    The image (values 0-255, any size up to `canvas_size`) is scaled to
    [0, 1], resized to `input_size x input_size`, turned into the "caffe"
    inputs Keras' ImageNet ResNets expect (BGR, 0-255 minus the ImageNet
    mean; `ImageNetCaffePreprocessing`) and fed to a `ResNetBackbone`
    (sub-model `"backbone"`, ResNet-101 by default, last stage dilated:
    output stride 16). Then, following the paper's Sec.
    "Boundary-Attention Semantic Segmentation" and "Experimental Settings":

    - semantic branch: pyramid pooling with bins 1, 2, 3, 6 on `conv5`
      (`PyramidPooling`, layer `"pyramid_pooling"`), a 3x3 convolution
      (`"semantic_fusion"`, the semantic features) and a 1x1 classifier
      (`"semantic_classifier"`), at 1/16 of the input;
    - boundary-aware branch: `conv2`, `conv3` and `conv4` (the paper's
      conv2.3, conv3.4, conv4.23) each projected by a 1x1 convolution
      (`"boundary_projection_conv2"`, ...), resized to `conv2`'s size (1/4),
      concatenated, fused by a 3x3 convolution (`"boundary_fusion"`, the
      boundary features) and classified into one boundary logit
      (`"boundary_classifier"`);
    - boundary-attention semantic branch: the semantic features resized to
      1/4 and concatenated with the boundary features (the paper's best
      combination), a 3x3 convolution (`"attention_fusion"`) and a 1x1
      classifier (`"attention_classifier"`), whose logits are the model's
      prediction ("During test phase, p^bs is taken as the prediction").

    Every branch's logits are resized (bilinear, corners aligned) to the
    working size, where `BoundaryAttentionLoss` compares them with the
    labels: `L = l1 L_s + l2 L_b + l3 L_bs` (Eq. 1-4) with boundary weight
    `w = 1 + alpha` in `L_bs` and the boundary ground truth derived from the
    labels (`ops.label_boundaries`). Every convolution of the branches is
    followed by batch norm and ReLU.

    Deviations from the paper, which gives no layer widths for the branches
    and no figure here: the branch widths follow PSPNet and CE2P (Ruan et
    al. 2019, which BASS follows): pyramid levels of `8 * base_filters` (512)
    channels, semantic and attention fusions of `8 * base_filters`,
    boundary projections and fusion of `4 * base_filters` (256); PSPNet's
    dropout is left out. The boundary-aware branch predicts one sigmoid
    logit per pixel, the same as the paper's two-class softmax.
    Without `backbone_weights` the backbone starts from random weights: the
    paper's ImageNet initialisation cannot be downloaded here; pass the file
    keras.applications ships (`resnet101_weights_tf_dim_ordering_tf_kernels_notop.h5`)
    or a `.weights.h5` saved from `keras.applications.ResNet101` instead.
    The paper's training recipe (SGD, momentum 0.9, weight decay 5e-4,
    batch 64, poly learning rate from 1e-3, synchronized batch norm) is the
    optimizer's and the strategy's business, not the model's.

    The default `input_size` is the paper's 473: the backbone's features
    are then 119, 60 and 30 pixels wide (ceil(473 / 16) = 30, which the
    pyramid's 1, 2, 3 and 6 bins divide exactly). Any side >= 32 works;
    sides `16 n + 1` align the 1/16 grid with the corners exactly.

    Args:
        class_names: tuple of str, the label ids it predicts. Defaults to
            LaPa's 11 classes.
        input_size: int >= 32, side of the working size. Defaults to 473.
        depths: tuple of four ints, bottleneck blocks per ResNet stage.
            Defaults to `(3, 4, 23, 3)` (ResNet-101).
        base_filters: int, the ResNet's stem width; every other width
            scales with it. Defaults to 64 (ResNet-101).
        backbone_weights: str, path-like or None, an ImageNet ResNet weights
            file to start the backbone from (see `load_backbone_weights`);
            None trains from scratch. An initialisation, not part of the
            architecture: it is not in the config (a saved model carries
            its weights). Defaults to None.
        loss_weights: `(l1, l2, l3)` of Eq. 1. Defaults to `(1.0, 1.0, 1.0)`
            (the paper's).
        alpha: float >= 0, the extra loss weight of boundary pixels in
            `L_bs`. Defaults to 10 (the paper's best reported value).
        boundary_radius: int >= 1, half-width of the label boundaries the
            losses use. Defaults to 1.
        balanced_boundary_loss: bool, balance boundary and non-boundary
            pixels in `L_b` as the paper's settings say. Defaults to True.
        pyramid_bins: tuple of int, the pyramid pooling grids. Defaults to
            `(1, 2, 3, 6)`.
        canvas_size: int, the largest image side `parse` accepts. Defaults
            to 1024.
        **kwargs: standard `keras.Model` arguments.

    Call arguments:
        images: float or uint8 tensor `[B, H, W, 3]` with values in [0, 255].

    Returns:
        A dict: `"logits"` `[B, s, s, C]` (the boundary-attention branch,
        `s = input_size`), `"semantic_logits"` `[B, s, s, C]`,
        `"boundary_logits"` `[B, s, s, 1]`, `"probabilities"` `[B, H, W, C]`
        and `"labels"` uint8 `[B, H, W]` (from `"logits"`).

    Example:
    >>> model = BASS(input_size=64, depths=(1, 1, 1, 1), base_filters=4)
    >>> outputs = model(keras.ops.zeros([1, 300, 200, 3]))
    >>> outputs["labels"].shape, outputs["boundary_logits"].shape
    (TensorShape([1, 300, 200]), TensorShape([1, 64, 64, 1]))
    >>> model.compile(optimizer="adam")
    >>> history = model.fit(np.zeros((2, 64, 64, 3)), np.zeros((2, 64, 64), np.uint8), verbose=0)
    >>> history.history["loss"][0] > 0
    True
    """

    prior_bias_layer_names = ("semantic_classifier", "attention_classifier")
    config_keys = (
        "class_names",
        "input_size",
        "depths",
        "base_filters",
        "loss_weights",
        "alpha",
        "boundary_radius",
        "balanced_boundary_loss",
        "pyramid_bins",
        "canvas_size",
    )

    def __init__(
        self,
        class_names=LAPA_CLASS_NAMES,
        input_size=PAPER_INPUT_SIZE,
        depths=RESNET101_DEPTHS,
        base_filters=64,
        backbone_weights=None,
        loss_weights=(1.0, 1.0, 1.0),
        alpha=PAPER_ALPHA,
        boundary_radius=1,
        balanced_boundary_loss=True,
        pyramid_bins=PAPER_BINS,
        canvas_size=DEFAULT_CANVAS_SIZE,
        **kwargs,
    ):
        class_names = checked_class_names(class_names)
        input_size = check_int(input_size, "input_size", minimum=32)
        canvas_size = check_int(canvas_size, "canvas_size")
        loss_weights = checked_loss_weights(loss_weights)
        loss = BoundaryAttentionLoss(
            loss_weights=loss_weights,
            alpha=alpha,
            radius=boundary_radius,
            balanced=balanced_boundary_loss,
        )
        num_classes = len(class_names)

        # === Layers ===
        preprocessing = ImageNetCaffePreprocessing(name="imagenet_preprocessing")
        backbone = ResNetBackbone(depths=depths, base_filters=base_filters, name="backbone")
        head_filters = 8 * backbone.base_filters
        boundary_filters = 4 * backbone.base_filters
        pyramid_pooling = PyramidPooling(head_filters, bins=pyramid_bins, name="pyramid_pooling")
        semantic_fusion = _conv_norm_relu(head_filters, 3, "semantic_fusion")
        semantic_classifier = layers.Conv2D(num_classes, 1, name="semantic_classifier")
        boundary_projections = {
            stage: _conv_norm_relu(boundary_filters, 1, f"boundary_projection_{stage}") for stage in BOUNDARY_STAGES
        }
        boundary_fusion = _conv_norm_relu(boundary_filters, 3, "boundary_fusion")
        boundary_classifier = layers.Conv2D(1, 1, name="boundary_classifier")
        attention_fusion = _conv_norm_relu(head_filters, 3, "attention_fusion")
        attention_classifier = layers.Conv2D(num_classes, 1, name="attention_classifier")

        # === Functional model ===
        images, working = single_pass_inputs(input_size)
        features = backbone(preprocessing(working))
        fine_size = tuple(features["conv2"].shape[1:3])

        semantic_features = semantic_fusion(pyramid_pooling(features["conv5"]))
        semantic_logits = semantic_classifier(semantic_features)

        boundary_levels = [boundary_projections[stage](features[stage]) for stage in BOUNDARY_STAGES]
        boundary_levels = [boundary_levels[0]] + [
            AlignedBilinearResize(fine_size, name=f"boundary_resize_{stage}")(level)
            for stage, level in zip(BOUNDARY_STAGES[1:], boundary_levels[1:])
        ]
        boundary_features = boundary_fusion(layers.Concatenate(name="boundary_concat")(boundary_levels))
        boundary_logits = boundary_classifier(boundary_features)

        attention_inputs = layers.Concatenate(name="attention_concat")(
            [
                AlignedBilinearResize(fine_size, name="semantic_features_resize")(semantic_features),
                boundary_features,
            ]
        )
        logits = attention_classifier(attention_fusion(attention_inputs))

        def to_working_size(branch_logits, name):
            return AlignedBilinearResize((input_size, input_size), name=name)(branch_logits)

        outputs = single_pass_outputs(
            to_working_size(logits, "logits"),
            images,
            semantic_logits=to_working_size(semantic_logits, "semantic_logits"),
            boundary_logits=to_working_size(boundary_logits, "boundary_logits"),
        )
        super().__init__(inputs=images, outputs=outputs, **kwargs)
        if backbone_weights is not None:
            load_backbone_weights(backbone, backbone_weights)

        # === Config ===
        self.class_names = class_names
        self.input_size = input_size
        self.depths = backbone.depths
        self.base_filters = backbone.base_filters
        self.backbone_weights = backbone_weights
        self.loss_weights = loss_weights
        self.alpha = loss.alpha
        self.boundary_radius = loss.radius
        self.balanced_boundary_loss = loss.balanced
        self.pyramid_bins = pyramid_pooling.bins
        self.canvas_size = canvas_size
        self._loss = loss

    def parsing_loss(self, labels, outputs):
        """`L = l1 L_s + l2 L_b + l3 L_bs` (Eq. 1) of the three branches' working-size logits.

        Args:
            labels: int32 `[B, input_size, input_size]`.
            outputs: the model's output dict.

        Returns:
            scalar loss.
        """
        branches = ("semantic_logits", "boundary_logits", "logits")
        return self._loss(labels, {key: outputs[key] for key in branches})
