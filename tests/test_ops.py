"""The pure ops against the authors' PyTorch outputs and a plain-NumPy reading."""

import numpy as np
import numpy_reference
import pytest
import tensorflow as tf
from conftest import nhwc, relative_error

from keras_stn_icnn import ops


@pytest.mark.parametrize("kind", ["crop", "general"])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_crop_matches_pytorch_grid_sample(crop_reference, kind, mode):
    image = nhwc(crop_reference["image"])
    theta = crop_reference[f"theta_{kind}"][:, None]
    crops = ops.crop(tf.constant(image), tf.constant(theta), 81, mode=mode)[:, 0]
    expected = nhwc(crop_reference[f"out_{kind}_{mode}"])
    assert relative_error(crops, expected) <= 1e-4


@pytest.mark.parametrize("kind", ["crop", "general"])
def test_crop_theta_gradient_matches_pytorch(crop_reference, kind):
    image = tf.constant(nhwc(crop_reference["image"]))
    upstream = tf.constant(nhwc(crop_reference["upstream"]))
    theta = tf.constant(crop_reference[f"theta_{kind}"][:, None])
    with tf.GradientTape() as tape:
        tape.watch(theta)
        loss = tf.reduce_sum(ops.crop(image, theta, 81)[:, 0] * upstream)
    gradient = tape.gradient(loss, theta)[:, 0]
    assert relative_error(gradient, crop_reference[f"grad_theta_{kind}_bilinear"]) <= 1e-3


