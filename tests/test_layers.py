"""Layers: shapes on odd pyramids, serialisation, argument checks, gradients."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_stn_icnn import ops
from keras_stn_icnn.layers import (
    AlignedBilinearResize,
    CoordinateChannels,
    CropTransformer,
    InterlinkBlock,
    InverseCropTransformer,
    OutputIntegration,
    PaddedMaxPooling2D,
    PartAssembly,
    ScaleTranslationTheta,
)


def _pyramid(sizes=(81, 41, 21, 11), channels=(8, 16, 24, 32), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(2, s, s, c)).astype(np.float32) for s, c in zip(sizes, channels)]


def _round_trip(layer):
    """get_config -> from_config, and the generic Keras serialisation."""
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(revived) is type(layer)
    assert revived.get_config() == layer.get_config()
    return clone


@pytest.mark.parametrize("sizes", [(81, 41, 21, 11), (128, 64, 32, 16), (127, 64, 32, 16)])
def test_interlink_block_keeps_every_scale(sizes):
    pyramid = _pyramid(sizes)
    outputs = InterlinkBlock()(pyramid)
    assert [tuple(o.shape) for o in outputs] == [p.shape for p in pyramid]
    assert all(np.all(np.asarray(o) >= 0) for o in outputs)  # ends in ReLU


def test_interlink_block_serialises_with_its_weights():
    layer = InterlinkBlock(filters=(4, 6, 8), kernel_size=3)
    pyramid = _pyramid((21, 11, 6), (4, 6, 8))
    expected = layer(pyramid)
    clone = _round_trip(layer)
    clone(pyramid)
    clone.set_weights(layer.get_weights())
    for a, b in zip(expected, clone(pyramid)):
        np.testing.assert_array_equal(a, b)


def test_interlink_block_rejects_a_wrong_pyramid():
    with pytest.raises(ValueError, match="scale 1 must be"):
        InterlinkBlock()(_pyramid(channels=(8, 8, 24, 32)))
    with pytest.raises(ValueError, match="list of 4 feature maps"):
        InterlinkBlock()(_pyramid()[:3])


def test_output_integration_returns_the_finest_scale_and_has_gradients():
    layer = OutputIntegration()
    pyramid = [tf.Variable(p) for p in _pyramid()]
    with tf.GradientTape() as tape:
        out = layer(pyramid)
        loss = tf.reduce_sum(out)
    assert tuple(out.shape) == (2, 81, 81, 8)
    gradients = tape.gradient(loss, pyramid)
    assert all(float(tf.reduce_sum(tf.abs(g))) > 0 for g in gradients)
    _round_trip(layer)


def test_crop_transformer_matches_the_op_and_round_trips():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (2, 300, 200, 3)).astype(np.uint8)
    theta = ops.theta_from_centres(rng.uniform(300, 700, (2, 6, 2)), 81, (1024, 1024))
    layer = CropTransformer(81, canvas_size=(1024, 1024))
    crops = layer(images, theta)
    assert crops.dtype == tf.float32 and tuple(crops.shape) == (2, 6, 81, 81, 3)
    expected = ops.crop(tf.cast(images, tf.float32), theta, 81, frame_size=(1024, 1024))
    np.testing.assert_array_equal(crops, expected)
    np.testing.assert_array_equal(_round_trip(layer)(images, theta), crops)


def test_crop_transformer_gradients_reach_theta_and_image():
    layer = CropTransformer(9)
    image = tf.Variable(tf.random.uniform([1, 30, 30, 1]))
    theta = tf.Variable([[[[0.3, 0.0, 0.11], [0.0, 0.3, -0.07]]]])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(image, theta) ** 2)
    grad_image, grad_theta = tape.gradient(loss, [image, theta])
    assert float(tf.reduce_sum(tf.abs(grad_theta))) > 0
    assert float(tf.reduce_sum(tf.abs(grad_image))) > 0


@pytest.mark.parametrize("window", [80, 0, -3, 2.5])
def test_crop_transformer_refuses_bad_windows(window):
    with pytest.raises(ValueError, match="window must be a positive odd integer"):
        CropTransformer(window)


def test_inverse_crop_transformer_lands_patches_in_the_image_frame():
    image = np.zeros((1, 300, 200, 3), np.float32)
    # A window centred on image pixel (100, 50): canvas pixel (100 + 362, 50 + 412).
    theta = ops.theta_from_centres(tf.constant([[[462.0, 462.0]]]), 81, (1024, 1024))
    patches = tf.ones([1, 1, 81, 81, 1])
    layer = InverseCropTransformer(canvas_size=(1024, 1024), fill_value=-1.0)
    pasted = layer(patches, theta, image).numpy()[0, 0, ..., 0]
    assert pasted.shape == (300, 200)
    window = pasted == 1.0
    rows, cols = np.nonzero(window)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (60, 140, 10, 90)
    assert np.all(pasted[~window] == -1.0)
    _round_trip(layer)
    with pytest.raises(ValueError, match="axis_aligned=True needs mode 'nearest'"):
        InverseCropTransformer(mode="bilinear", axis_aligned=True)


def test_part_assembly_outside_windows_is_background():
    probabilities = [tf.fill([1, 81, 81, 2], 0.5)] * 5 + [tf.fill([1, 81, 81, 4], 0.25)]
    theta = ops.theta_from_centres(tf.fill([1, 6, 2], 512.0), 81, (1024, 1024))
    layer = PartAssembly(canvas_size=(1024, 1024))
    assembled = layer(probabilities, theta, tf.zeros([1, 400, 400, 3])).numpy()[0]
    assert assembled.shape == (400, 400, 9)
    np.testing.assert_array_equal(assembled[0, 0], [1, 0, 0, 0, 0, 0, 0, 0, 0])
    # All six windows overlap at the centre: background 0.5**5 * 0.25.
    np.testing.assert_allclose(assembled[200, 200, 0], 0.5**5 * 0.25, rtol=1e-6)
    _round_trip(layer)


def test_small_layers_round_trip():
    x = tf.random.uniform([1, 10, 7, 3])
    pool = PaddedMaxPooling2D()
    assert tuple(pool(x).shape) == (1, 5, 4, 3)
    _round_trip(pool)
    resize = AlignedBilinearResize((4, 5))
    assert tuple(resize(x).shape) == (1, 4, 5, 3)
    _round_trip(resize)
    theta = ScaleTranslationTheta(2)(tf.ones([3, 12]))
    np.testing.assert_array_equal(theta[1, 1], [[1, 0, 1], [0, 1, 1]])
    _round_trip(ScaleTranslationTheta(2))


def test_coordinate_channels_append_pixel_centres_and_keep_the_inputs():
    inputs = tf.random.uniform([2, 3, 4, 5])
    outputs = CoordinateChannels()(inputs).numpy()
    assert outputs.shape == (2, 3, 4, 7)
    np.testing.assert_array_equal(outputs[..., :5], inputs.numpy())
    # pixel k of n has its centre at (2k + 1) / n - 1
    np.testing.assert_array_equal(outputs[1, 2, :, 5], [-0.75, -0.25, 0.25, 0.75])
    np.testing.assert_allclose(outputs[1, :, 3, 6], [-2 / 3, 0.0, 2 / 3], atol=1e-7)
    _round_trip(CoordinateChannels())


def test_coordinate_channels_refuse_an_unknown_size():
    with pytest.raises(ValueError, match="static height and width, got input shape"):
        CoordinateChannels()(keras.Input((None, 8, 3)))
