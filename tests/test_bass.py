"""BASS (LaPa paper): backbone, pyramid pooling, boundary losses, branches, weights, exports."""

import inspect

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf
import zoo_checks

from keras_stn_icnn.labels import LAPA_CLASS_NAMES
from keras_stn_icnn.layers.resampling import AlignedBilinearResize
from keras_stn_icnn.losses.boundary_attention import (
    BalancedBoundaryCrossEntropy,
    BoundaryAttentionLoss,
    BoundaryWeightedCrossEntropy,
)
from keras_stn_icnn.models.bass.bass import BASS
from keras_stn_icnn.models.bass.pyramid_pooling import PyramidPooling, adaptive_average_pool
from keras_stn_icnn.models.bass.resnet_backbone import (
    IMAGENET_BGR_MEAN,
    ImageNetCaffePreprocessing,
    ResNetBackbone,
    load_backbone_weights,
)
from keras_stn_icnn.ops.label_boundaries import label_boundaries

TINY = {"depths": (1, 1, 1, 1), "base_filters": 4}


@pytest.fixture(scope="module")
def model():
    return BASS(input_size=64, canvas_size=256, **TINY)


def _log_softmax(logits):
    logits = np.asarray(logits, np.float64)
    shifted = logits - logits.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def _pixel_cross_entropy(labels, logits):
    return -np.take_along_axis(_log_softmax(logits), labels[..., None].astype(int), -1)[..., 0]


def _binary_cross_entropy(targets, logits):
    p = 1.0 / (1.0 + np.exp(-np.asarray(logits, np.float64)))
    return -(targets * np.log(p) + (1 - targets) * np.log(1 - p))


# --- Boundary ground truth -------------------------------------------------------------------

# A 4x5 label map and its boundaries (radius 1) marked by hand: a pixel is on a
# boundary when one of its 8 neighbours has another label (the corner pixel of
# the 3-region has only 3-neighbours inside the image).
HAND_LABELS = np.array(
    [
        [0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0],
        [0, 0, 0, 3, 3],
        [0, 0, 0, 3, 3],
    ]
)
HAND_BOUNDARIES = np.array(
    [
        [0, 0, 0, 0, 0],
        [0, 0, 1, 1, 1],
        [0, 0, 1, 1, 1],
        [0, 0, 1, 1, 0],
    ],
    np.float32,
)


def test_label_boundaries_on_a_hand_made_map():
    np.testing.assert_array_equal(label_boundaries(HAND_LABELS[None])[0], HAND_BOUNDARIES)


def test_label_boundaries_radius_widens_the_band():
    labels = np.array([[[0, 0, 0, 0, 1, 1, 1]]])
    np.testing.assert_array_equal(label_boundaries(labels, radius=2)[0, 0], [0, 0, 1, 1, 1, 1, 0])


def test_label_boundaries_of_one_region_are_empty_and_the_border_is_no_boundary():
    assert float(tf.reduce_sum(label_boundaries(np.full((2, 5, 6), 7)))) == 0.0


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"labels": np.zeros((2, 3)), "radius": 1}, "labels"),
        ({"labels": np.zeros((1, 2, 3)), "radius": 0}, "radius"),
    ],
)
def test_label_boundaries_refuses_bad_arguments(arguments, message):
    with pytest.raises(ValueError, match=message):
        label_boundaries(**arguments)


# --- Losses ----------------------------------------------------------------------------------


def _hand_logits(seed, channels):
    return np.random.default_rng(seed).normal(size=(1, 4, 5, channels)).astype(np.float32)


def test_boundary_weighted_cross_entropy_by_hand():
    logits = _hand_logits(0, 4)
    alpha = 2.5
    weights = 1.0 + alpha * HAND_BOUNDARIES
    expected = np.mean(weights * _pixel_cross_entropy(HAND_LABELS, logits[0]))
    actual = BoundaryWeightedCrossEntropy(alpha=alpha)(HAND_LABELS[None], logits)
    assert float(actual) == pytest.approx(expected, rel=1e-5)


def test_boundary_weighted_cross_entropy_with_alpha_0_is_the_cross_entropy():
    logits = _hand_logits(1, 4)
    plain = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(HAND_LABELS[None], logits)
    weighted = BoundaryWeightedCrossEntropy(alpha=0.0)(HAND_LABELS[None], logits)
    assert float(weighted) == pytest.approx(float(plain), rel=1e-6)


