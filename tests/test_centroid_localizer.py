"""CentroidLocalizer: the soft-centroid crops land where the ground truth's do, and gradients reach the mask."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_stn_icnn.data.stn_icnn_inputs import stn_icnn_inputs
from keras_stn_icnn.data.synthetic import PHOTO_SIZE, render_face
from keras_stn_icnn.labels import label_mapping
from keras_stn_icnn.models import CentroidLocalizer, STNiCNN
from keras_stn_icnn.ops.affine import crop_centres

HELEN_TO_STN_ICNN = label_mapping("helen", "stn_icnn")


def _views(seed):
    image, label = render_face(seed)
    return stn_icnn_inputs(
        tf.constant(image), tf.constant(HELEN_TO_STN_ICNN[label]), with_parts=False, with_canvas=False
    )


@pytest.mark.parametrize("seed", [3, 17, 40])
def test_the_mask_of_the_true_labels_puts_the_crops_on_the_ground_truth(seed):
    """On the one-hot stage-1 label the crops land on the ground truth's, up to what the 128 px grid loses.

    Per axis, in photo pixels (4 per grid cell): the nearest resize samples photo row 4i + 2 where the
    corner-aligned mapping puts 4.024 i, up to 2 px apart; sampling every fourth row moves a part's
    centroid by at most half a step, 2 px; the ground truth and the localizer both floor their centres,
    1 px each. So at most sqrt(2) * (2 + 2 + 1 + 1) = 8.5 px.
    """
    views = _views(seed)
    mask = tf.one_hot(tf.cast(views["stage1_label"], tf.int32), 9)[tf.newaxis]
    theta = CentroidLocalizer(frame_size=PHOTO_SIZE)(mask)
    offsets = crop_centres(theta, (1024, 1024)) - crop_centres(views["theta"][tf.newaxis], (1024, 1024))
    present = views["part_present"].numpy()
    distances = np.linalg.norm(offsets.numpy()[0], axis=-1)[present]
    assert present.any() and distances.max() <= 8.5, distances


@pytest.mark.parametrize("whole_pixels", [True, False])
def test_gradients_reach_the_stage1_probabilities(whole_pixels):
    """Flooring to whole pixels passes the gradient straight through, so the crop still trains stage 1."""
    views = _views(5)
    logits = tf.Variable(tf.one_hot(tf.cast(views["stage1_label"], tf.int32), 9)[tf.newaxis] * 5.0)
    with tf.GradientTape() as tape:
        theta = CentroidLocalizer(whole_pixels=whole_pixels)(tf.nn.softmax(logits))
        loss = tf.reduce_sum(theta[..., 2])
    gradient = tape.gradient(loss, logits)
    assert gradient is not None and float(tf.reduce_max(tf.abs(gradient))) > 0.0


def test_whole_pixels_floors_the_soft_centres_onto_the_canvas_grid():
    """The crops the part models see sit on whole pixels, as the ground-truth crops they learned on."""
    mask = tf.nn.softmax(tf.random.stateless_normal([2, 128, 128, 9], seed=(1, 2)) * 3.0)
    snapped = crop_centres(CentroidLocalizer()(mask), (1024, 1024)).numpy()
    soft = crop_centres(CentroidLocalizer(whole_pixels=False)(mask), (1024, 1024)).numpy()
    np.testing.assert_allclose(snapped, np.round(snapped), atol=1e-3)
    assert np.abs(soft - np.round(soft)).max() > 0.01  # the soft centres themselves fall between pixels
    np.testing.assert_allclose(snapped, np.floor(soft + 1e-3), atol=1e-3)


def test_faint_probability_spread_over_the_map_does_not_pull_the_crops():
    """A part the mask is sure of, plus a faint haze of it over the whole map (what a stage 1 trained on
    synthetic faces gives on real photos): its confident pixels alone place the crop.

    The eye is a 6x6 block at p = 0.9 near the map's corner; the haze adds p = 0.02 on the other 16,348
    cells, a mass of 327 against the block's 32: the soft centroid moves most of the way to the map's
    centre, the confident one stays on the block.
    """
    probabilities = np.zeros([1, 128, 128, 9], np.float32)
    probabilities[..., 0] = 1.0
    probabilities[0, :, :, 3] = 0.02
    probabilities[0, 20:26, 20:26, 3] = 0.9
    probabilities[..., 0] -= probabilities[..., 3]
    block = crop_centres(CentroidLocalizer(min_probability=0.5)(probabilities), (1024, 1024))[0, 2].numpy()
    hazy = crop_centres(CentroidLocalizer(min_probability=0.0)(probabilities), (1024, 1024))[0, 2].numpy()
    expected = 256 + 22.5 * 511 / 127  # the block's centre on the 512 px photo, centred on the canvas
    assert np.abs(block - np.floor(expected)).max() <= 1.0
    assert np.abs(hazy - expected).min() > 100.0


def test_an_stn_icnn_with_it_has_no_localizer_weights_and_round_trips(tmp_path):
    model = STNiCNN(localizer="centroid", window=41, canvas_size=256)
    assert model.get_layer("localizer").trainable_weights == []
    assert model.get_layer("localizer").get_config()["canvas_size"] == 256
    assert model.get_layer("localizer").get_config()["min_probability"] == 0.5
    images = np.random.default_rng(0).uniform(0, 255, (1, 200, 180, 3)).astype("float32")
    path = tmp_path / "centroid.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_allclose(restored(images)["theta"], model(images)["theta"], atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_mask_channels": 11}, "9 classes"),
        ({"num_parts": 5}, "6 parts"),
        ({"frame_size": 2048}, "frame_size <= canvas_size"),
        ({"window": 80}, "window must be odd"),
        ({"min_mass": 0.0}, "min_mass must be positive"),
        ({"min_probability": 1.0}, r"min_probability must lie in \[0, 1\)"),
        ({"min_probability": -0.1}, r"min_probability must lie in \[0, 1\)"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CentroidLocalizer(**kwargs)


def test_a_mask_of_other_classes_is_refused():
    with pytest.raises(ValueError, match=r"probabilities must be \[B, h, w, 9\]"):
        CentroidLocalizer()(tf.zeros([1, 128, 128, 11]))


def test_a_batch_inside_a_graph_gives_what_each_face_gives_alone():
    """A batch in a tf.function (as training runs it) places every face as eager single-face calls do."""
    masks = tf.stack([tf.one_hot(tf.cast(_views(seed)["stage1_label"], tf.int32), 9) for seed in (1, 2, 3, 4)])
    localizer = CentroidLocalizer()
    batched = tf.function(localizer)(masks)
    alone = tf.concat([localizer(masks[i : i + 1]) for i in range(4)], axis=0)
    np.testing.assert_allclose(batched.numpy(), alone.numpy(), atol=1e-6)
