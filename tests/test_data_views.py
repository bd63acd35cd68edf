"""Ground-truth theta, the missing-part rule, augmentation and the STN-iCNN training views."""

import numpy as np
import pytest
import tensorflow as tf
from numpy_reference import resize_bilinear_align_corners

from keras_stn_icnn.data import AugmentationConfig, augment, expand_with_augmentation, ground_truth_theta
from keras_stn_icnn.data.augment import choose_operations
from keras_stn_icnn.data.stn_icnn_inputs import stn_icnn_inputs
from keras_stn_icnn.ops import crop
from keras_stn_icnn.ops.centroids import class_centroids, label_centroids, part_centres

CANVAS = 1024
# (class id, centre row, centre col) of a face on a 300 x 420 image, all nine classes present.
PARTS = [
    (1, 100, 110),
    (2, 100, 300),
    (3, 140, 112),
    (4, 140, 305),
    (5, 200, 207),
    (6, 250, 200),
    (7, 258, 204),
    (8, 266, 200),
]


def face_label(shape=(300, 420), skip=()):
    label = np.zeros(shape, np.uint8)
    for class_id, row, col in PARTS:
        if class_id not in skip:
            label[row - 4 : row + 5, col - 14 : col + 17] = class_id
    return label


def reference_centres(label):
    """The authors' calc_centroid on the canvas (1e-10 added to every pixel) and their mouth rule."""
    height, width = label.shape
    top, left = (CANVAS - height) // 2, (CANVAS - width) // 2
    one_hot = np.zeros((9, CANVAS, CANVAS))
    one_hot[:, top : top + height, left : left + width] = np.eye(9)[label].transpose(2, 0, 1)
    one_hot[0, :top], one_hot[0, top + height :] = 1, 1
    one_hot[0, :, :left], one_hot[0, :, left + width :] = 1, 1
    weights = one_hot + 1e-10
    mass = weights.sum(axis=(1, 2))
    ys = (weights.sum(axis=2) * np.arange(CANVAS)).sum(axis=1) / mass
    xs = (weights.sum(axis=1) * np.arange(CANVAS)).sum(axis=1) / mass
    points = np.stack([ys, xs], axis=1)
    return np.concatenate([points[1:6], points[6:9].mean(axis=0, keepdims=True)])


def reference_theta(centres, window=81):
    theta = np.zeros((6, 2, 3))
    theta[:, 0, 0] = theta[:, 1, 1] = (window - 1) / (CANVAS - 1)
    theta[:, 0, 2] = -1 + 2 * centres[:, 1] / (CANVAS - 1)
    theta[:, 1, 2] = -1 + 2 * centres[:, 0] / (CANVAS - 1)
    return theta


def test_ground_truth_theta_matches_the_authors_convention():
    label = face_label()
    theta, present, centres = ground_truth_theta(tf.constant(label), integer_centres=False)
    expected = reference_centres(label)
    np.testing.assert_allclose(centres.numpy(), expected, atol=1e-3)
    np.testing.assert_allclose(theta.numpy(), reference_theta(expected), atol=1e-6)
    assert present.numpy().all()
    floored, _, floored_centres = ground_truth_theta(tf.constant(label))
    np.testing.assert_array_equal(floored_centres.numpy(), np.floor(centres.numpy()))
    np.testing.assert_allclose(floored.numpy(), reference_theta(np.floor(centres.numpy())), atol=1e-6)


def test_closed_mouth_is_the_mean_of_the_lips_not_pulled_to_the_image_centre():
    label = face_label(skip=(7,))
    _, present, centres = ground_truth_theta(tf.constant(label), integer_centres=False)
    upper, lower = [np.argwhere(label == c).mean(axis=0) + [362, 302] for c in (6, 8)]
    np.testing.assert_allclose(centres.numpy()[5], (upper + lower) / 2, atol=1e-3)
    assert present.numpy()[5]
    # The authors' rule averages in an empty inner mouth sitting at the canvas centre.
    assert np.abs(reference_centres(label)[5] - centres.numpy()[5]).max() > 20


def test_missing_eyebrow_is_mirrored_from_its_partner_and_the_eyes():
    label = face_label(skip=(1,))
    _, present, centres = ground_truth_theta(tf.constant(label), integer_centres=False)
    c = centres.numpy()
    np.testing.assert_allclose(c[0], c[1] + c[2] - c[3], atol=1e-4)
    assert present.numpy().tolist() == [False, True, True, True, True, True]


