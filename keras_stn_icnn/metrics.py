"""Face-parsing F1: one confusion histogram over a whole set, scored per part group.

The reference's evaluation (REFERENCE_SPEC.md, "Evaluation"):

* F1 is computed from ONE confusion histogram accumulated over every pixel
  of every image of the set, at full resolution; it is not the mean of
  per-image F1 scores (the two differ; see `tests/test_metrics.py`).
* A group of classes is scored as one class: a pixel counts as a true
  positive when both its truth and its prediction are in the group, so
  confusion inside a group (left eye taken for right eye in "eyes") counts
  as correct. With `T` the pixels whose truth is in the group and `P` those
  predicted in it, `F1 = 2 |T and P| / (|T| + |P|)`; a group with no true and
  no predicted pixel has no F1 and gets NaN.
* The paper's tables (Tables 2-4) report `PAPER_F1_GROUPS`: eyes, brows,
  nose, inner mouth, upper lip, lower lip, mouth (the three mouth classes)
  and overall. "overall" merges the 8 inner-face classes into one foreground
  scored against background: it is the same definition as the reference
  code's merged-foreground F1, and the same code computes both
  (`merged_foreground_f1` equals `f1_scores(...)["overall"]` for the
  STN-iCNN ids).
* `CLASS_F1_GROUPS` scores each of the 8 inner-face classes on its own.

The confusion histogram has one implementation, `confusion_matrix_tf`
(`tf.math.bincount` of `truth * C + prediction`); `confusion_matrix` is its
numpy front end and the Keras metric `FaceParsingF1` accumulates it, so the
two cannot disagree. F1 from a histogram also has one implementation, used
by `f1_scores` and by the metric's `result()`.

Example:
>>> truth = np.array([[0, 3, 3], [4, 5, 0]])
>>> prediction = np.array([[0, 4, 3], [4, 0, 0]])
>>> confusion = confusion_matrix(truth, prediction, 9)
>>> scores = f1_scores(confusion)
>>> round(scores["eyes"], 3), round(scores["nose"], 3), round(scores["overall"], 3)
(1.0, 0.0, 0.857)
>>> round(f1_scores(confusion, CLASS_F1_GROUPS)["left_eye"], 3)
0.667
"""

import math

import keras
import numpy as np
import tensorflow as tf

from keras_stn_icnn.checks import check_int
from keras_stn_icnn.labels import STN_ICNN_CLASS_NAMES
from keras_stn_icnn.ops.affine import crop_centres

NUM_STN_ICNN_CLASSES = len(STN_ICNN_CLASS_NAMES)


def _ids(*class_names):
    return tuple(STN_ICNN_CLASS_NAMES.index(name) for name in class_names)


INNER_FACE_CLASS_NAMES = STN_ICNN_CLASS_NAMES[1:]
"""The 8 inner-face classes of STN-iCNN (every class but background)."""

PAPER_F1_GROUPS = {
    "eyes": _ids("left_eye", "right_eye"),
    "brows": _ids("left_eyebrow", "right_eyebrow"),
    "nose": _ids("nose"),
    "inner mouth": _ids("inner_mouth"),
    "upper lip": _ids("upper_lip"),
    "lower lip": _ids("lower_lip"),
    "mouth": _ids("upper_lip", "inner_mouth", "lower_lip"),
    "overall": _ids(*INNER_FACE_CLASS_NAMES),
}
"""The paper's F1 columns, in its order: group name -> STN-iCNN class ids.

"overall" (the 8 inner-face classes merged, against background) is also the
reference code's merged-foreground F1.
"""

CLASS_F1_GROUPS = {name: _ids(name) for name in INNER_FACE_CLASS_NAMES}
"""Per-class F1 of the 8 inner-face classes: class name -> `(class id,)`."""

OVERALL = "overall"
"""The key of the headline number (merged-foreground F1) in `f1_scores`."""

