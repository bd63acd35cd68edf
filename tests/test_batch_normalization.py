"""keras_stn_icnn.layers.BatchNormalization: Keras's layer to float rounding, in training, inference, weight files."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_stn_icnn.layers import BatchNormalization as FusedKernelBatchNormalization


def _pair(inputs, **arguments):
    """Keras's layer and the fused one, built on `inputs` with the same random gamma and beta."""
    norms = [keras.layers.BatchNormalization(**arguments), FusedKernelBatchNormalization(**arguments)]
    rng = np.random.default_rng(1)
    channels = inputs.shape[arguments.get("axis", -1)]
    for norm in norms:
        norm.build(inputs.shape)
    weights = [rng.normal(size=channels), rng.normal(size=channels), rng.normal(size=channels), rng.random(channels)]
    for norm in norms:
        norm.set_weights([w.astype(np.float32) for w in weights[-len(norm.weights) :]])
    return norms


def _training_step(norm, inputs):
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = norm(inputs, training=True)
        # A loss that weighs every output differently, so that every gradient term matters.
        loss = tf.reduce_sum(outputs * tf.sin(inputs))
    gradients = tape.gradient(loss, [inputs, *norm.trainable_weights])
    return [outputs, *gradients, norm.moving_mean, norm.moving_variance]


@pytest.mark.parametrize(
    "arguments",
    [{}, {"epsilon": 1e-5, "momentum": 0.9}, {"center": False, "scale": False}],
    ids=["keras_defaults", "pytorch_settings", "no_gamma_no_beta"],
)
def test_a_training_step_matches_keras(arguments):
    inputs = tf.random.stateless_normal([4, 12, 10, 6], seed=[0, 1]) * 3.0 + 1.0
    keras_norm, fused_norm = _pair(inputs, **arguments)
    for expected, actual in zip(_training_step(keras_norm, inputs), _training_step(fused_norm, inputs)):
        np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4)


def test_inference_is_keras_own_computation():
    inputs = tf.random.stateless_normal([2, 6, 6, 3], seed=[2, 3])
    keras_norm, fused_norm = _pair(inputs)
    np.testing.assert_array_equal(fused_norm(inputs, training=False), keras_norm(inputs, training=False))


@pytest.mark.parametrize(
    "arguments, inputs_shape",
    [({"synchronized": True}, [2, 6, 6, 3]), ({"axis": 1}, [2, 3, 6, 6]), ({}, [5, 3])],
    ids=["synchronized", "channels_first", "two_dimensional"],
)
def test_cases_the_kernel_does_not_cover_take_keras_path(arguments, inputs_shape):
    inputs = tf.random.stateless_normal(inputs_shape, seed=[4, 5])
    keras_norm, fused_norm = _pair(inputs, **arguments)
    for expected, actual in zip(_training_step(keras_norm, inputs), _training_step(fused_norm, inputs)):
        np.testing.assert_array_equal(actual, expected)


def test_one_value_per_channel_gives_keras_zero_variance():
    """With one value a channel the kernel's corrected variance divides by zero; the moving average takes 0."""
    inputs = tf.fill([1, 1, 1, 3], 2.0)
    keras_norm, fused_norm = _pair(inputs, momentum=0.5)
    for expected, actual in zip(_training_step(keras_norm, inputs), _training_step(fused_norm, inputs)):
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)
    assert np.all(np.isfinite(fused_norm.moving_variance))


def test_serialises_and_loads_keras_batch_normalization_weights():
    inputs = tf.random.stateless_normal([2, 4, 4, 3], seed=[6, 7])
    keras_norm, norm = _pair(inputs, epsilon=1e-5, momentum=0.9)
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(norm))
    assert type(revived) is FusedKernelBatchNormalization
    assert revived.get_config() == norm.get_config()
    revived.set_weights(keras_norm.get_weights())
    np.testing.assert_array_equal(revived(inputs), keras_norm(inputs))


def test_weight_files_of_keras_layer_load_and_back(tmp_path):
    """Keras keys weights by class name: the presets and users' checkpoints, written with Keras's layer, load."""
    inputs = tf.random.stateless_normal([2, 4, 4, 3], seed=[8, 9])

    def model(norm_class):
        return keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Conv2D(3, 1), norm_class(name="norm")])

    keras_model, fused_model = model(keras.layers.BatchNormalization), model(FusedKernelBatchNormalization)
    keras_model.layers[1].moving_mean.assign([0.5, -0.5, 1.0])
    keras_model.save_weights(tmp_path / "keras.weights.h5")
    fused_model.load_weights(tmp_path / "keras.weights.h5")
    np.testing.assert_array_equal(fused_model(inputs), keras_model(inputs))
    fused_model.save_weights(tmp_path / "fused.weights.h5")
    model(keras.layers.BatchNormalization).load_weights(tmp_path / "fused.weights.h5")
