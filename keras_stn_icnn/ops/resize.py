"""Pooling and resizing with PyTorch's index conventions.

The authors' code relies on three PyTorch behaviours that TensorFlow's defaults
do not share. Each function here reproduces one of them exactly:

- `max_pool_3x3_stride2`: `F.max_pool2d(x, 3, 2, padding=1)`. TF's "SAME"
  padding pads even sizes asymmetrically (0 before, 1 after); PyTorch pads one
  pixel on every side.
- `resize_nearest`: `F.interpolate(x, size, mode="nearest")`, whose source index
  is `floor(dst * in / out)` (no half-pixel centres, no aligned corners).
- `resize_bilinear_align_corners`: `F.interpolate(..., mode="bilinear",
  align_corners=True)`.

All functions take and return NHWC tensors.
"""

import numpy as np
import tensorflow as tf


def max_pool_3x3_stride2(x):
    """Max pooling with kernel 3, stride 2 and one pixel of padding per side.

    Args:
        x: float tensor `[B, H, W, C]`.

    Returns:
        Tensor `[B, ceil(H / 2), ceil(W / 2), C]`, equal to PyTorch's
        `F.max_pool2d(x, kernel_size=3, stride=2, padding=1)`.

    Example:
    >>> max_pool_3x3_stride2(tf.zeros([1, 81, 81, 3])).shape
    TensorShape([1, 41, 41, 3])
    """
    padded = tf.pad(
        x,
        [[0, 0], [1, 1], [1, 1], [0, 0]],
        constant_values=x.dtype.min,
    )
    return tf.nn.max_pool2d(padded, ksize=3, strides=2, padding="VALID")


def _nearest_source_indices(in_size, out_size):
    # The float32 arithmetic of PyTorch's (and TF's) nearest kernel:
    # min(floor(dst * (in / out)), in - 1). Sizes known while tracing give the
    # indices as one constant (numpy's float32 division and product round as
    # TF's do); a graph traced for unknown sizes computes them.
    if isinstance(in_size, (int, np.integer)) and isinstance(out_size, (int, np.integer)):
        scale = np.float32(in_size) / np.float32(out_size)
        index = np.floor(np.arange(out_size, dtype=np.float32) * scale).astype(np.int32)
        return np.minimum(index, np.int32(in_size - 1))
    scale = tf.cast(in_size, tf.float32) / tf.cast(out_size, tf.float32)
    index = tf.cast(tf.floor(tf.cast(tf.range(out_size), tf.float32) * scale), tf.int32)
    return tf.minimum(index, in_size - 1)


def resize_nearest(x, size):
    """Nearest-neighbour resize with PyTorch's `floor(dst * in / out)` rule.

    Written as one gather per axis rather than `ResizeNearestNeighbor`:
    tf2onnx turns that op into an ONNX `Resize` with float scales, and
    `21 * float32(41 / 21)` rounds down to 40 rows; explicit indices give
    every runtime the same rows.

    Args:
        x: tensor `[B, H, W, C]`.
        size: target `(height, width)`; Python ints or scalar int32 tensors.

    Returns:
        Tensor `[B, height, width, C]`.

    Example:
    >>> resize_nearest(tf.zeros([1, 11, 11, 8]), (21, 21)).shape
    TensorShape([1, 21, 21, 8])
    """
    x = tf.convert_to_tensor(x)
    in_height, in_width = (x.shape[axis] if x.shape[axis] is not None else tf.shape(x)[axis] for axis in (1, 2))
    rows = tf.gather(x, _nearest_source_indices(in_height, size[0]), axis=1)
    return tf.gather(rows, _nearest_source_indices(in_width, size[1]), axis=2)


def resize_bilinear_align_corners(x, size):
    """Bilinear resize whose corner pixel centres map onto each other.

    Args:
        x: float tensor `[B, H, W, C]`.
        size: target `(height, width)`.

    Returns:
        float32 tensor `[B, height, width, C]`, equal to PyTorch's
        `F.interpolate(x, size, mode="bilinear", align_corners=True)`.

    Example:
    >>> resize_bilinear_align_corners(tf.zeros([1, 512, 512, 3]), (128, 128)).shape
    TensorShape([1, 128, 128, 3])
    """
    return tf.raw_ops.ResizeBilinear(
        images=x,
        size=tf.stack(size),
        align_corners=True,
        half_pixel_centers=False,
    )