PART_IOU_GROUPS = {
    "brows": _ids("left_eyebrow", "right_eyebrow"),
    "eyes": _ids("left_eye", "right_eye"),
    "nose": _ids("nose"),
    "lips": _ids("upper_lip", "lower_lip"),
    "inner mouth": _ids("inner_mouth"),
}
"""The part groups of the real-photo evaluation (`iou_scores`): group name -> STN-iCNN class ids.

Left and right are merged, as are the two lips: labels drawn from landmarks
(`examples/make_real_face_set.py`) outline each part, not the conventions a
data set's annotators follow for sides and lip boundaries.
"""


# ----------------------------------------------------------------------------
# Confusion histogram


def confusion_matrix_tf(labels, predictions, num_classes, weights=None):
    """Confusion histogram of two integer label maps, as a TensorFlow op.

    Works eagerly and inside `tf.function` (and XLA). Values outside
    `[0, num_classes)` fail a `tf.debugging` assertion naming the tensor.

    Args:
        labels: integer tensor of any shape, the truth.
        predictions: integer tensor of the same number of elements, the
            predicted ids.
        num_classes: int, the number of classes `C`.
        weights: optional float tensor of the same number of elements; each
            pixel then counts its weight (the result is float64).

    Returns:
        `[C, C]` tensor, rows truth and columns prediction: int64 counts, or
        float64 sums of `weights`.

    Example:
    >>> confusion_matrix_tf(tf.constant([0, 1, 1]), tf.constant([0, 0, 1]), 2).numpy().tolist()
    [[1, 0], [1, 1]]
    """
    num_classes = _check_num_classes(num_classes)
    labels = tf.reshape(tf.cast(labels, tf.int32), [-1])
    predictions = tf.reshape(tf.cast(predictions, tf.int32), [-1])
    for name, values in (("labels", labels), ("predictions", predictions)):
        tf.debugging.assert_non_negative(values, message=f"confusion matrix: {name} has negative class ids")
        tf.debugging.assert_less(
            values, num_classes, message=f"confusion matrix: {name} has class ids >= num_classes={num_classes}"
        )
    indices = labels * num_classes + predictions
    size = num_classes * num_classes
    if weights is None:
        counts = tf.math.bincount(indices, minlength=size, maxlength=size, dtype=tf.int64)
    else:
        weights = tf.reshape(tf.cast(weights, tf.float64), [-1])
        counts = tf.math.bincount(indices, weights=weights, minlength=size, maxlength=size, dtype=tf.float64)
    return tf.reshape(counts, [num_classes, num_classes])


def confusion_matrix(labels, predictions, num_classes):
    """Confusion histogram of two integer label maps: numpy in, numpy out.

    Checks its inputs here (so errors are plain `ValueError`s naming the
    problem) and counts with `confusion_matrix_tf`.

    Args:
        labels: integer array of any shape, the true class ids.
        predictions: integer array of the same shape, the predicted ids.
        num_classes: int, the number of classes `C`.

    Returns:
        int64 numpy array `[C, C]`; `confusion[t, p]` is the number of pixels
        of truth `t` predicted `p`. Histograms of several images add up.

    Raises:
        ValueError: shapes differ, a dtype is not integer, or an id lies
            outside `[0, num_classes)`.

    Example:
    >>> confusion_matrix(np.array([[0, 1], [1, 1]]), np.array([[0, 0], [1, 1]]), 2).tolist()
    [[1, 0], [1, 2]]
    """
    num_classes = _check_num_classes(num_classes)
    labels = np.asarray(labels)
    predictions = np.asarray(predictions)
    if labels.shape != predictions.shape:
        raise ValueError(f"labels and predictions must have the same shape, got {labels.shape} and {predictions.shape}")
    for name, values in (("labels", labels), ("predictions", predictions)):
        if values.dtype.kind not in "iu":
            raise ValueError(f"{name} must hold integer class ids, got dtype {values.dtype}")
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(
                f"{name} must hold class ids in [0, {num_classes}), got values in [{values.min()}, {values.max()}]"
            )
    return confusion_matrix_tf(labels, predictions, num_classes).numpy()


