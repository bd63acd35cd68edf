"""A localizer with nothing to learn: part thetas from the soft centroids of the stage-1 probabilities."""

import math

import keras
import tensorflow as tf

from keras_stn_icnn.ops import theta_from_centres
from keras_stn_icnn.ops.centroids import STN_ICNN_PART_CLASSES, class_centroids, densest_window_masks, part_centres

NUM_MASK_CHANNELS = 1 + max(max(classes) for classes in STN_ICNN_PART_CLASSES)

FRAME_SIZE = 512
"""The photo side the crops are placed for by default: the synthetic photos', and FaceParser's framing."""


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class CentroidLocalizer(keras.layers.Layer):
    """Six thetas from the probability-weighted centroids of the stage-1 mask, differentiable.

    The iCNN baseline's cropper (`layers.CentroidTheta`) made soft: each
    class's centroid is the mean pixel position weighted by its softmax
    probability (`ops.centroids.class_centroids`) inside the crop-sized
    square of the mask that holds most of its part's probability
    (`ops.centroids.densest_window_masks`; the mouth's three classes search
    together), the parts' centres follow
    the ground truth's rule (`ops.centroids.part_centres`: the mouth is the
    mean of its classes, a missing part is filled from its partner or the
    inner face), and the centres become thetas exactly as the ground-truth
    thetas are made. Gradients flow from the crops back into the stage-1
    iCNN, so end-to-end training still trains stage 1 through the crop.

    Like the paper's learned localizers it sees only the mask, not the
    photo's size: it places the crops as on a `frame_size` square photo
    centred on the canvas, the size the synthetic faces have and the one
    `FaceParser` frames real faces to. Measured on the synthetic test faces
    its crops are about 5 canvas pixels from the ground truth's once stage 1
    is trained, where the paper's ResNet-18 localizer, trained on the same
    masks, stays 20-50 pixels off after 600 steps
    (`docs/stage1_ablation.md`).

    Args:
        num_mask_channels: int, channels of the input mask. Must be 9 (the
            STN-iCNN classes).
        num_parts: int. Must be 6.
        frame_size: int, the side of the square photo the mask is taken to
            come from. Defaults to 512.
        canvas_size: int, the side of the canvas the photo is centred on.
            Defaults to 1024.
        window: odd int, the crop side. Defaults to 81.
        min_mass: float, summed probability a class needs to count as
            present. Defaults to 1.
        densest_window: bool, take each class's centroid inside the square
            of the mask, as large as a crop (`window` photo pixels), that
            holds most of its part's probability. On real photographs a stage 1
            trained on synthetic faces leaves a little probability of each
            part all over the 128x128 map, and blobs of it on things that
            look like parts (a cap's badge): summed over the whole map they
            pull a centroid off its part. Inside the densest crop-sized
            square they cannot, and faint parts (brows) still count
            (`docs/real_photos.md`). Defaults to True.
        whole_pixels: bool, floor the crop centres to whole canvas pixels
            in the forward pass, as the ground-truth thetas the part models
            are trained on are, with the identity as their gradient
            (straight-through). The crops are then plain copies, and pasting
            the parts back moves no label by a fraction of a pixel; between
            whole pixels the crop is bilinearly resampled, which costs
            F1 (`docs/stage1_ablation.md`). Defaults to True.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        probabilities: float tensor `[B, h, w, 9]`, the softmax of the
            stage-1 logits.

    Returns:
        float32 tensor `[B, 6, 2, 3]` of `[[sx, 0, tx], [0, sy, ty]]`.

    Example:
    >>> from keras_stn_icnn.ops import crop_centres
    >>> background = keras.ops.one_hot(keras.ops.zeros([1, 128, 128], "int32"), 9)
    >>> theta = CentroidLocalizer()(background)  # no face: every crop at the 512 px photo's centre
    >>> crop_centres(theta, (1024, 1024))[0, 0].numpy().round(3).tolist()  # 256 + 255.5, floored
    [511.0, 511.0]
    """

    def __init__(
        self,
        num_mask_channels=NUM_MASK_CHANNELS,
        num_parts=6,
        frame_size=FRAME_SIZE,
        canvas_size=1024,
        window=81,
        min_mass=1.0,
        densest_window=True,
        whole_pixels=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(num_mask_channels) != NUM_MASK_CHANNELS or int(num_parts) != len(STN_ICNN_PART_CLASSES):
            raise ValueError(
                f"CentroidLocalizer places STN-iCNN's {len(STN_ICNN_PART_CLASSES)} parts from its "
                f"{NUM_MASK_CHANNELS} classes, got num_mask_channels={num_mask_channels!r}, num_parts={num_parts!r}"
            )
        if not 2 <= int(frame_size) <= int(canvas_size):
            raise ValueError(f"need 2 <= frame_size <= canvas_size, got {frame_size!r} and {canvas_size!r}")
        if int(window) % 2 != 1:
            raise ValueError(f"window must be odd, got {window!r}")
        if not float(min_mass) > 0:
            raise ValueError(f"min_mass must be positive, got {min_mass!r}")
        self.num_mask_channels = NUM_MASK_CHANNELS
        self.num_parts = len(STN_ICNN_PART_CLASSES)
        self.frame_size = int(frame_size)
        self.canvas_size = int(canvas_size)
        self.window = int(window)
        self.min_mass = float(min_mass)
        self.densest_window = bool(densest_window)
        self.whole_pixels = bool(whole_pixels)

    def build(self, probabilities_shape):
        if len(probabilities_shape) != 4 or probabilities_shape[-1] != NUM_MASK_CHANNELS:
            raise ValueError(
                f"probabilities must be [B, h, w, {NUM_MASK_CHANNELS}], got shape {tuple(probabilities_shape)}"
            )
        if self.densest_window and None in tuple(probabilities_shape[1:3]):
            raise ValueError(
                f"densest_window needs the mask's height and width when the layer is built, got shape "
                f"{tuple(probabilities_shape)}"
            )

    def _search_side(self, map_side):
        """The crop's side in mask cells (corners aligned), rounded up to an odd number."""
        side = math.ceil(self.window * (map_side - 1) / (self.frame_size - 1))
        return side + 1 - side % 2

    def _keep_densest_windows(self, probabilities):
        """Each part's classes, zero outside the crop-sized square that holds most of the part's probability."""
        parts = [tf.add_n([probabilities[..., channel] for channel in classes]) for classes in STN_ICNN_PART_CLASSES]
        masks = densest_window_masks(tf.stack(parts, axis=-1), self._search_side(max(probabilities.shape[1:3])))
        channel_masks = [tf.ones_like(masks[..., 0])] * NUM_MASK_CHANNELS  # the background keeps every pixel
        for part, classes in enumerate(STN_ICNN_PART_CLASSES):
            for channel in classes:
                channel_masks[channel] = masks[..., part]
        return probabilities * tf.stack(channel_masks, axis=-1)

    def call(self, probabilities):
        probabilities = tf.cast(probabilities, tf.float32)
        if self.densest_window:
            probabilities = self._keep_densest_windows(probabilities)
        centroids, mass = class_centroids(probabilities)  # [B, 9, 2] on the mask grid
        map_size = tf.cast(tf.shape(probabilities)[1:3], tf.float32)
        centres, _ = part_centres(centroids, mass, (map_size[0], map_size[1]), min_mass=self.min_mass)
        # Corners aligned, as the stage-1 resize: grid position i is photo position i (frame - 1) / (h - 1).
        centres = centres * (self.frame_size - 1.0) / (map_size - 1.0)
        centres = centres + float((self.canvas_size - self.frame_size) // 2)
        if self.whole_pixels:
            centres = centres + tf.stop_gradient(tf.floor(centres) - centres)
        return theta_from_centres(centres, self.window, (self.canvas_size, self.canvas_size))

    def compute_output_shape(self, probabilities_shape):
        return (probabilities_shape[0], self.num_parts, 2, 3)

    def get_config(self):
        return {
            **super().get_config(),
            "num_mask_channels": self.num_mask_channels,
            "num_parts": self.num_parts,
            "frame_size": self.frame_size,
            "canvas_size": self.canvas_size,
            "window": self.window,
            "min_mass": self.min_mass,
            "densest_window": self.densest_window,
            "whole_pixels": self.whole_pixels,
        }
