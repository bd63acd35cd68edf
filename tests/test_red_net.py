"""RED-Net: switch pooling and unpooling, RE/RD units, the adaptive prior and the zoo checks."""

import inspect
import math

import keras
import numpy as np
import pytest
import tensorflow as tf
import zoo_checks

from keras_stn_icnn.labels import HELEN_CLASS_NAMES, LFW_PL_CLASS_NAMES
from keras_stn_icnn.layers.adaptive_prior import AdaptivePrior
from keras_stn_icnn.layers.max_unpooling import MaxPoolingWithSwitches, MaxUnpooling2D
from keras_stn_icnn.layers.red_net_units import ResidualDecoderUnit, ResidualEncoderUnit
from keras_stn_icnn.models.red_net.red_net import RedNet
from keras_stn_icnn.ops import adaptive_prior

HELEN = {name: index for index, name in enumerate(HELEN_CLASS_NAMES)}
HELEN_KEY_POINT_CLASSES = ((4,), (5,), (6,), (7, 8, 9))


def tiny_model(**overrides):
    arguments = dict(
        input_size=32,
        encoder_filters=(16, 16),
        blocks_per_unit=1,
        num_exemplars=2,
        bank_size=8,
        pca_components=3,
        canvas_size=256,
    )
    return RedNet(**{**arguments, **overrides})


def face_labels(shift, size=32):
    """A HELEN label map of a schematic face, moved `shift` pixels right."""
    label = np.full((size, size), HELEN["skin"], np.uint8)
    label[:, :3] = HELEN["background"]
    label[7:9, 7 + shift : 11 + shift] = HELEN["left_eye"]
    label[7:9, 19 + shift : 23 + shift] = HELEN["right_eye"]
    label[12:18, 14 + shift : 17 + shift] = HELEN["nose"]
    label[21, 11 + shift : 21 + shift] = HELEN["upper_lip"]
    label[22, 12 + shift : 20 + shift] = HELEN["inner_mouth"]
    label[23, 11 + shift : 21 + shift] = HELEN["lower_lip"]
    return label


# --- Max pooling with switches, max unpooling -------------------------------------------------


