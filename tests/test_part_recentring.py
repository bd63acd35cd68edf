"""PartRecentring and STN-iCNN's second, re-centred pass of its part models."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_stn_icnn.layers import PartRecentring
from keras_stn_icnn.models import STNiCNN
from keras_stn_icnn.ops import crop_centres, resize_bilinear_align_corners, theta_from_centres
from keras_stn_icnn.train.stage_models import JointModel

CANVAS = (300, 300)


def part_logits(rows, cols, window=41, strength=30.0):
    """Two-class logits of a crop whose part fills `rows` x `cols` (slices of the window)."""
    logits = np.full([1, window, window, 2], [strength, -strength], np.float32)
    logits[0, rows, cols] = [-strength, strength]
    return tf.constant(logits)


def test_each_crop_moves_onto_its_parts_centroid_floored_to_whole_pixels():
    centres = tf.constant([[[100.0, 120.0], [150.0, 60.0]]])
    theta = theta_from_centres(centres, 41, CANVAS)
    # Part 1 fills rows 23-28 and columns 10-14 of its crop: centroid (25.5, 12) against the crop's centre (20, 20).
    # Part 2 is centred already.
    logits = [part_logits(slice(23, 29), slice(10, 15)), part_logits(slice(15, 26), slice(15, 26))]
    moved = PartRecentring(41, canvas_size=CANVAS)(theta, logits)
    np.testing.assert_allclose(crop_centres(moved, CANVAS).numpy(), [[[105.0, 112.0], [150.0, 60.0]]], atol=1e-3)
    np.testing.assert_allclose(moved.numpy()[..., :2], theta.numpy()[..., :2])  # the scale is kept


def test_a_crop_whose_part_model_sees_too_little_stays():
    theta = theta_from_centres(tf.constant([[[100.0, 120.0]]]), 41, CANVAS)
    faint = part_logits(slice(0, 3), slice(0, 3))  # 9 pixels, below min_mass 20, far in a corner
    moved = PartRecentring(41, canvas_size=CANVAS)(theta, [faint])
    np.testing.assert_array_equal(moved.numpy(), theta.numpy())


def test_the_gradient_passes_to_the_incoming_theta_unchanged():
    theta = tf.Variable(theta_from_centres(tf.constant([[[100.0, 120.0]]]), 41, CANVAS))
    logits = part_logits(slice(23, 29), slice(10, 15))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(PartRecentring(41, canvas_size=CANVAS)(theta, [logits]))
    np.testing.assert_array_equal(tape.gradient(loss, theta).numpy(), np.ones([1, 1, 2, 3]))


def test_an_stn_icnn_that_recentres_labels_twice_round_trips_and_reports_the_moved_thetas(tmp_path):
    keras.utils.set_random_seed(0)
    model = STNiCNN(localizer="centroid", window=41, canvas_size=256, recentre_crops=True)
    single = STNiCNN(localizer="centroid", window=41, canvas_size=256)
    single.set_weights(model.get_weights())
    images = np.random.default_rng(0).uniform(0, 255, (1, 200, 180, 3)).astype("float32")
    outputs = model(images)
    path = tmp_path / "recentred.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert restored.recentre_crops and restored.get_config()["recentre_crops"] is True
    np.testing.assert_array_equal(restored(images)["labels"], outputs["labels"])
    # The first pass is the single-pass model's; the reported thetas are where the second pass cut.
    recentring = model.get_layer("recentring")
    first = single(images)
    expected = recentring(first["theta"], [first["part_logits"][part] for part in first["part_logits"]])
    np.testing.assert_allclose(outputs["theta"], expected, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"window": 40}, "window must be a positive odd integer"),
        ({"canvas_size": None}, "needs the canvas"),
        ({"min_mass": 0.0}, "min_mass must be positive"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PartRecentring(**kwargs)


def test_one_part_logits_per_theta():
    theta = theta_from_centres(tf.constant([[[100.0, 120.0], [150.0, 60.0]]]), 41, CANVAS)
    with pytest.raises(ValueError, match="one part's logits per theta, got 1 for 2"):
        PartRecentring(41, canvas_size=CANVAS)(theta, [part_logits(slice(0, 3), slice(0, 3))])


def test_end_to_end_training_labels_the_recentred_crops():
    keras.utils.set_random_seed(1)
    parser = STNiCNN(localizer="centroid", window=41, canvas_size=256, recentre_crops=True)
    image = np.random.default_rng(1).integers(0, 256, (1, 256, 256, 3)).astype("uint8")
    inputs = {
        "stage1_image": resize_bilinear_align_corners(tf.constant(image, tf.float32) / 255.0, (128, 128)),
        "canvas_image": tf.constant(image),
        "canvas_label": tf.zeros([1, 256, 256], tf.uint8),
    }
    joint = JointModel(parser)(inputs)
    np.testing.assert_allclose(joint["theta"], parser(image)["theta"], atol=1e-6)
    single = STNiCNN(localizer="centroid", window=41, canvas_size=256)
    single.set_weights(parser.get_weights())
    assert np.abs(single(image)["theta"] - joint["theta"]).max() > 1e-3  # the crops did move
