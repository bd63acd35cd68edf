"""F1 from one confusion histogram: hand-computed answers, merged groups, the Keras metric."""

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_stn_icnn import ops
from keras_stn_icnn.labels import STN_ICNN_CLASS_NAMES
from keras_stn_icnn.metrics import (
    CLASS_F1_GROUPS,
    PAPER_F1_GROUPS,
    PART_IOU_GROUPS,
    CropCentreError,
    FaceParsingF1,
    MeanClassF1,
    confusion_matrix,
    confusion_matrix_tf,
    f1_scores,
    format_f1_table,
    iou_scores,
    merged_foreground_f1,
)

# STN-iCNN ids, by name, for readable hand-made maps.
BG, BROW1, BROW2, EYE1, EYE2, NOSE, ULIP, IMOUTH, LLIP = range(9)


def test_class_ids_used_here_match_the_label_schema():
    assert STN_ICNN_CLASS_NAMES == (
        "background",
        "left_eyebrow",
        "right_eyebrow",
        "left_eye",
        "right_eye",
        "nose",
        "upper_lip",
        "inner_mouth",
        "lower_lip",
    )


def test_two_classes_by_hand():
    # class 1: truth in 5 pixels, predicted in 4; 3 agree -> TP 3, FP 1, FN 2.
    truth = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0])
    prediction = np.array([1, 1, 1, 0, 0, 1, 0, 0, 0])
    confusion = confusion_matrix(truth, prediction, 2)
    # rows truth, columns prediction: truth 0 -> 3x pred 0, 1x pred 1; truth 1 -> 2x pred 0, 3x pred 1.
    assert confusion.tolist() == [[3, 1], [2, 3]]
    assert confusion.dtype == np.int64
    # F1 = 2TP / (2TP + FP + FN) = 6 / 9
    assert f1_scores(confusion, {"one": (1,)}) == {"one": pytest.approx(6 / 9)}
    assert merged_foreground_f1(confusion) == pytest.approx(6 / 9)


def test_confusion_matrix_any_shape_and_dtype_matches_a_plain_count():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 9, size=(3, 7, 5)).astype(np.uint8)
    prediction = rng.integers(0, 9, size=(3, 7, 5)).astype(np.int64)
    expected = np.zeros([9, 9], np.int64)
    np.add.at(expected, (truth.ravel(), prediction.ravel()), 1)
    np.testing.assert_array_equal(confusion_matrix(truth, prediction, 9), expected)
    np.testing.assert_array_equal(confusion_matrix_tf(tf.constant(truth), tf.constant(prediction), 9), expected)
    assert confusion_matrix(truth, prediction, 9).sum() == truth.size


@pytest.mark.parametrize(
    "truth, prediction, message",
    [
        (np.zeros((2, 3), int), np.zeros((3, 2), int), "same shape"),
        (np.zeros((2, 2), float), np.zeros((2, 2), int), "integer"),
        (np.full((2, 2), 9), np.zeros((2, 2), int), r"\[0, 9\)"),
        (np.zeros((2, 2), int), np.full((2, 2), -1), r"\[0, 9\)"),
    ],
)
def test_confusion_matrix_rejects_bad_input(truth, prediction, message):
    with pytest.raises(ValueError, match=message):
        confusion_matrix(truth, prediction, 9)


