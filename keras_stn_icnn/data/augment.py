"""The STN-iCNN paper's augmentation, inside tf.data.

Four operations (paper, section 2.5.1): (a) rotation within +-15 degrees,
(b) shift within +-0.2 of the width and height, (c) scale within
[0.2, 1.2], (d) Gaussian noise on the image only. Each image becomes five
copies, copy `i` with `i` of the four operations chosen at random (copy 0
is the original). The geometric operations act on the full-resolution
image and label together, about the image centre, with one projective
transform (bilinear for the image, nearest for the label, zeros and
background outside), so every view made later from the pair (the stage-1
resize, the crop canvas, ground-truth theta) stays consistent. Noise
touches only pixels that came from inside the image, as in the authors'
code.

Randomness is stateless: every copy draws from a seed made of the
pipeline's seed, the example's position and the copy index, so a pipeline
is reproducible whatever its parallelism.
"""

import dataclasses
import math

import tensorflow as tf

NUM_OPERATIONS = 4
ROTATION, SHIFT, SCALE, NOISE = range(NUM_OPERATIONS)


@dataclasses.dataclass(frozen=True)
class AugmentationConfig:
    """Ranges of the four operations.

    Args:
        rotation_degrees: float, rotations are uniform in +-this.
        shift_fraction: float, shifts are uniform in +-this times the width
            (horizontally) and height (vertically).
        scale_range: `(low, high)`, scales are uniform in this range. The
            paper gives [0.2, 1.2]; the authors' code used 0.8-1.5.
        noise_stddev: float, standard deviation of the Gaussian noise in
            0-255 units (the authors' code: variance 0.01 on [0, 1], i.e.
            25.5).

    Example:
    >>> AugmentationConfig(scale_range=(0.8, 1.5)).rotation_degrees
    15.0
    """

    rotation_degrees: float = 15.0
    shift_fraction: float = 0.2
    scale_range: tuple = (0.2, 1.2)
    noise_stddev: float = 25.5

    def __post_init__(self):
        low, high = self.scale_range
        if not 0 < low <= high:
            raise ValueError(f"scale_range must satisfy 0 < low <= high, got {self.scale_range!r}")
        for name in ("rotation_degrees", "shift_fraction", "noise_stddev"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be non-negative, got {getattr(self, name)!r}")


PAPER_AUGMENTATION = AugmentationConfig()
"""The ranges of the STN-iCNN paper."""


def _inverse_similarity(height, width, angle, shift_y, shift_x, scale):
    """Projective-transform row mapping output pixels back to input pixels.

    The forward map is `p_out = scale * R(angle) (p_in - c) + c + shift`
    about the image centre `c`.
    """
    centre_x = (width - 1.0) / 2.0
    centre_y = (height - 1.0) / 2.0
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    a0, a1 = cos, sin
    b0, b1 = -sin, cos
    a2 = centre_x - a0 * (centre_x + shift_x) - a1 * (centre_y + shift_y)
    b2 = centre_y - b0 * (centre_x + shift_x) - b1 * (centre_y + shift_y)
    zero = tf.zeros_like(a0)
    return tf.stack([a0, a1, a2, b0, b1, b2, zero, zero])[tf.newaxis]


def _warp(images, transform, interpolation):
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images[tf.newaxis],
        transforms=transform,
        output_shape=tf.shape(images)[:2],
        fill_value=0.0,
        interpolation=interpolation,
        fill_mode="CONSTANT",
    )[0]


