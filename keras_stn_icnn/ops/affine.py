"""Affine crop parameters (theta) and the sampling grids they define.

Conventions (those of PyTorch's `affine_grid`/`grid_sample` with
`align_corners=True`, which the authors' code uses):

- A *frame* of `height x width` pixels has normalised coordinates in [-1, 1]:
  -1 is the centre of the first pixel and +1 the centre of the last one, so
  pixel `i` sits at `-1 + 2 i / (size - 1)`.
- `theta` of shape `[..., 2, 3]` maps a normalised output coordinate `(x, y, 1)`
  to a normalised source coordinate: `x_s = t00 x + t01 y + t02`,
  `y_s = t10 x + t11 y + t12`. STN-iCNN constrains theta to
  `[[sx, 0, tx], [0, sy, ty]]`; every function here accepts the general form.
- Pixel coordinates are `(y, x)` = (row, column), both counted from 0.
"""

import tensorflow as tf


def normalized_positions(size, dtype=tf.float32):
    """The normalised coordinates of the pixel centres of one frame axis.

    Computed as `torch.linspace(-1, 1, size)` does (from both ends towards the
    middle), so grids agree with PyTorch to the last bit.

    Args:
        size: number of pixels along the axis (Python int or scalar tensor).
        dtype: float dtype of the result.

    Returns:
        1-D tensor of `size` values from -1 to 1.

    Example:
    >>> normalized_positions(3).numpy().tolist()
    [-1.0, 0.0, 1.0]
    """
    size = tf.convert_to_tensor(size, tf.int32)
    index = tf.cast(tf.range(size), dtype)
    last = tf.cast(tf.maximum(size - 1, 1), dtype)
    step = tf.cast(2.0, dtype) / last
    from_start = -1.0 + index * step
    from_end = 1.0 - (last - index) * step
    return tf.where(index < tf.cast(size // 2, dtype), from_start, from_end)


def to_pixels(coordinate, size):
    """Maps normalised coordinates to pixel coordinates (align_corners=True).

    Args:
        coordinate: float tensor of normalised coordinates.
        size: number of pixels along that axis.

    Returns:
        `((coordinate + 1) / 2) * (size - 1)`, as PyTorch's `grid_sample`
        computes it.

    Example:
    >>> float(to_pixels(tf.constant(1.0), 81))
    80.0
    """
    size = tf.cast(size, coordinate.dtype)
    return ((coordinate + 1.0) / 2.0) * (size - 1.0)


def transform_grid(theta, x_positions, y_positions):
    """Applies theta to the grid spanned by two axes of normalised positions.

    Args:
        theta: float tensor `[..., 2, 3]`.
        x_positions: 1-D tensor `[W]` of normalised output columns.
        y_positions: 1-D tensor `[H]` of normalised output rows.

    Returns:
        `(x_source, y_source)`, each `[..., H, W]`, normalised source
        coordinates in the order of operations of PyTorch's `affine_grid`.

    Example:
    >>> theta = tf.constant([[1.0, 0.0, 0.5], [0.0, 1.0, 0.0]])
    >>> xs, ys = transform_grid(theta, normalized_positions(3), normalized_positions(2))
    >>> xs.numpy().tolist()
    [[-0.5, 0.5, 1.5], [-0.5, 0.5, 1.5]]
    """
    t = theta[..., tf.newaxis, tf.newaxis]  # [..., 2, 3, 1, 1]
    x = x_positions[tf.newaxis, :]
    y = y_positions[:, tf.newaxis]
    x_source = (x * t[..., 0, 0, :, :] + y * t[..., 0, 1, :, :]) + t[..., 0, 2, :, :]
    y_source = (x * t[..., 1, 0, :, :] + y * t[..., 1, 1, :, :]) + t[..., 1, 2, :, :]
    return x_source, y_source


def invert_theta(theta):
    """Inverts affine maps given as their top two rows.

    Args:
        theta: float tensor `[..., 2, 3]` with a non-singular 2x2 part.

    Returns:
        Tensor `[..., 2, 3]`: the top two rows of the inverse of
        `[[theta], [0, 0, 1]]`, which maps source coordinates back to output
        coordinates.

    Example:
    >>> inverse = invert_theta(tf.constant([[0.5, 0.0, 0.2], [0.0, 0.25, -0.1]]))
    >>> np.allclose(inverse, [[2.0, 0.0, -0.4], [0.0, 4.0, 0.4]])
    True
    """
    a, b, c = theta[..., 0, 0], theta[..., 0, 1], theta[..., 0, 2]
    d, e, f = theta[..., 1, 0], theta[..., 1, 1], theta[..., 1, 2]
    determinant = a * e - b * d
    row0 = tf.stack([e, -b, b * f - c * e], axis=-1) / determinant[..., tf.newaxis]
    row1 = tf.stack([-d, a, c * d - a * f], axis=-1) / determinant[..., tf.newaxis]
    return tf.stack([row0, row1], axis=-2)


def theta_from_centres(centres, window, frame_size):
    """Scale-and-translate thetas that centre a window on given pixels.

    With integer centres, an odd window and `align_corners=True`, the crop
    samples exactly pixels `c - window // 2 ... c + window // 2`.

    Args:
        centres: float tensor `[..., 2]` of `(y, x)` pixel coordinates.
        window: odd crop size in pixels (e.g. 81).
        frame_size: `(height, width)` of the frame the centres refer to.

    Returns:
        float32 tensor `[..., 2, 3]` = `[[sx, 0, tx], [0, sy, ty]]` with
        `sx = (window - 1) / (W - 1)` and `tx = -1 + 2 cx / (W - 1)`.

    Example:
    >>> theta_from_centres(tf.constant([40.0, 40.0]), 81, (81, 81)).numpy().tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """
    centres = tf.cast(centres, tf.float32)
    height = tf.cast(frame_size[0], tf.float32)
    width = tf.cast(frame_size[1], tf.float32)
    window = tf.cast(window, tf.float32)
    cy, cx = centres[..., 0], centres[..., 1]
    sx = tf.broadcast_to((window - 1.0) / (width - 1.0), tf.shape(cx))
    sy = tf.broadcast_to((window - 1.0) / (height - 1.0), tf.shape(cy))
    tx = -1.0 + 2.0 * cx / (width - 1.0)
    ty = -1.0 + 2.0 * cy / (height - 1.0)
    zeros = tf.zeros_like(cx)
    row0 = tf.stack([sx, zeros, tx], axis=-1)
    row1 = tf.stack([zeros, sy, ty], axis=-1)
    return tf.stack([row0, row1], axis=-2)


def crop_centres(theta, frame_size):
    """The frame pixels that crops' centres sample: the inverse of `theta_from_centres` for the centre.

    A crop's centre is the output coordinate (0, 0), which any theta maps to
    its translation `(t02, t12)`, so this holds for the general form too.

    Args:
        theta: float tensor `[..., 2, 3]`.
        frame_size: `(height, width)` of the frame theta refers to.

    Returns:
        float32 tensor `[..., 2]` of `(y, x)` pixel coordinates.

    Example:
    >>> theta = theta_from_centres(tf.constant([511.0, 300.0]), 81, (1024, 1024))
    >>> crop_centres(theta, (1024, 1024)).numpy().tolist()
    [511.0, 300.0]
    """
    theta = tf.cast(theta, tf.float32)
    return tf.stack([to_pixels(theta[..., 1, 2], frame_size[0]), to_pixels(theta[..., 0, 2], frame_size[1])], axis=-1)


SCALE_TRANSLATION_MASK = ((1.0, 0.0, 1.0), (0.0, 1.0, 1.0))
"""Elementwise mask that keeps `sx, tx, sy, ty` of a theta and zeroes the rest."""