def test_confusion_inside_a_merged_group_counts_as_correct():
    truth = np.array([EYE1, BROW1, ULIP, NOSE, BG])
    prediction = np.array([EYE2, BROW2, LLIP, EYE1, BG])
    confusion = confusion_matrix(truth, prediction, 9)
    paper = f1_scores(confusion)
    per_class = f1_scores(confusion, CLASS_F1_GROUPS)
    # eyes: truth {0}, predicted {0, 3}, both at 0 -> TP 1, FP 1 (the nose pixel) -> 2 / 3.
    assert paper["eyes"] == pytest.approx(2 / 3)
    # per class, the eye pixel is wrong: left_eye truth {0}, predicted {3} -> 0; right_eye predicted {0} -> 0.
    assert per_class["left_eye"] == 0.0 and per_class["right_eye"] == 0.0
    # brows merged: TP 1 -> 1.0; left_eyebrow alone: 0, right_eyebrow (no truth, one prediction): 0.
    assert paper["brows"] == 1.0
    assert per_class["left_eyebrow"] == 0.0 and per_class["right_eyebrow"] == 0.0
    # mouth merged: upper lip predicted lower lip is right; the lips alone are wrong.
    assert paper["mouth"] == 1.0
    assert paper["upper lip"] == 0.0 and paper["lower lip"] == 0.0
    # overall: every inner-face pixel (4) is predicted inner face -> 1.0, though the nose was missed.
    assert paper["nose"] == 0.0
    assert paper["overall"] == 1.0


def test_a_group_with_no_true_and_no_predicted_pixel_is_nan():
    truth = np.array([BG, BG, NOSE])
    prediction = np.array([BG, EYE1, NOSE])
    paper = f1_scores(confusion_matrix(truth, prediction, 9))
    assert math.isnan(paper["brows"])  # neither in truth nor predicted
    assert paper["eyes"] == 0.0  # predicted only
    assert paper["nose"] == 1.0
    assert all(math.isnan(score) for score in f1_scores(np.zeros([9, 9], np.int64)).values())


def test_accumulated_f1_differs_from_the_mean_of_per_image_f1():
    # image A: 8 nose pixels, all found -> F1 1.
    truth_a = np.array([NOSE] * 8 + [BG] * 8)
    prediction_a = truth_a.copy()
    # image B: 1 nose pixel, missed, and 1 background pixel called nose -> F1 0.
    truth_b = np.array([NOSE, BG, BG, BG])
    prediction_b = np.array([BG, NOSE, BG, BG])
    per_image = [
        f1_scores(confusion_matrix(t, p, 9))["nose"] for t, p in ((truth_a, prediction_a), (truth_b, prediction_b))
    ]
    assert np.mean(per_image) == 0.5
    # one histogram: TP 8, FP 1, FN 1 -> 16 / 18
    total = confusion_matrix(truth_a, prediction_a, 9) + confusion_matrix(truth_b, prediction_b, 9)
    assert f1_scores(total)["nose"] == pytest.approx(16 / 18)


def test_groups_are_the_papers_in_its_order_and_overall_is_merged_foreground():
    assert list(PAPER_F1_GROUPS) == [
        "eyes",
        "brows",
        "nose",
        "inner mouth",
        "upper lip",
        "lower lip",
        "mouth",
        "overall",
    ]
    named = {group: {STN_ICNN_CLASS_NAMES[i] for i in ids} for group, ids in PAPER_F1_GROUPS.items()}
    assert named["eyes"] == {"left_eye", "right_eye"}
    assert named["brows"] == {"left_eyebrow", "right_eyebrow"}
    assert named["mouth"] == {"upper_lip", "inner_mouth", "lower_lip"}
    assert named["overall"] == set(STN_ICNN_CLASS_NAMES[1:])
    assert list(CLASS_F1_GROUPS) == list(STN_ICNN_CLASS_NAMES[1:])
    rng = np.random.default_rng(1)
    confusion = confusion_matrix(rng.integers(0, 9, 500), rng.integers(0, 9, 500), 9)
    assert f1_scores(confusion)["overall"] == merged_foreground_f1(confusion)


def test_f1_scores_rejects_bad_confusion_and_groups():
    with pytest.raises(ValueError, match="square"):
        f1_scores(np.zeros([3, 4]))
    with pytest.raises(ValueError, match="non-negative"):
        f1_scores(np.array([[1, -1], [0, 1]]), {"a": (1,)})
    with pytest.raises(ValueError, match="'a'.*outside"):
        f1_scores(np.eye(2), {"a": (2,)})


