"""RNN-G's second stage (Liu et al., BMVC 2017, §4, Fig. 2): component networks on crops of the face.

For HELEN's 11 classes, the first stage (`RNNG`) labels the whole face and
three small networks relabel the facial components on crops of the
full-resolution image:

| crop        | network         | classes                               | input (h x w) |
|-------------|-----------------|---------------------------------------|---------------|
| `left_eye`  | `eye_network`   | left eyebrow, left eye                | 64 x 64       |
| `right_eye` | `eye_network`   | right eyebrow, right eye (mirrored)   | 64 x 64       |
| `nose`      | `nose_network`  | nose                                  | 64 x 64       |
| `mouth`     | `mouth_network` | upper lip, inner mouth, lower lip     | 32 x 64       |

Each network predicts `1 + n` channels: "other" and its `n` classes. Each
has five convolutions, two max-poolings and two deconvolutions (§4).

Crop rule (`component_thetas`). The paper crops around 5 detected key points,
which this model has no detector for; it measures each component on a label
map instead (the first stage's argmax when parsing, the ground truth when
training, as the paper trains on ground-truth crops):

1. centre: the centroid `(cy, cx)` of the component's pixels;
2. extent per axis: `sqrt(12 * variance)` of the pixel positions (the side of
   a filled rectangle with that variance) times `1 + margin` (the paper adds
   at least 20% of the foreground's height/width, §5.1);
3. aspect ratio: the shorter side is enlarged to the network's input aspect
   ratio (the paper keeps the aspect ratio), and the height is at least
   `MIN_BOX_FRACTION` of the image's shorter side;
4. a component with less than one pixel is placed at the image centre at
   the minimum size.

Positions of a map smaller than the image are scaled to the image with
corners aligned (`y_image = y (H - 1) / (h - 1)`). The crop samples the box
`[cy - h_box / 2, cy + h_box / 2] x [cx - w_box / 2, cx + w_box / 2]`
bilinearly at the network's input size; the right eye's crop is mirrored
left-right so both eyes look alike to the shared eye network.

Merge rule (`merge_components`). Starting from the first stage's
probabilities `P` at the image's size, the components are applied in the
table's order. Each network's probabilities `Q` (mirrored back for the right
eye) are pasted bilinearly into their box, with `Q = (1, 0, ..., 0)` ("other")
outside it; then, at every pixel,

    P(c) <- Q(c)                                   for the component's classes c,
    P(c) <- Q(other) * P(c) / sum_{c' not in S} P(c')   for every other class c.

So inside a box the network decides between its classes and "other", and the
first stage shares "other" among the remaining classes; outside every box a
component's classes are zero (the first stage's stray component pixels are
removed). The result sums to 1 at every pixel.
"""

import collections

import keras
import tensorflow as tf
from keras import layers

from keras_stn_icnn.labels import HELEN_CLASS_NAMES
from keras_stn_icnn.layers.label_map import LabelMap
from keras_stn_icnn.models.dense_parsing import DEFAULT_CANVAS_SIZE, DenseParsingMixin, checked_size
from keras_stn_icnn.models.rnn_g.rnn_g import RNNG
from keras_stn_icnn.ops.grid_sample import crop, paste_box

Component = collections.namedtuple("Component", ["name", "network", "classes", "input_size", "mirrored"])

COMPONENTS = (
    Component("left_eye", "eye_network", ("left_eyebrow", "left_eye"), (64, 64), False),
    Component("right_eye", "eye_network", ("right_eyebrow", "right_eye"), (64, 64), True),
    Component("nose", "nose_network", ("nose",), (64, 64), False),
    Component("mouth", "mouth_network", ("upper_lip", "inner_mouth", "lower_lip"), (32, 64), False),
)
"""The crops of the second stage, in the order they are cropped, refined and merged."""

MIN_BOX_FRACTION = 1.0 / 16.0
"""Smallest box height, as a fraction of the image's shorter side (crop rule, step 3)."""


def _class_ids(component):
    return [HELEN_CLASS_NAMES.index(name) for name in component.classes]


def _check_class_maps(class_maps):
    if class_maps.shape.rank != 4 or class_maps.shape[-1] != len(HELEN_CLASS_NAMES):
        raise ValueError(
            f"class_maps must be [B, h, w, {len(HELEN_CLASS_NAMES)}] (HELEN classes), "
            f"got shape {class_maps.shape}"
        )


