"""Differentiable sampling of images at affine grids: crops and their inverse.

Written with core TensorFlow ops only (floor, gather, arithmetic), so that it
has gradients with respect to both the image and theta, runs under XLA and
converts to TFLite with builtin ops. Coordinates follow `ops.affine`.

The *frame* is the coordinate system theta refers to. An image can sit inside a
larger zero frame (STN-iCNN's 1024x1024 canvas) without that canvas ever being
materialised: `offset` gives the frame position of the image's top-left pixel,
and everything outside the image reads as zero.
"""

import tensorflow as tf

from keras_stn_icnn.checks import check_choice
from keras_stn_icnn.ops import affine

SAMPLING_MODES = ("bilinear", "nearest")

DEFAULT_SNAP_TOLERANCE = 2.0**-14
"""Pixels: one float32 ulp of a coordinate in [512, 1024), see `crop`."""


def check_sampling_mode(mode):
    """Returns `mode` if it is one of `SAMPLING_MODES`, else raises ValueError.

    Example:
    >>> check_sampling_mode("nearest")
    'nearest'
    """
    return check_choice(mode, SAMPLING_MODES, "mode")


def _gather_pixels(image, rows, cols):
    """Reads `image[b, rows, cols, :]` with zeros outside the image.

    Args:
        image: `[B, H, W, C]`.
        rows, cols: int32 `[B, ...]` pixel indices in image coordinates.

    Returns:
        `[B, ..., C]` values, zero where an index falls outside the image.
    """
    shape = tf.shape(image)
    height, width, channels = shape[1], shape[2], shape[3]
    inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
    flat_index = tf.clip_by_value(rows, 0, height - 1) * width + tf.clip_by_value(cols, 0, width - 1)
    index_shape = tf.shape(flat_index)
    flat_image = tf.reshape(image, [shape[0], height * width, channels])
    values = tf.gather(flat_image, tf.reshape(flat_index, [shape[0], -1]), axis=1, batch_dims=1)
    values = tf.reshape(values, tf.concat([index_shape, [channels]], axis=0))
    return values * tf.cast(inside, values.dtype)[..., tf.newaxis]


def sample(image, x, y, mode="bilinear", offset=(0, 0)):
    """Samples an image at fractional pixel positions with zero padding.

    Args:
        image: float tensor `[B, H, W, C]`.
        x, y: float tensors `[B, ...]`, column and row positions in frame
            pixels.
        mode: `"bilinear"` (differentiable in the positions) or `"nearest"`
            (rounds half to even, as PyTorch does).
        offset: `(top, left)` frame position of the image's pixel (0, 0).

    Returns:
        Tensor `[B, ..., C]`.

    Example:
    >>> image = tf.reshape(tf.range(4.0), [1, 2, 2, 1])
    >>> sample(image, tf.constant([[0.5]]), tf.constant([[0.0]]))[..., 0].numpy().tolist()
    [[0.5]]
    """
    check_sampling_mode(mode)
    top = tf.cast(offset[0], tf.int32)
    left = tf.cast(offset[1], tf.int32)
    if mode == "nearest":
        rows = tf.cast(tf.round(y), tf.int32) - top
        cols = tf.cast(tf.round(x), tf.int32) - left
        return _gather_pixels(image, rows, cols)

    x0 = tf.floor(x)
    y0 = tf.floor(y)
    x1 = x0 + 1.0
    y1 = y0 + 1.0
    rows0 = tf.cast(y0, tf.int32) - top
    cols0 = tf.cast(x0, tf.int32) - left
    rows1 = rows0 + 1
    cols1 = cols0 + 1
    weight_nw = ((x1 - x) * (y1 - y))[..., tf.newaxis]
    weight_ne = ((x - x0) * (y1 - y))[..., tf.newaxis]
    weight_sw = ((x1 - x) * (y - y0))[..., tf.newaxis]
    weight_se = ((x - x0) * (y - y0))[..., tf.newaxis]
    return (
        _gather_pixels(image, rows0, cols0) * weight_nw
        + _gather_pixels(image, rows0, cols1) * weight_ne
        + _gather_pixels(image, rows1, cols0) * weight_sw
        + _gather_pixels(image, rows1, cols1) * weight_se
    )


