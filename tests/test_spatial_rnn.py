"""RNN-G's spatially variant recurrence: the op against a per-pixel numpy loop, the layer, its bounds, LiteRT."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from keras_stn_icnn.layers.spatial_rnn import MaxSpectralNorm, SpatialRNN
from keras_stn_icnn.ops.spatial_rnn import DIRECTIONS, gated_linear_recurrence, spatial_rnn_4way


def reference_recurrence(x, g, w, b, direction):
    """Eq. (3) pixel by pixel: h_i = x_i + g_i * (w h_{i-1} + b), h before the first pixel 0."""
    batch, height, width, channels = x.shape
    h = np.zeros(x.shape, np.float64)
    horizontal = direction in ("left_to_right", "right_to_left")
    reverse = direction in ("right_to_left", "bottom_to_top")
    for image in range(batch):
        for line in range(height if horizontal else width):
            steps = range(width if horizontal else height)
            previous = np.zeros(channels)
            for step in reversed(steps) if reverse else steps:
                row, col = (line, step) if horizontal else (step, line)
                previous = x[image, row, col] + g[image, row, col] * (w @ previous + b)
                h[image, row, col] = previous
    return h


def random_inputs(height=5, width=5, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, height, width, channels)).astype(np.float32)
    g = np.tanh(rng.normal(size=x.shape)).astype(np.float32)
    w = (0.5 * rng.normal(size=(4, channels, channels))).astype(np.float32)
    b = rng.normal(size=(4, channels)).astype(np.float32)
    return x, g, w, b


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_one_direction_matches_the_pixel_loop(direction):
    x, g, w, b = random_inputs(4, 6)
    k = DIRECTIONS.index(direction)
    actual = gated_linear_recurrence(x, g, w[k], b[k], direction)
    np.testing.assert_allclose(actual, reference_recurrence(x, g, w[k], b[k], direction), atol=1e-5)


@pytest.mark.parametrize("size", [(5, 5), (4, 6)], ids=["square_one_loop", "oblong_two_loops"])
def test_four_directions_merge_by_node_wise_max(size):
    x, g, w, b = random_inputs(*size, seed=1)
    directions = [reference_recurrence(x, g, w[k], b[k], d) for k, d in enumerate(DIRECTIONS)]
    np.testing.assert_allclose(spatial_rnn_4way(x, g, w, b), np.max(directions, axis=0), atol=1e-5)


def test_the_max_picks_the_direction_that_carries_a_value():
    # One bright pixel in the middle of a row; open gates carry it right only left-to-right.
    x = np.zeros((1, 1, 5, 1), np.float32)
    x[0, 0, 2, 0] = 1.0
    g = np.ones_like(x)
    w = np.zeros((4, 1, 1), np.float32)
    w[0] = 1.0  # only left_to_right propagates
    h = spatial_rnn_4way(x, g, w, np.zeros((4, 1), np.float32))
    assert np.asarray(h)[0, 0, :, 0].tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]


def test_gradients_reach_x_g_w_and_b():
    x, g, w, b = (tf.constant(v) for v in random_inputs(4, 4, seed=2))
    with tf.GradientTape() as tape:
        tape.watch([x, g, w, b])
        loss = tf.reduce_sum(tf.square(spatial_rnn_4way(x, g, w, b)))
    for name, gradient in zip("xgwb", tape.gradient(loss, [x, g, w, b])):
        assert gradient is not None and np.any(np.asarray(gradient) != 0), name


def test_bad_arguments_are_refused():
    x, g, w, b = random_inputs(3, 3)
    with pytest.raises(ValueError, match="direction"):
        gated_linear_recurrence(x, g, w[0], b[0], "diagonal")
    with pytest.raises(ValueError, match="same shape"):
        gated_linear_recurrence(x, g[:, :2], w[0], b[0], "left_to_right")
    with pytest.raises(ValueError, match=r"\[4, C, C\]"):
        spatial_rnn_4way(x, g, w[:2], b[:2])


def test_the_recurrence_converts_to_litert_builtins():
    x, g, w, b = random_inputs(6, 6, channels=2, seed=3)

    @tf.function(input_signature=[tf.TensorSpec([None, 6, 6, 2])] * 2)
    def recurrence(x, g):
        return spatial_rnn_4way(x, g, w, b)

    converter = tf.lite.TFLiteConverter.from_concrete_functions([recurrence.get_concrete_function()], recurrence)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    interpreter = Interpreter(model_content=converter.convert())
    inputs = interpreter.get_input_details()
    for detail, value in zip(inputs, (x, g)):
        interpreter.resize_tensor_input(detail["index"], value.shape)
    interpreter.allocate_tensors()
    for detail, value in zip(inputs, (x, g)):
        interpreter.set_tensor(detail["index"], value)
    interpreter.invoke()
    actual = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(actual, recurrence(x, g), atol=1e-5)


def test_max_spectral_norm_scales_only_matrices_above_the_bound():
    constraint = MaxSpectralNorm(1.0)
    big = np.array([[3.0, 1.0], [0.0, 2.0]], np.float32)
    scaled = np.asarray(constraint(big))
    assert np.linalg.norm(scaled, 2) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(scaled * np.linalg.norm(big, 2), big, rtol=1e-5)
    small = np.array([[0.5, 0.0], [0.2, 0.3]], np.float32)
    np.testing.assert_array_equal(constraint(small), small)
    assert np.asarray(constraint(np.eye(3, dtype=np.float32))).tolist() == np.eye(3).tolist()
    assert MaxSpectralNorm.from_config(constraint.get_config()).max_value == 1.0
    with pytest.raises(ValueError, match="max_value"):
        MaxSpectralNorm(0.0)


def test_layer_is_the_op_on_tanh_gates():
    x, g, _, _ = random_inputs(4, 4, seed=4)
    layer = SpatialRNN(kernel_initializer="glorot_uniform", bias_initializer="ones")
    actual = layer(x, g)
    assert {w.path.split("/")[-1] for w in layer.weights} == {
        f"{d}_{kind}" for d in DIRECTIONS for kind in ("kernel", "bias")
    }
    w = np.stack([np.asarray(k) for k in layer.kernels])
    b = np.stack([np.asarray(v) for v in layer.biases])
    np.testing.assert_allclose(actual, spatial_rnn_4way(x, np.tanh(g), w, b), atol=1e-5)
    # |g| <= 1 however large the pre-activation: tanh saturates at exactly 1.
    np.testing.assert_allclose(layer(x, 1e6 + g), spatial_rnn_4way(x, np.ones_like(g), w, b), atol=1e-5)


def test_constraints_hold_after_a_big_training_step():
    inputs = keras.Input((6, 6, 2))
    gates = keras.Input((6, 6, 2))
    model = keras.Model([inputs, gates], SpatialRNN(name="rnn")(inputs, gates))
    model.compile(optimizer=keras.optimizers.SGD(1000.0), loss="mse")
    x, g, _, _ = random_inputs(6, 6, channels=2, seed=5)
    before = [np.array(w) for w in model.trainable_weights]
    model.fit([x, g], 10.0 + x, batch_size=2, epochs=1, verbose=0)
    assert all(not np.array_equal(np.array(w), old) for w, old in zip(model.trainable_weights, before))
    for kernel in model.get_layer("rnn").kernels:
        assert np.linalg.norm(np.array(kernel), 2) <= 1.0 + 1e-5, kernel.path


def test_layer_serialization_round_trip():
    layer = SpatialRNN(kernel_initializer="orthogonal", name="rnn")
    restored = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(restored) is SpatialRNN
    assert restored.get_config() == layer.get_config()


def test_layer_refuses_mismatched_gates():
    with pytest.raises(ValueError, match="gates"):
        SpatialRNN()(np.zeros((1, 4, 4, 3), np.float32), np.zeros((1, 4, 4, 2), np.float32))