@pytest.mark.parametrize("balanced", [False, True])
def test_boundary_cross_entropy_by_hand(balanced):
    logits = _hand_logits(2, 1)
    losses = _binary_cross_entropy(HAND_BOUNDARIES, logits[0, ..., 0])
    if balanced:
        share = HAND_BOUNDARIES.mean()  # 8 of 20 pixels are boundary pixels
        assert share == pytest.approx(0.4)
        losses = losses * np.where(HAND_BOUNDARIES == 1, 1 - share, share)
    actual = BalancedBoundaryCrossEntropy(balanced=balanced)(HAND_LABELS[None], logits)
    assert float(actual) == pytest.approx(losses.mean(), rel=1e-5)


def test_boundary_balance_is_per_image():
    # The second image has no boundaries: its pixels weigh 0 and the first
    # image's loss is halved by the mean over both images' pixels.
    labels = np.stack([HAND_LABELS, np.zeros_like(HAND_LABELS)])
    logits = np.concatenate([_hand_logits(3, 1), _hand_logits(4, 1)])
    loss = BalancedBoundaryCrossEntropy()
    both = float(loss(labels, logits))
    first = float(loss(labels[:1], logits[:1]))
    assert both == pytest.approx(first / 2, rel=1e-5)


def test_total_loss_is_the_weighted_sum_of_its_terms():
    outputs = {
        "semantic_logits": _hand_logits(5, 4),
        "boundary_logits": _hand_logits(6, 1),
        "logits": _hand_logits(7, 4),
    }
    labels = HAND_LABELS[None]
    weights = (0.5, 2.0, 1.5)
    total = BoundaryAttentionLoss(loss_weights=weights, alpha=3.0)(labels, outputs)
    cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    terms = (
        cross_entropy(labels, outputs["semantic_logits"]),
        BalancedBoundaryCrossEntropy()(labels, outputs["boundary_logits"]),
        BoundaryWeightedCrossEntropy(alpha=3.0)(labels, outputs["logits"]),
    )
    expected = sum(w * float(t) for w, t in zip(weights, terms))
    assert float(total) == pytest.approx(expected, rel=1e-5)
    # and by hand, in numpy
    share = HAND_BOUNDARIES.mean()
    by_hand = np.mean(
        0.5 * _pixel_cross_entropy(HAND_LABELS, outputs["semantic_logits"][0])
        + 2.0
        * np.where(HAND_BOUNDARIES == 1, 1 - share, share)
        * _binary_cross_entropy(HAND_BOUNDARIES, outputs["boundary_logits"][0, ..., 0])
        + 1.5 * (1 + 3.0 * HAND_BOUNDARIES) * _pixel_cross_entropy(HAND_LABELS, outputs["logits"][0])
    )
    assert float(total) == pytest.approx(by_hand, rel=1e-5)


def test_losses_give_gradients_to_every_branch():
    outputs = {
        key: tf.Variable(_hand_logits(seed, channels))
        for seed, (key, channels) in enumerate([("semantic_logits", 4), ("boundary_logits", 1), ("logits", 4)])
    }
    with tf.GradientTape() as tape:
        loss = BoundaryAttentionLoss()(HAND_LABELS[None], outputs)
    gradients = tape.gradient(loss, list(outputs.values()))
    assert all(float(tf.reduce_max(tf.abs(g))) > 0 for g in gradients)


@pytest.mark.parametrize(
    "loss",
    [
        BoundaryWeightedCrossEntropy(alpha=2.0, radius=2),
        BalancedBoundaryCrossEntropy(radius=3, balanced=False),
        BoundaryAttentionLoss(loss_weights=(1.0, 0.5, 2.0), alpha=4.0, radius=2, balanced=False),
    ],
    ids=lambda loss: type(loss).__name__,
)
def test_losses_serialize(loss):
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(restored) is type(loss)
    assert restored.get_config() == loss.get_config()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: BoundaryWeightedCrossEntropy(alpha=-1.0), "alpha"),
        (lambda: BalancedBoundaryCrossEntropy(radius=0), "radius"),
        (lambda: BoundaryAttentionLoss(loss_weights=(1.0, 1.0)), "loss_weights"),
        (lambda: BoundaryAttentionLoss(loss_weights=(1.0, -1.0, 1.0)), "loss_weights"),
    ],
)
def test_losses_refuse_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# --- Pyramid pooling and preprocessing --------------------------------------------------------


