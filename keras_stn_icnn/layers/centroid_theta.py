"""The iCNN baseline's cropper: part thetas from the centroids of a rough mask.

Zhou et al.'s two-stage iCNN (re-implemented by Yin et al. as the baseline of
STN-iCNN) places each part's crop at the centre of that part in the stage-1
label map. The centres are not learned and nothing flows back through them;
`CentroidTheta` computes them in the convention of the ground-truth thetas
(`keras_stn_icnn.data.stn_icnn_inputs.ground_truth_theta`), so a
`CropTransformer` with its thetas cuts the same plain-copy windows the
baseline's array slicing does (STN-iCNN paper, Fig. 8).
"""

import keras
import tensorflow as tf

from keras_stn_icnn.layers.crop_transformer import _check_canvas, _check_window
from keras_stn_icnn.ops import frame_offset, theta_from_centres
from keras_stn_icnn.ops.centroids import STN_ICNN_PART_CLASSES, class_centroids, part_centres

NUM_CLASSES = 1 + max(max(classes) for classes in STN_ICNN_PART_CLASSES)
"""Channels of the stage-1 map: background and the classes of the six parts (9)."""


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class CentroidTheta(keras.layers.Layer):
    """Six part thetas from the hard argmax of a stage-1 map (not differentiable).

    1. The stage-1 logits or probabilities `[B, h, w, 9]` (any monotone
       scores: only their argmax is used) give a hard label map.
    2. Each class's centroid `(y, x)` on that grid (`ops.centroids.
       class_centroids` of the one-hot map; a class is present from
       `min_mass` pixels on) is scaled to the image grid with the
       corners-aligned rule of the stage-1 resize:
       `y_image = y * (H - 1) / (h - 1)`, `x_image = x * (W - 1) / (w - 1)`.
    3. `ops.centroids.part_centres` turns them into the six part centres
       (eyebrow1, eyebrow2, eye1, eye2, nose, mouth), filling missing parts
       by its rule (mouth = mean of its classes present; a missing eyebrow or
       eye mirrored from its partner; otherwise the inner-face centroid; with
       no face at all, the image centre).
    4. The centres move onto the canvas the image is centred on
       (`ops.frame_offset`), are floored to whole pixels and become
       `ops.theta_from_centres(centres, window, canvas_size)`.

    These are the conventions of `ground_truth_theta`, applied to the
    predicted map, so the crops are plain copies of the canvas. The stage-1
    input and the output are wrapped in `tf.stop_gradient`: the placement is
    a hard decision, and the stage-1 model cannot be trained through it
    (STN-iCNN's localizer exists to make that possible).

    Args:
        window: int, odd crop side the thetas are for. Defaults to 81.
        canvas_size: `(height, width)` of the zero canvas the image is
            centred on, or None for the image's own frame. Defaults to
            `(1024, 1024)`, STN-iCNN's canvas.
        min_mass: float, pixels of the stage-1 grid a class needs to count
            as present. Defaults to 1.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        stage1: float tensor `[B, h, w, 9]`, stage-1 logits or probabilities.
        images: tensor `[B, H, W, ...]`, the full-resolution images (only
            their size is used).

    Returns:
        float32 tensor `[B, 6, 2, 3]` of `[[sx, 0, tx], [0, sy, ty]]`.

    Example:
    >>> stage1 = keras.ops.one_hot(keras.ops.zeros([1, 128, 128], "int32"), 9)
    >>> theta = CentroidTheta(81)(stage1, keras.ops.zeros([1, 300, 200, 3]))
    >>> theta.shape  # no face: every part at the image centre
    TensorShape([1, 6, 2, 3])
    """

    def __init__(self, window=81, canvas_size=(1024, 1024), min_mass=1.0, **kwargs):
        super().__init__(**kwargs)
        self.window = _check_window(window)
        self.canvas_size = _check_canvas(canvas_size)
        self.min_mass = float(min_mass)
        if not self.min_mass > 0:
            raise ValueError(f"min_mass must be positive, got {min_mass!r}")

    def build(self, stage1_shape, images_shape):
        channels = stage1_shape[-1]
        if len(stage1_shape) != 4 or channels != NUM_CLASSES:
            raise ValueError(
                f"stage1 must be [B, h, w, {NUM_CLASSES}] (STN-iCNN classes), got shape {tuple(stage1_shape)}"
            )
        for axis in (1, 2):
            if stage1_shape[axis] is not None and stage1_shape[axis] < 2:
                raise ValueError(f"stage1 must be at least 2x2 to scale its grid, got shape {tuple(stage1_shape)}")
        if len(images_shape) < 3:
            raise ValueError(f"images must be [B, H, W, ...], got shape {tuple(images_shape)}")

    def call(self, stage1, images):
        stage1 = tf.stop_gradient(tf.convert_to_tensor(stage1))
        labels = tf.argmax(stage1, axis=-1, output_type=tf.int32)
        one_hot = tf.one_hot(labels, NUM_CLASSES, dtype=tf.float32)
        centroids, mass = class_centroids(one_hot)  # [B, 9, 2], [B, 9] on the stage-1 grid

        map_size = tf.cast(tf.shape(stage1)[1:3], tf.float32)
        image_size = tf.shape(images)[1:3]
        # Corners aligned: grid position i sits at image position i (size - 1) / (h - 1).
        # Multiply first: whole-pixel centroids times (size - 1) are exact in float32.
        centroids = centroids * (tf.cast(image_size, tf.float32) - 1.0) / (map_size - 1.0)
        centres, _ = part_centres(centroids, mass, (image_size[0], image_size[1]), min_mass=self.min_mass)
        frame_size = self.canvas_size or (image_size[0], image_size[1])
        top, left = frame_offset(image_size, frame_size)
        centres = tf.floor(centres + tf.cast(tf.stack([top, left]), tf.float32))
        return tf.stop_gradient(theta_from_centres(centres, self.window, frame_size))

    def compute_output_shape(self, stage1_shape, images_shape):
        return (stage1_shape[0], len(STN_ICNN_PART_CLASSES), 2, 3)

    def get_config(self):
        return {
            **super().get_config(),
            "window": self.window,
            "canvas_size": self.canvas_size,
            "min_mass": self.min_mass,
        }
