"""RNN-G's crop and merge rules for the facial components (Liu et al., BMVC 2017, §4, Fig. 2).

The second stage of RNN-G relabels the facial components of a HELEN label
map on crops of the full-resolution image:

| crop        | classes                               | input (h x w) |
|-------------|---------------------------------------|---------------|
| `left_eye`  | left eyebrow, left eye                | 64 x 64       |
| `right_eye` | right eyebrow, right eye (mirrored)   | 64 x 64       |
| `nose`      | nose                                  | 64 x 64       |
| `mouth`     | upper lip, inner mouth, lower lip     | 32 x 64       |

A component's probabilities have `1 + n` channels: "other" and its `n`
classes. The functions here take the class names of the maps they read
(HELEN's), to find each component's channels.

Crop rule (`component_thetas`). The paper crops around 5 detected key points
(eye centres, nose tip, mouth corners), which RNN-G has no detector for; the
components are measured on class maps instead (when parsing, the first
stage's argmax or its softmax probabilities, `layers.ComponentThetas`; when
training, the ground truth's one-hot labels, as the paper trains on
ground-truth crops), each pixel weighted by its value for the component's
classes, and sized, like key-point crops, by the face's scale:

1. centre: the centroid `(cy, cx)` of the component's pixels;
2. height: `COMPONENT_SIDES` of the component times the eye distance (between
   the centroids of the left and the right eye) times `1 + margin` (the
   paper adds at least 20% of the foreground's height/width, §5.1); the
   width follows from the crop's input aspect ratio (the paper keeps the
   aspect ratio). A label map's own extent of a component moves with every
   stray or missing pixel of a first stage's argmax; the eye distance moves
   little, and the component networks see every part at one scale;
3. without both eyes (a mass under one pixel for either), the height is the
   component's own extent instead: `sqrt(12 * variance)` of its pixel
   positions per axis (the side of a filled rectangle with that variance),
   the larger of the two after the aspect ratio, times `1 + margin`;
4. the height is at least `MIN_BOX_FRACTION` of the image's shorter side;
5. a component of a mass under one pixel is centred on the image (at the
   minimum size if the eyes are absent too).

Positions of a map smaller than the image are scaled to the image with
corners aligned (`y_image = y (H - 1) / (h - 1)`). The crop samples the box
`[cy - h_box / 2, cy + h_box / 2] x [cx - w_box / 2, cx + w_box / 2]`
bilinearly at the crop's input size; the right eye's crop is mirrored
left-right so both eyes look alike to a network shared by the eyes.

Merge rule (`merge_components`). Starting from the first stage's
probabilities `P` at the image's size, the components are applied in the
table's order. Each component's probabilities `Q` (mirrored back for the
right eye) are pasted bilinearly into their box, with `Q = (1, 0, ..., 0)`
("other") outside it; then, at every pixel,

    P(c) <- Q(c)                                   for the component's classes c,
    P(c) <- Q(other) * P(c) / sum_{c' not in S} P(c')   for every other class c.

So inside a box the component decides between its classes and "other", and
the first stage shares "other" among the remaining classes; outside every box
a component's classes are zero (the first stage's stray component pixels are
removed). The result sums to 1 at every pixel.
"""

import collections

import tensorflow as tf

from keras_stn_icnn.ops.boxes import moment_box_thetas
from keras_stn_icnn.ops.centroids import class_centroids
from keras_stn_icnn.ops.grid_sample import crop, paste_box

Component = collections.namedtuple("Component", ["name", "classes", "input_size", "mirrored"])

COMPONENTS = (
    Component("left_eye", ("left_eyebrow", "left_eye"), (64, 64), False),
    Component("right_eye", ("right_eyebrow", "right_eye"), (64, 64), True),
    Component("nose", ("nose",), (64, 64), False),
    Component("mouth", ("upper_lip", "inner_mouth", "lower_lip"), (32, 64), False),
)
"""The crops of the second stage, in the order they are cropped, refined and merged."""

MIN_BOX_FRACTION = 1.0 / 16.0
"""Smallest box height, as a fraction of the image's shorter side (crop rule, step 4)."""

