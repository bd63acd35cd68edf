"""Crops moved onto the centroid of what their part models label as the part."""

import keras
import tensorflow as tf

from keras_stn_icnn.layers.crop_transformer import _check_canvas, _check_window
from keras_stn_icnn.ops import crop_centres, theta_from_centres
from keras_stn_icnn.ops.centroids import class_centroids


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class PartRecentring(keras.layers.Layer):
    """Moves each crop so its centre is the centroid of its part as the part model sees it.

    Part models are trained on crops centred on their part's ground-truth
    centroid and learn where in the window the part sits: on STN-iCNN's
    synthetic test faces, brow crops moved 3 canvas pixels up cost the part
    model 0.05 brow F1. A localizer working from a 128x128 mask misses the
    centre by 1.5-3 pixels (median), more on thin parts. The part model's
    own labels are at full resolution: the probability-weighted centroid of
    its foreground (one minus the background probability) inside the crop
    says where the part is, and cutting the crop again there and labelling
    it once more puts the part where the model expects it
    (`docs/results.md`: 0.0014-0.0016 overall F1, most in the eyes and brows).

    The new centres are floored to whole canvas pixels, as the ground
    truth's are, so the crops stay plain copies. Only the translation
    changes; the gradient passes to the incoming theta unchanged
    (straight-through), so end-to-end training still reaches the localizer.

    Args:
        window: int, odd crop side. Defaults to 81.
        canvas_size: `(height, width)` of the canvas the thetas refer to.
            Defaults to `(1024, 1024)`.
        min_mass: float, summed foreground probability a crop needs to be
            moved; a crop whose part model sees (almost) nothing stays.
            Defaults to 20 (pixels' worth).
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        theta: float tensor `[B, P, 2, 3]`, where the crops were cut.
        part_logits: list of P float tensors `[B, window, window, C_p]`,
            each part model's logits on its crop (channel 0 the background).

    Returns:
        float32 tensor `[B, P, 2, 3]`, the thetas of the re-centred crops.

    Example:
    >>> theta = theta_from_centres(tf.constant([[[40.0, 40.0]]]), 81, (200, 200))
    >>> logits = np.full([1, 81, 81, 2], [20.0, -20.0], np.float32)
    >>> logits[0, 45:56, 30:41] = [-20.0, 20.0]  # the part model sees its part 10 px lower, 5 px left
    >>> moved = PartRecentring(canvas_size=(200, 200))(theta, [tf.constant(logits)])
    >>> crop_centres(moved, (200, 200)).numpy().round().tolist()
    [[[50.0, 35.0]]]
    """

    def __init__(self, window=81, canvas_size=(1024, 1024), min_mass=20.0, **kwargs):
        super().__init__(**kwargs)
        self.window = _check_window(window)
        if canvas_size is None:
            raise ValueError("PartRecentring needs the canvas the thetas refer to, got canvas_size=None")
        self.canvas_size = _check_canvas(canvas_size)
        if not float(min_mass) > 0:
            raise ValueError(f"min_mass must be positive, got {min_mass!r}")
        self.min_mass = float(min_mass)

    def call(self, theta, part_logits):
        theta = tf.cast(theta, tf.float32)
        if len(part_logits) != theta.shape[1]:
            raise ValueError(f"need one part's logits per theta, got {len(part_logits)} for {theta.shape[1]} thetas")
        offsets = []
        for logits in part_logits:
            foreground = 1.0 - tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1)[..., :1]  # [B, window, window, 1]
            centroid, mass = class_centroids(foreground)  # [B, 1, 2] crop pixels, [B, 1]
            offset = centroid[:, 0] - (self.window - 1) / 2.0
            offsets.append(tf.where(mass >= self.min_mass, offset, tf.zeros_like(offset)))
        offsets = tf.stack(offsets, axis=1)  # [B, P, 2] in crop pixels
        # Crop pixels to canvas pixels: theta's scale times (canvas - 1) / (window - 1), 1 for unscaled crops.
        steps = tf.stack([theta[..., 1, 1], theta[..., 0, 0]], axis=-1)
        steps = steps * (tf.constant(self.canvas_size, tf.float32) - 1.0) / (self.window - 1.0)
        centres = tf.floor(crop_centres(theta, self.canvas_size) + offsets * steps)
        moved = theta_from_centres(centres, self.window, self.canvas_size)
        moved = tf.concat([theta[..., :2], moved[..., 2:]], axis=-1)  # keep the incoming scale
        return theta + tf.stop_gradient(moved - theta)

    def compute_output_shape(self, theta_shape, part_logits_shape=None):
        return tuple(theta_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "window": self.window,
            "canvas_size": list(self.canvas_size),
            "min_mass": self.min_mass,
        }