def _adaptive_average_pool_reference(x, bins):
    # PyTorch's adaptive_avg_pool2d rule, one cell at a time.
    _, height, width, _ = x.shape
    out = np.zeros((x.shape[0], bins, bins, x.shape[-1]))
    for i in range(bins):
        for j in range(bins):
            rows = slice(i * height // bins, -(-(i + 1) * height // bins))
            cols = slice(j * width // bins, -(-(j + 1) * width // bins))
            out[:, i, j] = x[:, rows, cols].mean(axis=(1, 2))
    return out


@pytest.mark.parametrize("bins", [1, 2, 3, 6])
def test_adaptive_average_pool_matches_the_cell_rule(bins):
    x = np.random.default_rng(bins).normal(size=(2, 5, 7, 3)).astype(np.float32)
    np.testing.assert_allclose(adaptive_average_pool(x, bins), _adaptive_average_pool_reference(x, bins), atol=1e-6)


def test_pyramid_pooling_shapes_gradients_and_serialization():
    layer = PyramidPooling(filters=2, bins=(1, 2, 3, 6), name="pyramid")
    x = tf.Variable(np.random.default_rng(0).normal(size=(2, 6, 6, 3)).astype(np.float32))
    with tf.GradientTape() as tape:
        y = layer(x, training=True)
        loss = tf.reduce_sum(y[..., 3:] ** 2)
    assert tuple(y.shape) == (2, 6, 6, 3 + 4 * 2)
    np.testing.assert_array_equal(y[..., :3], x)  # the input passes through
    gradients = tape.gradient(loss, [x, *layer.trainable_weights])
    assert all(g is not None and float(tf.reduce_max(tf.abs(g))) > 0 for g in gradients)
    restored = keras.layers.deserialize(keras.layers.serialize(layer))
    assert restored.get_config() == layer.get_config()


def test_bass_pools_with_the_papers_bins(model):
    assert model.get_layer("pyramid_pooling").bins == (1, 2, 3, 6)
    assert model.pyramid_bins == (1, 2, 3, 6)


def test_caffe_preprocessing_is_keras_resnets():
    rgb = np.random.default_rng(0).uniform(size=(2, 3, 4, 3)).astype(np.float32)
    expected = keras.applications.resnet.preprocess_input(rgb * 255.0)
    np.testing.assert_allclose(ImageNetCaffePreprocessing()(rgb), expected, atol=1e-4)
    np.testing.assert_allclose(
        ImageNetCaffePreprocessing()(np.zeros((1, 3), np.float32))[0], -np.array(IMAGENET_BGR_MEAN)
    )
    layer = keras.layers.deserialize(keras.layers.serialize(ImageNetCaffePreprocessing(name="p")))
    assert isinstance(layer, ImageNetCaffePreprocessing) and layer.name == "p"


# --- Backbone ----------------------------------------------------------------------------------


def _shapes(features):
    return {stage: tuple(tensor.shape[1:]) for stage, tensor in features.items()}


def test_backbone_has_output_stride_16():
    backbone = ResNetBackbone(**TINY)
    assert _shapes(backbone(np.zeros((1, 64, 64, 3), np.float32))) == {
        "conv2": (16, 16, 16),
        "conv3": (8, 8, 32),
        "conv4": (4, 4, 64),
        "conv5": (4, 4, 128),
    }
    sizes = {k: v[0] for k, v in _shapes(backbone(np.zeros((1, 473, 473, 3), np.float32))).items()}
    assert sizes == {"conv2": 119, "conv3": 60, "conv4": 30, "conv5": 30}


def test_backbone_with_output_stride_32_halves_conv5_and_drops_the_dilation():
    backbone = ResNetBackbone(output_stride=32, **TINY)
    assert _shapes(backbone(np.zeros((1, 64, 64, 3), np.float32)))["conv5"] == (2, 2, 128)
    assert backbone.get_layer("conv5_block1_2_conv").dilation_rate == (1, 1)
    dilated = ResNetBackbone(**TINY)
    assert dilated.get_layer("conv5_block1_2_conv").dilation_rate == (2, 2)
    assert dilated.get_layer("conv5_block1_1_conv").strides == (1, 1)
    assert dilated.get_layer("conv4_block1_1_conv").strides == (2, 2)


def test_backbone_depths_and_widths():
    backbone = ResNetBackbone(depths=(1, 2, 3, 1), base_filters=2)
    names = {layer.name for layer in backbone.layers}
    assert {"conv3_block2_out", "conv4_block3_out"} <= names and "conv4_block4_out" not in names
    assert backbone.get_layer("conv1_conv").filters == 2
    assert backbone.get_layer("conv5_block1_3_conv").filters == 2 * 8 * 4


def test_backbone_config_round_trip():
    backbone = ResNetBackbone(output_stride=32, **TINY)
    restored = ResNetBackbone.from_config(backbone.get_config())
    assert restored.get_config() == backbone.get_config()


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"depths": (1, 1, 1)}, "depths"),
        ({"depths": (1, 0, 1, 1)}, "depths"),
        ({"base_filters": 0}, "base_filters"),
        ({"output_stride": 8}, "output_stride"),
    ],
)
def test_backbone_refuses_bad_arguments(arguments, message):
    with pytest.raises(ValueError, match=message):
        ResNetBackbone(**arguments)