COMPONENT_SIDES = (1.0, 1.0, 1.07, 0.65)
"""Each crop's height before the margin, in eye distances, in `COMPONENTS` order (crop rule, step 2).

The 90th percentile, rounded, over 400 synthetic training faces (generator 4, seed 0), of the height of
the smallest box of the crop's aspect ratio, centred on the component's centroid, that holds all its
ground-truth pixels, in eye distances (`benchmarks/component_sides.py`; median, 90th, 99th percentile:
left eye and brow 0.82, 0.99, 1.11, right 0.81, 0.96, 1.11, one side for both as one network labels both;
nose 0.87, 1.07, 1.26; mouth 0.51, 0.65, 0.74). With the default margin, 0.2, the box holds the whole
component on all but a few faces."""


def component_class_ids(class_names):
    """The class ids of each of `COMPONENTS` in a list of class names.

    Args:
        class_names: sequence of str, holding the classes of every component
            (HELEN's eyebrows, eyes, nose and mouth classes).

    Returns:
        tuple of four tuples of int, in `COMPONENTS` order.

    Raises:
        ValueError naming the missing classes.

    Example:
    >>> component_class_ids(("background", "left_eyebrow", "right_eyebrow", "left_eye", "right_eye",
    ...                      "nose", "upper_lip", "inner_mouth", "lower_lip"))
    ((1, 3), (2, 4), (5,), (6, 7, 8))
    """
    names = tuple(class_names)
    missing = [name for component in COMPONENTS for name in component.classes if name not in names]
    if missing:
        raise ValueError(f"the facial components need the classes {missing}; class_names is {names!r}")
    return tuple(tuple(names.index(name) for name in component.classes) for component in COMPONENTS)


def _check_class_maps(class_maps, class_names):
    if class_maps.shape.rank != 4 or class_maps.shape[-1] != len(class_names):
        raise ValueError(
            f"class_maps must be [B, h, w, {len(class_names)}] (one channel per class name), "
            f"got shape {class_maps.shape}"
        )


def component_thetas(class_maps, image_size, class_names, margin=0.2):
    """The crop boxes of `COMPONENTS` as affine thetas on the image (the module's crop rule).

    Args:
        class_maps: float tensor `[B, h, w, C]` of one-hot (or non-negative)
            class maps, at the image's size or smaller.
        image_size: `(H, W)` of the image the thetas refer to (ints or
            scalar tensors).
        class_names: sequence of the `C` class names of the maps' channels
            (`component_class_ids`).
        margin: float >= 0, extra extent relative to the component's.

    Returns:
        float32 tensor `[B, 4, 2, 3]` of `[[w_box / (W - 1), 0, tx],
        [0, h_box / (H - 1), ty]]` in `COMPONENTS` order
        (`ops.affine` conventions).

    Example:
    >>> from keras_stn_icnn.labels import HELEN_CLASS_NAMES
    >>> maps = tf.one_hot(tf.fill([1, 32, 32], 6), 11)  # all nose
    >>> component_thetas(maps, (32, 32), HELEN_CLASS_NAMES).shape
    TensorShape([1, 4, 2, 3])
    """
    class_maps = tf.cast(tf.convert_to_tensor(class_maps), tf.float32)
    _check_class_maps(class_maps, class_names)
    masks = tf.stack(
        [tf.reduce_sum(tf.gather(class_maps, list(ids), axis=-1), axis=-1) for ids in component_class_ids(class_names)],
        axis=-1,
    )
    aspects = [component.input_size[0] / component.input_size[1] for component in COMPONENTS]
    eye_distance = _eye_distance(class_maps, image_size, class_names)  # [B], 0 without both eyes
    by_eyes = eye_distance[:, tf.newaxis] * tf.constant(COMPONENT_SIDES, tf.float32) * (1.0 + margin)
    return moment_box_thetas(masks, image_size, margin, aspects, MIN_BOX_FRACTION, box_heights=by_eyes)