def test_missing_nose_goes_to_the_face_centroid_and_no_face_to_the_image_centre():
    label = face_label(skip=(5,))
    _, present, centres = ground_truth_theta(tf.constant(label), integer_centres=False)
    face = np.argwhere(label > 0).mean(axis=0) + [362, 302]
    np.testing.assert_allclose(centres.numpy()[4], face, atol=1e-3)
    assert not present.numpy()[4]
    _, present, centres = ground_truth_theta(tf.zeros([300, 420], tf.uint8), integer_centres=False)
    np.testing.assert_allclose(centres.numpy(), np.tile([[362 + 149.5, 302 + 209.5]], (6, 1)))
    assert not present.numpy().any()


def test_soft_and_hard_centroids_agree_and_batch():
    label = face_label()
    hard_centroids, hard_mass = label_centroids(tf.constant(label), 9)
    soft_centroids, soft_mass = class_centroids(tf.one_hot(label, 9)[tf.newaxis])
    np.testing.assert_allclose(soft_centroids.numpy()[0], hard_centroids.numpy(), atol=1e-3)
    np.testing.assert_array_equal(soft_mass.numpy()[0], hard_mass.numpy())
    probabilities = tf.nn.softmax(tf.random.stateless_normal([2, 32, 40, 9], [1, 2]) * 3)
    centres, present = part_centres(*class_centroids(probabilities), (32, 40))
    assert centres.shape == (2, 6, 2) and present.numpy().all()


# Augmentation -----------------------------------------------------------------------------------

PALETTE = np.array(
    [
        [0, 0, 0],
        [255, 0, 0],
        [0, 255, 0],
        [0, 0, 255],
        [255, 255, 0],
        [255, 0, 255],
        [0, 255, 255],
        [128, 128, 128],
        [255, 128, 0],
    ],
    np.uint8,
)


@pytest.mark.parametrize("count", [0, 1, 2, 3, 4])
def test_choose_operations_picks_exactly_count_and_varies(count):
    choices = {tuple(choose_operations(count, tf.constant([s, 7])).numpy()) for s in range(30)}
    assert all(sum(choice) == count for choice in choices)
    assert len(choices) == {0: 1, 1: 4, 2: 6, 3: 4, 4: 1}[count]


def test_no_operation_returns_the_example_unchanged():
    label = face_label()
    image = PALETTE[label]
    out_image, out_label = augment(image, label, tf.zeros([4], tf.bool), tf.constant([3, 4]))
    np.testing.assert_array_equal(out_image.numpy(), image)
    np.testing.assert_array_equal(out_label.numpy(), label)


def test_geometry_moves_image_and_label_together():
    label = face_label()
    image = PALETTE[label]
    geometric = tf.constant([True, True, True, False])
    config = AugmentationConfig(scale_range=(0.8, 1.2))
    for seed in range(5):
        out_image, out_label = augment(image, label, geometric, tf.constant([seed, 0]), config)
        out_image, out_label = out_image.numpy(), out_label.numpy()
        assert out_label.shape == label.shape and (out_label != label).any()
        agree = (out_image == PALETTE[out_label]).all(axis=-1).mean()
        assert agree > 0.99, agree  # only the bilinear edges of each part may disagree


def test_rotation_keeps_distances_and_stays_within_15_degrees():
    label = np.zeros((201, 301), np.uint8)
    label[100, 150 + 80] = 1  # 80 px right of the centre (150, 100)
    angles = []
    for seed in range(20):
        _, out = augment(
            np.zeros((201, 301, 3), np.uint8), label, tf.constant([True, False, False, False]), tf.constant([seed, 1])
        )
        ((row, col),) = np.argwhere(out.numpy() == 1)
        assert abs(np.hypot(row - 100, col - 150) - 80) < 1.0
        angles.append(np.degrees(np.arctan2(row - 100, col - 150)))
    assert max(np.abs(angles)) <= 15.5 and np.ptp(angles) > 10


def test_noise_touches_only_the_image():
    label = face_label()
    image = np.full(label.shape + (3,), 128, np.uint8)
    out_image, out_label = augment(image, label, tf.constant([False, False, False, True]), tf.constant([5, 5]))
    np.testing.assert_array_equal(out_label.numpy(), label)
    difference = out_image.numpy().astype(float) - 128
    assert abs(difference.std() - 25.5) < 0.5 and abs(difference.mean()) < 0.5


def expanded(dataset, **kwargs):
    return [(e["image"].numpy(), e["label"].numpy()) for e in expand_with_augmentation(dataset, **kwargs)]