def component_thetas(class_maps, image_size, margin=0.2):
    """The crop boxes of `COMPONENTS` as affine thetas on the image (the module's crop rule).

    Args:
        class_maps: float tensor `[B, h, w, 11]` of one-hot (or non-negative)
            HELEN class maps, at the image's size or smaller.
        image_size: `(H, W)` of the image the thetas refer to (ints or
            scalar tensors).
        margin: float >= 0, extra extent relative to the component's.

    Returns:
        float32 tensor `[B, 4, 2, 3]` of `[[w_box / (W - 1), 0, tx],
        [0, h_box / (H - 1), ty]]` in `COMPONENTS` order
        (`ops.affine` conventions).

    Example:
    >>> maps = tf.one_hot(tf.fill([1, 32, 32], 6), 11)  # all nose
    >>> component_thetas(maps, (32, 32)).shape
    TensorShape([1, 4, 2, 3])
    """
    class_maps = tf.cast(tf.convert_to_tensor(class_maps), tf.float32)
    _check_class_maps(class_maps)
    if margin < 0:
        raise ValueError(f"margin must not be negative, got {margin!r}")
    map_height, map_width = tf.shape(class_maps)[1], tf.shape(class_maps)[2]
    height = tf.cast(image_size[0], tf.float32)
    width = tf.cast(image_size[1], tf.float32)
    rows = tf.range(tf.cast(map_height, tf.float32)) * (height - 1.0) / tf.cast(map_height - 1, tf.float32)
    cols = tf.range(tf.cast(map_width, tf.float32)) * (width - 1.0) / tf.cast(map_width - 1, tf.float32)
    min_height = MIN_BOX_FRACTION * tf.minimum(height, width)

    thetas = []
    for component in COMPONENTS:
        mask = tf.reduce_sum(tf.gather(class_maps, _class_ids(component), axis=-1), axis=-1)
        row_mass = tf.reduce_sum(mask, axis=2)  # [B, h]
        col_mass = tf.reduce_sum(mask, axis=1)  # [B, w]
        mass = tf.reduce_sum(row_mass, axis=1)
        present = mass >= 1.0
        safe_mass = tf.where(present, mass, 1.0)
        centre_y = tf.reduce_sum(row_mass * rows, axis=1) / safe_mass
        centre_x = tf.reduce_sum(col_mass * cols, axis=1) / safe_mass
        variance_y = tf.reduce_sum(row_mass * tf.square(rows - centre_y[:, None]), axis=1) / safe_mass
        variance_x = tf.reduce_sum(col_mass * tf.square(cols - centre_x[:, None]), axis=1) / safe_mass
        extent_y = tf.where(present, tf.sqrt(12.0 * variance_y) * (1.0 + margin), 0.0)
        extent_x = tf.where(present, tf.sqrt(12.0 * variance_x) * (1.0 + margin), 0.0)
        centre_y = tf.where(present, centre_y, (height - 1.0) / 2.0)
        centre_x = tf.where(present, centre_x, (width - 1.0) / 2.0)
        input_height, input_width = component.input_size
        box_height = tf.maximum(
            tf.maximum(extent_y, extent_x * input_height / input_width), min_height
        )
        box_width = box_height * input_width / input_height
        zeros = tf.zeros_like(centre_x)
        row0 = tf.stack([box_width / (width - 1.0), zeros, -1.0 + 2.0 * centre_x / (width - 1.0)], -1)
        row1 = tf.stack([zeros, box_height / (height - 1.0), -1.0 + 2.0 * centre_y / (height - 1.0)], -1)
        thetas.append(tf.stack([row0, row1], axis=-2))
    return tf.stack(thetas, axis=1)


