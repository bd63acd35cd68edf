"""RNN-G's second stage (Liu et al., BMVC 2017, §4, Fig. 2): component networks on crops of the face.

For HELEN's 11 classes, the first stage (`RNNG`) labels the whole face and
three small networks relabel the facial components on crops of the
full-resolution image:

| crop                    | network         |
|-------------------------|-----------------|
| `left_eye`, `right_eye` | `eye_network`   |
| `nose`                  | `nose_network`  |
| `mouth`                 | `mouth_network` |

Each network predicts `1 + n` channels: "other" and its `n` classes. Each
has five convolutions, two max-poolings and two deconvolutions (§4).

`ops.facial_components` defines the crops (`COMPONENTS`), where they are
placed (its crop rule) and how the networks' probabilities are merged into
the first stage's (its merge rule).
"""

import keras
import tensorflow as tf
from keras import layers

from keras_stn_icnn.checks import check_choice, check_initializer, check_int, check_widths
from keras_stn_icnn.choices import CROP_PLACEMENTS
from keras_stn_icnn.labels import HELEN_CLASS_NAMES
from keras_stn_icnn.layers.facial_components import ComponentCrops, ComponentMerge, ComponentThetas
from keras_stn_icnn.layers.label_map import LabelMap
from keras_stn_icnn.models.rnn_g.face_box import RNNGFaceBox
from keras_stn_icnn.models.rnn_g.rnn_g import RNNG, relu_layer
from keras_stn_icnn.models.single_pass import DEFAULT_CANVAS_SIZE, SinglePassParsingMixin, TrainingLossStep
from keras_stn_icnn.ops.facial_components import (
    COMPONENTS,
    component_class_ids,
    component_thetas,
    crop_components,
)

COMPONENT_NETWORKS = {
    "left_eye": "eye_network",
    "right_eye": "eye_network",
    "nose": "nose_network",
    "mouth": "mouth_network",
}
"""The network that labels each crop of `COMPONENTS`; the eyes share one (the right eye's crop is mirrored)."""


def component_network(num_classes, input_size, filters=(16, 32), kernel_initializer="glorot_uniform", name=None):
    """One second-stage network (Fig. 2(b)): five convolutions, two poolings, two deconvolutions.

    Args:
        num_classes: int, output channels ("other" and the component's
            classes).
        input_size: `(height, width)` of the crops, multiples of 4.
        filters: `(f1, f2)`, channels before and after the first pooling.
        kernel_initializer: str, dict or `keras.initializers.Initializer`,
            the initializer of the layers followed by ReLU (all but the
            last deconvolution, which keeps Keras' default). Defaults to
            Keras' `"glorot_uniform"`.
        name: str, the model's name.

    Returns:
        a `keras.Model` from crops `[B, h, w, 3]` (values in [0, 1]) to
        logits `[B, h, w, num_classes]`.

    Example:
    >>> component_network(3, (64, 64))(tf.zeros([1, 64, 64, 3])).shape
    TensorShape([1, 64, 64, 3])
    """
    small, large = filters
    kernel_initializer = check_initializer(kernel_initializer, "kernel_initializer")

    def relu(layer_class, width, kernel_size, name, **options):
        return relu_layer(layer_class, width, kernel_size, kernel_initializer, name, **options)

    crops = keras.Input((*input_size, 3), name="crops")
    x = relu(layers.Conv2D, small, 5, "conv1")(crops)
    x = relu(layers.Conv2D, small, 3, "conv2")(x)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = relu(layers.Conv2D, large, 3, "conv3")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = relu(layers.Conv2D, large, 3, "conv4")(x)
    x = relu(layers.Conv2DTranspose, small, 4, "deconv1", strides=2)(x)
    x = relu(layers.Conv2D, small, 3, "conv5")(x)
    logits = layers.Conv2DTranspose(num_classes, 4, strides=2, padding="same", name="deconv2")(x)
    return keras.Model(crops, logits, name=name)


FIRST_STAGES = {"rnn_g": RNNG, "rnn_g_face_box": RNNGFaceBox}
"""The first stages `RNNGTwoStage` can run: the paper's RNN-G on the whole photo, or on a found face box."""