def test_expansion_makes_five_reproducible_copies_the_first_unchanged():
    label = face_label((120, 160))
    example = {"image": PALETTE[label], "label": label}
    dataset = tf.data.Dataset.from_tensors(example).repeat(2)
    first = expanded(dataset, seed=11)
    assert len(first) == 10
    np.testing.assert_array_equal(first[0][0], example["image"])
    np.testing.assert_array_equal(first[5][1], label)
    assert all((image != example["image"]).any() for image, _ in first[1:5])
    again = expanded(dataset, seed=11)
    assert all((a[0] == b[0]).all() and (a[1] == b[1]).all() for a, b in zip(first, again))
    other = expanded(dataset, seed=12)
    assert any((a[0] != b[0]).any() for a, b in zip(first, other))


def test_expansion_redraws_each_epoch_only_when_asked():
    label = face_label((60, 80))
    dataset = tf.data.Dataset.from_tensors({"image": PALETTE[label], "label": label})
    for rerandomize in (True, False):
        pipeline = expand_with_augmentation(dataset, seed=2, rerandomize_each_epoch=rerandomize)
        epochs = [[e["image"].numpy() for e in pipeline] for _ in range(2)]
        same = all((a == b).all() for a, b in zip(*epochs))
        assert same != rerandomize


def test_expansion_arguments_are_checked():
    dataset = tf.data.Dataset.from_tensors(
        {"image": tf.zeros([4, 4, 3], tf.uint8), "label": tf.zeros([4, 4], tf.uint8)}
    )
    with pytest.raises(ValueError, match="copies must be 1-5"):
        expand_with_augmentation(dataset, copies=6)
    with pytest.raises(ValueError, match="scale_range"):
        AugmentationConfig(scale_range=(0.0, 1.0))


# STN-iCNN views ----------------------------------------------------------------------------------


def test_part_crops_are_the_canvas_crops_at_ground_truth_theta():
    rng = np.random.default_rng(0)
    label = face_label()
    label[:8, :8] = 2  # a stray right-eyebrow pixel group pulls the centre; crops must still match
    image = rng.integers(0, 256, label.shape + (3,), dtype=np.uint8)
    views = stn_icnn_inputs(tf.constant(image), tf.constant(label))
    canvas = tf.cast(views["canvas_image"][tf.newaxis], tf.float32)
    for mode in ("nearest", "bilinear"):
        crops = crop(canvas, views["theta"][tf.newaxis], 81, mode=mode)[0]
        np.testing.assert_array_equal(crops.numpy(), views["part_images"].numpy())
    label_crops = (
        crop(
            tf.cast(views["canvas_label"][tf.newaxis, ..., tf.newaxis], tf.float32),
            views["theta"][tf.newaxis],
            81,
            mode="nearest",
        )[0, ..., 0]
        .numpy()
        .astype(np.uint8)
    )
    mouth = views["part_labels"].numpy()[5]
    np.testing.assert_array_equal(mouth, np.select([label_crops[5] == c for c in (6, 7, 8)], [1, 2, 3], 0))
    np.testing.assert_array_equal(views["part_labels"].numpy()[0], (label_crops[0] == 1).astype(np.uint8))


def test_canvas_and_stage1_views():
    rng = np.random.default_rng(1)
    label = face_label()
    image = rng.integers(0, 256, label.shape + (3,), dtype=np.uint8)
    views = stn_icnn_inputs(tf.constant(image), tf.constant(label))
    canvas = views["canvas_image"].numpy()
    np.testing.assert_array_equal(canvas[362:662, 302:722], image)
    assert canvas.sum() == image.astype(np.int64).sum()
    np.testing.assert_array_equal(views["canvas_label"].numpy()[362:662, 302:722], label)
    expected = resize_bilinear_align_corners(image / 255.0, 128, 128)
    np.testing.assert_allclose(views["stage1_image"].numpy(), expected, atol=5e-5)  # float32 weights vs float64
    assert views["image_size"].numpy().tolist() == [300, 420]
    assert set(np.unique(views["stage1_label"].numpy())) == set(range(9))


def test_views_reject_what_they_cannot_make():
    with pytest.raises(ValueError, match="window must be odd"):
        stn_icnn_inputs(tf.zeros([10, 10, 3], tf.uint8), tf.zeros([10, 10], tf.uint8), window=80)
    with pytest.raises(tf.errors.InvalidArgumentError, match="larger than the 256x256 canvas"):
        stn_icnn_inputs(tf.zeros([300, 10, 3], tf.uint8), tf.zeros([300, 10], tf.uint8), canvas_size=256)