def test_part_iou_by_hand_merges_sides_and_lips_and_skips_absent_groups():
    truth = np.array([[BROW1, BROW2, EYE1, EYE1, ULIP, LLIP, NOSE, BG]])
    prediction = np.array([[BROW2, BG, EYE1, EYE2, LLIP, LLIP, BG, NOSE]])
    scores = iou_scores(confusion_matrix(truth, prediction, 9))
    assert list(scores) == [*PART_IOU_GROUPS, "mean"]
    assert scores["brows"] == 1 / 2  # brow2 for brow1 counts; the missed brow2 pixel is in the union
    assert scores["eyes"] == 1.0  # left and right merged
    assert scores["lips"] == 1.0  # upper and lower merged
    assert scores["nose"] == 0.0  # one missed, one false: intersection 0, union 2
    assert np.isnan(scores["inner mouth"])  # neither true nor predicted
    assert scores["mean"] == (0.5 + 1.0 + 0.0 + 1.0) / 4
    f1 = f1_scores(confusion_matrix(truth, prediction, 9), {"brows": PART_IOU_GROUPS["brows"]})["brows"]
    assert f1 == pytest.approx(2 * scores["brows"] / (1 + scores["brows"]))


def test_format_f1_table():
    scores = {name: 0.5 for name in PAPER_F1_GROUPS}
    scores["nose"] = float("nan")
    header, values = format_f1_table(scores).splitlines()
    assert header.split("  ")[0] == "eyes"
    assert [c.strip() for c in header.split("  ") if c.strip()] == list(PAPER_F1_GROUPS)
    assert values.split() == ["0.500", "0.500", "nan"] + ["0.500"] * 5
    with pytest.raises(ValueError, match="no entry"):
        format_f1_table({"eyes": 1.0})


# ----------------------------------------------------------------------------
# The Keras metric


def _random_batch(seed, shape=(2, 12, 10)):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 9, size=shape).astype(np.uint8)
    logits = rng.normal(size=shape + (9,)).astype(np.float32)
    # make the predictions agree with the truth often enough for a non-trivial score
    logits[truth[..., None] == np.arange(9)] += rng.uniform(0, 2.5, size=shape).ravel()
    return truth, logits


@pytest.mark.parametrize("group", [None, "eyes", "mouth", "overall", "nose", "left_eye"])
def test_keras_metric_equals_the_numpy_function(group):
    metric = FaceParsingF1(group=group)
    total = np.zeros([9, 9], np.int64)
    for seed in range(3):
        truth, logits = _random_batch(seed)
        metric.update_state(truth, logits)
        total += confusion_matrix(truth, logits.argmax(-1), 9)
    key = group or "overall"
    expected = f1_scores(total, {**PAPER_F1_GROUPS, **CLASS_F1_GROUPS})[key]
    assert 0.0 < expected < 1.0
    assert float(metric.result()) == pytest.approx(expected, rel=1e-6)
    metric.reset_state()
    assert math.isnan(float(metric.result()))


def test_keras_metric_takes_integer_predictions_channel_labels_weights_and_tf_function():
    truth, logits = _random_batch(7)
    prediction = logits.argmax(-1)
    reference = FaceParsingF1()
    reference.update_state(truth, logits)
    from_ids = FaceParsingF1()
    from_ids.update_state(truth[..., None], prediction.astype(np.int32))
    assert float(from_ids.result()) == pytest.approx(float(reference.result()))

    graph = FaceParsingF1()
    tf.function(graph.update_state)(tf.constant(truth), tf.constant(logits))
    assert float(graph.result()) == pytest.approx(float(reference.result()))

    # weight 0 on the second image = only the first image counts
    weighted = FaceParsingF1()
    weighted.update_state(truth, logits, sample_weight=np.array([1.0, 0.0]))
    first = merged_foreground_f1(confusion_matrix(truth[0], prediction[0], 9))
    assert float(weighted.result()) == pytest.approx(first)