def _snap_to_integers(position, tolerance):
    """Moves positions within `tolerance` of an integer onto it."""
    shift = tf.round(position) - position
    return position + tf.where(tf.abs(shift) <= tolerance, shift, tf.zeros_like(shift))


def frame_offset(image_size, frame_size):
    """Where an image sits when centred on a larger zero frame.

    Args:
        image_size: `(height, width)` of the image.
        frame_size: `(height, width)` of the frame, or None for the image
            itself.

    Returns:
        `(top, left)` = `((frame_h - h) // 2, (frame_w - w) // 2)`, the
        reference's padding rule; `(0, 0)` when `frame_size` is None.

    Example:
    >>> [int(v) for v in frame_offset((512, 300), (1024, 1024))]
    [256, 362]
    """
    if frame_size is None:
        return (tf.constant(0), tf.constant(0))
    return (
        (tf.cast(frame_size[0], tf.int32) - tf.cast(image_size[0], tf.int32)) // 2,
        (tf.cast(frame_size[1], tf.int32) - tf.cast(image_size[1], tf.int32)) // 2,
    )


def crop(
    image,
    theta,
    window,
    mode="bilinear",
    frame_size=None,
    snap_tolerance=DEFAULT_SNAP_TOLERANCE,
):
    """Crops `N` windows per image with affine grids (PyTorch-compatible).

    Equal to `grid_sample(image, affine_grid(theta, [.., window, window],
    align_corners=True), align_corners=True, padding_mode="zeros")` for every
    theta, with the image centred on a zero frame of `frame_size` if given.

    Args:
        image: float tensor `[B, H, W, C]`.
        theta: float tensor `[B, N, 2, 3]`.
        window: output size; an int or `(height, width)`.
        mode: `"bilinear"` or `"nearest"`.
        frame_size: `(height, width)` of the zero frame theta refers to, or
            None to use the image itself as the frame.
        snap_tolerance: bilinear values are read at positions moved onto
            the nearest integer when closer than this (in pixels), so that
            float32 rounding of the grid cannot turn an exact pixel copy into
            a blend of neighbours. Gradients are those of the unmoved
            positions, as PyTorch computes them. The default, 2**-14 px, is
            the largest rounding error of such grids on frames up to 1024 px;
            it moves any other value by at most 6e-5 of a neighbour
            difference. 0 disables it.

    Returns:
        Tensor `[B, N, window_h, window_w, C]`.

    Example:
    >>> image = tf.random.uniform([2, 100, 120, 3])
    >>> theta = affine.theta_from_centres(tf.fill([2, 6, 2], 50.0), 81, (100, 120))
    >>> crop(image, theta, 81).shape
    TensorShape([2, 6, 81, 81, 3])
    """
    check_sampling_mode(mode)
    out_height, out_width = (window, window) if isinstance(window, int) else window
    image_size = tf.shape(image)[1:3]
    if frame_size is None:
        frame_size = (image_size[0], image_size[1])
    offset = frame_offset(image_size, frame_size)
    x_norm, y_norm = affine.transform_grid(
        tf.cast(theta, image.dtype),
        affine.normalized_positions(out_width, image.dtype),
        affine.normalized_positions(out_height, image.dtype),
    )
    x = affine.to_pixels(x_norm, frame_size[1])
    y = affine.to_pixels(y_norm, frame_size[0])
    crops = sample(image, x, y, mode=mode, offset=offset)
    if mode == "nearest" or not snap_tolerance:
        return crops
    snapped = sample(
        image,
        _snap_to_integers(x, snap_tolerance),
        _snap_to_integers(y, snap_tolerance),
        offset=offset,
    )
    # The value of `snapped` with the gradient of `crops`.
    return tf.stop_gradient(snapped) + (crops - tf.stop_gradient(crops))