# --- Backbone weights --------------------------------------------------------------------------


def _write_legacy_h5(model, path):
    # The layout of keras.applications' `..._notop.h5` files (Keras 2): the
    # layer names in the root's `layer_names`, one group per layer whose
    # `weight_names` attribute lists its datasets in weight order.
    with h5py.File(path, "w") as file:
        file.attrs["layer_names"] = [layer.name.encode("utf8") for layer in model.layers]
        for layer in model.layers:
            group = file.create_group(layer.name)
            names = [f"{layer.name}/weight_{k}:0".encode("utf8") for k in range(len(layer.weights))]
            group.attrs["weight_names"] = names
            for name, weight in zip(names, layer.weights):
                group.create_dataset(name.decode("utf8"), data=np.array(weight))


def _assert_same_weights(a, b, names):
    for name in names:
        for x, y in zip(a.get_layer(name).weights, b.get_layer(name).weights):
            np.testing.assert_array_equal(np.array(x), np.array(y), err_msg=name)


@pytest.mark.parametrize("kind", ["weights.h5", "legacy.h5"])
def test_backbone_weights_load_by_layer_name(kind, tmp_path):
    source = ResNetBackbone(**TINY)
    path = tmp_path / f"source.{kind}"
    if kind == "weights.h5":
        source.save_weights(path)
    else:
        _write_legacy_h5(source, path)
    target = ResNetBackbone(**TINY)
    assert load_backbone_weights(target, path) is target
    images = np.random.default_rng(0).normal(size=(1, 32, 32, 3)).astype(np.float32)
    for stage, features in source(images).items():
        np.testing.assert_array_equal(target(images)[stage], features, err_msg=stage)


def test_backbone_weights_that_do_not_fit_are_refused_untouched(tmp_path):
    path = tmp_path / "narrow.weights.h5"
    ResNetBackbone(depths=(1, 1, 1, 1), base_filters=2).save_weights(path)
    target = ResNetBackbone(**TINY)
    before = [np.array(w) for w in target.weights]
    with pytest.raises(ValueError, match=r"narrow\.weights\.h5 does not fit.*'conv1_conv'"):
        load_backbone_weights(target, path)
    assert all(np.array_equal(np.array(w), b) for w, b in zip(target.weights, before))


def test_backbone_weights_missing_a_layer_are_refused(tmp_path):
    path = tmp_path / "shallow.h5"
    _write_legacy_h5(ResNetBackbone(**TINY), path)
    message = r"shallow\.h5 does not fit.*no weights for layer 'conv2_block2_1_conv'"
    with pytest.raises(ValueError, match=message):
        load_backbone_weights(ResNetBackbone(depths=(2, 1, 1, 1), base_filters=4), path)


def test_keras3_weights_of_a_deeper_resnet_are_refused(tmp_path):
    # Keras 3 files store layers by position: a deeper file would shift them.
    path = tmp_path / "deep.weights.h5"
    ResNetBackbone(depths=(2, 1, 1, 1), base_filters=4).save_weights(path)
    with pytest.raises(ValueError, match=r"deep\.weights\.h5 does not fit.*'conv2d' layers"):
        load_backbone_weights(ResNetBackbone(**TINY), path)