# ----------------------------------------------------------------------------
# F1 from a histogram


def _group_f1_tf(confusion, mask):
    """F1 of the classes where `mask` is 1, from a `[C, C]` histogram (float64 tensor).

    `2 |T and P| / (|T| + |P|)`, NaN when the group has no true and no
    predicted pixel. The one F1 kernel: `f1_scores` and `FaceParsingF1` use it.
    """
    confusion = tf.cast(confusion, tf.float64)
    mask = tf.cast(mask, tf.float64)
    true_in_group = tf.reduce_sum(tf.reduce_sum(confusion, axis=1) * mask)
    predicted_in_group = tf.reduce_sum(tf.reduce_sum(confusion, axis=0) * mask)
    true_positives = tf.reduce_sum(tf.linalg.matvec(confusion, mask) * mask)
    total = true_in_group + predicted_in_group
    return tf.where(total > 0, tf.math.divide_no_nan(2.0 * true_positives, total), tf.constant(math.nan, tf.float64))


def _group_mask(class_ids, num_classes, group_name):
    mask = np.zeros([num_classes], np.float64)
    for class_id in class_ids:
        if not (isinstance(class_id, (int, np.integer)) and 0 <= class_id < num_classes):
            raise ValueError(
                f"F1 group {group_name!r} names class id {class_id!r}, outside [0, {num_classes}) "
                f"of a {num_classes}-class confusion matrix"
            )
        mask[class_id] = 1.0
    return mask


def _check_confusion(confusion):
    confusion = np.asarray(confusion)
    if confusion.ndim != 2 or confusion.shape[0] != confusion.shape[1] or confusion.shape[0] < 2:
        raise ValueError(f"confusion must be a square [C, C] matrix with C >= 2, got shape {confusion.shape}")
    if confusion.dtype.kind not in "iuf":
        raise ValueError(f"confusion must be numeric, got dtype {confusion.dtype}")
    if not np.all(np.isfinite(confusion)) or np.any(confusion < 0):
        raise ValueError("confusion must hold finite, non-negative counts")
    return confusion


def f1_scores(confusion, groups=None):
    """F1 of each group of classes from one confusion histogram.

    Args:
        confusion: `[C, C]` array (rows truth, columns prediction), usually
            accumulated over a whole test set with `confusion_matrix`.
        groups: dict group name -> tuple of class ids; a group is scored as
            one class (confusion inside it counts as correct). Defaults to
            `PAPER_F1_GROUPS` (STN-iCNN ids, `C = 9`); `CLASS_F1_GROUPS` gives
            the 8 classes one by one.

    Returns:
        dict group name -> float F1 in [0, 1], in the order of `groups`;
        NaN for a group with no true and no predicted pixel.

    Example:
    >>> confusion = np.array([[5, 1], [2, 3]])  # class 1: TP 3, FP 1, FN 2
    >>> f1_scores(confusion, {"one": (1,)})  # 2*3 / (2*3 + 1 + 2) = 6/9
    {'one': 0.6666666666666666}
    """
    confusion = _check_confusion(confusion)
    groups = PAPER_F1_GROUPS if groups is None else groups
    num_classes = confusion.shape[0]
    scores = {}
    for name, class_ids in groups.items():
        mask = _group_mask(class_ids, num_classes, name)
        scores[name] = float(_group_f1_tf(confusion, mask).numpy())
    return scores