def _paste_axis_aligned(patches, theta, frame_positions, fill_value):
    """Nearest paste for thetas without rotation or shear, one axis at a time.

    Such a theta maps output columns to patch columns and output rows to patch
    rows independently, so two gathers of 1-D index vectors replace a 2-D grid.
    The positions are computed with the same float operations as the general
    grid, so the result is identical.

    The patch gets one extra row and column of `fill_value`, and positions
    outside the window read it, so no mask pass over the output is needed.
    Columns are gathered first, on the small patch; the second gather then
    copies whole rows of the output (contiguous blocks) instead of single
    pixels, which is what makes it fast.
    """
    inverse = affine.invert_theta(tf.cast(theta, patches.dtype))
    patch_size = tf.shape(patches)[2:4]
    indices = []
    for axis, positions in enumerate(frame_positions):
        row = 1 - axis  # x (axis 1) uses theta row 0, y (axis 0) uses row 1
        source = positions * tf.expand_dims(inverse[:, :, row, row], -1) + tf.expand_dims(inverse[:, :, row, 2], -1)
        index = tf.cast(tf.round(affine.to_pixels(source, patch_size[axis])), tf.int32)
        inside = (index >= 0) & (index < patch_size[axis])
        indices.append(tf.where(inside, index, patch_size[axis]))  # the fill row/column
    padded = tf.pad(
        patches,
        [[0, 0], [0, 0], [0, 1], [0, 1], [0, 0]],
        constant_values=tf.cast(fill_value, patches.dtype),
    )
    columns = tf.gather(padded, indices[1], axis=3, batch_dims=2)
    return tf.gather(columns, indices[0], axis=2, batch_dims=2)


def paste(
    patches,
    theta,
    frame_size,
    region=None,
    mode="nearest",
    fill_value=0.0,
    axis_aligned=False,
):
    """Pastes crops back into their frame: the inverse of `crop`.

    Every output pixel reads the patch at the position that `crop` with the
    same theta took it from (the grid of the inverted theta), so a pasted
    patch lands where it was cut out. Outside the patch the output is
    `fill_value`.

    Args:
        patches: float tensor `[B, N, h, w, C]`.
        theta: float tensor `[B, N, 2, 3]`, the thetas the patches were cropped
            with.
        frame_size: `(height, width)` of the frame theta refers to.
        region: `(top, left, height, width)` of the part of the frame to
            render, or None for the whole frame. Rendering only the image's own
            region of a large canvas skips work on padding no one will see.
        mode: `"nearest"` (the reference) or `"bilinear"`.
        fill_value: value outside every patch window. In bilinear mode the
            border pixels blend the patch with it.
        axis_aligned: if True, theta's rotation/shear terms are taken to be
            zero (as `[[sx, 0, tx], [0, sy, ty]]` thetas are) and a faster,
            separable nearest paste is used; the off-diagonal terms are then
            ignored. Requires mode "nearest".

    Returns:
        Tensor `[B, N, height, width, C]`.

    Example:
    >>> patches = tf.ones([1, 6, 81, 81, 2])
    >>> theta = affine.theta_from_centres(tf.fill([1, 6, 2], 100.0), 81, (200, 300))
    >>> paste(patches, theta, (200, 300)).shape
    TensorShape([1, 6, 200, 300, 2])
    """
    check_sampling_mode(mode)
    shape = tf.shape(patches)
    batch, parts = shape[0], shape[1]
    patch_height, patch_width, channels = shape[2], shape[3], shape[4]
    if region is None:
        region = (0, 0, frame_size[0], frame_size[1])
    top, left, height, width = region
    x_positions = affine.normalized_positions(frame_size[1], patches.dtype)[left : left + width]
    y_positions = affine.normalized_positions(frame_size[0], patches.dtype)[top : top + height]
    if axis_aligned:
        if mode != "nearest":
            raise ValueError(f"axis_aligned pasting supports mode 'nearest' only, got {mode!r}")
        return _paste_axis_aligned(patches, theta, (y_positions, x_positions), fill_value)
    x_norm, y_norm = affine.transform_grid(affine.invert_theta(tf.cast(theta, patches.dtype)), x_positions, y_positions)
    x = tf.reshape(affine.to_pixels(x_norm, patch_width), [batch * parts, height, width])
    y = tf.reshape(affine.to_pixels(y_norm, patch_height), [batch * parts, height, width])
    fill = tf.cast(fill_value, patches.dtype)
    flat_patches = tf.reshape(patches, [batch * parts, patch_height, patch_width, channels])
    if mode == "nearest":
        pasted = sample(flat_patches, x, y, mode=mode)
        column, row = tf.round(x), tf.round(y)
        window = (
            (column >= 0)
            & (column <= tf.cast(patch_width - 1, x.dtype))
            & (row >= 0)
            & (row <= tf.cast(patch_height - 1, y.dtype))
        )
        pasted = tf.where(window[..., tf.newaxis], pasted, fill)
    else:
        pasted = sample(flat_patches - fill, x, y, mode=mode) + fill
    return tf.reshape(pasted, [batch, parts, height, width, channels])