def test_keras_metric_in_compile_and_evaluate():
    truth, logits = _random_batch(3, shape=(4, 8, 8))
    inputs = keras.Input((8, 8, 9))
    model = keras.Model(inputs, keras.layers.Identity()(inputs))
    model.compile(loss="sparse_categorical_crossentropy", metrics=[FaceParsingF1(), FaceParsingF1(group="eyes")])
    results = model.evaluate(logits, truth, batch_size=2, verbose=0, return_dict=True)
    expected = f1_scores(confusion_matrix(truth, logits.argmax(-1), 9))
    assert results["overall_f1"] == pytest.approx(expected["overall"], rel=1e-6)
    assert results["eyes_f1"] == pytest.approx(expected["eyes"], rel=1e-6)


def test_keras_metric_config_round_trip():
    metric = FaceParsingF1(group="inner mouth", name="mouth_inside", dtype="float64")
    assert keras.saving.get_registered_name(FaceParsingF1) == "keras_stn_icnn>FaceParsingF1"
    config = metric.get_config()
    assert config["num_classes"] == 9 and config["group"] == "inner mouth" and config["name"] == "mouth_inside"
    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(metric)))
    restored = keras.saving.deserialize_keras_object(serialized)
    assert isinstance(restored, FaceParsingF1)
    assert restored.get_config() == config
    truth, logits = _random_batch(5)
    metric.update_state(truth, logits)
    restored.update_state(truth, logits)
    assert float(restored.result()) == float(metric.result())
    assert FaceParsingF1(num_classes=3).get_config()["group"] is None


def test_keras_metric_rejects_bad_arguments():
    with pytest.raises(ValueError, match="unknown F1 group 'ears'"):
        FaceParsingF1(group="ears")
    with pytest.raises(ValueError, match="num_classes is 3"):
        FaceParsingF1(num_classes=3, group="eyes")
    with pytest.raises(ValueError, match="num_classes"):
        FaceParsingF1(num_classes=1)
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_classes=9"):
        FaceParsingF1().update_state(np.array([[9, 0]]), np.array([[0, 0]]))


def test_mean_class_f1_is_the_mean_of_the_per_class_scores_over_batches():
    metric = MeanClassF1()
    total = np.zeros([9, 9], np.int64)
    for seed in range(3):
        truth, logits = _random_batch(seed)
        metric.update_state(truth, logits)
        total += confusion_matrix(truth, logits.argmax(-1), 9)
    per_class = list(f1_scores(total, CLASS_F1_GROUPS).values())
    assert len(per_class) == 8 and min(per_class) < max(per_class)
    assert float(metric.result()) == pytest.approx(np.mean(per_class), rel=1e-6)


def test_mean_class_f1_drops_with_swapped_sides_where_overall_does_not():
    truth = np.array([[BG, EYE1, EYE1, EYE2, EYE2, BROW1, BROW2]])
    swapped = np.array([[BG, EYE2, EYE2, EYE1, EYE1, BG, BG]])  # sides swapped, brows never labelled
    mean_class, overall = MeanClassF1(), FaceParsingF1()
    for metric in (mean_class, overall):
        metric.update_state(truth, swapped)
    # overall: 4 of 6 foreground pixels found, none predicted wrongly: 2*4 / (6 + 4)
    assert float(overall.result()) == pytest.approx(0.8)
    # each class present in truth or prediction scores 0; the five absent classes are left out
    assert float(mean_class.result()) == 0.0