def iou_scores(confusion, groups=None):
    """Intersection over union of each group of classes from one confusion histogram.

    A group is scored as one class, as in `f1_scores`: `IoU = |T and P| /
    |T or P|` with `T` the pixels whose truth is in the group and `P` those
    predicted in it (the same group's F1 is `2 IoU / (1 + IoU)`).

    Args:
        confusion: `[C, C]` array (rows truth, columns prediction).
        groups: dict group name -> tuple of class ids. Defaults to
            `PART_IOU_GROUPS` (STN-iCNN ids, `C = 9`).

    Returns:
        dict group name -> float IoU in [0, 1] (NaN for a group with no true
        and no predicted pixel), then `"mean"`, the mean over the groups that
        have one.

    Example:
    >>> confusion = np.array([[5, 1], [2, 3]])  # class 1: TP 3, FP 1, FN 2
    >>> iou_scores(confusion, {"one": (1,)})  # 3 / (3 + 1 + 2)
    {'one': 0.5, 'mean': 0.5}
    """
    confusion = _check_confusion(confusion).astype(np.float64)
    groups = PART_IOU_GROUPS if groups is None else groups
    scores = {}
    for name, class_ids in groups.items():
        mask = _group_mask(class_ids, confusion.shape[0], name)
        true_positives = mask @ confusion @ mask
        union = confusion.sum(axis=1) @ mask + confusion.sum(axis=0) @ mask - true_positives
        scores[name] = float(true_positives / union) if union > 0 else math.nan
    defined = [score for score in scores.values() if not math.isnan(score)]
    scores["mean"] = float(np.mean(defined)) if defined else math.nan
    return scores


def merged_foreground_f1(confusion):
    """The reference code's overall F1: every class but 0 merged, against background.

    For STN-iCNN's 9 ids this is `f1_scores(confusion)["overall"]`, computed by
    the same kernel; it also works for any other number of classes.

    Args:
        confusion: `[C, C]` array, rows truth, columns prediction.

    Returns:
        float F1 (NaN when there is no foreground pixel in truth or prediction).

    Example:
    >>> merged_foreground_f1(np.array([[4, 0, 0], [0, 1, 1], [1, 0, 1]]))  # TP 3, FN 1
    0.8571428571428571
    """
    confusion = _check_confusion(confusion)
    foreground = tuple(range(1, confusion.shape[0]))
    return f1_scores(confusion, {OVERALL: foreground})[OVERALL]


def format_f1_table(scores, columns=None, digits=3):
    """A plain-text table of F1 scores, one column per group, as in the paper.

    Args:
        scores: dict name -> F1 (from `f1_scores`).
        columns: names to show, in order; defaults to the paper's
            (`PAPER_F1_GROUPS`: eyes, brows, nose, inner mouth, upper lip,
            lower lip, mouth, overall). Pass `CLASS_F1_GROUPS` for per class.
        digits: int, decimals shown.

    Returns:
        str of two lines: the names, then the scores ("nan" where undefined).

    Example:
    >>> print(format_f1_table({"nose": 0.9, "mouth": 0.75}, columns=["nose", "mouth"]))
    nose   mouth
    0.900  0.750
    """
    columns = list(PAPER_F1_GROUPS if columns is None else columns)
    missing = [name for name in columns if name not in scores]
    if missing:
        raise ValueError(f"scores have no entry for {missing}; they have {list(scores)}")
    cells = [("nan" if math.isnan(scores[name]) else f"{scores[name]:.{digits}f}") for name in columns]
    widths = [max(len(name), len(cell)) for name, cell in zip(columns, cells)]
    header = "  ".join(name.ljust(width) for name, width in zip(columns, widths))
    values = "  ".join(cell.ljust(width) for cell, width in zip(cells, widths))
    return header.rstrip() + "\n" + values.rstrip()


