"""RNN-G: the gate loss, the first-stage model (zoo checks, three losses) and the two-stage crop/merge rules."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import zoo_checks

from keras_stn_icnn.data.synthetic import render_face
from keras_stn_icnn.labels import HELEN_CLASS_NAMES, STN_ICNN_CLASS_NAMES
from keras_stn_icnn.layers.facial_components import ComponentThetas
from keras_stn_icnn.losses.rnn_g import BoundaryGateLoss, label_boundaries
from keras_stn_icnn.models.rnn_g.component_networks import RNNGTwoStage
from keras_stn_icnn.models.rnn_g.rnn_g import RNNG
from keras_stn_icnn.models.zoo import RNN_G_CONTEXT_NETWORK, build_zoo_model, zoo_name_of
from keras_stn_icnn.ops.facial_components import (
    COMPONENTS,
    component_class_ids,
    component_thetas,
    crop_components,
    merge_components,
)
from keras_stn_icnn.ops.grid_sample import paste, paste_box

LABELS_4X4 = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 2, 2], [2, 2, 2, 2]])
BOUNDARIES_4X4 = np.array([[0, 1, 1, 0], [1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0]])  # by hand


def softplus(z):
    return np.log1p(np.exp(z))


# --- Gate loss -------------------------------------------------------------------------------


def test_label_boundaries_by_hand():
    assert np.array_equal(label_boundaries(LABELS_4X4[None])[0], BOUNDARIES_4X4)
    assert not np.any(label_boundaries(np.full((1, 3, 3), 4)))


def test_gate_loss_balances_boundaries_one_to_five():
    logits = (np.arange(16).reshape(4, 4) / 4.0 - 2.0).astype(np.float32)
    labels = np.stack([LABELS_4X4, np.zeros((4, 4), int)])
    target = 1.0 - BOUNDARIES_4X4  # gate 0 on boundaries, 1 elsewhere
    pixel = softplus(logits) - target * logits  # sigmoid cross-entropy
    boundary = BOUNDARIES_4X4 == 1
    first = (pixel[boundary].mean() + 5.0 * pixel[~boundary].mean()) / 6.0
    second = (softplus(logits) - logits).mean()  # one label: no boundary, every target 1
    actual = BoundaryGateLoss()(labels, np.stack([logits, logits])[..., None])
    assert float(actual) == pytest.approx((first + second) / 2.0, rel=1e-5)


def test_gate_loss_ratio_and_serialization():
    logits = np.random.default_rng(0).normal(size=(1, 4, 4, 1)).astype(np.float32)
    pixel = softplus(logits[0, ..., 0]) - (1.0 - BOUNDARIES_4X4) * logits[0, ..., 0]
    boundary = BOUNDARIES_4X4 == 1
    loss = BoundaryGateLoss(negative_ratio=1.0)
    expected = (pixel[boundary].mean() + pixel[~boundary].mean()) / 2.0
    assert float(loss(LABELS_4X4[None], logits)) == pytest.approx(expected, rel=1e-5)
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(restored) is BoundaryGateLoss and restored.negative_ratio == 1.0
    with pytest.raises(ValueError, match="negative_ratio"):
        BoundaryGateLoss(negative_ratio=0)


def test_gate_loss_has_gradients():
    logits = tf.Variable(np.zeros((1, 4, 4, 1), np.float32))
    with tf.GradientTape() as tape:
        loss = BoundaryGateLoss()(LABELS_4X4[None], logits)
    assert np.all(np.asarray(tape.gradient(loss, logits)) != 0)


# --- First stage -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model():
    return RNNG(input_size=32, canvas_size=256)


def test_outputs_follow_the_image(model):
    zoo_checks.check_outputs_follow_the_image(model)
    outputs = model(np.zeros((1, 50, 40, 3), np.float32))
    assert tuple(outputs["coarse_logits"].shape) == (1, 32, 32, len(HELEN_CLASS_NAMES))
    assert tuple(outputs["gate_logits"].shape) == (1, 32, 32, 1)


def test_a_training_step_moves_every_weight():
    zoo_checks.check_a_training_step_changes_every_trainable_weight(RNNG(input_size=16))


def test_keras_file_round_trip(model, tmp_path):
    zoo_checks.check_keras_file_round_trip(model, tmp_path / "rnn_g.keras")


def test_exports(model, tmp_path):
    zoo_checks.check_exports(model, tmp_path, "rnn_g")


def test_total_loss_is_the_weighted_sum_of_the_three_terms():
    weights = {"coarse": 0.5, "gate": 2.0, "final": 1.5}
    model = RNNG(input_size=16, loss_weights=weights)
    images, labels = zoo_checks.random_faces(model, seed=3)
    outputs = model(images.astype(np.float32))
    terms = model.loss_terms(labels.astype(np.int32), outputs)
    expected = sum(weights[name] * float(terms[name]) for name in ("coarse", "gate", "final"))
    assert float(model.compute_loss(y=labels, y_pred=outputs)) == pytest.approx(expected, rel=1e-5)
    assert float(terms["gate"]) == pytest.approx(float(BoundaryGateLoss()(labels, outputs["gate_logits"])), rel=1e-6)
    logits = np.array(outputs["logits"], np.float64)
    log_probabilities = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    cross_entropy = -np.take_along_axis(log_probabilities, labels[..., None].astype(int), -1).mean()
    assert float(terms["final"]) == pytest.approx(cross_entropy, rel=1e-5)


def test_a_loss_weighted_zero_freezes_its_head_and_leaves_the_sum():
    model = RNNG(input_size=16, loss_weights={"coarse": 1.0, "gate": 0.0, "final": 1.0})
    assert not model.get_layer("gate_classifier").trainable and model.get_layer("coarse_classifier").trainable
    images, labels = zoo_checks.random_faces(model, seed=3)
    outputs = model(images.astype(np.float32))
    terms = model.loss_terms(labels.astype(np.int32), outputs)
    expected = float(terms["coarse"]) + float(terms["final"])
    assert float(model.compute_loss(y=labels, y_pred=outputs)) == pytest.approx(expected, rel=1e-6)
    without_gates = {name: value for name, value in outputs.items() if name != "gate_logits"}
    assert float(model.parsing_loss(labels.astype(np.int32), without_gates)) == pytest.approx(expected, rel=1e-6)
    zoo_checks.check_a_training_step_changes_every_trainable_weight(model)


def test_the_rnn_splits_deconv6_into_labels_and_gates(model):
    assert model.get_layer("deconv6").filters == 16
    assert max(layer.filters for layer in model.layers if hasattr(layer, "filters")) <= 32
    assert model.get_layer("spatial_rnn").kernels[0].shape == (8, 8)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"input_size": 30}, "input_size"),
        ({"class_names": ("background",)}, "class_names"),
        ({"loss_weights": {"coarse": 1.0}}, "loss_weights"),
        ({"loss_weights": {"coarse": -1.0, "gate": 1.0, "final": 1.0}}, "loss_weights"),
        ({"canvas_size": 0}, "canvas_size"),
        ({"filters": (16, 32)}, r"filters must be a sequence of 3 positive ints, got \(16, 32\)"),
        ({"rnn_channels": 0}, "rnn_channels must be an int >= 1, got 0"),
        ({"rnn_stride": 3}, r"rnn_stride must be one of \(2, 4\), got 3"),
        ({"rnn_stride": True}, "rnn_stride must be one of"),
        ({"context_filters": "wide"}, "context_filters must be a sequence of positive ints, got 'wide'"),
        ({"input_size": 40, "context_filters": (8, 8)}, "input_size must be an int >= 8 divisible by 16, got 40"),
        ({"kernel_initializer": "bogus"}, "kernel_initializer must be a Keras initializer or its name, got 'bogus'"),
        ({"kernel_initializer": None}, "kernel_initializer must be a Keras initializer or its name, got None"),
    ],
)
def test_bad_arguments_are_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        RNNG(**arguments)


CONTEXT_ARGUMENTS = dict(filters=(8, 12, 16), rnn_channels=4, rnn_stride=4, context_filters=(8, 8, 8))
"""A small RNN-G with every option of `rnn_g_context` set, at 64 px (Conv5 at 16 px, the pyramid at 8, 4 and 2)."""


def test_the_options_set_the_widths_and_the_rnn_grid():
    model = RNNG(input_size=64, **CONTEXT_ARGUMENTS)
    assert [model.get_layer(name).filters for name in ("conv1", "conv3", "conv5")] == [8, 12, 16]
    assert [model.get_layer(f"context_conv{level}").output.shape[1:] for level in range(3)] == [
        (8, 8, 8),
        (4, 4, 8),
        (2, 2, 8),
    ]
    assert model.get_layer("context_fusion").input.shape[-1] == 16 + 3 * 8
    assert model.get_layer("context_fusion").filters == 16
    assert model.get_layer("spatial_rnn").output.shape[1:] == (16, 16, 4)
    assert model.get_layer("spatial_rnn").kernels[0].shape == (4, 4)
    assert model.get_layer("deconv7").strides == (4, 4)
    outputs = model(np.zeros((1, 64, 64, 3), np.float32))
    for name, channels in (("logits", 11), ("coarse_logits", 11), ("gate_logits", 1)):
        assert tuple(outputs[name].shape) == (1, 64, 64, channels)


def _coarse_change_far_from_a_patch(model):
    """How much the coarse logits at the top-left corner move when an 8x8 patch at the bottom-right changes."""
    image = np.full((1, 64, 64, 3), 128.0, np.float32)
    changed = image.copy()
    changed[:, -8:, -8:] = 255.0
    corner = [np.asarray(model(x)["coarse_logits"])[0, :4, :4] for x in (image, changed)]
    return float(np.abs(corner[1] - corner[0]).max())


def test_the_context_pyramid_sees_across_the_photo():
    # The paper's layers see ~20 px (5x5, pool, 3x3, pool, 3x3), so the corner 56 px away cannot change; through
    # the pyramid's 2x2 level it does. The same seeds, the same widths: only the pyramid differs.
    keras.utils.set_random_seed(0)
    without = RNNG(input_size=64, **{**CONTEXT_ARGUMENTS, "context_filters": ()})
    keras.utils.set_random_seed(0)
    with_context = RNNG(input_size=64, **CONTEXT_ARGUMENTS)
    assert _coarse_change_far_from_a_patch(without) == 0.0
    assert _coarse_change_far_from_a_patch(with_context) > 1e-4


def test_the_options_round_trip(tmp_path):
    model = RNNG(input_size=64, **CONTEXT_ARGUMENTS, kernel_initializer="he_normal")
    config = model.get_config()
    assert {key: config[key] for key in CONTEXT_ARGUMENTS} == CONTEXT_ARGUMENTS
    assert config["kernel_initializer"] == "he_normal"
    zoo_checks.check_keras_file_round_trip(model, tmp_path / "rnn_g_context.keras")


RELU_CONVOLUTIONS = ("conv1", "conv3", "conv5", "context_conv0", "context_conv1", "context_conv2", "context_fusion")


def assert_kernel_variances(layers, initializer):
    """Each layer's kernel has the variance `initializer` gives it, from the fans Keras reads off the kernel's shape.

    He's variance 2 / fan_in keeps the second moment of a ReLU layer; Keras' default (Glorot's, uniform)
    2 / (fan_in + fan_out) halves it where the fans are equal. Keras' fans: the receptive field times the
    kernel's last axis but one (fan in) and its last axis (fan out), for a transposed convolution as well.
    """
    for layer in layers:
        kernel = np.asarray(layer.kernel)  # at least 1,200 weights: the sample variance is within a few %
        receptive_field = np.prod(kernel.shape[:-2])
        fan_in, fan_out = receptive_field * kernel.shape[-2], receptive_field * kernel.shape[-1]
        expected = 2.0 / fan_in if initializer == "he_normal" else 2.0 / (fan_in + fan_out)
        assert abs(kernel.var() / expected - 1.0) < 0.1, (initializer, layer.name, kernel.var(), expected)


def test_kernel_initializer_sets_the_variance_of_the_relu_convolutions():
    for initializer in ("he_normal", "glorot_uniform"):
        keras.utils.set_random_seed(0)
        model = RNNG(input_size=64, **{**RNN_G_CONTEXT_NETWORK, "kernel_initializer": initializer})
        assert_kernel_variances([model.get_layer(name) for name in RELU_CONVOLUTIONS], initializer)
        for name in ("coarse_classifier", "gate_classifier", "deconv6", "deconv7"):  # the linear heads
            assert type(model.get_layer(name).kernel_initializer).__name__ == "GlorotUniform"


def test_defaults_are_the_papers_helen_setting():
    config = RNNG().get_config()
    assert config["class_names"] == HELEN_CLASS_NAMES and config["input_size"] == 128
    assert config["loss_weights"] == {"coarse": 1.0, "gate": 1.0, "final": 1.0}
    assert config["filters"] == (16, 32, 32) and config["rnn_channels"] == 8 and config["rnn_stride"] == 2
    assert config["context_filters"] == () and config["kernel_initializer"] == "glorot_uniform"  # Keras' default


# --- Second stage: crop and merge rules ------------------------------------------------------


def one_hot_map(label_map):
    return tf.one_hot(np.asarray(label_map)[None], len(HELEN_CLASS_NAMES))


def expected_theta(centre, box, size):
    (cy, cx), (height, width) = centre, box
    return np.array(
        [[width / (size - 1), 0, -1 + 2 * cx / (size - 1)], [0, height / (size - 1), -1 + 2 * cy / (size - 1)]]
    )


def test_component_class_ids_name_what_is_missing():
    assert component_class_ids(HELEN_CLASS_NAMES) == ((2, 4), (3, 5), (6,), (7, 8, 9))  # by hand
    no_brows = ("background", "left_eye", "right_eye", "nose", "upper_lip", "inner_mouth", "lower_lip")
    with pytest.raises(ValueError, match=r"\['left_eyebrow', 'right_eyebrow'\]"):
        component_class_ids(no_brows)
    with pytest.raises(ValueError, match=r"class_maps must be \[B, h, w, 11\]"):
        component_thetas(tf.zeros([1, 8, 8, 7]), (8, 8), HELEN_CLASS_NAMES)


def test_component_boxes_follow_centroid_extent_margin_and_aspect():
    label_map = np.zeros((64, 64), int)
    label_map[10:20, 20:30] = HELEN_CLASS_NAMES.index("nose")  # 10 x 10
    label_map[40:44, 16:48] = HELEN_CLASS_NAMES.index("upper_lip")  # 4 x 32
    thetas = np.asarray(component_thetas(one_hot_map(label_map), (64, 64), HELEN_CLASS_NAMES, margin=0.2))[0]
    nose_side = np.sqrt(12 * (10**2 - 1) / 12) * 1.2  # variance of 10 consecutive pixels
    np.testing.assert_allclose(thetas[2], expected_theta((14.5, 24.5), (nose_side, nose_side), 64), rtol=1e-5)
    mouth_width = np.sqrt(12 * (32**2 - 1) / 12) * 1.2  # 32 wide; 4 high is enlarged to 32:64
    np.testing.assert_allclose(thetas[3], expected_theta((41.5, 31.5), (mouth_width / 2, mouth_width), 64), rtol=1e-5)
    # Absent eyes: image centre, minimum height 64 / 16, square.
    np.testing.assert_allclose(thetas[0], expected_theta((31.5, 31.5), (4, 4), 64), rtol=1e-5)
    # A 32 x 32 map of a 127 x 127 image: positions scale with corners aligned, x -> x * 126 / 31.
    half = np.asarray(component_thetas(one_hot_map(label_map[::2, ::2]), (127, 127), HELEN_CLASS_NAMES))[0]
    centre_x = 12.0 * 126 / 31  # the nose is map columns 10..14
    assert half[2, 0, 2] == pytest.approx(-1 + 2 * centre_x / 126, rel=1e-5)


def test_with_both_eyes_every_box_is_sized_by_the_eye_distance():
    label_map = np.zeros((64, 64), int)
    label_map[20:24, 10:14] = HELEN_CLASS_NAMES.index("left_eye")  # centroid (21.5, 11.5)
    label_map[20:24, 40:44] = HELEN_CLASS_NAMES.index("right_eye")  # centroid (21.5, 41.5): 30 px apart
    label_map[30:40, 24:30] = HELEN_CLASS_NAMES.index("nose")  # centroid (34.5, 26.5)
    label_map[45:48, 20:35] = HELEN_CLASS_NAMES.index("upper_lip")  # centroid (46, 27)
    thetas = np.asarray(component_thetas(one_hot_map(label_map), (64, 64), HELEN_CLASS_NAMES, margin=0.2))[0]
    eye_side, nose_side, mouth_height = (side * 30 * 1.2 for side in (1.0, 1.07, 0.65))  # COMPONENT_SIDES
    np.testing.assert_allclose(thetas[0], expected_theta((21.5, 11.5), (eye_side, eye_side), 64), rtol=1e-5)
    np.testing.assert_allclose(thetas[2], expected_theta((34.5, 26.5), (nose_side, nose_side), 64), rtol=1e-5)
    mouth = expected_theta((46.0, 27.0), (mouth_height, 2 * mouth_height), 64)  # 32 x 64 crops
    np.testing.assert_allclose(thetas[3], mouth, rtol=1e-5)
    # A stray nose pixel far away moves the nose's centre but not its size (its own extent would double).
    stray = label_map.copy()
    stray[62, 62] = HELEN_CLASS_NAMES.index("nose")
    moved = np.asarray(component_thetas(one_hot_map(stray), (64, 64), HELEN_CLASS_NAMES, margin=0.2))[0]
    assert moved[2, 1, 1] == pytest.approx(thetas[2, 1, 1], rel=1e-6) and moved[2, 0, 2] > thetas[2, 0, 2]
    # The same map as a 32 x 32 map of a 127 x 127 image: the eye distance in image pixels, 15 * 126 / 31.
    half = np.asarray(component_thetas(one_hot_map(label_map[::2, ::2]), (127, 127), HELEN_CLASS_NAMES))[0]
    assert half[2, 1, 1] * 126 == pytest.approx(1.07 * 15 * 126 / 31 * 1.2, rel=1e-5)


def test_crops_can_be_placed_from_the_first_stages_probabilities_or_its_argmax():
    label_map = np.zeros((64, 64), int)
    label_map[20:24, 10:14] = HELEN_CLASS_NAMES.index("left_eye")  # centroid (21.5, 11.5)
    label_map[20:24, 40:44] = HELEN_CLASS_NAMES.index("right_eye")  # 30 px to the right
    label_map[30:40, 24:30] = HELEN_CLASS_NAMES.index("nose")
    logits = 20.0 * one_hot_map(label_map).numpy()
    # The first stage is unsure of the left eye: skin wins its argmax by 0.55 to 0.45.
    skin, left_eye = HELEN_CLASS_NAMES.index("skin"), HELEN_CLASS_NAMES.index("left_eye")
    logits[0, 20:24, 10:14] = 0.0
    logits[0, 20:24, 10:14, left_eye] = 20.0
    logits[0, 20:24, 10:14, skin] = 20.0 + np.log(0.55 / 0.45)
    images = tf.zeros([1, 64, 64, 3])
    thetas = np.asarray(ComponentThetas(margin=0.2, placement="probabilities")(logits, images))[0]
    expected = component_thetas(tf.nn.softmax(logits), (64, 64), HELEN_CLASS_NAMES, margin=0.2)
    np.testing.assert_allclose(thetas, np.asarray(expected)[0], rtol=1e-6, atol=1e-6)
    # The left eye's box is where the eye is, sized by the eye distance (30 px) as with a sure first stage ...
    np.testing.assert_allclose(thetas[0], expected_theta((21.5, 11.5), (36.0, 36.0), 64), atol=1e-3)
    # ... while on the argmax (the default), without a left eye, it falls back to the image centre at the minimum size.
    argmax = np.asarray(ComponentThetas(margin=0.2)(logits, images))[0]
    expected = component_thetas(tf.one_hot(tf.argmax(logits, -1), 11), (64, 64), HELEN_CLASS_NAMES, margin=0.2)
    np.testing.assert_allclose(argmax, np.asarray(expected)[0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(argmax[0], expected_theta((31.5, 31.5), (4, 4), 64), rtol=1e-5)
    with pytest.raises(ValueError, match="placement must be one of"):
        ComponentThetas(placement="soft")


def test_crops_cover_the_box_and_mirror_the_right_eye():
    rows, cols = np.meshgrid(np.arange(64.0), np.arange(64.0), indexing="ij")
    ramp = np.stack([rows, cols, np.zeros_like(rows)], -1)[None].astype(np.float32)
    label_map = np.zeros((64, 64), int)
    label_map[10:20, 20:30] = HELEN_CLASS_NAMES.index("nose")
    label_map[10:20, 40:50] = HELEN_CLASS_NAMES.index("right_eye")
    thetas = component_thetas(one_hot_map(label_map), (64, 64), HELEN_CLASS_NAMES)
    crops = [np.asarray(c)[0] for c in crop_components(ramp, thetas)]
    assert [c.shape[:2] for c in crops] == [c.input_size for c in COMPONENTS]
    half = np.sqrt(99.0) * 1.2 / 2
    np.testing.assert_allclose(crops[2][0, 0, :2], [14.5 - half, 24.5 - half], atol=1e-3)
    np.testing.assert_allclose(crops[2][-1, -1, :2], [14.5 + half, 24.5 + half], atol=1e-3)
    np.testing.assert_allclose(crops[1][0, 0, :2], [14.5 - half, 44.5 + half], atol=1e-3)  # mirrored


def test_paste_box_equals_the_general_bilinear_paste():
    rng = np.random.default_rng(4)
    patches = rng.normal(size=(2, 8, 12, 3)).astype(np.float32)
    theta = np.array([[[0.4, 0, 0.1], [0, 0.3, -0.2]], [[0.7, 0, -0.3], [0, 0.5, 0.25]]], np.float32)
    expected = paste(patches[:, None], theta[:, None], (30, 20), mode="bilinear")[:, 0]
    np.testing.assert_allclose(paste_box(patches, theta, (30, 20)), expected, atol=1e-4)


def test_merge_rule():
    rng = np.random.default_rng(5)
    logits = rng.normal(size=(1, 64, 64, 11))
    first = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    nose = rng.dirichlet([1, 1], size=(1, 64, 64))
    component_maps = [
        np.eye(1 + len(c.classes))[np.zeros((1, *c.input_size), int)] for c in COMPONENTS
    ]  # every network says "other" everywhere ...
    component_maps[2] = nose  # ... except the nose network
    thetas = np.tile(np.eye(2, 3), (1, 4, 1, 1))  # the nose box is the whole 64 x 64 image
    merged = np.asarray(
        merge_components(
            first.astype(np.float32),
            thetas.astype(np.float32),
            [m.astype(np.float32) for m in component_maps],
            HELEN_CLASS_NAMES,
        )
    )
    # Pasted into the 64 x 64 image, "other" maps stay "other" (and so does everything outside a box).
    pasted = [np.broadcast_to(m[:, :1, :1], (1, 64, 64, m.shape[-1])) for m in component_maps]
    pasted[2] = nose
    expected = first.copy()
    for component, q in zip(COMPONENTS, pasted):
        ids = [HELEN_CLASS_NAMES.index(name) for name in component.classes]
        rest = np.delete(np.arange(11), ids)
        expected[..., rest] = q[..., :1] * expected[..., rest] / expected[..., rest].sum(-1, keepdims=True)
        expected[..., ids] = q[..., 1:]
    np.testing.assert_allclose(merged, expected, atol=1e-5)
    np.testing.assert_allclose(merged.sum(-1), 1.0, atol=1e-5)


# --- Second stage: the model -----------------------------------------------------------------


@pytest.fixture(scope="module")
def two_stage():
    return RNNGTwoStage(input_size=16, component_filters=(4, 8), canvas_size=256)


def test_two_stage_outputs_follow_the_image(two_stage):
    zoo_checks.check_outputs_follow_the_image(two_stage)
    outputs = two_stage(np.zeros((1, 90, 70, 3), np.float32))
    assert tuple(outputs["component_thetas"].shape) == (1, 4, 2, 3)
    assert tuple(outputs["component_logits"]["mouth"].shape) == (1, 32, 64, 4)


def test_two_stage_training_step_moves_every_weight():
    model = RNNGTwoStage(input_size=16, component_filters=(4, 8))
    zoo_checks.check_a_training_step_changes_every_trainable_weight(model)


def test_two_stage_keras_file_round_trip(two_stage, tmp_path):
    zoo_checks.check_keras_file_round_trip(two_stage, tmp_path / "rnn_g_two_stage.keras")


@pytest.mark.parametrize("first_stage", ["rnn_g", "rnn_g_face_box"])
def test_a_two_stage_training_step_runs_only_what_its_loss_reads_and_moves_the_weights_as_keras_step_does(
    first_stage,
):
    faces = [render_face(seed) for seed in (1, 2)]
    images = tf.image.resize([image for image, _ in faces], (64, 64))
    labels = tf.image.resize([label[..., None] for _, label in faces], (64, 64), "nearest")[..., 0]
    keras_logs, own_logs, keras_calls, own_calls, _ = zoo_checks.check_own_step_matches_keras_step(
        lambda: RNNGTwoStage(input_size=32, first_stage=first_stage, component_filters=(4, 8)),
        images,
        labels,
        "eye_network",
        seed=5,
    )
    # traced once each: Keras' step runs the eye network on both eyes' crops placed by the first stage and by the
    # ground truth, this one on the ground truth's only (the crops the loss reads)
    assert (len(keras_calls), len(own_calls)) == (4, 2)
    assert float(own_logs["overall_f1"]) == pytest.approx(float(keras_logs["overall_f1"]), rel=1e-6)


def _with_decisive_component_networks(model):
    """The model with its component networks' last kernels scaled tenfold: no near-tied labels for an export to flip."""
    for name in ("eye_network", "nose_network", "mouth_network"):
        layer = model.get_layer(name).get_layer("deconv2")
        layer.kernel.assign(10.0 * layer.kernel)
    return model


@pytest.mark.slow
def test_two_stage_exports(tmp_path):
    # With rnn_g_context's network as its first stage: the paper's first stage's layers are a subset of it (and
    # exported alone in the zoo checks), so this one export covers both entries' graphs.
    model = build_zoo_model("rnn_g_two_stage_context", input_size=32, component_filters=(4, 8), canvas_size=256)
    zoo_checks.check_exports(_with_decisive_component_networks(model), tmp_path, "rnn_g_two_stage_context")


def test_two_stage_builds_its_first_stage_with_its_first_stage_arguments(tmp_path):
    model = RNNGTwoStage(input_size=64, first_stage_arguments=CONTEXT_ARGUMENTS, component_filters=(4, 8))
    first_stage = model.get_layer("first_stage")
    assert {key: getattr(first_stage, key) for key in CONTEXT_ARGUMENTS} == CONTEXT_ARGUMENTS
    assert first_stage.input_size == 64 and first_stage.class_names == HELEN_CLASS_NAMES
    loaded = zoo_checks.check_keras_file_round_trip(model, tmp_path / "two_stage.keras")
    assert {key: getattr(loaded.get_layer("first_stage"), key) for key in CONTEXT_ARGUMENTS} == CONTEXT_ARGUMENTS


def test_the_two_stage_context_entry_is_rnn_g_context_then_the_component_networks(tmp_path):
    model = build_zoo_model("rnn_g_two_stage_context", input_size=32, component_filters=(4, 8), canvas_size=256)
    context = build_zoo_model("rnn_g_context", input_size=32, class_names=HELEN_CLASS_NAMES, canvas_size=256)
    first_stage = model.get_layer("first_stage")
    assert type(first_stage) is RNNG and first_stage.count_params() == context.count_params()
    assert first_stage.get_config() == {**context.get_config(), "name": "first_stage"}
    assert not first_stage.get_layer("gate_classifier").trainable  # its loss is weighted 0, as rnn_g_context's
    for network_name in ("eye_network", "nose_network", "mouth_network"):  # He-initialised, as its first stage
        assert type(model.get_layer(network_name).get_layer("conv1").kernel_initializer).__name__ == "HeNormal"
    assert model.get_layer("component_thetas").placement == "probabilities"  # its argmax loses eyes
    zoo_checks.check_outputs_follow_the_image(model)
    zoo_checks.check_a_training_step_changes_every_trainable_weight(model)
    loaded = zoo_checks.check_keras_file_round_trip(model, tmp_path / "rnn_g_two_stage_context.keras")
    assert zoo_name_of(loaded) == "rnn_g_two_stage_context"


COMPONENT_RELU_LAYERS = ("conv1", "conv2", "conv3", "conv4", "deconv1", "conv5")


def test_component_kernel_initializer_sets_the_variance_of_the_component_networks_relu_layers():
    for initializer in ("he_normal", "glorot_uniform"):
        keras.utils.set_random_seed(0)
        model = RNNGTwoStage(input_size=16, component_kernel_initializer=initializer)
        for network_name in ("eye_network", "nose_network", "mouth_network"):
            network = model.get_layer(network_name)
            assert_kernel_variances([network.get_layer(name) for name in COMPONENT_RELU_LAYERS], initializer)
            assert type(network.get_layer("deconv2").kernel_initializer).__name__ == "GlorotUniform"  # linear head
        first_stage_relu = model.get_layer("first_stage").get_layer("conv1")  # the first stage keeps its own
        assert type(first_stage_relu.kernel_initializer).__name__ == "GlorotUniform"
    assert RNNGTwoStage(input_size=16).get_config()["component_kernel_initializer"] == "glorot_uniform"


def test_two_stage_refuses_bad_arguments():
    with pytest.raises(ValueError, match=r"component_filters must be a sequence of 2 positive ints, got \(4,\)"):
        RNNGTwoStage(input_size=16, component_filters=(4,))
    with pytest.raises(ValueError, match="component_filters must be a sequence of 2 positive ints, got 16"):
        RNNGTwoStage(input_size=16, component_filters=16)
    with pytest.raises(ValueError, match="margin"):
        RNNGTwoStage(input_size=16, margin=-0.1)
    with pytest.raises(ValueError, match="labels HELEN's 11 classes"):
        RNNGTwoStage(input_size=16, class_names=STN_ICNN_CLASS_NAMES)
    with pytest.raises(ValueError, match=r"first_stage_arguments must not set \['input_size'\]"):
        RNNGTwoStage(input_size=16, first_stage_arguments={"input_size": 32})
    with pytest.raises(ValueError, match="first_stage_arguments must be a dict or None, got 'wide'"):
        RNNGTwoStage(input_size=16, first_stage_arguments="wide")
    with pytest.raises(ValueError, match="context_filters must be a sequence of positive ints, got 'wide'"):
        RNNGTwoStage(input_size=16, first_stage_arguments={"context_filters": "wide"})
    with pytest.raises(ValueError, match="component_kernel_initializer must be a Keras initializer or its name, got 3"):
        RNNGTwoStage(input_size=16, component_kernel_initializer=3)
    with pytest.raises(ValueError, match=r"crop_placement must be one of \('argmax', 'probabilities'\), got 'soft'"):
        RNNGTwoStage(input_size=16, crop_placement="soft")