def _interpolation_matrix(scale, shift, frame_length, patch_length):
    """`[B, frame_length, patch_length]` bilinear weights of patch pixels for each frame pixel."""
    frame_positions = -1.0 + 2.0 * tf.range(tf.cast(frame_length, tf.float32)) / (
        tf.cast(frame_length, tf.float32) - 1.0
    )
    patch_positions = (frame_positions[tf.newaxis] - tf.expand_dims(shift, 1)) / tf.expand_dims(scale, 1)
    patch_pixels = (patch_positions + 1.0) / 2.0 * (patch_length - 1.0)
    distance = tf.abs(tf.expand_dims(patch_pixels, 2) - tf.range(float(patch_length)))
    return tf.nn.relu(1.0 - distance)


def paste_box(patches, theta, frame_size):
    """Bilinear paste of crops taken with scale-and-translate thetas, zero outside the box.

    The same values as `paste(..., mode="bilinear")` for one patch per
    image and thetas `[[sx, 0, tx], [0, sy, ty]]`, computed separably as two
    matmuls with the bilinear ("hat") weights of every frame row and column,
    which are zero beyond one pixel outside the patch. (The general `paste`
    does not convert to LiteRT builtins when the frame size is only known at
    run time.)

    Args:
        patches: float tensor `[B, h, w, C]`.
        theta: float tensor `[B, 2, 3]`, the crops' thetas (off-diagonal
            terms ignored).
        frame_size: `(H, W)` of the frame.

    Returns:
        float tensor `[B, H, W, C]`.

    Example:
    >>> theta = tf.constant([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    >>> paste_box(tf.ones([1, 8, 8, 2]), theta, (8, 8)).shape
    TensorShape([1, 8, 8, 2])
    """
    patch_height, patch_width = patches.shape[1], patches.shape[2]
    rows = _interpolation_matrix(theta[:, 1, 1], theta[:, 1, 2], frame_size[0], patch_height)
    cols = _interpolation_matrix(theta[:, 0, 0], theta[:, 0, 2], frame_size[1], patch_width)
    channels_first = tf.transpose(patches, [0, 3, 1, 2])  # [B, C, h, w]
    pasted = tf.matmul(tf.matmul(tf.expand_dims(rows, 1), channels_first), tf.expand_dims(cols, 1), transpose_b=True)
    return tf.transpose(pasted, [0, 2, 3, 1])
