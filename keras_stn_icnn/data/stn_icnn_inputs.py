"""Training inputs and targets of STN-iCNN, made from one image and its label.

From a full-resolution image and its 9-class label (`labels.STN_ICNN_CLASS_NAMES`)
this module makes every view the stages of STN-iCNN train on, all from the
same pair so they agree:

- the stage-1 view: the whole image resized to 128x128 (bilinear, corners
  aligned, aspect ratio not kept) and its label resized by nearest
  neighbour;
- ground-truth theta in the authors' convention: part centres (see
  `ops.centroids` for the rule on missing parts) moved onto the canvas the
  image is centred on, floored to whole pixels as the authors' A+B script
  does, and turned into scale-and-translate thetas;
- the ground-truth part crops (`window x window` image and label patches,
  labels renumbered per part: 0 background, then the part's classes), which
  at whole-pixel centres are plain copies of the canvas (paper, Fig. 8);
- the canvas: the image and label centred on a zero `canvas_size` square,
  which the end-to-end stage crops from with predicted thetas.
"""

import tensorflow as tf

from keras_stn_icnn.geometry import STAGE1_SIZE
from keras_stn_icnn.labels import STN_ICNN_CLASS_NAMES, STN_ICNN_PARTS
from keras_stn_icnn.ops import frame_offset, resize_bilinear_align_corners, theta_from_centres
from keras_stn_icnn.ops.centroids import label_centroids, part_centres

NUM_CLASSES = len(STN_ICNN_CLASS_NAMES)
PART_CLASS_IDS = tuple(tuple(STN_ICNN_CLASS_NAMES.index(name) for name in classes) for _, classes in STN_ICNN_PARTS)


def _check_fits(image, canvas_size):
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    tf.debugging.assert_less_equal(
        tf.maximum(height, width),
        canvas_size,
        message=f"an image is larger than the {canvas_size}x{canvas_size} canvas",
    )


def ground_truth_theta(label, *, window=81, canvas_size=1024, integer_centres=True):
    """Ground-truth thetas of the six parts of one label map.

    Args:
        label: uint8 or int tensor `[H, W]` of STN-iCNN class ids.
        window: odd int, the crop size (81 for HELEN, 127 for CelebAMask-HQ).
        canvas_size: int, the side of the canvas the image is centred on.
        integer_centres: bool, floor the centres to whole pixels (the
            authors' rule; the crops are then exact copies).

    Returns:
        `(theta, present, centres)`: float32 `[6, 2, 3]`, bool `[6]` (False
        where a part was placed by the missing-part rule) and float32
        `[6, 2]` `(y, x)` canvas pixel centres.

    Example:
    >>> label = tf.zeros([200, 300], tf.uint8)
    >>> theta, present, centres = ground_truth_theta(label)
    >>> centres.numpy()[0].tolist()  # no face: the image centre, on the canvas
    [511.0, 511.0]
    """
    centroids, mass = label_centroids(label, NUM_CLASSES)
    centres, present = part_centres(centroids, mass, tf.shape(label)[:2])
    top, left = frame_offset(tf.shape(label)[:2], (canvas_size, canvas_size))
    centres = centres + tf.cast(tf.stack([top, left]), tf.float32)
    if integer_centres:
        centres = tf.floor(centres)
    theta = theta_from_centres(centres, window, (canvas_size, canvas_size))
    return theta, present, centres


def _part_crops(image, label, centres, window, canvas_size):
    """Plain-copy crops of every part; the canvas beyond the image reads as zeros."""
    half = window // 2
    top, left = frame_offset(tf.shape(label)[:2], (canvas_size, canvas_size))
    padded_image = tf.pad(image, [[half, half], [half, half], [0, 0]])
    padded_label = tf.pad(label, [[half, half], [half, half]])
    local_origin = tf.cast(centres, tf.int32) - tf.stack([top, left])  # window top-left in padded coordinates
    images, labels = [], []
    padded_height, padded_width = tf.shape(padded_label)[0], tf.shape(padded_label)[1]
    for part, class_ids in enumerate(PART_CLASS_IDS):
        rows = tf.range(local_origin[part, 0], local_origin[part, 0] + window)
        cols = tf.range(local_origin[part, 1], local_origin[part, 1] + window)
        inside = ((rows >= 0) & (rows < padded_height))[:, tf.newaxis] & ((cols >= 0) & (cols < padded_width))
        safe_rows = tf.clip_by_value(rows, 0, padded_height - 1)
        safe_cols = tf.clip_by_value(cols, 0, padded_width - 1)
        patch = tf.gather(tf.gather(padded_image, safe_rows), safe_cols, axis=1)
        patch_label = tf.gather(tf.gather(padded_label, safe_rows), safe_cols, axis=1)
        images.append(tf.where(inside[..., tf.newaxis], patch, tf.zeros_like(patch)))
        local = tf.zeros_like(patch_label)
        for local_id, class_id in enumerate(class_ids, start=1):
            local = tf.where(patch_label == class_id, tf.cast(local_id, local.dtype), local)
        labels.append(tf.where(inside, local, tf.zeros_like(local)))
    return tf.stack(images), tf.stack(labels)


