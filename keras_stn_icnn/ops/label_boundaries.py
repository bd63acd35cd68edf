"""Boundary maps of label maps: where a pixel's neighbourhood holds another label.

BASS (Liu et al., AAAI 2020, Eq. 3-4) needs a boundary indicator `y^b_i`
for every pixel: 1 "if pixel i is located on the boundaries" between two
semantic classes, 0 otherwise. It is computed from the label map itself, so
no boundary annotation is needed.
"""

import tensorflow as tf


def label_boundaries(labels, radius=1):
    """1.0 where a pixel's `(2 radius + 1)^2` window holds more than one label, else 0.0.

    A pixel is on a boundary when some pixel at most `radius` rows and
    `radius` columns away (inside the image) has a different label, so every
    boundary between two regions is marked on both sides, `2 radius` pixels
    wide in all. Pixels outside the image are ignored: the image border is
    not a boundary. Computed as the window's largest label differing from
    its smallest (two max-pools), exact for ids below 2^24.

    Args:
        labels: integer tensor `[B, H, W]`, the class id of every pixel.
        radius: int >= 1, the half-width of the window.

    Returns:
        float32 tensor `[B, H, W]` of 0.0 and 1.0.

    Raises:
        ValueError: if `labels` is not of rank 3 or `radius` is not an int >= 1.

    Example:
    >>> labels = tf.constant([[[0, 0, 1, 1]]])
    >>> label_boundaries(labels).numpy()
    array([[[0., 1., 1., 0.]]], dtype=float32)
    """
    if isinstance(radius, bool) or not isinstance(radius, int) or radius < 1:
        raise ValueError(f"radius must be an int >= 1, got {radius!r}")
    labels = tf.convert_to_tensor(labels)
    if labels.shape.rank != 3:
        raise ValueError(f"labels must be [B, H, W], got shape {labels.shape}")
    ids = tf.cast(labels, tf.float32)[..., None]
    window = 2 * radius + 1
    largest = tf.nn.max_pool2d(ids, window, 1, "SAME")
    smallest = -tf.nn.max_pool2d(-ids, window, 1, "SAME")
    return tf.cast(largest > smallest, tf.float32)[..., 0]