def _eye_distance(class_maps, image_size, class_names):
    """Distance in image pixels between the left and the right eye's centroids `[B]`; 0 where either is absent."""
    names = tuple(class_names)
    eyes = tf.gather(class_maps, [names.index("left_eye"), names.index("right_eye")], axis=-1)
    centroids, mass = class_centroids(eyes)  # [B, 2, 2] (y, x) in map pixels, [B, 2]
    map_size = tf.cast(tf.shape(class_maps)[1:3], tf.float32)
    image_size = tf.cast(tf.stack([image_size[0], image_size[1]]), tf.float32)
    offset = (centroids[:, 0] - centroids[:, 1]) * (image_size - 1.0) / (map_size - 1.0)
    present = tf.reduce_all(mass >= 1.0, axis=-1)
    return tf.where(present, tf.norm(offset, axis=-1), 0.0)


def crop_components(maps, thetas, mode="bilinear"):
    """The crops of `COMPONENTS` at their input sizes, the right eye mirrored.

    Args:
        maps: float tensor `[B, H, W, K]` (the image, or label maps).
        thetas: float tensor `[B, 4, 2, 3]` from `component_thetas`.
        mode: `"bilinear"` (images) or `"nearest"` (label maps).

    Returns:
        list of 4 tensors `[B, h_k, w_k, K]` in `COMPONENTS` order.

    Example:
    >>> thetas = tf.eye(2, 3, batch_shape=[1, 4])  # every box the whole image
    >>> [tuple(c.shape) for c in crop_components(tf.zeros([1, 40, 40, 3]), thetas)][-1]
    (1, 32, 64, 3)
    """
    crops = []
    for index, component in enumerate(COMPONENTS):
        patch = crop(maps, thetas[:, index : index + 1], component.input_size, mode=mode)[:, 0]
        crops.append(tf.reverse(patch, axis=[2]) if component.mirrored else patch)
    return crops


def merge_components(probabilities, thetas, component_probabilities, class_names):
    """The first stage's probabilities with the components' pasted in (the module's merge rule).

    Args:
        probabilities: float tensor `[B, H, W, C]`, the first stage's
            probabilities at the image's size.
        thetas: float tensor `[B, 4, 2, 3]`, where the crops were taken.
        component_probabilities: list of 4 float tensors `[B, h_k, w_k,
            1 + n_k]` (channel 0 "other"), as the networks saw the crops (the
            right eye mirrored).
        class_names: sequence of the `C` class names of `probabilities`'
            channels (`component_class_ids`).

    Returns:
        float tensor `[B, H, W, C]`.

    Example:
    >>> from keras_stn_icnn.labels import HELEN_CLASS_NAMES
    >>> first = tf.fill([1, 40, 40, 11], 1.0 / 11)
    >>> thetas = tf.eye(2, 3, batch_shape=[1, 4])  # every box the whole image
    >>> others = [tf.one_hot(tf.zeros([1, *c.input_size], tf.int32), 1 + len(c.classes)) for c in COMPONENTS]
    >>> merged = merge_components(first, thetas, others, HELEN_CLASS_NAMES)
    >>> float(merged[0, 0, 0, 6])  # the nose network says "other" everywhere
    0.0
    """
    probabilities = tf.convert_to_tensor(probabilities)
    frame_size = (tf.shape(probabilities)[1], tf.shape(probabilities)[2])
    num_classes = len(class_names)
    for index, (component, ids) in enumerate(zip(COMPONENTS, component_class_ids(class_names))):
        component_map = component_probabilities[index]
        if component.mirrored:
            component_map = tf.reverse(component_map, axis=[2])
        other = tf.one_hot(0, 1 + len(ids), dtype=probabilities.dtype)
        pasted = paste_box(component_map - other, thetas[:, index], frame_size) + other
        keep = tf.constant([0.0 if c in ids else 1.0 for c in range(num_classes)], probabilities.dtype)
        placement = tf.one_hot(ids, num_classes, dtype=probabilities.dtype)  # [n, C]
        rest = probabilities * keep
        rest_total = tf.maximum(tf.reduce_sum(rest, axis=-1, keepdims=True), 1e-12)
        probabilities = pasted[..., :1] * rest / rest_total + tf.tensordot(pasted[..., 1:], placement, 1)
    return probabilities