# ----------------------------------------------------------------------------
# Keras metric


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class FaceParsingF1(keras.metrics.Metric):
    """F1 of a group of classes, from a confusion histogram accumulated over all batches.

    `update_state` adds every pixel of the batch to one `[C, C]` histogram
    (float64, so counts stay exact up to 2**53 pixels; a variable with SUM
    aggregation, so replicas add up under `tf.distribute`); `result()` scores
    it. Defaults to the merged-foreground ("overall") F1.

    Args:
        num_classes: int, the number of classes `C`. Defaults to 9 (STN-iCNN).
        group: str or None. None scores every class but 0 merged against
            background (the paper's "overall" for 9 classes); a name of
            `PAPER_F1_GROUPS` or `CLASS_F1_GROUPS` (STN-iCNN ids, so
            `num_classes` must be 9) scores that group.
        name: str, the metric's name. Defaults to `"<group>_f1"`
            (`"overall_f1"` for None).
        dtype: the result's dtype.

    Call arguments (`update_state`):
        y_true: integer labels `[B, H, W]` (or `[B, H, W, 1]`).
        y_pred: float scores `[B, H, W, C]` (logits or probabilities; their
            argmax is taken) or integer ids `[B, H, W]`.
        sample_weight: optional per-pixel or per-image weights; a pixel then
            counts its weight in the histogram.

    Example:
    >>> metric = FaceParsingF1()
    >>> metric.update_state(np.array([[0, 3, 3, 5]]), np.array([[0, 3, 4, 0]]))
    >>> round(float(metric.result()), 4)  # TP 2, FN 1: 4 / 5
    0.8
    """

    def __init__(self, num_classes=NUM_STN_ICNN_CLASSES, group=None, name=None, dtype=None, **kwargs):
        num_classes = _check_num_classes(num_classes)
        if group is None:
            class_ids = tuple(range(1, num_classes))
        else:
            known = {**PAPER_F1_GROUPS, **CLASS_F1_GROUPS}
            if group not in known:
                raise ValueError(f"unknown F1 group {group!r}; known groups are {list(known)} (or None)")
            if num_classes != NUM_STN_ICNN_CLASSES:
                raise ValueError(
                    f"F1 group {group!r} is defined on STN-iCNN's {NUM_STN_ICNN_CLASSES} class ids, "
                    f"but num_classes is {num_classes}; use group=None for merged foreground"
                )
            class_ids = known[group]
        if name is None:
            name = f"{(group or OVERALL).replace(' ', '_')}_f1"
        super().__init__(name=name, dtype=dtype, **kwargs)
        self.num_classes = num_classes
        self.group = group
        self._mask = _group_mask(class_ids, num_classes, group or OVERALL)
        self.confusion = self.add_variable(
            shape=(num_classes, num_classes),
            initializer="zeros",
            dtype="float64",
            aggregation="sum",
            name="confusion",
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = tf.convert_to_tensor(y_true)
        y_pred = tf.convert_to_tensor(y_pred)
        if y_pred.dtype.is_floating:
            y_pred = tf.argmax(y_pred, axis=-1, output_type=tf.int32)
        if y_true.shape.rank is not None and y_true.shape.rank == y_pred.shape.rank + 1 and y_true.shape[-1] == 1:
            y_true = tf.squeeze(y_true, axis=-1)
        tf.debugging.assert_equal(
            tf.size(y_true),
            tf.size(y_pred),
            message=f"{self.name}: y_true and the predicted label map have different sizes",
        )
        weights = None
        if sample_weight is not None:
            weights = tf.cast(tf.convert_to_tensor(sample_weight), tf.float64)
            if weights.shape.rank is not None and weights.shape.rank == y_true.shape.rank + 1:
                weights = tf.squeeze(weights, axis=-1)
            while weights.shape.rank is not None and weights.shape.rank < y_true.shape.rank:
                weights = weights[..., tf.newaxis]
            weights = tf.broadcast_to(weights, tf.shape(y_true))
        counts = confusion_matrix_tf(y_true, y_pred, self.num_classes, weights=weights)
        self.confusion.assign_add(tf.cast(counts, tf.float64))

    def result(self):
        return tf.cast(_group_f1_tf(self.confusion, self._mask), self.dtype)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "group": self.group}


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class MeanClassF1(FaceParsingF1):
    """Mean over the classes but background of each class's F1, from one histogram over all batches.

    The merged-foreground F1 (`FaceParsingF1`'s default) counts a left eye
    labelled right eye as right, and hardly moves when a small class, a
    brow, is never predicted. The mean of the per-class F1 shows both: each
    class is scored on its own (`CLASS_F1_GROUPS`' rule, for any number of
    classes) and the scores averaged, leaving out a class with no true and
    no predicted pixel (NaN when every class is such).

    Args:
        num_classes: int, the number of classes `C`. Defaults to 9 (STN-iCNN).
        name: str, the metric's name. Defaults to `"mean_class_f1"`.
        dtype: the result's dtype.
        group: must be None; taken so that the saved config (which has
            `FaceParsingF1`'s keys) loads.

    Call arguments (`update_state`): as `FaceParsingF1`.

    Example:
    >>> metric = MeanClassF1(num_classes=3)
    >>> metric.update_state(np.array([[0, 1, 1, 2]]), np.array([[0, 1, 2, 1]]))
    >>> round(float(metric.result()), 4)  # class 1: TP 1 of 2 true, 2 predicted (0.5); class 2: 0
    0.25
    """

    def __init__(self, num_classes=NUM_STN_ICNN_CLASSES, name="mean_class_f1", dtype=None, group=None, **kwargs):
        if group is not None:  # `group` is FaceParsingF1's config key, None in this metric's config
            raise ValueError(f"MeanClassF1 scores every class but background on its own; got group={group!r}")
        super().__init__(num_classes, group=None, name=name, dtype=dtype, **kwargs)
        self._class_masks = [
            _group_mask((class_id,), self.num_classes, name) for class_id in range(1, self.num_classes)
        ]

    def result(self):
        scores = tf.stack([_group_f1_tf(self.confusion, mask) for mask in self._class_masks])
        defined = tf.boolean_mask(scores, tf.logical_not(tf.math.is_nan(scores)))
        return tf.cast(tf.reduce_mean(defined), self.dtype)