OWN_FIRST_STAGE_ARGUMENTS = ("class_names", "input_size", "loss_weights", "canvas_size", "name")
"""The first stage's arguments `RNNGTwoStage` sets itself (its `first_stage_arguments` cannot)."""


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class RNNGTwoStage(TrainingLossStep, SinglePassParsingMixin, keras.Model):
    """RNN-G's two-stage HELEN parser: `RNNG` on the whole face, component networks on crops (§4).

    The first stage (sub-model `"first_stage"`, an 11-class `RNNG`, or
    `RNNGFaceBox` with `first_stage="rnn_g_face_box"`) labels the face at
    `input_size`; `ComponentThetas` places the four crops of
    `COMPONENTS` from its argmax or its probabilities (`crop_placement`;
    the crop rule of `ops.facial_components`);
    `"eye_network"` (both eyes, the right one mirrored), `"nose_network"`
    and `"mouth_network"` label the crops of the full-resolution image; and
    `ComponentMerge` writes their probabilities into the first stage's (the
    merge rule of `ops.facial_components`).

    Training (`model.fit(images, labels)`) sums the first stage's loss
    (its `compute_loss`) and, for each crop, the cross-entropy of
    its network on the crop placed by the *ground-truth* labels (the paper
    trains on ground-truth crops). The two stages share no weights, so the
    sum trains each as if alone. A `fit` step runs only what that loss reads
    (`training_loss`).

    Deviations from the paper: crops are placed from label maps rather
    than 5 detected key points (no detector in this model): around each
    component's centroid, sized by the distance between the eyes'
    centroids, plus 20% and in the crop's aspect ratio (§5.1); the eye/eyebrow crops
    also carry the eyebrow (one network for eye and eyebrow, §4); the layer
    widths of Fig. 2(b) are not in the text (`component_filters`).

    Args:
        input_size: int, the first stage's working size, a multiple of 4.
            Defaults to 128.
        first_stage: str, a key of `FIRST_STAGES`: `"rnn_g"` (the default,
            the paper's) or `"rnn_g_face_box"` (RNN-G on a face box, for
            whole photos).
        first_stage_arguments: dict or None, further constructor arguments
            of the first stage's class, e.g. `RNNG`'s `filters` and
            `context_filters` (the zoo's `rnn_g_two_stage_context`); None,
            the class's defaults. `class_names`, `input_size`,
            `loss_weights`, `canvas_size` and `name` are this model's own.
        margin: float >= 0, extra crop extent relative to the component's.
            Defaults to 0.2 (§5.1).
        crop_placement: str, one of `choices.CROP_PLACEMENTS`: place the
            crops from the first stage's `"argmax"` (the default) or its
            `"probabilities"` (`ComponentThetas`; the whole-photo entry
            `rnn_g_two_stage_context`, where an argmax that loses an eye
            misplaces its crops).
        component_filters: `(f1, f2)`, channels of the component networks.
            Defaults to `(16, 32)`.
        component_kernel_initializer: str, dict or
            `keras.initializers.Initializer`, the initializer of the
            component networks' ReLU layers (`component_network`'s
            `kernel_initializer`). Defaults to Keras' `"glorot_uniform"`;
            `rnn_g_two_stage_context` uses `"he_normal"`.
        loss_weights: the first stage's loss weights (see `RNNG`), or None.
        canvas_size: int, the largest image side `parse` accepts. Defaults
            to 1024.
        class_names: HELEN's class names, the only ones it labels (any
            others are refused, not ignored).
        **kwargs: standard `keras.Model` arguments.

    Call arguments:
        images: float or uint8 tensor `[B, H, W, 3]` with values in [0, 255].

    Returns:
        A dict: the first stage's outputs but its probabilities and labels
        (`RNNG`'s `"logits"`, `"coarse_logits"`, `"gate_logits"`, or
        `RNNGFaceBox`'s); `"component_thetas"` `[B, 4, 2, 3]`;
        `"component_logits"` (dict crop name -> `[B, h_k, w_k, 1 + n_k]`);
        and the merged `"probabilities"` `[B, H, W, 11]` and `"labels"`
        uint8 `[B, H, W]`.

    Example:
    >>> model = RNNGTwoStage(input_size=32)
    >>> model(keras.ops.zeros([1, 120, 100, 3]))["labels"].shape
    TensorShape([1, 120, 100])
    """

    default_learning_rate = RNNG.default_learning_rate  # the first stage's
    config_keys = (
        "input_size",
        "first_stage",
        "first_stage_arguments",
        "margin",
        "crop_placement",
        "component_filters",
        "component_kernel_initializer",
        "loss_weights",
        "canvas_size",
    )

    def __init__(
        self,
        input_size=128,
        first_stage="rnn_g",
        first_stage_arguments=None,
        margin=0.2,
        crop_placement="argmax",
        component_filters=(16, 32),
        component_kernel_initializer="glorot_uniform",
        loss_weights=None,
        canvas_size=DEFAULT_CANVAS_SIZE,
        class_names=HELEN_CLASS_NAMES,
        **kwargs,
    ):
        if tuple(class_names) != HELEN_CLASS_NAMES:
            raise ValueError(
                "RNNGTwoStage labels HELEN's 11 classes (its component networks and crops are HELEN's), "
                f"so it cannot label class_names={tuple(class_names)!r}"
            )
        check_choice(first_stage, FIRST_STAGES, "first_stage")
        if not isinstance(first_stage_arguments, (dict, type(None))):
            raise ValueError(f"first_stage_arguments must be a dict or None, got {first_stage_arguments!r}")
        first_stage_arguments = dict(first_stage_arguments or {})
        own = sorted(set(first_stage_arguments) & set(OWN_FIRST_STAGE_ARGUMENTS))
        if own:
            raise ValueError(
                f"first_stage_arguments must not set {own}: RNNGTwoStage passes its own {OWN_FIRST_STAGE_ARGUMENTS} "
                "to the first stage"
            )
        canvas_size = check_int(canvas_size, "canvas_size")
        component_filters = check_widths(component_filters, "component_filters", length=2)
        component_kernel_initializer = check_initializer(component_kernel_initializer, "component_kernel_initializer")
        check_choice(crop_placement, CROP_PLACEMENTS, "crop_placement")

        # === Layers ===
        first_stage_model = FIRST_STAGES[first_stage](
            class_names=HELEN_CLASS_NAMES,
            input_size=input_size,
            loss_weights=loss_weights,
            canvas_size=canvas_size,
            name="first_stage",
            **first_stage_arguments,
        )
        networks = {}
        for component in COMPONENTS:
            network_name = COMPONENT_NETWORKS[component.name]
            if network_name not in networks:
                networks[network_name] = component_network(
                    1 + len(component.classes),
                    component.input_size,
                    component_filters,
                    component_kernel_initializer,
                    network_name,
                )
        thetas_layer = ComponentThetas(margin, crop_placement, name="component_thetas")
        crops_layer = ComponentCrops(name="component_crops")
        merge_layer = ComponentMerge(name="component_merge")

        # === Functional model ===
        images = keras.Input(shape=(None, None, 3), name="images")
        first = first_stage_model(images)
        thetas = thetas_layer(first["logits"], images)
        crops = crops_layer(layers.Rescaling(1.0 / 255.0, name="scale")(images), thetas)
        component_logits = {
            component.name: networks[COMPONENT_NETWORKS[component.name]](patch)
            for component, patch in zip(COMPONENTS, crops)
        }
        probabilities = merge_layer(
            first["probabilities"],
            thetas,
            [layers.Softmax(name=f"{name}_softmax")(logits) for name, logits in component_logits.items()],
        )
        outputs = {
            **{key: value for key, value in first.items() if key not in ("probabilities", "labels")},
            "component_thetas": thetas,
            "component_logits": component_logits,
            "probabilities": probabilities,
            "labels": LabelMap(name="labels")(probabilities),
        }
        super().__init__(inputs=images, outputs=outputs, **kwargs)

        # === Config ===
        self.class_names = HELEN_CLASS_NAMES
        self.input_size = first_stage_model.input_size
        self.first_stage = first_stage
        checked = first_stage_model.get_config()  # the arguments as the first stage checked them (tuples, not lists)
        self.first_stage_arguments = {key: checked.get(key, value) for key, value in first_stage_arguments.items()}
        self.margin = thetas_layer.margin
        self.crop_placement = thetas_layer.placement
        self.component_filters = component_filters
        self.component_kernel_initializer = component_kernel_initializer
        self.loss_weights = first_stage_model.loss_weights
        self.canvas_size = canvas_size
        self._first_stage = first_stage_model
        self._networks = networks
        self._cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def prior_bias_layers(self):
        """The first stage's logits layers (the component networks see crops, whose classes are balanced)."""
        return self.get_layer("first_stage").prior_bias_layers()

    def set_class_priors(self, labels):
        """The first stage's `set_class_priors` (the component networks see crops, whose classes are balanced)."""
        return self._first_stage.set_class_priors(labels)

    def component_loss(self, images, labels):
        """Sum over the crops of the cross-entropy of their network on ground-truth crops.

        Args:
            images: float or uint8 tensor `[B, H, W, 3]` with values in [0, 255].
            labels: integer HELEN label maps `[B, H, W]` of the images' size.

        Returns:
            scalar loss.
        """
        images = tf.cast(images, tf.float32)
        labels = tf.cast(tf.convert_to_tensor(labels), tf.int32)
        thetas = component_thetas(
            tf.one_hot(labels, len(HELEN_CLASS_NAMES)), tf.shape(labels)[1:3], HELEN_CLASS_NAMES, self.margin
        )
        image_crops = crop_components(images / 255.0, thetas)
        label_crops = crop_components(tf.cast(labels, tf.float32)[..., tf.newaxis], thetas, "nearest")
        total = 0.0
        class_ids = component_class_ids(HELEN_CLASS_NAMES)
        for component, ids, image_crop, label_crop in zip(COMPONENTS, class_ids, image_crops, label_crops):
            local_ids = [0] * len(HELEN_CLASS_NAMES)
            for local_id, class_id in enumerate(ids, start=1):
                local_ids[class_id] = local_id
            local_labels = tf.gather(local_ids, tf.cast(tf.round(label_crop[..., 0]), tf.int32))
            logits = self._networks[COMPONENT_NETWORKS[component.name]](image_crop)
            total += self._cross_entropy(local_labels, logits)
        return total

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Keras `fit`'s loss: the first stage's (its `compute_loss`) plus `component_loss`.

        Args:
            x: the images `[B, H, W, 3]`.
            y: integer HELEN label maps `[B, H, W]` of the images' size.
            y_pred: the output dict.
            sample_weight: not supported; must be None.
            training: bool.

        Returns:
            scalar loss.
        """
        first_stage_loss = self._first_stage.compute_loss(x, y, y_pred, sample_weight, training)
        return first_stage_loss + self.component_loss(x, y)

    def training_loss(self, images, labels, sample_weight=None):
        """The training step's loss: `compute_loss` without the crops, component networks and merge it never reads.

        Keras' own step would run the whole model: crops placed from the first
        stage, the component networks on them and the merge, none of which the
        loss reads (it trains the component networks on the ground truth's
        crops). This step (`TrainingLossStep`) runs the first stage as Keras'
        step does (its outputs, then its `compute_loss`) and the component
        networks on the ground truth's crops only: the same loss, gradients
        and training F1 (the first stage's logits on the whole photo).

        Args:
            images: float images `[B, H, W, 3]`, values 0-255.
            labels: integer HELEN label maps `[B, H, W]` of the images' size.
            sample_weight: must be None (not supported).

        Returns:
            `(loss, f1_labels, f1_logits)`: the scalar loss, the labels at the
            working size and the first stage's logits.
        """
        first_outputs = self._first_stage(images, training=True)
        loss = self._first_stage.compute_loss(images, labels, first_outputs, sample_weight) + self.component_loss(
            images, labels
        )
        return loss, self.training_labels(labels, sample_weight), first_outputs["logits"]
