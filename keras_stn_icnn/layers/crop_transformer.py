"""The differentiable crop (grid transformer), its inverse, and part assembly.

Coordinate convention (PyTorch's `affine_grid`/`grid_sample` with
`align_corners=True`, as in the authors' code): in a frame of `H x W` pixels
the normalised coordinate -1 is the centre of the first pixel and +1 the centre
of the last, so pixel `i` sits at `-1 + 2 i / (size - 1)`. A theta
`[[t00, t01, t02], [t10, t11, t12]]` maps each output position `(x, y, 1)` to
the source position it reads. Sampling outside the source reads zeros.

With `canvas_size` set, the source image is treated as centred on a zero canvas
of that size (left = (W_c - W) // 2, top = (H_c - H) // 2), as STN-iCNN crops
from a 1024x1024 canvas; the canvas is never materialised.
"""

import keras
import tensorflow as tf

from keras_stn_icnn.ops import assembly, grid_sample


def _check_window(window):
    if int(window) != window or window < 1 or window % 2 == 0:
        raise ValueError(
            f"window must be a positive odd integer (an odd window puts the crop on the pixel grid), got {window!r}"
        )
    return int(window)


def _check_canvas(canvas_size):
    if canvas_size is None:
        return None
    canvas_size = tuple(int(s) for s in canvas_size)
    if len(canvas_size) != 2 or min(canvas_size) < 2:
        raise ValueError(f"canvas_size must be (height, width) >= 2, got {canvas_size!r}")
    return canvas_size


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class CropTransformer(keras.layers.Layer):
    """Crops `N` square windows per image with affine thetas (differentiable).

    Equal to PyTorch's `grid_sample(image, affine_grid(theta, [B, C, window,
    window], align_corners=True), align_corners=True, padding_mode="zeros")`
    for each of the `N` thetas. Gradients flow to the image and, in bilinear
    mode, to theta.

    With an odd window and a theta from `ops.theta_from_centres` at integer
    centres, every sample lands on a pixel centre and the crop equals plain
    array slicing bit for bit (the paper's Fig. 8): positions within
    `snap_tolerance` pixels of an integer are put on it, so float32 rounding of
    the grid cannot blend in a neighbour.

    Args:
        window: int, odd output size in pixels. Defaults to 81 (HELEN; the
            paper uses 127 for CelebAMask-HQ).
        mode: `"bilinear"` (images, differentiable in theta) or `"nearest"`
            (label maps).
        canvas_size: `(height, width)` of the zero canvas theta refers to, or
            None to use each image's own frame.
        snap_tolerance: float, see above; 0 disables snapping.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        images: float or uint8 tensor `[B, H, W, C]`.
        theta: float tensor `[B, N, 2, 3]`.

    Returns:
        float32 tensor `[B, N, window, window, C]`.

    Example:
    >>> from keras_stn_icnn import ops
    >>> images = keras.random.uniform([2, 512, 512, 3])
    >>> centres = keras.ops.full([2, 6, 2], 300.0)
    >>> theta = ops.theta_from_centres(centres, 81, (1024, 1024))
    >>> CropTransformer(81, canvas_size=(1024, 1024))(images, theta).shape
    TensorShape([2, 6, 81, 81, 3])
    """

    def __init__(
        self,
        window=81,
        mode="bilinear",
        canvas_size=None,
        snap_tolerance=grid_sample.DEFAULT_SNAP_TOLERANCE,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.window = _check_window(window)
        self.mode = grid_sample.check_sampling_mode(mode)
        self.canvas_size = _check_canvas(canvas_size)
        self.snap_tolerance = float(snap_tolerance)

    def call(self, images, theta):
        images = tf.cast(images, self.compute_dtype)
        return grid_sample.crop(
            images,
            theta,
            self.window,
            mode=self.mode,
            frame_size=self.canvas_size,
            snap_tolerance=self.snap_tolerance,
        )

    def compute_output_shape(self, images_shape, theta_shape):
        return (images_shape[0], theta_shape[1], self.window, self.window, images_shape[-1])

    def get_config(self):
        return {
            **super().get_config(),
            "window": self.window,
            "mode": self.mode,
            "canvas_size": self.canvas_size,
            "snap_tolerance": self.snap_tolerance,
        }


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class InverseCropTransformer(keras.layers.Layer):
    """Pastes cropped patches back where `CropTransformer` took them from.

    Each output pixel reads the patch through the inverse of its theta (the
    reference extends theta to 3x3, inverts it and samples in nearest mode).
    Outside a patch's window the output is `fill_value`.

    The output covers the frame of the images the patches were cut from: with
    `canvas_size` set, only the region of the canvas where such an image sits
    is rendered (the reference renders the whole 1024x1024 canvas and then
    crops that region out), which gives the same values for a fraction of the
    work.

    Args:
        mode: `"nearest"` (the reference) or `"bilinear"`.
        canvas_size: `(height, width)` of the canvas theta refers to, or None
            when theta refers to the image frame itself.
        fill_value: float, value outside every window. The reference pastes
            backgrounds as `1 - paste(1 - p)`, i.e. with fill value 1.
        axis_aligned: bool, take every theta to be `[[sx, 0, tx], [0, sy, ty]]`
            (what STN-iCNN's localizers produce) and paste one axis at a time:
            same values, a fraction of the work. Off-diagonal terms are then
            ignored, so leave it False for general affine thetas. Nearest
            mode only.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        patches: float tensor `[B, N, h, w, C]`.
        theta: float tensor `[B, N, 2, 3]`, the thetas used for cropping.
        images: tensor `[B, H, W, ...]` whose spatial size is the output size
            (the images the patches were cropped from).

    Returns:
        float32 tensor `[B, N, H, W, C]`.

    Example:
    >>> from keras_stn_icnn import ops
    >>> patches = keras.random.uniform([1, 6, 81, 81, 2])
    >>> theta = ops.theta_from_centres(keras.ops.full([1, 6, 2], 512.0), 81, (1024, 1024))
    >>> images = keras.ops.zeros([1, 512, 400, 3])
    >>> InverseCropTransformer(canvas_size=(1024, 1024))(patches, theta, images).shape
    TensorShape([1, 6, 512, 400, 2])
    """

    def __init__(self, mode="nearest", canvas_size=None, fill_value=0.0, axis_aligned=False, **kwargs):
        super().__init__(**kwargs)
        if axis_aligned and mode != "nearest":
            raise ValueError(f"axis_aligned=True needs mode 'nearest', got {mode!r}")
        self.mode = grid_sample.check_sampling_mode(mode)
        self.canvas_size = _check_canvas(canvas_size)
        self.fill_value = float(fill_value)
        self.axis_aligned = bool(axis_aligned)

    def build(self, patches_shape, theta_shape, images_shape):
        """No weights; the output size comes from `images` at call time."""

    def call(self, patches, theta, images):
        image_size = tf.shape(images)[1:3]
        frame_size = self.canvas_size or (image_size[0], image_size[1])
        top, left = grid_sample.frame_offset(image_size, frame_size)
        return grid_sample.paste(
            tf.cast(patches, self.compute_dtype),
            theta,
            frame_size,
            region=(top, left, image_size[0], image_size[1]),
            mode=self.mode,
            fill_value=self.fill_value,
            axis_aligned=self.axis_aligned,
        )

    def compute_output_shape(self, patches_shape, theta_shape, images_shape):
        return (
            patches_shape[0],
            patches_shape[1],
            images_shape[1],
            images_shape[2],
            patches_shape[-1],
        )

    def get_config(self):
        return {
            **super().get_config(),
            "mode": self.mode,
            "canvas_size": self.canvas_size,
            "fill_value": self.fill_value,
            "axis_aligned": self.axis_aligned,
        }


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class PartAssembly(keras.layers.Layer):
    """Pastes per-part probabilities back and assembles one face map.

    Each part's probabilities `[B, h, w, 1 + k]` (channel 0 its background)
    are pasted with nearest sampling: its `k` foreground channels with fill 0,
    its background as `1 - paste(1 - background)` (the reference's arithmetic,
    kept for bit-identical results), which is 1 outside the window.
    The face background is the product of every part's background, and the
    foreground channels follow in part order. Thetas must be
    `[[sx, 0, tx], [0, sy, ty]]` (as `ScaleTranslationTheta` makes them): the
    paste runs one axis at a time.

    Args:
        canvas_size: `(height, width)` of the canvas the thetas refer to, or
            None for the image frame.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        part_probabilities: list of `N` float tensors `[B, h, w, 1 + k_i]`.
        theta: float tensor `[B, N, 2, 3]`.
        images: tensor `[B, H, W, ...]` giving the output size.

    Returns:
        float32 tensor `[B, H, W, 1 + sum(k_i)]`.

    Example:
    >>> from keras_stn_icnn import ops
    >>> probs = [keras.ops.full([1, 81, 81, 2], 0.5)] * 5 + [keras.ops.full([1, 81, 81, 4], 0.25)]
    >>> theta = ops.theta_from_centres(keras.ops.full([1, 6, 2], 512.0), 81, (1024, 1024))
    >>> PartAssembly(canvas_size=(1024, 1024))(probs, theta, keras.ops.zeros([1, 512, 512, 3])).shape
    TensorShape([1, 512, 512, 9])
    """

    def __init__(self, canvas_size=None, **kwargs):
        super().__init__(**kwargs)
        self.canvas_size = _check_canvas(canvas_size)
        self.paste = InverseCropTransformer(canvas_size=self.canvas_size, axis_aligned=True, name="paste")

    def build(self, part_probabilities_shape, theta_shape, images_shape):
        self.paste.build(part_probabilities_shape[0], theta_shape, images_shape)

    def call(self, part_probabilities, theta, images):
        foregrounds = [p[..., 1:] for p in part_probabilities]
        backgrounds = tf.stack([1.0 - p[..., 0] for p in part_probabilities], axis=1)
        # expand_dims rather than tf.newaxis indexing: LiteRT's builtin
        # STRIDED_SLICE does not take new axes on tensors of this rank.
        pasted_backgrounds = 1.0 - self.paste(tf.expand_dims(backgrounds, -1), theta, images)[..., 0]
        pasted_foregrounds = [
            self.paste(tf.expand_dims(foreground, 1), theta[:, index : index + 1], images)[:, 0]
            for index, foreground in enumerate(foregrounds)
        ]
        return assembly.assemble_part_probabilities(pasted_backgrounds, pasted_foregrounds)

    def compute_output_shape(self, part_probabilities_shape, theta_shape, images_shape):
        channels = 1 + sum(shape[-1] - 1 for shape in part_probabilities_shape)
        return (images_shape[0], images_shape[1], images_shape[2], channels)

    def get_config(self):
        return {**super().get_config(), "canvas_size": self.canvas_size}
