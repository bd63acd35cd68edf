"""RNN-G on a found face box, and what every `FaceBoxParser` shares: the finder, the box rule, the crop and paste,
the priors, and the zoo checks."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import zoo_checks

from keras_stn_icnn.data.helen import HelenReader
from keras_stn_icnn.data.synthetic import generate_synthetic_helen
from keras_stn_icnn.labels import HELEN_CLASS_NAMES, STN_ICNN_CLASS_NAMES
from keras_stn_icnn.layers.face_box import FaceBoxTheta
from keras_stn_icnn.models.face_box import face_finder
from keras_stn_icnn.models.rnn_g.component_networks import RNNGTwoStage
from keras_stn_icnn.models.rnn_g.face_box import RNNGFaceBox
from keras_stn_icnn.models.single_pass import working_size_labels
from keras_stn_icnn.models.zoo import build_zoo_model, zoo_name_of

SMALL = dict(input_size=32, face_size=16, finder_size=16)


@pytest.fixture(scope="module")
def model():
    return RNNGFaceBox(**SMALL, canvas_size=256)


def test_a_cell_of_the_finders_map_sees_the_whole_64_pixel_photo():
    # 3x3 convolutions dilated 2, 4 and 8 reach 14 cells either way: cell 15 sees cells 1-29 of the pooled map,
    # pixels 2-59, and the 5x5 convolution before the pooling widens that to pixels 0-61; cell 31 sees 32-63.
    keras.utils.set_random_seed(0)
    finder = face_finder(32)
    photos = np.zeros((2, 64, 64, 3), np.float32)
    photos[1, 0, 0] = 1.0  # one pixel in the far corner
    logits = finder(photos, training=False).numpy()
    assert np.abs(logits[1, 15, 15] - logits[0, 15, 15]).max() > 0
    assert np.abs(logits[1, 31, 31] - logits[0, 31, 31]).max() == 0


def test_the_face_box_is_the_square_around_the_face_in_image_pixels():
    # A face of 4 rows x 2 columns of a 16x16 map, on a 31x61 image (map cell i sits at image row 2 i, column 4 i):
    # rows 4-7 -> image rows 8, 10, 12, 14 (mean 11, variance 5); columns 6-7 -> image columns 24, 28 (mean 26,
    # variance 4). The side is the larger extent, sqrt(12 * 5) = 7.75 px, times 1.5.
    face = np.zeros((1, 16, 16), np.int32)
    face[0, 4:8, 6:8] = 1
    theta = FaceBoxTheta(margin=0.5)(tf.one_hot(face, 2), tf.zeros([1, 31, 61, 3])).numpy()[0]
    side = np.sqrt(12 * 5.0) * 1.5
    np.testing.assert_allclose(theta[0], [side / 60, 0, -1 + 2 * 26 / 60], atol=1e-6)
    np.testing.assert_allclose(theta[1], [0, side / 30, -1 + 2 * 11 / 30], atol=1e-6)


def test_without_a_face_the_box_is_the_smallest_one_in_the_middle():
    # The smallest side is an eighth of the image's shorter side, 65 / 8 px; theta scales by the last pixel's 64.
    theta = FaceBoxTheta()(tf.one_hot(tf.zeros([1, 8, 8], tf.int32), 2), tf.zeros([1, 65, 65, 3])).numpy()[0]
    np.testing.assert_allclose(theta, [[65 / 8 / 64, 0, 0], [0, 65 / 8 / 64, 0]], atol=1e-6)


def test_the_ground_truth_box_holds_the_face_parts_of_synthetic_faces(tmp_path):
    root = generate_synthetic_helen(tmp_path, num_train=6, num_val=0, num_test=1, seed=3, progress=False)
    labels = np.stack([example["label"].numpy() for example in HelenReader(root, schema="stn_icnn").dataset("train")])
    model = RNNGFaceBox(input_size=256)
    working = working_size_labels(labels, 256).numpy()
    theta = model.face_boxes(working).numpy()
    centre_x, centre_y = (theta[:, 0, 2] + 1) / 2 * 255, (theta[:, 1, 2] + 1) / 2 * 255
    half_side = theta[:, 0, 0] * 255 / 2
    for face, x, y, half in zip(working, centre_x, centre_y, half_side):
        rows, cols = np.nonzero(face)
        inside = (np.abs(cols - x) <= half) & (np.abs(rows - y) <= half)
        assert inside.mean() >= 0.99, inside.mean()
        assert 2 * half < 0.6 * 256  # a face box, not the photo


def test_class_priors_are_those_of_the_face_crops_and_the_face_share(model):
    labels = np.zeros((2, 32, 32), np.uint8)
    labels[:, 8:24, 8:24] = 6  # nose: the face, a quarter of the photo
    labels[:, 14:18, 14:18] = 1  # a brow inside it
    frequencies = model.set_class_priors(labels)
    crops = model.face_label_crops(tf.constant(labels, tf.int32), model.face_boxes(tf.constant(labels, tf.int32)))
    expected = np.bincount(crops.numpy().ravel(), minlength=9) / crops.numpy().size
    np.testing.assert_allclose(frequencies, expected)
    finder_bias = model.get_layer("face_finder").get_layer("face_classifier").bias.numpy()
    np.testing.assert_allclose(finder_bias, np.log([0.75, 0.25]), atol=1e-6)
    assert not model.has_initial_logits_bias()


def test_outputs_follow_the_image(model):
    zoo_checks.check_outputs_follow_the_image(model)
    outputs = model(np.zeros((1, 90, 70, 3), np.float32))
    assert tuple(outputs["face_logits"].shape) == (1, 8, 8, 2)
    assert tuple(outputs["face_theta"].shape) == (1, 2, 3)


def test_a_training_step_moves_every_weight():
    zoo_checks.check_a_training_step_changes_every_trainable_weight(RNNGFaceBox(**SMALL))


def test_keras_file_round_trip(model, tmp_path):
    loaded = zoo_checks.check_keras_file_round_trip(model, tmp_path / "rnn_g_face_box.keras")
    assert zoo_name_of(loaded) == "rnn_g_face_box"


def test_exports(tmp_path):
    model = RNNGFaceBox(**SMALL, canvas_size=256)
    layer = model.get_layer("rnn_g").get_layer("deconv7")  # decisive outputs: no near-ties to flip
    layer.kernel.assign(10.0 * layer.kernel)
    zoo_checks.check_exports(model, tmp_path, "rnn_g_face_box")


def test_refuses_bad_arguments():
    with pytest.raises(ValueError, match="has none of them"):
        RNNGFaceBox(class_names=("background", "skin", "hair"), **SMALL)
    with pytest.raises(ValueError, match=r"input_size \(36\) must be a multiple of the finder's map size"):
        RNNGFaceBox(input_size=36, face_size=16, finder_size=16)
    with pytest.raises(ValueError, match="margin"):
        RNNGFaceBox(**SMALL, margin=-1.0)
    with pytest.raises(ValueError, match="RNNGFaceBox trains on label maps"):
        RNNGFaceBox(**SMALL).compute_loss(np.zeros((1, 32, 32, 3)), None, {})


def test_labels_helen_classes_too():
    model = RNNGFaceBox(class_names=HELEN_CLASS_NAMES, **SMALL)
    assert model.num_classes == 11 and model._face_ids == list(range(2, 10))
    assert RNNGFaceBox(**SMALL).class_names == STN_ICNN_CLASS_NAMES


# --- The two-stage parser with RNNGFaceBox as its first stage --------------------------------


def test_the_two_stage_parser_runs_its_first_stage_on_a_face_box(tmp_path):
    model = build_zoo_model("rnn_g_two_stage_face_box", input_size=32, component_filters=(4, 8), canvas_size=256)
    assert isinstance(model.get_layer("first_stage"), RNNGFaceBox)
    zoo_checks.check_outputs_follow_the_image(model)
    outputs = model(np.zeros((1, 90, 70, 3), np.float32))
    assert {"face_logits", "face_theta", "component_thetas"} <= set(outputs)
    loaded = zoo_checks.check_keras_file_round_trip(model, tmp_path / "rnn_g_two_stage_face_box.keras")
    assert zoo_name_of(loaded) == "rnn_g_two_stage_face_box"
    zoo_checks.check_a_training_step_changes_every_trainable_weight(model)


def test_the_two_stage_parser_refuses_an_unknown_first_stage():
    with pytest.raises(ValueError, match="first_stage must be one of"):
        RNNGTwoStage(input_size=16, first_stage="detector")
