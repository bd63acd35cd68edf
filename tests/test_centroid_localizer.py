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
    """A part the mask is sure of, plus a faint haze of it over the whole map and a second, smaller blob
    (what a stage 1 trained on synthetic faces gives on real photos): the densest crop-sized square
    places the crop.

    The eye is a 6x6 block at p = 0.9 near the map's corner (mass 32); the haze adds p = 0.02 on every
    other cell (327), a 3x3 blob at p = 0.9 across the map adds 8. Over the whole map the centroid moves
    most of the way to the map's centre; inside the 21-cell square around the block (81 px of the 512 px
    photo) the haze adds 8.5 cells' worth, all around the block, and the blob nothing.
    """
    probabilities = np.zeros([1, 128, 128, 9], np.float32)
    probabilities[..., 0] = 1.0
    probabilities[0, :, :, 3] = 0.02
    probabilities[0, 20:26, 20:26, 3] = 0.9
    probabilities[0, 100:103, 90:93, 3] = 0.9
    probabilities[..., 0] -= probabilities[..., 3]
    windowed = crop_centres(CentroidLocalizer()(probabilities), (1024, 1024))[0, 2].numpy()
    whole_map = crop_centres(CentroidLocalizer(densest_window=False)(probabilities), (1024, 1024))[0, 2].numpy()
    expected = 256 + 22.5 * 511 / 127  # the block's centre on the 512 px photo, centred on the canvas
    assert np.abs(windowed - expected).max() <= 8.0  # the haze inside the square pulls it < 2 cells
    assert np.abs(whole_map - expected).min() > 100.0


def test_the_mouths_three_classes_search_one_square_together():
    """The mouth crop is the square holding most of the mouth: a stray inner-mouth blob elsewhere
    (3x3 at p = 0.9, more than the faint inner mouth between the lips) is left out of the mouth's centre.

    Lips: 10x4 blocks at rows 80-83 and 88-91, columns 60-69, p = 0.9; the inner mouth between them at
    p = 0.1 (mass 4) and a stray 3x3 of it at p = 0.9 (mass 8.1) 30 cells to the right. Searched per class,
    the inner mouth's square would sit on the stray blob and pull the mouth's centre 10 cells right.
    """
    probabilities = np.zeros([1, 128, 128, 9], np.float32)
    probabilities[0, 80:84, 60:70, 6] = 0.9
    probabilities[0, 84:88, 60:70, 7] = 0.1
    probabilities[0, 88:92, 60:70, 8] = 0.9
    probabilities[0, 84:87, 95:98, 7] = 0.9
    probabilities[..., 0] = 1.0 - probabilities[..., 1:].sum(-1)
    mouth = crop_centres(CentroidLocalizer()(probabilities), (1024, 1024))[0, 5].numpy()
    expected = 256 + np.array([85.5, 64.5]) * 511 / 127  # the mouth's centre (y, x) on the canvas
    assert np.abs(mouth - expected).max() <= 1.0, (mouth, expected)


def test_the_search_square_is_the_crop_in_mask_cells():
    """81 px of a 512 px photo on the 128-cell mask, corners aligned: 81 * 127 / 511 = 20.1, so 21 cells."""
    assert CentroidLocalizer()._search_side(128) == 21
    assert CentroidLocalizer(window=41, frame_size=256, canvas_size=256)._search_side(128) == 21


def test_an_stn_icnn_with_it_has_no_localizer_weights_and_round_trips(tmp_path):
    model = STNiCNN(localizer="centroid", window=41, canvas_size=256)
    assert model.get_layer("localizer").trainable_weights == []
    assert model.get_layer("localizer").get_config()["canvas_size"] == 256
    assert model.get_layer("localizer").get_config()["densest_window"] is True
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
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CentroidLocalizer(**kwargs)


def test_a_mask_of_other_classes_is_refused():
    with pytest.raises(ValueError, match=r"probabilities must be \[B, h, w, 9\]"):
        CentroidLocalizer()(tf.zeros([1, 128, 128, 11]))


def test_a_mask_of_unknown_size_is_refused_with_its_shape():
    # The search square's side in cells follows from the mask's size, so it must be known when building.
    with pytest.raises(ValueError, match=r"densest_window needs the mask's height and width.*None"):
        CentroidLocalizer().build((None, None, None, 9))
    CentroidLocalizer(densest_window=False).build((None, None, None, 9))


def test_a_batch_inside_a_graph_gives_what_each_face_gives_alone():
    """A batch in a tf.function (as training runs it) places every face as eager single-face calls do."""
    masks = tf.stack([tf.one_hot(tf.cast(_views(seed)["stage1_label"], tf.int32), 9) for seed in (1, 2, 3, 4)])
    localizer = CentroidLocalizer()
    batched = tf.function(localizer)(masks)
    alone = tf.concat([localizer(masks[i : i + 1]) for i in range(4)], axis=0)
    np.testing.assert_allclose(batched.numpy(), alone.numpy(), atol=1e-6)