def augment(image, label, operations, seed, config=PAPER_AUGMENTATION):
    """Apply the chosen operations to one image and its label.

    Args:
        image: uint8 tensor `[H, W, 3]`.
        label: uint8 tensor `[H, W]`.
        operations: bool tensor `[4]`: rotation, shift, scale, noise.
        seed: int tensor `[2]`, a stateless random seed.
        config: AugmentationConfig.

    Returns:
        `(image, label)`, uint8, same shapes.

    Example:
    >>> image = tf.zeros([40, 60, 3], tf.uint8); label = tf.zeros([40, 60], tf.uint8)
    >>> out, _ = augment(image, label, tf.constant([True, False, False, True]), tf.constant([1, 2]))
    >>> out.shape
    TensorShape([40, 60, 3])
    """
    image = tf.convert_to_tensor(image, tf.uint8)
    label = tf.convert_to_tensor(label, tf.uint8)
    seeds = tf.random.split(tf.cast(seed, tf.int64), 4)
    height = tf.cast(tf.shape(image)[0], tf.float32)
    width = tf.cast(tf.shape(image)[1], tf.float32)
    limit = config.rotation_degrees * math.pi / 180.0
    angle = tf.random.stateless_uniform([], seeds[0], -limit, limit)
    shift = tf.random.stateless_uniform([2], seeds[1], -config.shift_fraction, config.shift_fraction)
    scale = tf.random.stateless_uniform([], seeds[2], *config.scale_range)
    angle = tf.where(operations[ROTATION], angle, 0.0)
    shift = tf.where(operations[SHIFT], shift * tf.stack([height, width]), 0.0)
    scale = tf.where(operations[SCALE], scale, 1.0)

    transform = _inverse_similarity(height, width, angle, shift[0], shift[1], scale)
    geometric = operations[ROTATION] | operations[SHIFT] | operations[SCALE]

    def warp_pair():
        warped_label = _warp(label[..., tf.newaxis], transform, "NEAREST")[..., 0]
        return _warp(tf.cast(image, tf.float32), transform, "BILINEAR"), warped_label

    def keep_pair():
        return tf.cast(image, tf.float32), label

    def add_noise(pixels):
        ones = tf.ones_like(label[..., tf.newaxis])
        inside = tf.cond(geometric, lambda: _warp(ones, transform, "NEAREST") > 0, lambda: ones > 0)
        noise = tf.random.stateless_normal(tf.shape(pixels), seeds[3], stddev=config.noise_stddev)
        noisy = tf.clip_by_value(pixels + noise, 0.0, 255.0)
        return tf.where(inside, noisy, pixels)

    def transformed():
        pixels, new_label = tf.cond(geometric, warp_pair, keep_pair)
        pixels = tf.cond(operations[NOISE], lambda: add_noise(pixels), lambda: pixels)
        return tf.cast(tf.round(pixels), tf.uint8), new_label

    return tf.cond(tf.reduce_any(operations), transformed, lambda: (image, label))


def choose_operations(count, seed):
    """`count` of the four operations, chosen at random without repetition.

    Args:
        count: int tensor, 0-4.
        seed: int tensor `[2]`.

    Returns:
        bool tensor `[4]` with `count` True entries.

    Example:
    >>> int(tf.reduce_sum(tf.cast(choose_operations(2, tf.constant([0, 1])), tf.int32)))
    2
    """
    order = tf.argsort(tf.random.stateless_uniform([NUM_OPERATIONS], seed))
    ranks = tf.scatter_nd(order[:, tf.newaxis], tf.range(NUM_OPERATIONS), [NUM_OPERATIONS])
    return ranks < tf.cast(count, tf.int32)


def expand_with_augmentation(dataset, *, copies=5, seed=0, config=PAPER_AUGMENTATION, rerandomize_each_epoch=True):
    """Expand every example into `copies` copies, copy `i` with `i` random operations.

    Args:
        dataset: `tf.data.Dataset` of dicts with `image` uint8 `[H, W, 3]`
            and `label` uint8 `[H, W]` (other keys pass through unchanged;
            landmarks are not transformed, so drop them first).
        copies: int, 1-5 (the paper: 5).
        seed: int, the seed every random choice derives from.
        config: AugmentationConfig.
        rerandomize_each_epoch: bool; draw new operations and parameters on
            every pass over the dataset (True), or repeat the same five
            copies every epoch like a fixed, pre-augmented set (False). Both
            are reproducible from `seed`.

    Returns:
        `tf.data.Dataset` of the same structure, `copies` times as long.

    Example:
    >>> dataset = HelenReader("helen", schema="stn_icnn").dataset("train")  # doctest: +SKIP
    >>> augmented = expand_with_augmentation(dataset, seed=1)  # doctest: +SKIP
    """
    copies = int(copies)
    if not 1 <= copies <= NUM_OPERATIONS + 1:
        raise ValueError(f"copies must be 1-{NUM_OPERATIONS + 1} (copy i gets i operations), got {copies}")
    if "landmarks" in dataset.element_spec:
        raise ValueError("expand_with_augmentation does not move landmarks; drop the 'landmarks' key first")
    example_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=rerandomize_each_epoch)

    def copies_of(example, example_seed):
        copy_index = tf.data.Dataset.range(copies)
        return copy_index.map(lambda index: (example, tf.stack([example_seed, index])))

    def augment_copy(example, copy_seed):
        operation_seed, parameter_seed = tf.unstack(tf.random.split(copy_seed, 2))
        operations = choose_operations(copy_seed[1], operation_seed)
        image, label = augment(example["image"], example["label"], operations, parameter_seed, config)
        return {**example, "image": image, "label": label}

    paired = tf.data.Dataset.zip(dataset, example_seeds)
    return paired.flat_map(copies_of).map(augment_copy, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