def crop_components(maps, thetas, mode="bilinear"):
    """The crops of `COMPONENTS` at their networks' input sizes, the right eye mirrored.

    Args:
        maps: float tensor `[B, H, W, K]` (the image, or label maps).
        thetas: float tensor `[B, 4, 2, 3]` from `component_thetas`.
        mode: `"bilinear"` (images) or `"nearest"` (label maps).

    Returns:
        list of 4 tensors `[B, h_k, w_k, K]` in `COMPONENTS` order.

    Example:
    >>> thetas = component_thetas(tf.one_hot(tf.zeros([1, 8, 8], tf.int32), 11), (40, 40))
    >>> [tuple(c.shape) for c in crop_components(tf.zeros([1, 40, 40, 3]), thetas)][-1]
    (1, 32, 64, 3)
    """
    crops = []
    for index, component in enumerate(COMPONENTS):
        patch = crop(maps, thetas[:, index : index + 1], component.input_size, mode=mode)[:, 0]
        crops.append(tf.reverse(patch, axis=[2]) if component.mirrored else patch)
    return crops


def merge_components(probabilities, thetas, component_probabilities):
    """The first stage's probabilities with the components' pasted in (the module's merge rule).

    Args:
        probabilities: float tensor `[B, H, W, 11]`, the first stage's
            probabilities at the image's size.
        thetas: float tensor `[B, 4, 2, 3]`, where the crops were taken.
        component_probabilities: list of 4 float tensors `[B, h_k, w_k,
            1 + n_k]` (channel 0 "other"), as the networks saw the crops (the
            right eye mirrored).

    Returns:
        float tensor `[B, H, W, 11]`.

    Example:
    >>> first = tf.fill([1, 40, 40, 11], 1.0 / 11)
    >>> thetas = component_thetas(tf.one_hot(tf.zeros([1, 40, 40], tf.int32), 11), (40, 40))
    >>> others = [tf.one_hot(tf.zeros([1, *c.input_size], tf.int32), 1 + len(c.classes)) for c in COMPONENTS]
    >>> merged = merge_components(first, thetas, others)
    >>> float(merged[0, 0, 0, 6])  # the nose network says "other" everywhere
    0.0
    """
    probabilities = tf.convert_to_tensor(probabilities)
    frame_size = (tf.shape(probabilities)[1], tf.shape(probabilities)[2])
    num_classes = len(HELEN_CLASS_NAMES)
    for index, component in enumerate(COMPONENTS):
        ids = _class_ids(component)
        component_map = component_probabilities[index]
        if component.mirrored:
            component_map = tf.reverse(component_map, axis=[2])
        other = tf.one_hot(0, 1 + len(ids), dtype=probabilities.dtype)
        pasted = paste_box(component_map - other, thetas[:, index], frame_size) + other
        keep = tf.constant([0.0 if c in ids else 1.0 for c in range(num_classes)], probabilities.dtype)
        placement = tf.one_hot(ids, num_classes, dtype=probabilities.dtype)  # [n, 11]
        rest = probabilities * keep
        rest_total = tf.maximum(tf.reduce_sum(rest, axis=-1, keepdims=True), 1e-12)
        probabilities = pasted[..., :1] * rest / rest_total + tf.tensordot(pasted[..., 1:], placement, 1)
    return probabilities