def test_a_file_that_is_not_hdf5_is_refused(tmp_path):
    path = tmp_path / "weights.txt"
    path.write_text("not weights")
    with pytest.raises(ValueError, match=r"weights\.txt is not an HDF5 file"):
        load_backbone_weights(ResNetBackbone(**TINY), path)


def test_backbone_weights_file_must_exist_and_the_model_have_a_backbone(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.h5"):
        load_backbone_weights(ResNetBackbone(**TINY), tmp_path / "absent.h5")
    with pytest.raises(ValueError, match="ResNetBackbone"):
        load_backbone_weights(keras.Sequential([keras.layers.Dense(1)]), tmp_path / "absent.h5")


def test_bass_loads_backbone_weights_and_leaves_the_path_out_of_its_config(tmp_path):
    source = ResNetBackbone(**TINY)
    path = tmp_path / "backbone.weights.h5"
    source.save_weights(path)
    model = BASS(input_size=32, backbone_weights=str(path), **TINY)
    _assert_same_weights(source, model.get_layer("backbone"), ["conv1_conv", "conv5_block1_3_bn"])
    assert model.backbone_weights == str(path) and "backbone_weights" not in model.get_config()


@pytest.fixture(scope="module")
def keras_resnet101():
    return keras.applications.ResNet101(weights=None, include_top=False)


@pytest.mark.parametrize("kind", ["weights.h5", "legacy.h5"])
def test_keras_applications_resnet101_weights_load(kind, keras_resnet101, tmp_path):
    # Random ImageNet-shaped weights, saved as Keras saves them (no download).
    path = tmp_path / f"resnet101.{kind}"
    if kind == "weights.h5":
        keras_resnet101.save_weights(path)
    else:
        _write_legacy_h5(keras_resnet101, path)
    plain = load_backbone_weights(ResNetBackbone(output_stride=32), path)
    dilated = load_backbone_weights(ResNetBackbone(), path)
    _assert_same_weights(
        keras_resnet101,
        dilated,
        ["conv1_conv", "conv2_block1_0_bn", "conv4_block23_2_conv", "conv5_block3_3_bn"],
    )
    images = np.random.default_rng(0).normal(scale=50, size=(1, 64, 64, 3)).astype(np.float32)
    stage_outputs = [keras_resnet101.get_layer(name).output for name in ("conv4_block23_out", "conv5_block3_out")]
    reference = keras.Model(keras_resnet101.input, stage_outputs)(images)
    np.testing.assert_allclose(dilated(images)["conv4"], reference[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(plain(images)["conv5"], reference[1], rtol=1e-5, atol=1e-5)


def test_resnet101_layers_are_keras_applications_layers(keras_resnet101):
    ours = ResNetBackbone()
    # Same names, types and order after the input: what both weight formats rely on.
    assert [(layer.name, type(layer).__name__) for layer in ours.layers[1:]] == [
        (layer.name, type(layer).__name__) for layer in keras_resnet101.layers[1:]
    ]


# --- The BASS model ---------------------------------------------------------------------------


def test_defaults_are_the_papers():
    defaults = {name: parameter.default for name, parameter in inspect.signature(BASS).parameters.items()}
    assert defaults["class_names"] == LAPA_CLASS_NAMES and len(LAPA_CLASS_NAMES) == 11
    assert defaults["input_size"] == 473 and defaults["depths"] == (3, 4, 23, 3)
    assert defaults["loss_weights"] == (1.0, 1.0, 1.0) and defaults["pyramid_bins"] == (1, 2, 3, 6)
    assert defaults["backbone_weights"] is None


def test_outputs_follow_the_image(model):
    zoo_checks.check_outputs_follow_the_image(model)


def test_branch_outputs_are_at_the_working_size(model):
    outputs = model(np.zeros((1, 40, 50, 3), np.float32))
    assert tuple(outputs["semantic_logits"].shape) == (1, 64, 64, 11)
    assert tuple(outputs["boundary_logits"].shape) == (1, 64, 64, 1)


def test_backbone_runs_at_output_stride_16(model):
    backbone_input = model.get_layer("imagenet_preprocessing").output
    features = model.get_layer("backbone")(backbone_input)
    assert {k: tuple(v.shape[1:3]) for k, v in features.items()} == {
        "conv2": (16, 16),
        "conv3": (8, 8),
        "conv4": (4, 4),
        "conv5": (4, 4),
    }
    assert tuple(model.get_layer("pyramid_pooling").input.shape[1:3]) == (4, 4)
    assert tuple(model.get_layer("semantic_classifier").output.shape[1:3]) == (4, 4)


def test_boundary_branch_reads_three_backbone_stages(model):
    # conv2 (1/4, 4 * 4 channels), conv3 (1/8, 32) and conv4 (1/16, 64).
    shapes = {
        stage: tuple(model.get_layer(f"boundary_projection_{stage}").input.shape[1:])
        for stage in ("conv2", "conv3", "conv4")
    }
    assert shapes == {"conv2": (16, 16, 16), "conv3": (8, 8, 32), "conv4": (4, 4, 64)}
    assert tuple(model.get_layer("boundary_classifier").output.shape[1:]) == (16, 16, 1)


def test_attention_branch_concatenates_semantic_and_boundary_features(model):
    inputs = model.get_layer("attention_concat").input
    assert [tuple(x.shape[1:]) for x in inputs] == [(16, 16, 32), (16, 16, 16)]


def test_prediction_is_the_boundary_attention_branch(model):
    images = np.random.default_rng(3).integers(0, 256, (1, 64, 64, 3)).astype(np.float32)
    branch = keras.Model(model.input, model.get_layer("attention_classifier").output)
    expected = AlignedBilinearResize((64, 64))(branch(images))
    outputs = model(images)
    np.testing.assert_allclose(outputs["logits"], expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(outputs["labels"][0], np.argmax(np.array(outputs["probabilities"][0]), -1))
    assert not np.allclose(outputs["logits"], outputs["semantic_logits"])


def _branch_outputs(outputs):
    return {key: outputs[key] for key in ("semantic_logits", "boundary_logits", "logits")}


def test_training_loss_is_the_boundary_attention_loss(model):
    images, labels = zoo_checks.random_faces(model, seed=2)
    outputs = model(images.astype(np.float32))
    expected = BoundaryAttentionLoss(alpha=10.0)(labels, _branch_outputs(outputs))
    actual = model.compute_loss(y=labels, y_pred=outputs)
    assert float(actual) == pytest.approx(float(expected), rel=1e-5)


def test_loss_arguments_reach_the_loss():
    model = BASS(
        input_size=32,
        loss_weights=(2.0, 0.0, 0.5),
        alpha=1.0,
        boundary_radius=2,
        balanced_boundary_loss=False,
        **TINY,
    )
    images, labels = zoo_checks.random_faces(model, seed=4)
    outputs = model(images.astype(np.float32))
    expected = BoundaryAttentionLoss(loss_weights=(2.0, 0.0, 0.5), alpha=1.0, radius=2, balanced=False)(
        labels, _branch_outputs(outputs)
    )
    actual = model.compute_loss(y=labels, y_pred=outputs)
    assert float(actual) == pytest.approx(float(expected), rel=1e-5)


def test_a_training_step_moves_every_weight():
    # The zoo check's labels are per-pixel noise: every pixel is a boundary
    # pixel, so the balanced L_b weighs them all 1 - 1 = 0 and the boundary
    # classifier would get no gradient; the unbalanced Eq. 3 reaches it.
    model = BASS(input_size=32, balanced_boundary_loss=False, **TINY)
    zoo_checks.check_a_training_step_changes_every_trainable_weight(model)


def test_keras_file_round_trip(model, tmp_path):
    zoo_checks.check_keras_file_round_trip(model, tmp_path / "bass.keras")


def test_exports(model, tmp_path):
    zoo_checks.check_exports(model, tmp_path, "bass")


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"input_size": 16}, "input_size"),
        ({"class_names": ("background",)}, "class_names"),
        ({"canvas_size": 0}, "canvas_size"),
        ({"depths": (1, 1)}, "depths"),
        ({"base_filters": 0}, "base_filters"),
        ({"loss_weights": (1.0, 1.0)}, "loss_weights"),
        ({"alpha": -1.0}, "alpha"),
        ({"boundary_radius": 0}, "radius"),
        ({"pyramid_bins": (1, 0)}, "bins"),
    ],
)
def test_bad_arguments_are_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        BASS(**{"input_size": 32, **TINY, **arguments})


def test_fit_without_labels_is_refused(model):
    with pytest.raises(ValueError, match="label maps"):
        model.compute_loss(y=None, y_pred=model(np.zeros((1, 64, 64, 3), np.float32)))
