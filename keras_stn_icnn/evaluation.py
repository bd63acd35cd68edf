"""Scoring a face parser on a labelled set: the paper's F1 table from one histogram.

`evaluate_parser(parse_fn, dataset)` runs a parse function (for instance a
saved parser loaded by `models.loading.load_parser`) over a set of
`{"image", "label"}` examples in STN-iCNN ids and accumulates one confusion
histogram at full resolution (`keras_stn_icnn.metrics`), from which the
paper's F1 groups, the per-class F1 and the overall (merged-foreground) F1
are computed. `evaluate_on_helen` does both for a folder in HELEN's layout
(the real HELEN or the synthetic set of `synthetic_test_set`);
`examples/evaluate.py` is its command line. `evaluate_on_real_faces` scores a
parser as users run it, `FaceParser` on whole photos, with part IoU on the
real-photo set of `examples/make_real_face_set.py` (real faces are for
evaluation only), and `landmark_label_agreement` gives that set's ceiling.

Example:
>>> parser = load_parser("after_end2_end_10mean.pth.tar")  # doctest: +SKIP
>>> result = evaluate_on_helen(parser, "helen", split="test")  # doctest: +SKIP
>>> print(result.report())  # doctest: +SKIP
"""

import dataclasses
import math
import os
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_stn_icnn.checks import check_image, check_int
from keras_stn_icnn.data.files import read_grayscale
from keras_stn_icnn.data.helen import HelenReader
from keras_stn_icnn.data.lapa import LapaReader
from keras_stn_icnn.data.synthetic import generate_synthetic_helen
from keras_stn_icnn.inference.face_parser import FaceParser
from keras_stn_icnn.labels import STN_ICNN_CLASS_NAMES, label_mapping
from keras_stn_icnn.metrics import (
    CLASS_F1_GROUPS,
    OVERALL,
    PAPER_F1_GROUPS,
    confusion_matrix,
    f1_scores,
    format_f1_table,
    iou_scores,
    merged_foreground_f1,
)
from keras_stn_icnn.models.loading import load_parser

STN_ICNN_NUM_CLASSES = len(STN_ICNN_CLASS_NAMES)
"""The classes `evaluate_parser` scores unless told otherwise (STN-iCNN's nine, with the paper's groups)."""


@dataclasses.dataclass
class EvaluationResult:
    """F1 scores of a parser on a set, from one confusion histogram.

    Args:
        confusion: int64 numpy array `[C, C]`, rows truth, columns prediction,
            summed over every pixel of every image.
        scores: dict, the paper's groups (`metrics.PAPER_F1_GROUPS`) -> F1;
            for `C != 9` only `"overall"` (merged foreground).
        class_scores: dict, class name -> F1 of each non-background class.
        num_images: int.

    Example:
    >>> result = EvaluationResult(np.array([[5, 1], [2, 3]]), {"overall": 2 / 3}, {}, 1)
    >>> result.report().splitlines()[-1]
    'overall F1: 0.667'
    """

    confusion: np.ndarray
    scores: dict
    class_scores: dict
    num_images: int

    @property
    def overall(self):
        """The headline number: overall F1, the reference's merged-foreground F1."""
        return self.scores[OVERALL]

    def report(self):
        """The paper's table, the per-class F1, the merged-foreground F1; ends with `overall F1: 0.xxx`."""
        columns = [name for name in PAPER_F1_GROUPS if name in self.scores]
        width = max([len(name) for name in self.class_scores] + [0])
        lines = [
            f"F1 on {self.num_images} images (one confusion histogram over all pixels, full resolution)",
            "",
            format_f1_table(self.scores, columns=columns),
            "",
            "per-class F1:",
            *(f"  {name.ljust(width)}  {_format(score)}" for name, score in self.class_scores.items()),
            "",
            f"merged-foreground F1 (the reference's overall: inner-face classes vs background): "
            f"{_format(self.overall)}",
            f"overall F1: {_format(self.overall)}",
        ]
        return "\n".join(lines)


def _format(score):
    return "nan" if math.isnan(score) else f"{score:.3f}"


