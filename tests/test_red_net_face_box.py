"""RED-Net on a found face box: its loss, its exemplar prior in the box's frame, its defaults and refusals.

The zoo checks (outputs, a training step, the `.keras` round trip, the
exports) run on `red_net_cpu_face_box` in `test_zoo_variants.py`; the box rule,
crop and paste it shares with `RNNGFaceBox` are tested in `test_rnn_g_face_box.py`.
"""

import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf
import zoo_checks

from keras_stn_icnn.labels import HELEN_CLASS_NAMES
from keras_stn_icnn.metrics import FaceParsingF1
from keras_stn_icnn.models.face_box import FaceBoxParser
from keras_stn_icnn.models.red_net import RedNet, RedNetFaceBox
from keras_stn_icnn.ops.resize import resize_bilinear_align_corners

HELEN = {name: index for index, name in enumerate(HELEN_CLASS_NAMES)}
SMALL = dict(
    input_size=64, face_size=32, finder_size=16, encoder_filters=(8, 8), blocks_per_unit=1, num_exemplars=2, bank_size=8
)


def face_labels(shift):
    """A 64x64 HELEN label map of a schematic face (its parts in rows 14-47), moved `shift` pixels right."""
    label = np.full((64, 64), HELEN["skin"], np.uint8)
    label[:, :6] = HELEN["background"]
    label[14:18, 14 + shift : 22 + shift] = HELEN["left_eye"]
    label[14:18, 38 + shift : 46 + shift] = HELEN["right_eye"]
    label[24:36, 28 + shift : 34 + shift] = HELEN["nose"]
    label[42:44, 22 + shift : 42 + shift] = HELEN["upper_lip"]
    label[44:46, 24 + shift : 40 + shift] = HELEN["inner_mouth"]
    label[46:48, 22 + shift : 42 + shift] = HELEN["lower_lip"]
    return label


@pytest.fixture(scope="module")
def model():
    return RedNetFaceBox(**SMALL, canvas_size=256)


def test_red_net_labels_the_face_box_at_its_own_size(model):
    red_net = model.get_layer("red_net")
    assert isinstance(red_net, RedNet) and isinstance(model, FaceBoxParser)
    assert red_net.input_size == model.face_size == 32
    assert red_net.encoder_filters == model.encoder_filters == (8, 8)
    assert model.prior_bias_layers()[0] is red_net.get_layer("classifier")


def test_the_loss_is_the_finders_plus_red_nets_own_on_the_ground_truth_box(model):
    labels = np.stack([face_labels(0), face_labels(3)]).astype(np.int32)
    images = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype(np.float32)
    outputs = model(images)
    loss = model.compute_loss(images, labels, outputs, training=False)

    theta = model.face_boxes(tf.constant(labels))
    faces = model._crop_layer(resize_bilinear_align_corners(tf.constant(images), (64, 64)), theta)
    face_outputs = model.get_layer("red_net")(faces, training=False)
    cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    expected = cross_entropy(model.face_cells(tf.constant(labels)), outputs["face_logits"]) + cross_entropy(
        model.face_label_crops(tf.constant(labels), theta), face_outputs["logits"]
    )
    np.testing.assert_allclose(float(loss), float(expected), rtol=1e-5)


def test_a_training_step_runs_red_net_once_and_moves_the_weights_as_keras_step_does():
    labels = tf.constant(np.stack([face_labels(0), face_labels(3), face_labels(-2)]).astype(np.int32))
    images = tf.constant(np.random.default_rng(1).uniform(0, 255, (3, 64, 64, 3)).astype(np.float32))
    keras_logs, own_logs, keras_calls, own_calls, start = zoo_checks.check_own_step_matches_keras_step(
        lambda: RedNetFaceBox(**SMALL, coordinate_channels=True), images, labels, "red_net", seed=3
    )
    # traced once each: Keras' step runs RED-Net on the found and the ground truth's boxes, this one on the latter
    assert (len(keras_calls), len(own_calls)) == (2, 1)

    # its training F1 is RED-Net's, before the update, on the ground truth's boxes
    theta = start.face_boxes(labels)
    faces = start._crop_layer(resize_bilinear_align_corners(images, (64, 64)), theta)
    expected_f1 = FaceParsingF1(start.num_classes)
    expected_f1.update_state(
        start.face_label_crops(labels, theta), start.get_layer("red_net")(faces, training=True)["logits"]
    )
    assert 0.0 < float(expected_f1.result()) < 1.0
    assert float(own_logs["overall_f1"]) == pytest.approx(float(expected_f1.result()), rel=1e-5)


def test_fit_prior_fills_the_bank_with_label_maps_cut_in_their_face_boxes():
    model = RedNetFaceBox(**SMALL)
    maps = np.stack([face_labels(shift) for shift in range(-3, 4)])
    model.fit_prior(maps)
    prior = model.get_layer("red_net").get_layer("adaptive_prior")
    assert prior.is_fitted
    expected = model.ground_truth_face_labels(maps).numpy()
    np.testing.assert_array_equal(prior.bank_label_maps.numpy()[:7], expected)
    # The box holds the whole face: every eye, nose and lip class is in every crop.
    for crop in expected:
        assert {HELEN[name] for name in ("left_eye", "right_eye", "nose", "upper_lip", "lower_lip")} <= set(
            np.unique(crop)
        )


def test_fit_prior_refuses_maps_that_are_not_integer_or_out_of_range(model):
    with pytest.raises(ValueError, match=r"integer label maps \[M, H, W\], got float32 of shape \(2, 64, 64\)"):
        model.fit_prior(np.zeros((2, 64, 64), np.float32))
    with pytest.raises(ValueError, match="num_exemplars \\(2\\) to bank_size \\(8\\) exemplars, got 9"):
        model.fit_prior(np.stack([face_labels(0)] * 9))


def test_defaults_are_red_nets_on_a_224_pixel_face():
    parameters = inspect.signature(RedNetFaceBox).parameters
    assert parameters["class_names"].default == HELEN_CLASS_NAMES
    assert parameters["encoder_filters"].default == inspect.signature(RedNet).parameters["encoder_filters"].default
    assert RedNetFaceBox.default_learning_rate == RedNet.default_learning_rate
    assert RedNetFaceBox(input_size=256, encoder_filters=(4, 4), bank_size=8).face_size == 224
    assert RedNetFaceBox(input_size=64, encoder_filters=(4, 4), bank_size=8).face_size == 64


def test_refuses_bad_arguments():
    with pytest.raises(ValueError, match="RED-Net|key point|left_eye"):
        RedNetFaceBox(class_names=("background", "skin", "hair"), **SMALL)
    with pytest.raises(ValueError, match="face_size must be an int >= 8 divisible by 4, got 34"):
        RedNetFaceBox(**{**SMALL, "face_size": 34})  # two poolings: a multiple of 4
    with pytest.raises(ValueError, match="face_size must be an int >= 32 divisible by 32, got 48"):
        RedNetFaceBox(input_size=48, bank_size=8)  # five poolings: the default face size min(224, 48) is refused
    with pytest.raises(ValueError, match="encoder_filters must be a sequence of positive ints, got 'wide'"):
        RedNetFaceBox(**{**SMALL, "encoder_filters": "wide"})
    with pytest.raises(ValueError, match="RedNetFaceBox trains on label maps"):
        RedNetFaceBox(**SMALL).compute_loss(np.zeros((1, 64, 64, 3)), None, {})