def numpy_pool_with_switches(x):
    """Reference: 2x2 windows, the first maximum in row-major order wins."""
    batch, height, width, channels = x.shape
    pooled = np.zeros((batch, height // 2, width // 2, channels), x.dtype)
    switches = np.zeros_like(x)
    for b in range(batch):
        for i in range(height // 2):
            for j in range(width // 2):
                for c in range(channels):
                    window = x[b, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2, c].ravel()
                    first = int(np.argmax(window))  # numpy's argmax returns the first maximum
                    pooled[b, i, j, c] = window[first]
                    switches[b, 2 * i + first // 2, 2 * j + first % 2, c] = 1.0
    return pooled, switches


def numpy_unpool(values, switches):
    return np.repeat(np.repeat(values, 2, axis=1), 2, axis=2) * switches


def test_pooling_and_unpooling_match_the_numpy_reference_with_ties():
    # Values from {0, 1, 2}: most windows hold ties, including all-equal windows.
    x = np.random.default_rng(0).integers(0, 3, (2, 6, 8, 3)).astype(np.float32)
    x[0, :2, :2, 0] = 1.0  # a window of four equal values: the top-left one wins
    pooled, switches = MaxPoolingWithSwitches()(x)
    expected_pooled, expected_switches = numpy_pool_with_switches(x)
    np.testing.assert_array_equal(pooled, expected_pooled)
    np.testing.assert_array_equal(switches, expected_switches)
    np.testing.assert_array_equal(switches[0, :2, :2, 0], [[1.0, 0.0], [0.0, 0.0]])
    np.testing.assert_array_equal(np.sum(switches.numpy().reshape(2, 3, 2, 4, 2, 3), axis=(2, 4)), 1.0)
    np.testing.assert_array_equal(MaxUnpooling2D()(pooled, switches), numpy_unpool(expected_pooled, switches))
    np.testing.assert_array_equal(tf.nn.max_pool2d(x, 2, 2, "VALID"), pooled)


def test_pooling_gradient_goes_to_the_first_maximum_only():
    x = tf.constant(np.random.default_rng(1).integers(0, 2, (1, 4, 4, 2)).astype(np.float32))
    weights = np.random.default_rng(2).normal(size=(1, 2, 2, 2)).astype(np.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(MaxPoolingWithSwitches()(x)[0] * weights)
    _, switches = numpy_pool_with_switches(x.numpy())
    np.testing.assert_allclose(tape.gradient(loss, x), numpy_unpool(weights, switches))


def test_odd_sizes_are_refused():
    with pytest.raises(ValueError, match="even height"):
        MaxPoolingWithSwitches()(np.zeros((1, 5, 4, 1), np.float32))


def test_pooling_layers_serialize():
    for layer in (MaxPoolingWithSwitches(name="p"), MaxUnpooling2D(name="u")):
        restored = keras.layers.deserialize(keras.layers.serialize(layer))
        assert type(restored) is type(layer) and restored.get_config() == layer.get_config()


# --- Residual encoder and decoder units -------------------------------------------------------


def _weights_without_gradient(layer, *inputs):
    with tf.GradientTape() as tape:
        outputs = layer(*inputs, training=True)
        loss = tf.reduce_sum(outputs * tf.random.stateless_normal(outputs.shape, seed=(1, 2)))
    gradients = tape.gradient(loss, layer.trainable_weights)
    return [w.path for w, g in zip(layer.trainable_weights, gradients) if g is None or not np.any(g)]


def test_encoder_unit_shapes_gradients_and_serialization():
    x = np.random.default_rng(3).normal(size=(2, 8, 8, 3)).astype(np.float32)
    unit = ResidualEncoderUnit(6, blocks=2)
    assert tuple(unit(x).shape) == (2, 8, 8, 6)
    # Two blocks of two convolutions + a projection, each with batch normalisation.
    assert len(unit.trainable_weights) == 5 * 3
    assert not _weights_without_gradient(unit, x)
    restored = keras.layers.deserialize(keras.layers.serialize(unit))
    restored.set_weights(unit.get_weights())
    np.testing.assert_allclose(restored(x), unit(x), rtol=1e-6)
    assert ResidualEncoderUnit(3).compute_output_shape((None, 8, 8, 3)) == (None, 8, 8, 3)
    with pytest.raises(ValueError, match="blocks"):
        ResidualEncoderUnit(4, blocks=0)


def test_decoder_unit_shapes_gradients_and_serialization():
    x = np.random.default_rng(4).normal(size=(2, 8, 8, 8)).astype(np.float32)
    pooled, switches = MaxPoolingWithSwitches()(x)
    unit = ResidualDecoderUnit(4)
    assert tuple(unit(pooled, switches).shape) == (2, 8, 8, 4)
    # Densification, detail-learning and dimension-reduction bottlenecks (3 deconvolutions each)
    # plus the 1x1 projection: 10 deconvolutions, each with batch normalisation.
    assert len(unit.trainable_weights) == 10 * 3
    assert not _weights_without_gradient(unit, pooled, switches)
    restored = keras.layers.deserialize(keras.layers.serialize(unit))
    restored.set_weights(unit.get_weights())
    np.testing.assert_allclose(restored(pooled, switches), unit(pooled, switches), rtol=1e-6)


def test_decoder_unit_starts_from_the_unpooled_sparse_map():
    # Zero switches: the unpooled map is all zeros, so with fresh batch statistics
    # (inference: moving mean 0, variance 1, offset 0) the unit's output is zero too.
    pooled = np.ones((1, 2, 2, 8), np.float32)
    assert not np.any(ResidualDecoderUnit(4)(pooled, np.zeros((1, 4, 4, 8), np.float32)))


# --- Adaptive prior: key points, PCA, nearest exemplars, Eq. 5-8 -------------------------------


def test_key_point_rule_on_a_hand_made_label_map():
    label = face_labels(0)
    points, present = adaptive_prior.facial_key_points(label[None], HELEN_KEY_POINT_CLASSES)
    # Eyes: centroids of rows 7-8 x cols 7-10 and 19-22; nose: rows 12-17 x cols 14-16;
    # mouth: leftmost column 11 holds the lips at rows 21 and 23 (mean 22), rightmost column 20 too.
    expected = np.array([[7.5, 8.5], [7.5, 20.5], [14.5, 15.0], [22.0, 11.0], [22.0, 20.0]]) / 31.0
    np.testing.assert_allclose(points[0], expected, rtol=1e-6)
    assert present.numpy().all()

    label[21, 11] = HELEN["skin"]  # the left corner column now holds the lower lip only
    label[label == HELEN["right_eye"]] = HELEN["skin"]
    points, present = adaptive_prior.facial_key_points(label[None], HELEN_KEY_POINT_CLASSES)
    np.testing.assert_allclose(points[0, 3], np.array([23.0, 11.0]) / 31.0, rtol=1e-6)
    assert present.numpy().tolist() == [[True, False, True, True, True]]
    filled = adaptive_prior.fill_missing_key_points(points, present, np.arange(10.0))
    np.testing.assert_array_equal(filled[0, 1], [2.0, 3.0])
    np.testing.assert_array_equal(filled[0, 0], points[0, 0])


def test_key_point_classes_are_found_by_name():
    assert adaptive_prior.key_point_class_ids(HELEN_CLASS_NAMES) == HELEN_KEY_POINT_CLASSES
    with pytest.raises(ValueError, match="left_eye"):
        adaptive_prior.key_point_class_ids(LFW_PL_CLASS_NAMES)


def _bank_points():
    """Four exemplars that differ in the mouth's right x (a) and, less, the nose y (b)."""
    a = np.array([0.0, 1.0, 2.0, 3.0])
    b = np.array([0.8, -0.8, -0.8, 0.8])  # uncorrelated with a, variance 0.64 < 1.25
    points = np.zeros((4, 5, 2), np.float32)
    points[:, 4, 1] = a  # flat index 9
    points[:, 2, 0] = b  # flat index 4
    return points


def test_pca_and_nearest_exemplars_on_hand_made_points():
    points = _bank_points()
    mean, basis = adaptive_prior.fit_key_point_pca(points, 1)
    np.testing.assert_allclose(mean.numpy()[[4, 9]], [0.0, 1.5], atol=1e-6)
    np.testing.assert_allclose(np.abs(basis[:, 0]), np.eye(10)[9], atol=1e-6)  # a has the most variance
    query = np.zeros((1, 5, 2), np.float32)
    query[0, 4, 1], query[0, 2, 0] = 2.45, -0.8
    valid = np.ones(4, np.float32)

    # One component: only a counts; |2.45 - 2| = 0.45 < |2.45 - 3| = 0.55.
    bank = adaptive_prior.project_key_points(points, mean, basis)
    np.testing.assert_allclose(np.abs(bank[:, 0]), [1.5, 0.5, 0.5, 1.5], atol=1e-6)
    projected = adaptive_prior.project_key_points(query, mean, basis)
    assert adaptive_prior.nearest_exemplars(projected, bank, valid, 2).numpy().tolist() == [[2, 3]]

    # Two components: b counts too; exemplar 3 is 0.55^2 + 1.6^2 = 2.86 away, exemplar 1 1.45^2 = 2.10.
    mean, basis = adaptive_prior.fit_key_point_pca(points, 2)
    bank = adaptive_prior.project_key_points(points, mean, basis)
    projected = adaptive_prior.project_key_points(query, mean, basis)
    assert adaptive_prior.nearest_exemplars(projected, bank, valid, 2).numpy().tolist() == [[2, 1]]

    # An empty slot is never chosen, however close.
    valid[2] = 0.0
    assert adaptive_prior.nearest_exemplars(projected, bank, valid, 2).numpy().tolist() == [[1, 3]]


def test_averaged_prior_is_eq_5():
    bank = np.array([[[0, 1]], [[1, 1]], [[2, 1]]], np.uint8)
    prior = adaptive_prior.averaged_prior(bank, tf.constant([[0, 2], [1, 1]]), 3)
    np.testing.assert_allclose(prior[0, 0], [[0.5, 0.0, 0.5], [0.0, 1.0, 0.0]])
    np.testing.assert_allclose(prior[1, 0], [[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])


def test_normalized_entropy_of_known_distributions():
    probabilities = np.array([[0.25] * 4, [1.0, 0, 0, 0], [0.5, 0.5, 0, 0], [0.1, 0.2, 0.3, 0.4]], np.float32)
    expected_last = -sum(p * math.log(p) for p in (0.1, 0.2, 0.3, 0.4)) / math.log(4)
    np.testing.assert_allclose(
        adaptive_prior.normalized_entropy(probabilities), [1.0, 0.0, 0.5, expected_last], rtol=1e-6, atol=1e-7
    )


def test_combination_is_eq_8():
    net = np.array([[0.7, 0.2, 0.1], [0.2, 0.2, 0.6]], np.float32)
    prior = np.array([[0.0, 0.6, 0.4], [1.0, 0.0, 0.0]], np.float32)
    scale = np.array([0.5, 0.0], np.float32)
    # Pixel 1: (0.7, 0.2 + 0.3, 0.1 + 0.2) / 1.5; pixel 2: scale 0 leaves P_net.
    expected = np.array([[0.7 / 1.5, 0.5 / 1.5, 0.3 / 1.5], [0.2, 0.2, 0.6]])
    np.testing.assert_allclose(adaptive_prior.combine_with_prior(net, prior, scale), expected, rtol=1e-6)


def test_bank_from_labels_fills_missing_points_with_their_mean():
    labels = np.stack([face_labels(shift) for shift in (0, 2, 4)])
    labels[2][labels[2] == HELEN["nose"]] = HELEN["skin"]
    bank = adaptive_prior.exemplar_bank_from_labels(labels, HELEN_KEY_POINT_CLASSES, 32, 2)
    # The nose of exemplar 2 is its mean over exemplars 0 and 1, so the nose x varies 15, 17, 16.
    mean = bank.key_point_mean.numpy().reshape(5, 2)
    np.testing.assert_allclose(mean[2], np.array([14.5, 16.0]) / 31.0, rtol=1e-6)
    assert bank.label_maps.shape == (3, 32, 32) and bank.projections.shape == (3, 2)
    with pytest.raises(ValueError, match="integer"):
        adaptive_prior.exemplar_bank_from_labels(labels.astype(np.float32), HELEN_KEY_POINT_CLASSES, 32, 2)


def _confident_logits(label, num_classes, uncertain=()):
    logits = 10.0 * np.eye(num_classes, dtype=np.float32)[label]
    for row, col in uncertain:
        logits[row, col] = 0.0
    return logits[None]


def test_adaptive_prior_layer_is_neutral_before_the_bank_and_uses_the_nearest_exemplar():
    num_classes = len(HELEN_CLASS_NAMES)
    layer = AdaptivePrior(32, HELEN_KEY_POINT_CLASSES, num_exemplars=1, bank_size=4, pca_components=2)
    logits = _confident_logits(face_labels(4), num_classes, uncertain=[(0, 0), (22, 24)])
    np.testing.assert_allclose(keras.ops.softmax(layer(logits)), keras.ops.softmax(logits), atol=1e-6)
    assert not layer.is_fitted

    layer.set_exemplar_bank(
        adaptive_prior.exemplar_bank_from_labels(
            np.stack([face_labels(0), face_labels(5)]), HELEN_KEY_POINT_CLASSES, 32, 2
        )
    )
    assert layer.is_fitted
    final = keras.ops.softmax(layer(logits)).numpy()[0]
    # The face is 4 pixels right: its nearest exemplar is the one 5 pixels right, whose
    # pixel (22, 24) is inner mouth. There the decoder is uniform (As = 1), so
    # P_final = (1/C + one_hot) / 2 (Eq. 8); at (0, 0) the prior is background.
    uniform = 1.0 / num_classes
    expected = np.full(num_classes, uniform / 2)
    expected[HELEN["inner_mouth"]] += 0.5
    np.testing.assert_allclose(final[22, 24], expected, rtol=1e-5)
    assert final[0, 0].argmax() == HELEN["background"]
    # A confident pixel (entropy ~ 0) keeps its label where the prior (skin there) disagrees.
    assert final[7, 11].argmax() == HELEN["left_eye"]


def test_adaptive_prior_layer_refuses_bad_banks_and_arguments():
    layer = AdaptivePrior(32, HELEN_KEY_POINT_CLASSES, num_exemplars=2, bank_size=3, pca_components=2)
    layer(np.zeros((1, 32, 32, 11), np.float32))
    too_few = adaptive_prior.exemplar_bank_from_labels(face_labels(0)[None], HELEN_KEY_POINT_CLASSES, 32, 2)
    with pytest.raises(ValueError, match="num_exemplars"):
        layer.set_exemplar_bank(too_few)
    with pytest.raises(ValueError, match="bank_size"):
        AdaptivePrior(32, HELEN_KEY_POINT_CLASSES, num_exemplars=5, bank_size=3)
    with pytest.raises(ValueError, match="pca_components"):
        AdaptivePrior(32, HELEN_KEY_POINT_CLASSES, pca_components=11)
    restored = keras.layers.deserialize(keras.layers.serialize(layer))
    assert restored.get_config() == layer.get_config()


# --- The model --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model():
    return tiny_model()


@pytest.fixture(scope="module")
def fitted_model():
    model = tiny_model()
    model.fit_prior(np.stack([face_labels(shift) for shift in range(-3, 4)]))
    return model


def test_outputs_follow_the_image(model):
    zoo_checks.check_outputs_follow_the_image(model)


def test_unfitted_prior_leaves_the_decoder_prediction(model):
    images = np.random.default_rng(5).integers(0, 256, (2, 32, 32, 3)).astype(np.float32)
    outputs = model(images)
    np.testing.assert_allclose(outputs["logits"], tf.nn.log_softmax(outputs["decoder_logits"]), atol=1e-5)


def test_loss_is_the_mean_pixel_cross_entropy_of_the_final_map(fitted_model):
    images, labels = zoo_checks.random_faces(fitted_model, seed=2)
    outputs = fitted_model(images.astype(np.float32))
    final = np.exp(np.array(outputs["logits"], np.float64))
    np.testing.assert_allclose(final.sum(-1), 1.0, rtol=1e-5)
    expected = -np.log(np.take_along_axis(final, labels[..., None].astype(int), -1)).mean()
    assert float(fitted_model.compute_loss(y=labels, y_pred=outputs)) == pytest.approx(expected, rel=1e-5)


def test_a_training_step_moves_every_weight():
    model = tiny_model()
    bank_before = [np.array(w) for w in model.get_layer("adaptive_prior").weights]
    zoo_checks.check_a_training_step_changes_every_trainable_weight(model)
    for before, after in zip(bank_before, model.get_layer("adaptive_prior").weights):
        np.testing.assert_array_equal(before, after)


def test_keras_file_round_trip_keeps_the_bank(fitted_model, tmp_path):
    loaded = zoo_checks.check_keras_file_round_trip(fitted_model, tmp_path / "red_net.keras")
    assert loaded.get_layer("adaptive_prior").is_fitted
    for saved, restored in zip(
        fitted_model.get_layer("adaptive_prior").weights, loaded.get_layer("adaptive_prior").weights
    ):
        np.testing.assert_array_equal(saved, restored, err_msg=saved.path)


def test_exports_with_the_bank(fitted_model, tmp_path):
    saved_model, _ = zoo_checks.check_exports(fitted_model, tmp_path, "red_net")
    # The prior moves the probabilities far more than the exports differ from Keras,
    # so the exports carry the bank (an empty one would give the decoder's map).
    images, _ = zoo_checks.random_faces(fitted_model, batch=1, size=fitted_model.input_size + 6)
    outputs = fitted_model(images.astype(np.float32))
    prior_effect = np.max(np.abs(np.exp(outputs["logits"]) - tf.nn.softmax(outputs["decoder_logits"])))
    assert prior_effect > 0.05
    assert saved_model.parity.max_probability_error < 1e-3, saved_model.parity.summary()
    # check_exports holds the LiteRT file to 1e-4 of the Keras probabilities.


def test_fit_prior_refuses_too_few_or_too_many_maps(model):
    with pytest.raises(ValueError, match="num_exemplars"):
        model.fit_prior(face_labels(0)[None])
    with pytest.raises(ValueError, match="bank_size"):
        model.fit_prior(np.stack([face_labels(0)] * 9))


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"input_size": 34}, "input_size"),
        ({"encoder_filters": ()}, "encoder_filters"),
        ({"encoder_filters": (4, 0)}, "encoder_filters"),
        ({"blocks_per_unit": 0}, "blocks_per_unit"),
        ({"num_exemplars": 9}, "bank_size"),
        ({"pca_components": 11}, "pca_components"),
        ({"class_names": LFW_PL_CLASS_NAMES}, "left_eye"),
        ({"canvas_size": 0}, "canvas_size"),
        ({"coordinate_channels": 1}, "coordinate_channels must be a bool, got 1"),
    ],
)
def test_bad_arguments_are_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        tiny_model(**arguments)


def test_decoder_mirrors_the_encoder(model):
    model = tiny_model(encoder_filters=(4, 8, 12))
    assert [model.get_layer(f"encoder_unit{k}").filters for k in (1, 2, 3)] == [4, 8, 12]
    assert [model.get_layer(f"decoder_unit{k}").filters for k in (1, 2, 3)] == [4, 4, 8]
    assert tuple(model.get_layer("decoder_unit3").output.shape) == (None, 8, 8, 8)
    assert inspect.signature(RedNet).parameters["input_size"].default == 224


def test_coordinate_channels_feed_the_classifier_the_pixel_position(tmp_path):
    model = tiny_model(coordinate_channels=True)
    assert tiny_model().get_layer("classifier").kernel.shape[2] == 16
    assert model.get_layer("classifier").kernel.shape[2] == 16 + 2
    # a classifier reading only the column channel gives each pixel its column's centre, -1 to 1
    classifier = model.get_layer("classifier")
    kernel = np.zeros(classifier.kernel.shape, np.float32)
    kernel[0, 0, -2, 1] = 1.0  # class 1 rises to the right
    classifier.kernel.assign(kernel)
    images = np.zeros((1, 32, 32, 3), np.float32)
    columns = model(images)["decoder_logits"][0, 0, :, 1].numpy()
    np.testing.assert_allclose(columns, (2 * np.arange(32) + 1) / 32 - 1, atol=1e-6)
    loaded = zoo_checks.check_keras_file_round_trip(model, tmp_path / "red_net_coordinates.keras")
    assert loaded.coordinate_channels is True