def evaluate_parser(parse_fn, dataset, num_classes=STN_ICNN_NUM_CLASSES, progress=True, total=None):
    """Runs `parse_fn` over a labelled set and scores it from one confusion histogram.

    Every pixel of every image counts, at the image's own resolution; F1 is
    computed once from the summed histogram (not averaged over images).

    Args:
        parse_fn: callable, uint8 `[H, W, 3]` numpy image -> integer `[H, W]`
            label map (e.g. a `LoadedParser` or `STNiCNN.parse`).
        dataset: `tf.data.Dataset` or iterable of dicts with `"image"` uint8
            `[H, W, 3]` and `"label"` integer `[H, W]` (STN-iCNN ids for the
            paper's groups), numpy arrays or tensors.
        num_classes: int, the number of classes. Defaults to 9 (STN-iCNN);
            other values give only the overall (merged-foreground) F1 and
            per-class F1 named `class_<id>`.
        progress: bool, show a `keras.utils.Progbar` with the running overall F1.
        total: int or None, the number of examples for the progress bar
            (taken from `len(dataset)` or the dataset's cardinality if known).

    Returns:
        An `EvaluationResult`.

    Raises:
        ValueError: an example is not such a dict, shapes disagree, or an id
            lies outside `[0, num_classes)`; the message gives the example's index.

    Example:
    >>> label = np.array([[0, 3, 4], [5, 6, 0]], np.uint8)
    >>> example = {"image": np.repeat(label[..., None], 3, axis=-1), "label": label}
    >>> result = evaluate_parser(lambda image: image[..., 0], [example], progress=False)
    >>> result.num_images, result.overall, result.scores["eyes"]
    (1, 1.0, 1.0)
    """
    if total is None:
        total = _known_length(dataset)
    elements = dataset.as_numpy_iterator() if isinstance(dataset, tf.data.Dataset) else iter(dataset)
    bar = keras.utils.Progbar(total, unit_name="image", stateful_metrics=["overall F1"]) if progress else None
    confusion = np.zeros([num_classes, num_classes], np.int64)
    count = 0
    for index, example in enumerate(elements):
        image, label = _example_arrays(example, index)
        prediction = np.asarray(parse_fn(image))
        if prediction.shape != label.shape:
            raise ValueError(
                f"example {index}: the parser returned shape {prediction.shape}, the label is {label.shape}"
            )
        try:
            confusion += confusion_matrix(label, prediction, num_classes)
        except ValueError as error:
            raise ValueError(f"example {index}: {error}") from None
        count += 1
        if bar is not None:
            bar.update(count, values=[("overall F1", merged_foreground_f1(confusion))])
    if count == 0:
        raise ValueError("the dataset is empty: nothing to evaluate")
    if num_classes == len(STN_ICNN_CLASS_NAMES):
        scores = f1_scores(confusion, PAPER_F1_GROUPS)
        class_scores = f1_scores(confusion, CLASS_F1_GROUPS)
    else:
        scores = {OVERALL: merged_foreground_f1(confusion)}
        class_scores = f1_scores(confusion, {f"class_{k}": (k,) for k in range(1, num_classes)})
    return EvaluationResult(confusion, scores, class_scores, count)


def in_stn_icnn_ids(parse_fn, schema):
    """`parse_fn` with its labels mapped from `schema`'s ids to STN-iCNN's, as `evaluate_parser` scores them.

    For a parser trained in another label schema (RNN-G's two-stage parser
    labels HELEN's 11 classes); its classes without an STN-iCNN counterpart
    (face skin, hair) become background.

    Args:
        parse_fn: callable, uint8 `[H, W, 3]` image -> integer `[H, W]` label
            map in `schema`'s ids (e.g. a single-pass model's `parse`).
        schema: str, the `labels.SCHEMAS` name of its classes.

    Returns:
        callable, image -> STN-iCNN label map.

    Example:
    >>> parse = in_stn_icnn_ids(lambda image: np.full(image.shape[:2], 6), "helen")  # HELEN's nose
    >>> parse(np.zeros([1, 2, 3], np.uint8)).tolist()  # STN-iCNN's nose
    [[5, 5]]
    """
    to_stn_icnn = label_mapping(schema, "stn_icnn")
    return lambda image: to_stn_icnn[np.asarray(parse_fn(image))]


def _known_length(dataset):
    if isinstance(dataset, tf.data.Dataset):
        cardinality = int(dataset.cardinality())
        return cardinality if cardinality >= 0 else None
    try:
        return len(dataset)
    except TypeError:
        return None


def _example_arrays(example, index):
    if not isinstance(example, dict) or "image" not in example or "label" not in example:
        raise ValueError(f"example {index}: expected a dict with 'image' and 'label', got {type(example).__name__}")
    image = np.asarray(example["image"])
    label = np.asarray(example["label"])
    check_image(image, f"example {index}")
    if label.shape != image.shape[:2]:
        raise ValueError(f"example {index}: label shape {label.shape} does not match image shape {image.shape}")
    return image, label


def default_cache_dir():
    """Where `synthetic_test_set` keeps its sets: `$XDG_CACHE_HOME/keras_stn_icnn` (~/.cache by default).

    Example:
    >>> default_cache_dir().name
    'keras_stn_icnn'
    """
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "keras_stn_icnn"