def test_crop_image_gradient_is_the_adjoint_of_sampling():
    # <crop(image), u> is linear in the image, so its gradient w.r.t. the image
    # must satisfy <grad, v> == <crop(v), u> for any v.
    rng = np.random.default_rng(0)
    theta = tf.constant(
        [[[[0.3, 0.05, 0.1], [-0.04, 0.25, -0.2]], [[0.5, 0.0, -0.3], [0.0, 0.4, 0.3]]]],
        tf.float32,
    )
    image = tf.constant(rng.random((1, 40, 50, 2)), tf.float32)
    upstream = tf.constant(rng.random((1, 2, 9, 9, 2)), tf.float32)
    probe = tf.constant(rng.random((1, 40, 50, 2)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(image)
        loss = tf.reduce_sum(ops.crop(image, theta, 9) * upstream)
    gradient = tape.gradient(loss, image)
    lhs = float(tf.reduce_sum(gradient * probe))
    rhs = float(tf.reduce_sum(ops.crop(probe, theta, 9) * upstream))
    assert lhs == pytest.approx(rhs, rel=1e-5)


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_crop_matches_numpy_reference_on_a_canvas(mode):
    rng = np.random.default_rng(1)
    image = rng.random((30, 20, 3)).astype(np.float32)
    frame = (64, 48)
    offset = ((64 - 30) // 2, (48 - 20) // 2)
    theta = np.array([[0.213, 0.031, -0.107], [-0.023, 0.187, 0.151]], np.float32)
    crops = ops.crop(
        tf.constant(image[None]),
        tf.constant(theta[None, None]),
        (11, 13),
        mode=mode,
        frame_size=frame,
    )
    expected = numpy_reference.grid_sample(image, theta, 11, 13, mode, frame=frame, offset=offset)
    np.testing.assert_allclose(crops[0, 0].numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.uint8])
@pytest.mark.parametrize("window, frame", [(81, (1024, 1024)), (127, (1024, 1024)), (81, None)])
def test_crop_at_integer_centres_is_plain_slicing(dtype, window, frame):
    """Paper, Fig. 8: odd window + integer centres = the baseline's array slicing."""
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (300, 420, 3)).astype(dtype)
    top, left = ((1024 - 300) // 2, (1024 - 420) // 2) if frame else (0, 0)
    canvas = np.zeros((*(frame or image.shape[:2]), 3), dtype)
    canvas[top : top + 300, left : left + 420] = image
    half = window // 2
    # Centres inside the image, on its border and half outside it (zero padding).
    centres = np.array([[150, 210], [0, 0], [299, 419], [20, 400], [280, 5], [100, 300]]) + [
        top,
        left,
    ]
    theta = ops.theta_from_centres(tf.constant(centres[None], tf.float32), window, canvas.shape[:2])
    crops = ops.crop(tf.cast(tf.constant(image[None]), tf.float32), theta, window, frame_size=frame)[0].numpy()
    padded = np.pad(canvas, ((half, half), (half, half), (0, 0)))
    for crop, (cy, cx) in zip(crops, centres):
        expected = padded[cy : cy + window, cx : cx + window].astype(np.float32)
        assert np.array_equal(crop, expected)
        assert np.array_equal(crop.astype(dtype), padded[cy : cy + window, cx : cx + window])


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_paste_matches_pytorch_inverse(crop_reference, mode):
    patches = nhwc(crop_reference["inverse_patch"])[:, None]
    theta = crop_reference["theta_crop"][:, None]
    pasted = ops.paste(tf.constant(patches), tf.constant(theta), (200, 300), mode=mode)[:, 0]
    expected = nhwc(crop_reference[f"inverse_{mode}"])
    if mode == "nearest":
        assert np.mean(pasted.numpy() == expected) >= 0.999
    assert relative_error(pasted, expected) <= 1e-4


def test_axis_aligned_paste_equals_the_general_one(crop_reference):
    patches = tf.constant(nhwc(crop_reference["inverse_patch"])[:, None])
    theta = tf.constant(crop_reference["theta_crop"][:, None])
    for fill in (0.0, 1.0):
        for region in (None, (37, 51, 120, 200)):
            general = ops.paste(patches, theta, (200, 300), region=region, fill_value=fill)
            fast = ops.paste(patches, theta, (200, 300), region=region, fill_value=fill, axis_aligned=True)
            assert np.array_equal(general.numpy(), fast.numpy())


def test_paste_puts_a_crop_back_where_it_came_from():
    rng = np.random.default_rng(3)
    image = rng.random((1, 120, 90, 2)).astype(np.float32)
    theta = ops.theta_from_centres(tf.constant([[[60.0, 40.0], [10.0, 80.0]]]), 21, (120, 90))
    crops = ops.crop(tf.constant(image), theta, 21)
    pasted = ops.paste(crops, theta, (120, 90), fill_value=-1.0, axis_aligned=True).numpy()
    window = pasted[0, 0, 50:71, 30:51]
    assert np.array_equal(window, image[0, 50:71, 30:51])
    outside = np.ones((120, 90), bool)
    outside[50:71, 30:51] = False
    assert np.all(pasted[0, 0][outside] == -1.0)
    # The second window hangs over the right edge: only its inside part lands.
    assert np.array_equal(pasted[0, 1, 0:21, 70:90], image[0, 0:21, 70:90])


def test_theta_from_centres_and_inverse():
    theta = ops.theta_from_centres(tf.constant([[511.0, 300.0]]), 81, (1024, 1024))
    np.testing.assert_allclose(
        theta.numpy()[0],
        [[80 / 1023, 0, -1 + 600 / 1023], [0, 80 / 1023, -1 + 1022 / 1023]],
        rtol=1e-6,
    )
    general = tf.constant([[0.3, 0.1, 0.2], [-0.05, 0.4, -0.1]])
    inverse = ops.invert_theta(general)
    full = np.vstack([general.numpy(), [0, 0, 1]])
    np.testing.assert_allclose(inverse.numpy(), np.linalg.inv(full)[:2], rtol=1e-5)


def test_crop_centres_read_back_the_centres_of_any_theta():
    centres = np.array([[[511.0, 300.0], [17.0, 88.0]], [[0.0, 89.0], [119.0, 0.0]]], np.float32)
    theta = ops.theta_from_centres(tf.constant(centres), 21, (120, 90))
    np.testing.assert_allclose(ops.crop_centres(theta, (120, 90)).numpy(), centres, atol=1e-4)
    # A general theta's centre is its translation: x = (t02 + 1) / 2 (W - 1), y likewise with H.
    general = tf.constant([[0.3, 0.1, 0.2], [-0.05, 0.4, -0.1]])
    np.testing.assert_allclose(ops.crop_centres(general, (120, 90)).numpy(), [0.45 * 119, 0.6 * 89], rtol=1e-6)


def test_normalized_positions_match_linspace():
    for size in (1, 2, 3, 81, 1024):
        np.testing.assert_allclose(ops.normalized_positions(size).numpy(), numpy_reference.linspace(size), atol=1e-7)


@pytest.mark.parametrize("size", [(128, 128), (81, 81), (41, 41), (21, 20), (11, 11), (7, 5)])
def test_max_pool_pads_both_sides_like_pytorch(size):
    x = np.random.default_rng(4).normal(size=(*size, 3)).astype(np.float32)
    pooled = ops.max_pool_3x3_stride2(tf.constant(x[None]))[0].numpy()
    np.testing.assert_array_equal(pooled, numpy_reference.max_pool_3x3_stride2(x))


@pytest.mark.parametrize(
    "source, target",
    [((11, 11), (21, 21)), ((21, 21), (41, 41)), ((41, 41), (81, 81)), ((16, 16), (32, 32)), ((5, 7), (9, 13))],
)
def test_nearest_resize_uses_pytorch_index_rule(source, target):
    # Sizes known while tracing take the indices from numpy, a graph for unknown sizes computes them: both the rule.
    x = np.random.default_rng(5).normal(size=(*source, 2)).astype(np.float32)
    resize_unknown_sizes = tf.function(
        lambda x, height, width: ops.resize_nearest(x, (height, width)),
        input_signature=[
            tf.TensorSpec([None, None, None, 2]),
            tf.TensorSpec([], tf.int32),
            tf.TensorSpec([], tf.int32),
        ],
    )
    expected = numpy_reference.resize_nearest(x, *target)
    np.testing.assert_array_equal(ops.resize_nearest(tf.constant(x[None]), target)[0].numpy(), expected)
    np.testing.assert_array_equal(resize_unknown_sizes(x[None], *target)[0].numpy(), expected)


def test_bilinear_resize_aligns_corners(pipeline_reference):
    image = pipeline_reference["image_1"].astype(np.float32) / 255.0
    resized = ops.resize_bilinear_align_corners(tf.constant(image[None]), (128, 128))[0].numpy()
    np.testing.assert_allclose(resized, numpy_reference.resize_bilinear_align_corners(image, 128, 128), atol=1e-4)
    expected = nhwc(pipeline_reference["stage1_input"][1])
    assert relative_error(resized, expected) <= 1e-4


def test_assembly_multiplies_backgrounds_and_orders_foregrounds():
    backgrounds = tf.constant([[[[0.5]], [[0.25]]]])  # [B=1, N=2, 1, 1]
    foregrounds = [tf.constant([[[[0.1]]]]), tf.constant([[[[0.2, 0.3, 0.4]]]])]
    assembled = ops.assemble_part_probabilities(backgrounds, foregrounds).numpy()
    np.testing.assert_allclose(assembled[0, 0, 0], [0.125, 0.1, 0.2, 0.3, 0.4])


def test_unknown_sampling_mode_is_refused():
    with pytest.raises(ValueError, match="mode must be one of"):
        ops.crop(tf.zeros([1, 8, 8, 1]), tf.zeros([1, 1, 2, 3]), 3, mode="bicubic")
