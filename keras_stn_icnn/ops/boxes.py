"""Crop boxes from the moments of a mask: the rule RNN-G's component crops and its face box share.

A box is placed on a non-negative mask (a one-hot class map, or
probabilities) by its first and second moments:

1. centre: the mask-weighted mean position `(cy, cx)`;
2. extent per axis: `sqrt(12 * variance)` of the positions (the side of a
   filled rectangle with that variance) times `1 + margin`;
3. aspect ratio: the shorter side is enlarged to the box's aspect ratio
   (`height / width`), and the height is at least `min_box_fraction` of the
   image's shorter side;
4. a mask of less than `min_mass` is placed at the image centre at the
   minimum size.

Positions of a mask smaller than the image are scaled to the image with
corners aligned (`y_image = y (H - 1) / (h - 1)`), so a coarse mask places
a box on the full-resolution image. The box is returned as the affine theta
that crops it (`ops.affine` conventions): `[[w_box / (W - 1), 0, tx],
[0, h_box / (H - 1), ty]]`.
"""

import tensorflow as tf


def moment_box_thetas(masks, image_size, margin, aspects, min_box_fraction, min_mass=1.0, box_heights=None):
    """One crop box per mask channel, placed by the mask's moments (the module's rule).

    Args:
        masks: float tensor `[B, h, w, K]`, non-negative, at the image's size
            or smaller.
        image_size: `(H, W)` of the image the thetas refer to (ints or scalar
            tensors).
        margin: float >= 0, extra extent relative to the mask's.
        aspects: sequence of `K` floats, each box's height / width.
        min_box_fraction: float, the smallest box height as a fraction of the
            image's shorter side.
        min_mass: float, the least mask mass (sum over its pixels) that
            places a box; below it the box is centred at the minimum size.
        box_heights: float tensor `[B, K]` of box heights in image pixels
            that replace the moments' extents where positive (the minimum
            height still applies), or None.

    Returns:
        float32 tensor `[B, K, 2, 3]`.

    Example:
    A 4x4 square in an 8x8 image: rows 2-5 have variance 1.25, so the box's
    side is sqrt(12 * 1.25) = 3.87 px, 3.87 / 7 of the image in `theta`:

    >>> mask = tf.pad(tf.ones([1, 4, 4, 1]), [[0, 0], [2, 2], [2, 2], [0, 0]])
    >>> theta = moment_box_thetas(mask, (8, 8), 0.0, [1.0], 1 / 16)
    >>> [round(float(v), 3) for v in tf.reshape(theta, [-1])]
    [0.553, 0.0, 0.0, 0.0, 0.553, 0.0]
    """
    masks = tf.cast(tf.convert_to_tensor(masks), tf.float32)
    if margin < 0:
        raise ValueError(f"margin must not be negative, got {margin!r}")
    if len(aspects) != masks.shape[-1]:
        raise ValueError(f"aspects must give one ratio per mask channel ({masks.shape[-1]}), got {aspects!r}")
    map_height, map_width = tf.shape(masks)[1], tf.shape(masks)[2]
    height = tf.cast(image_size[0], tf.float32)
    width = tf.cast(image_size[1], tf.float32)
    rows = tf.range(tf.cast(map_height, tf.float32)) * (height - 1.0) / tf.cast(map_height - 1, tf.float32)
    cols = tf.range(tf.cast(map_width, tf.float32)) * (width - 1.0) / tf.cast(map_width - 1, tf.float32)
    row_mass = tf.reduce_sum(masks, axis=2)  # [B, h, K]
    col_mass = tf.reduce_sum(masks, axis=1)  # [B, w, K]
    mass = tf.reduce_sum(row_mass, axis=1)  # [B, K]
    present = mass >= min_mass
    safe_mass = tf.where(present, mass, 1.0)
    centre_y = tf.einsum("bhk,h->bk", row_mass, rows) / safe_mass
    centre_x = tf.einsum("bwk,w->bk", col_mass, cols) / safe_mass
    variance_y = tf.einsum("bhk,bhk->bk", row_mass, tf.square(rows[None, :, None] - centre_y[:, None])) / safe_mass
    variance_x = tf.einsum("bwk,bwk->bk", col_mass, tf.square(cols[None, :, None] - centre_x[:, None])) / safe_mass
    extent_y = tf.where(present, tf.sqrt(12.0 * variance_y) * (1.0 + margin), 0.0)
    extent_x = tf.where(present, tf.sqrt(12.0 * variance_x) * (1.0 + margin), 0.0)
    centre_y = tf.where(present, centre_y, (height - 1.0) / 2.0)
    centre_x = tf.where(present, centre_x, (width - 1.0) / 2.0)
    aspect = tf.constant([float(a) for a in aspects], tf.float32)
    min_height = min_box_fraction * tf.minimum(height, width)
    box_height = tf.maximum(extent_y, extent_x * aspect)
    if box_heights is not None:
        box_heights = tf.cast(box_heights, tf.float32)
        box_height = tf.where(box_heights > 0.0, box_heights, box_height)
    box_height = tf.maximum(box_height, min_height)
    box_width = box_height / aspect
    zeros = tf.zeros_like(centre_x)
    row0 = tf.stack([box_width / (width - 1.0), zeros, -1.0 + 2.0 * centre_x / (width - 1.0)], -1)
    row1 = tf.stack([zeros, box_height / (height - 1.0), -1.0 + 2.0 * centre_y / (height - 1.0)], -1)
    return tf.stack([row0, row1], axis=-2)