def synthetic_test_set(seed=0, num=20, cache_dir=None, progress=True):
    """A synthetic face set with `num` test faces, made once and reused.

    Written by `generate_synthetic_helen` (one training face, the least it
    allows, no validation faces) into
    `<cache_dir>/synthetic_eval_seed<seed>_n<num>`; read its `"test"` split.

    Args:
        seed: int >= 0, the set's seed.
        num: int >= 1, the number of test faces.
        cache_dir: str, path-like or None (`default_cache_dir()`).
        progress: bool, report generation progress.

    Returns:
        Path of the set (HELEN's layout).

    Example:
    >>> root = synthetic_test_set(seed=0, num=10)  # doctest: +SKIP
    >>> HelenReader(root, schema="stn_icnn").dataset("test")  # doctest: +SKIP
    """
    check_int(num, "num")
    cache_dir = default_cache_dir() if cache_dir is None else Path(cache_dir)
    root = cache_dir / f"synthetic_eval_seed{seed}_n{num}"
    return generate_synthetic_helen(root, num_train=1, num_val=0, num_test=num, seed=seed, progress=progress)


def evaluate_on_helen(parse_fn, data_dir, split="test", progress=True):
    """Scores a parser on a split of a HELEN-layout folder (labels in STN-iCNN ids, the authors' rule).

    Args:
        parse_fn: callable image -> label map (see `evaluate_parser`), or a
            path for `load_parser`.
        data_dir: str or path-like, the HELEN (or synthetic) folder.
        split: `"train"`, `"val"` or `"test"`.
        progress: bool, show a progress bar.

    Returns:
        An `EvaluationResult`.

    Example:
    >>> result = evaluate_on_helen("after_end2_end_10mean.pth.tar", "helen")  # doctest: +SKIP
    >>> round(result.overall, 3)  # doctest: +SKIP
    """
    if isinstance(parse_fn, (str, os.PathLike)):
        parse_fn = load_parser(parse_fn)
    reader = HelenReader(data_dir, schema="stn_icnn")
    total = len(reader.examples(split))
    return evaluate_parser(parse_fn, reader.dataset(split), progress=progress, total=total)


def evaluate_on_real_faces(parser, data_dir, progress=False):
    """Part IoU of a parser on real photos, run as users run it: `FaceParser(parser)` on each photo.

    Args:
        parser: what `FaceParser` takes (a zoo model, a `LoadedParser`), or
            a str / path-like for `load_parser` (a preset name, a `.keras`
            file, a SavedModel folder).
        data_dir: str or path-like, the set `examples/make_real_face_set.py`
            wrote (LaPa's layout, split `"test"`, no landmark files).
        progress: bool, show a progress bar.

    Returns:
        dict from `metrics.iou_scores`: IoU of each part group
        (`metrics.PART_IOU_GROUPS`) over the whole set, and `"mean"`.

    Example:
    >>> evaluate_on_real_faces("stn_icnn_synthetic", "data/real_faces")["mean"]  # doctest: +SKIP
    """
    if isinstance(parser, (str, os.PathLike)):
        parser = load_parser(parser)
    face_parser = FaceParser(parser)
    reader = LapaReader(data_dir, schema="stn_icnn", landmarks=False)
    total = len(reader.examples("test"))
    result = evaluate_parser(
        lambda image: face_parser(image).labels, reader.dataset("test"), progress=progress, total=total
    )
    return iou_scores(result.confusion)


def landmark_label_agreement(data_dir):
    """Part IoU of the real-photo set's second landmark model against its labels: the set's ceiling.

    Labels drawn from landmarks differ between landmark models; a parser
    that agrees with the set's labels better than a second landmark model
    does cannot be told apart from one that is merely as good.

    Args:
        data_dir: str or path-like, the set of `examples/make_real_face_set.py`
            (`test/labels/` and `second_model/labels/`).

    Returns:
        dict from `metrics.iou_scores`.

    Example:
    >>> landmark_label_agreement("data/real_faces")["mean"]  # doctest: +SKIP
    """
    root = Path(data_dir)
    to_stn_icnn = label_mapping("lapa", "stn_icnn")
    confusion = np.zeros((STN_ICNN_NUM_CLASSES, STN_ICNN_NUM_CLASSES), np.int64)
    for truth_path in sorted((root / "test" / "labels").glob("*.png")):
        truth = to_stn_icnn[read_grayscale(truth_path)]
        second = to_stn_icnn[read_grayscale(root / "second_model" / "labels" / truth_path.name)]
        confusion += confusion_matrix(truth, second, STN_ICNN_NUM_CLASSES)
    return iou_scores(confusion)