def stn_icnn_inputs(image, label, *, window=81, canvas_size=1024, with_parts=True, with_canvas=True):
    """Every training view of one example.

    Args:
        image: uint8 tensor `[H, W, 3]`, at most `canvas_size` on each side.
        label: uint8 tensor `[H, W]` of STN-iCNN class ids.
        window: odd int, the part crop size.
        canvas_size: int, the side of the crop canvas.
        with_parts: bool, add the ground-truth part crops.
        with_canvas: bool, add the canvas image and label (12 MB a batch of
            four at 1024; leave out for the stages that do not crop).

    Returns:
        dict: `stage1_image` float32 `[128, 128, 3]` in [0, 1];
        `stage1_label` uint8 `[128, 128]`; `theta` float32 `[6, 2, 3]`;
        `part_present` bool `[6]`; with parts `part_images` uint8
        `[6, window, window, 3]` and `part_labels` uint8 `[6, window, window]`
        (0 background, then the part's classes); with the canvas
        `canvas_image` uint8 `[canvas, canvas, 3]`, `canvas_label` uint8
        `[canvas, canvas]` and `image_size` int32 `[2]`.

    Example:
    >>> views = stn_icnn_inputs(tf.zeros([300, 200, 3], tf.uint8), tf.zeros([300, 200], tf.uint8))
    >>> views["part_images"].shape
    TensorShape([6, 81, 81, 3])
    """
    if window % 2 != 1:
        raise ValueError(f"window must be odd so crops are plain copies, got {window}")
    _check_fits(image, canvas_size)
    scaled = tf.cast(image, tf.float32)[tf.newaxis] / 255.0
    stage1_image = resize_bilinear_align_corners(scaled, (STAGE1_SIZE, STAGE1_SIZE))[0]
    stage1_label = tf.image.resize(label[..., tf.newaxis], (STAGE1_SIZE, STAGE1_SIZE), method="nearest")[..., 0]
    theta, present, centres = ground_truth_theta(label, window=window, canvas_size=canvas_size, integer_centres=True)
    views = {
        "stage1_image": tf.ensure_shape(stage1_image, [STAGE1_SIZE, STAGE1_SIZE, 3]),
        "stage1_label": tf.ensure_shape(tf.cast(stage1_label, tf.uint8), [STAGE1_SIZE, STAGE1_SIZE]),
        "theta": theta,
        "part_present": present,
    }
    if with_parts:
        part_images, part_labels = _part_crops(image, label, centres, window, canvas_size)
        views["part_images"] = tf.ensure_shape(part_images, [len(PART_CLASS_IDS), window, window, 3])
        views["part_labels"] = tf.ensure_shape(part_labels, [len(PART_CLASS_IDS), window, window])
    if with_canvas:
        height, width = tf.shape(image)[0], tf.shape(image)[1]
        top, left = frame_offset((height, width), (canvas_size, canvas_size))
        views["canvas_image"] = tf.ensure_shape(
            tf.image.pad_to_bounding_box(image, top, left, canvas_size, canvas_size), [canvas_size, canvas_size, 3]
        )
        views["canvas_label"] = tf.ensure_shape(
            tf.image.pad_to_bounding_box(label[..., tf.newaxis], top, left, canvas_size, canvas_size)[..., 0],
            [canvas_size, canvas_size],
        )
        views["image_size"] = tf.stack([height, width])
    return views