def _check_num_classes(num_classes):
    check_int(num_classes, "num_classes", minimum=2)
    return int(num_classes)


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class CropCentreError(keras.metrics.Mean):
    """Mean distance in frame pixels between predicted and true crop centres.

    The localizer's SmoothL1 loss and theta's MAE are in normalised units,
    where 0.01 is 5 pixels of a 1024 canvas; this says how far the crops
    land from the parts, in the pixels an 81-pixel window is measured in.
    Every crop of every image counts once.

    Args:
        frame_size: int or `(height, width)`, the frame theta refers to
            (STN-iCNN's canvas). Defaults to 1024.
        name: str. Defaults to `"crop_centre_error_px"`.
        dtype: the result's dtype.

    Call arguments (`update_state`):
        y_true: theta `[B, parts, 2, 3]`, where the crops should be.
        y_pred: theta `[B, parts, 2, 3]`, where they were put.
        sample_weight: optional weights `[B]` or `[B, parts]`.

    Example:
    >>> from keras_stn_icnn.ops import theta_from_centres
    >>> metric = CropCentreError(frame_size=1024)
    >>> truth = theta_from_centres(tf.constant([[[500.0, 300.0], [500.0, 700.0]]]), 81, (1024, 1024))
    >>> moved = theta_from_centres(tf.constant([[[503.0, 304.0], [500.0, 700.0]]]), 81, (1024, 1024))
    >>> metric.update_state(truth, moved)
    >>> round(float(metric.result()), 3)  # (5 + 0) / 2
    2.5
    """

    def __init__(self, frame_size=1024, name="crop_centre_error_px", dtype=None, **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)
        self.frame_size = _check_frame_size(frame_size)

    def update_state(self, y_true, y_pred, sample_weight=None):
        offsets = crop_centres(y_pred, self.frame_size) - crop_centres(y_true, self.frame_size)
        # keras.metrics.Mean broadcasts per-image weights [B] over the crops itself.
        return super().update_state(tf.norm(offsets, axis=-1), sample_weight=sample_weight)

    def get_config(self):
        return {**super().get_config(), "frame_size": list(self.frame_size)}


def _check_frame_size(frame_size):
    sizes = (frame_size, frame_size) if np.ndim(frame_size) == 0 else tuple(frame_size)
    if len(sizes) != 2 or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 2 for s in sizes):
        raise ValueError(f"frame_size must be an int >= 2 or a (height, width) pair of them, got {frame_size!r}")
    return tuple(int(s) for s in sizes)