def test_mean_class_f1_leaves_out_absent_classes_and_round_trips():
    metric = MeanClassF1(num_classes=4, name="parts", dtype="float64")
    metric.update_state(np.array([[0, 1, 1, 0]]), np.array([[0, 1, 0, 0]]))
    assert float(metric.result()) == pytest.approx(2 / 3)  # class 1 only: TP 1, T 2, P 1
    restored = keras.saving.deserialize_keras_object(
        json.loads(json.dumps(keras.saving.serialize_keras_object(metric)))
    )
    assert isinstance(restored, MeanClassF1) and restored.get_config() == metric.get_config()
    assert math.isnan(float(MeanClassF1().result()))
    with pytest.raises(ValueError, match="got group='eyes'"):
        MeanClassF1(group="eyes")


_DISTRIBUTED = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from keras_stn_icnn.metrics import FaceParsingF1, confusion_matrix, merged_foreground_f1

    rng = np.random.default_rng(0)
    truth = rng.integers(0, 9, size=(4, 6, 6)).astype(np.int32)
    prediction = np.where(rng.random((4, 6, 6)) < 0.6, truth, rng.integers(0, 9, size=(4, 6, 6))).astype(np.int32)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        metric = FaceParsingF1()
    dataset = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices((truth, prediction)).batch(4))

    @tf.function
    def step(batch):
        strategy.run(metric.update_state, args=batch)

    for batch in dataset:
        step(batch)
    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "metric": float(metric.result()),
        "numpy": merged_foreground_f1(confusion_matrix(truth, prediction, 9)),
    }))
    """
)


def test_keras_metric_sums_replicas_under_mirrored_strategy():
    # Logical devices must be set before TensorFlow starts, so this runs in a fresh process.
    root = Path(__file__).resolve().parents[1]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "KERAS_BACKEND": "tensorflow",
    }
    completed = subprocess.run(
        [sys.executable, "-c", _DISTRIBUTED], capture_output=True, text=True, env=env, timeout=300
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert result["metric"] == pytest.approx(result["numpy"], rel=1e-6)


def _thetas(centres, frame=(1024, 1024)):
    return ops.theta_from_centres(tf.constant(centres, tf.float32), 81, frame)


def test_crop_centre_error_is_the_mean_pixel_distance_over_every_crop():
    truth = [[[500, 300], [500, 700]], [[200, 200], [900, 100]]]
    moved = [[[503, 304], [500, 700]], [[194, 192], [900, 100]]]  # 3-4-5 and 6-8-10 triangles
    metric = CropCentreError(frame_size=1024)
    metric.update_state(_thetas(truth), _thetas(moved))
    assert float(metric.result()) == pytest.approx((5 + 0 + 10 + 0) / 4, abs=1e-3)
    metric.update_state(_thetas(truth[:1]), _thetas(truth[:1]))  # two more crops, both exact
    assert float(metric.result()) == pytest.approx(15 / 6, abs=1e-3)
    # Per-image weights reach each of the image's crops.
    weighted = CropCentreError()
    weighted.update_state(_thetas(truth), _thetas(moved), sample_weight=[0.0, 1.0])
    assert float(weighted.result()) == pytest.approx(10 / 2, abs=1e-3)


def test_crop_centre_error_counts_pixels_of_its_own_frame():
    # A non-square frame: x is normalised by the width, y by the height.
    truth, moved = [[[60, 40]]], [[[63, 44]]]
    metric = CropCentreError(frame_size=(120, 90))
    metric.update_state(_thetas(truth, (120, 90)), _thetas(moved, (120, 90)))
    assert float(metric.result()) == pytest.approx(5.0, abs=1e-3)


def test_crop_centre_error_serialises_and_refuses_a_bad_frame():
    metric = CropCentreError(frame_size=(512, 256), name="centres")
    restored = keras.metrics.deserialize(json.loads(json.dumps(keras.metrics.serialize(metric))))
    assert isinstance(restored, CropCentreError)
    assert (restored.name, restored.frame_size) == ("centres", (512, 256))
    for bad in (1, (512,), (512, 0), 2.5, True):
        with pytest.raises(ValueError, match="frame_size"):
            CropCentreError(frame_size=bad)