def component_network(num_classes, input_size, filters=(16, 32), name=None):
    """One second-stage network (Fig. 2(b)): five convolutions, two poolings, two deconvolutions.

    Args:
        num_classes: int, output channels ("other" and the component's
            classes).
        input_size: `(height, width)` of the crops, multiples of 4.
        filters: `(f1, f2)`, channels before and after the first pooling.
        name: str, the model's name.

    Returns:
        a `keras.Model` from crops `[B, h, w, 3]` (values in [0, 1]) to
        logits `[B, h, w, num_classes]`.

    Example:
    >>> component_network(3, (64, 64))(tf.zeros([1, 64, 64, 3])).shape
    TensorShape([1, 64, 64, 3])
    """
    small, large = filters
    crops = keras.Input((*input_size, 3), name="crops")
    x = layers.Conv2D(small, 5, padding="same", activation="relu", name="conv1")(crops)
    x = layers.Conv2D(small, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(large, 3, padding="same", activation="relu", name="conv3")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Conv2D(large, 3, padding="same", activation="relu", name="conv4")(x)
    x = layers.Conv2DTranspose(small, 4, strides=2, padding="same", activation="relu", name="deconv1")(x)
    x = layers.Conv2D(small, 3, padding="same", activation="relu", name="conv5")(x)
    logits = layers.Conv2DTranspose(num_classes, 4, strides=2, padding="same", name="deconv2")(x)
    return keras.Model(crops, logits, name=name)


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class ComponentThetas(keras.layers.Layer):
    """`component_thetas` of the hard argmax of first-stage scores (not differentiable).

    Args:
        margin: float >= 0, extra extent of a box relative to its component.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        scores: float tensor `[B, h, w, 11]`, first-stage logits or
            probabilities (only their argmax is used).
        images: tensor `[B, H, W, ...]` (only its size is used).

    Returns:
        float32 tensor `[B, 4, 2, 3]`.

    Example:
    >>> ComponentThetas()(tf.zeros([1, 32, 32, 11]), tf.zeros([1, 90, 60, 3])).shape
    TensorShape([1, 4, 2, 3])
    """

    def __init__(self, margin=0.2, **kwargs):
        super().__init__(**kwargs)
        self.margin = float(margin)
        if self.margin < 0:
            raise ValueError(f"margin must not be negative, got {margin!r}")

    def call(self, scores, images):
        labels = tf.argmax(tf.stop_gradient(scores), axis=-1, output_type=tf.int32)
        one_hot = tf.one_hot(labels, len(HELEN_CLASS_NAMES))
        return tf.stop_gradient(component_thetas(one_hot, tf.shape(images)[1:3], self.margin))

    def compute_output_shape(self, scores_shape, images_shape):
        return (scores_shape[0], len(COMPONENTS), 2, 3)

    def get_config(self):
        return {**super().get_config(), "margin": self.margin}


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
    """`merge_components` as a layer.

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
        return merge_components(probabilities, thetas, component_probabilities)

    def compute_output_shape(self, probabilities_shape, thetas_shape, component_probabilities_shape):
        return tuple(probabilities_shape)


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class RNNGTwoStage(DenseParsingMixin, keras.Model):
    """RNN-G's two-stage HELEN parser: `RNNG` on the whole face, component networks on crops (§4).

    The first stage (sub-model `"first_stage"`, an 11-class `RNNG`) labels
    the face at `input_size`; `ComponentThetas` places the four crops of
    `COMPONENTS` from its argmax (the module's crop rule); `"eye_network"`
    (both eyes, the right one mirrored), `"nose_network"` and
    `"mouth_network"` label the crops of the full-resolution image; and
    `ComponentMerge` writes their probabilities into the first stage's (the
    module's merge rule).

    Training (`model.fit(images, labels)`) sums the first stage's three
    losses (`RNNG.parsing_loss`) and, for each crop, the cross-entropy of
    its network on the crop placed by the *ground-truth* labels (the paper
    trains on ground-truth crops). The two stages share no weights, so the
    sum trains each as if alone.

    Deviations from the paper: crops are placed from label maps rather
    than 5 detected key points (no detector in this model), with the
    extent-plus-20% and aspect-ratio rules of §5.1; the eye/eyebrow crops
    also carry the eyebrow (one network for eye and eyebrow, §4); the layer
    widths of Fig. 2(b) are not in the text (`component_filters`).

    Args:
        input_size: int, the first stage's working size, a multiple of 4.
            Defaults to 128.
        margin: float >= 0, extra crop extent relative to the component's.
            Defaults to 0.2 (§5.1).
        component_filters: `(f1, f2)`, channels of the component networks.
            Defaults to `(16, 32)`.
        loss_weights: the first stage's loss weights (see `RNNG`), or None.
        canvas_size: int, the largest image side `parse` accepts. Defaults
            to 1024.
        **kwargs: standard `keras.Model` arguments.

    Call arguments:
        images: float or uint8 tensor `[B, H, W, 3]` with values in [0, 255].

    Returns:
        A dict: the first stage's `"logits"`, `"coarse_logits"`,
        `"gate_logits"`; `"component_thetas"` `[B, 4, 2, 3]`;
        `"component_logits"` (dict crop name -> `[B, h_k, w_k, 1 + n_k]`);
        and the merged `"probabilities"` `[B, H, W, 11]` and `"labels"`
        uint8 `[B, H, W]`.

    Example:
    >>> model = RNNGTwoStage(input_size=32)
    >>> model(keras.ops.zeros([1, 120, 100, 3]))["labels"].shape
    TensorShape([1, 120, 100])
    """

    config_keys = ("input_size", "margin", "component_filters", "loss_weights", "canvas_size")

    def __init__(
        self,
        input_size=128,
        margin=0.2,
        component_filters=(16, 32),
        loss_weights=None,
        canvas_size=DEFAULT_CANVAS_SIZE,
        **kwargs,
    ):
        canvas_size = checked_size(canvas_size, "canvas_size")
        component_filters = tuple(int(f) for f in component_filters)
        if len(component_filters) != 2 or min(component_filters) < 1:
            raise ValueError(f"component_filters must be two positive ints, got {component_filters!r}")

        # === Layers ===
        first_stage = RNNG(
            HELEN_CLASS_NAMES, input_size, loss_weights, canvas_size, name="first_stage"
        )
        networks = {}
        for component in COMPONENTS:
            if component.network not in networks:
                networks[component.network] = component_network(
                    1 + len(component.classes), component.input_size, component_filters, component.network
                )
        thetas_layer = ComponentThetas(margin, name="component_thetas")
        crops_layer = ComponentCrops(name="component_crops")
        merge_layer = ComponentMerge(name="component_merge")

        # === Functional model ===
        images = keras.Input(shape=(None, None, 3), name="images")
        first = first_stage(images)
        thetas = thetas_layer(first["logits"], images)
        crops = crops_layer(layers.Rescaling(1.0 / 255.0, name="scale")(images), thetas)
        component_logits = {
            component.name: networks[component.network](patch)
            for component, patch in zip(COMPONENTS, crops)
        }
        probabilities = merge_layer(
            first["probabilities"],
            thetas,
            [
                layers.Softmax(name=f"{name}_softmax")(logits)
                for name, logits in component_logits.items()
            ],
        )
        outputs = {
            "logits": first["logits"],
            "coarse_logits": first["coarse_logits"],
            "gate_logits": first["gate_logits"],
            "component_thetas": thetas,
            "component_logits": component_logits,
            "probabilities": probabilities,
            "labels": LabelMap(name="labels")(probabilities),
        }
        super().__init__(inputs=images, outputs=outputs, **kwargs)

        # === Config ===
        self.class_names = HELEN_CLASS_NAMES
        self.input_size = first_stage.input_size
        self.margin = thetas_layer.margin
        self.component_filters = component_filters
        self.loss_weights = first_stage.loss_weights
        self.canvas_size = canvas_size
        self._first_stage = first_stage
        self._networks = networks
        self._cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def parsing_loss(self, labels, outputs):
        """The first stage's loss (`RNNG.parsing_loss`) on working-size labels."""
        return self._first_stage.parsing_loss(labels, outputs)

    def component_loss(self, images, labels):
        """Sum over the crops of the cross-entropy of their network on ground-truth crops.

        Args:
            images: float tensor `[B, H, W, 3]` with values in [0, 255].
            labels: integer HELEN label maps `[B, H, W]` of the images' size.

        Returns:
            scalar loss.
        """
        images = tf.convert_to_tensor(images, tf.float32)
        labels = tf.cast(tf.convert_to_tensor(labels), tf.int32)
        thetas = component_thetas(
            tf.one_hot(labels, len(HELEN_CLASS_NAMES)), tf.shape(labels)[1:3], self.margin
        )
        image_crops = crop_components(images / 255.0, thetas)
        label_crops = crop_components(tf.cast(labels, tf.float32)[..., tf.newaxis], thetas, "nearest")
        total = 0.0
        for component, image_crop, label_crop in zip(COMPONENTS, image_crops, label_crops):
            local_ids = [0] * len(HELEN_CLASS_NAMES)
            for local_id, class_id in enumerate(_class_ids(component), start=1):
                local_ids[class_id] = local_id
            local_labels = tf.gather(local_ids, tf.cast(tf.round(label_crop[..., 0]), tf.int32))
            logits = self._networks[component.network](image_crop)
            total += self._cross_entropy(local_labels, logits)
        return total

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Keras `fit`'s loss: the first stage's loss plus `component_loss`.

        Args:
            x: the images `[B, H, W, 3]`.
            y: integer HELEN label maps `[B, H, W]` of the images' size.
            y_pred: the output dict.
            sample_weight: not supported; must be None.
            training: bool.

        Returns:
            scalar loss.
        """
        first_stage_loss = super().compute_loss(x, y, y_pred, sample_weight, training)
        return first_stage_loss + self.component_loss(x, y)
