"""The iCNN baseline: the centroid cropper against ground-truth theta, the model, weights from STN-iCNN."""

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_stn_icnn import CentroidTheta, ICNNBaseline, STNiCNN
from keras_stn_icnn.data.stn_icnn_inputs import ground_truth_theta
from keras_stn_icnn.labels import STN_ICNN_CLASS_NAMES

FACES_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "faces"
GRID = 128  # the stage-1 map
HEIGHT, WIDTH = 300, 200  # the image
CANVAS = 1024
WINDOW = 81
BLOB = 127  # pixels of a full-size blob: the scaled centroids are multiples of 1/127

# 128-grid centres (y, x) of 3x3 blobs of each class, roughly where a face puts them, at
# positions where other grid-to-image rules would floor to other pixels (checked below).
CLASS_CENTRES = {
    1: (40, 40),
    2: (40, 90),  # eyebrows
    3: (55, 40),
    4: (55, 90),  # eyes
    5: (82, 63),  # nose
    6: (94, 63),
    7: (102, 66),
    8: (111, 60),  # upper lip, inner mouth, lower lip
}
CASES = {
    "all parts": (),
    "closed mouth": (7,),
    "no left eyebrow": (1,),
    "no nose, no left eye": (5, 3),
    "no mouth": (6, 7, 8),
    "no face": tuple(CLASS_CENTRES),
}


def _stage1_logits(missing):
    """Logits [128, 128, 9]: a 3x3 blob per class present, background elsewhere."""
    label = np.zeros((GRID, GRID), np.int64)
    for class_id, (y, x) in CLASS_CENTRES.items():
        if class_id not in missing:
            label[y - 1 : y + 2, x - 1 : x + 2] = class_id
    return (4.0 * np.eye(len(STN_ICNN_CLASS_NAMES))[label] - 2.0).astype(np.float32)


def _blob(total_y, total_x, count=BLOB):
    """`count` distinct pixels whose rows sum to `total_y` and columns to `total_x`.

    So the blob's centroid is exactly `(total_y, total_x) / count`: the pixels
    nearest that point, then single boundary pixels moved one step until the
    sums are exact.
    """
    centre = np.array([total_y, total_x]) / count
    ys, xs = np.mgrid[-12:13, -12:13]
    offsets = np.stack([ys.ravel(), xs.ravel()], -1) + np.round(centre).astype(int)
    order = np.argsort(np.linalg.norm(offsets - centre, axis=-1), kind="stable")
    pixels = {tuple(p) for p in offsets[order[:count]]}
    for axis, total in ((0, total_y), (1, total_x)):
        while (residual := total - sum(p[axis] for p in pixels)) != 0:
            step = np.sign(residual)
            moves = []
            for p in pixels:
                q = list(p)
                q[axis] += step
                if tuple(q) not in pixels:
                    moves.append((np.linalg.norm(np.array(q) - centre), p, tuple(q)))
            _, old, new = min(moves)
            pixels.remove(old)
            pixels.add(new)
    pixels = np.array(sorted(pixels))
    assert len(pixels) == count and pixels.sum(0).tolist() == [total_y, total_x]
    return pixels


def _full_size_label(missing):
    """The 300x200 label whose class centroids are the 128-grid centroids scaled by (H-1)/127.

    A 3x3 blob at grid `(y, x)` has centroid `(y, x)`; scaled, that is
    `(y (H - 1), x (W - 1)) / 127`, the centroid of a `_blob` of 127 pixels.
    Every class then weighs 127 pixels here and 9 on the grid, in the same
    proportion, so the mass-weighted fallback (the inner-face centroid) agrees
    too.
    """
    label = np.zeros((HEIGHT, WIDTH), np.uint8)
    for class_id, (y, x) in CLASS_CENTRES.items():
        if class_id not in missing:
            pixels = _blob(y * (HEIGHT - 1), x * (WIDTH - 1))
            assert not label[pixels[:, 0], pixels[:, 1]].any(), "blobs overlap"
            label[pixels[:, 0], pixels[:, 1]] = class_id
    return label


def _centroid_theta(missing_per_image):
    logits = np.stack([_stage1_logits(missing) for missing in missing_per_image])
    images = np.zeros((len(missing_per_image), HEIGHT, WIDTH, 3), np.float32)
    return np.asarray(CentroidTheta(WINDOW, canvas_size=(CANVAS, CANVAS))(logits, images))


def _floored_part_centres(scale_rule):
    """Image-pixel part centres of the complete layout, floored, for a grid-to-image rule."""
    scaled = {c: (scale_rule(y, HEIGHT), scale_rule(x, WIDTH)) for c, (y, x) in CLASS_CENTRES.items()}
    centres = [scaled[c] for c in range(1, 6)] + [np.mean([scaled[c] for c in (6, 7, 8)], 0)]
    return np.floor(centres)


def test_the_layout_tells_the_corners_aligned_rule_from_others():
    """Guard for the next test: another scaling rule would move some crop by a pixel."""
    ours = _floored_part_centres(lambda v, size: v * (size - 1) / (GRID - 1))
    for rule in (
        lambda v, size: (v + 0.5) * size / GRID - 0.5,  # half-pixel centres (TF2's resize)
        lambda v, size: v * size / GRID,
        lambda v, size: v * (size - 1) / GRID,
    ):
        assert np.any(_floored_part_centres(rule) != ours)


def test_centroid_theta_equals_ground_truth_theta_of_the_equivalent_label():
    """One batch of every case: each theta equals ground_truth_theta of the full-size label, bit for bit."""
    thetas = _centroid_theta(list(CASES.values()))
    for theta, (case, missing) in zip(thetas, CASES.items()):
        expected, present, _ = ground_truth_theta(
            tf.constant(_full_size_label(missing)), window=WINDOW, canvas_size=CANVAS
        )
        np.testing.assert_array_equal(theta, expected, err_msg=case)
        # The cases with a part missing exercise the missing-part rule.
        assert bool(present.numpy().all()) == (case in ("all parts", "closed mouth")), case


def _canvas_centres(theta):
    """(y, x) canvas pixels a theta is centred on (inverse of theta_from_centres)."""
    return np.stack([(theta[..., 1, 2] + 1) * (CANVAS - 1) / 2, (theta[..., 0, 2] + 1) * (CANVAS - 1) / 2], -1)


def test_missing_parts_follow_the_stated_rule():
    complete, no_brow, no_face = _centroid_theta([(), (1,), tuple(CLASS_CENTRES)])
    centres = _canvas_centres(complete)  # floored canvas centres of all six parts
    top, left = (CANVAS - HEIGHT) // 2, (CANVAS - WIDTH) // 2
    scaled = {
        c: (y * (HEIGHT - 1) / (GRID - 1) + top, x * (WIDTH - 1) / (GRID - 1) + left)
        for c, (y, x) in CLASS_CENTRES.items()
    }
    np.testing.assert_allclose(centres[0], np.floor(scaled[1]), atol=1e-3)
    # The mouth is the mean of its three classes.
    np.testing.assert_allclose(centres[5], np.floor(np.mean([scaled[c] for c in (6, 7, 8)], 0)), atol=1e-3)
    # A missing left eyebrow: the right eyebrow plus the eyes' left-right offset.
    mirrored = np.array(scaled[2]) + np.array(scaled[3]) - np.array(scaled[4])
    np.testing.assert_allclose(_canvas_centres(no_brow)[0], np.floor(mirrored), atol=1e-3)
    np.testing.assert_array_equal(no_brow[1:], complete[1:])
    # No face at all: every part at the image centre.
    image_centre = np.floor([(HEIGHT - 1) / 2 + top, (WIDTH - 1) / 2 + left])
    np.testing.assert_allclose(_canvas_centres(no_face), np.tile(image_centre, (6, 1)), atol=1e-3)


def test_probabilities_give_the_same_thetas_as_logits():
    logits = _stage1_logits(())[np.newaxis]
    images = np.zeros((1, HEIGHT, WIDTH, 3), np.float32)
    layer = CentroidTheta(WINDOW, canvas_size=(CANVAS, CANVAS))
    np.testing.assert_array_equal(layer(tf.nn.softmax(logits), images), layer(logits, images))


def test_centroid_theta_is_not_differentiable():
    logits = tf.Variable(_stage1_logits(())[np.newaxis])
    with tf.GradientTape() as tape:
        theta = CentroidTheta()(logits, tf.zeros([1, HEIGHT, WIDTH, 3]))
        loss = tf.reduce_sum(theta * tf.random.normal(theta.shape))
    assert tape.gradient(loss, logits) is None


def test_centroid_theta_arguments_config_and_shapes():
    layer = CentroidTheta(127, canvas_size=(512, 512), min_mass=2.0, name="cropper")
    clone = CentroidTheta.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(revived) is CentroidTheta and revived.get_config() == layer.get_config()
    with pytest.raises(ValueError, match="odd"):
        CentroidTheta(80)
    with pytest.raises(ValueError, match="min_mass"):
        CentroidTheta(min_mass=0)
    with pytest.raises(ValueError, match=r"stage1 must be \[B, h, w, 9\]"):
        CentroidTheta()(tf.zeros([1, 128, 128, 4]), tf.zeros([1, 300, 200, 3]))
    # Without a canvas the thetas refer to the image's own frame.
    theta = CentroidTheta(WINDOW, canvas_size=None)(_stage1_logits(())[np.newaxis], tf.zeros([1, HEIGHT, WIDTH, 3]))
    np.testing.assert_allclose(theta[0, 0, 0, 0], (WINDOW - 1) / (WIDTH - 1), rtol=1e-6)


@pytest.fixture(scope="module")
def baseline():
    keras.utils.set_random_seed(0)
    return ICNNBaseline()


def test_baseline_outputs_for_a_300x200_image(baseline):
    images = np.random.default_rng(1).integers(0, 256, (2, HEIGHT, WIDTH, 3)).astype(np.float32)
    outputs = baseline(images)
    assert tuple(outputs["stage1_logits"].shape) == (2, GRID, GRID, 9)
    assert tuple(outputs["theta"].shape) == (2, 6, 2, 3)
    assert {k: tuple(v.shape) for k, v in outputs["part_logits"].items()} == {
        "eyebrow1": (2, 81, 81, 2),
        "eyebrow2": (2, 81, 81, 2),
        "eye1": (2, 81, 81, 2),
        "eye2": (2, 81, 81, 2),
        "nose": (2, 81, 81, 2),
        "mouth": (2, 81, 81, 4),
    }
    assert tuple(outputs["probabilities"].shape) == (2, HEIGHT, WIDTH, 9)
    assert outputs["labels"].dtype == tf.uint8 and tuple(outputs["labels"].shape) == (2, HEIGHT, WIDTH)
    np.testing.assert_array_equal(outputs["labels"], np.argmax(outputs["probabilities"], -1))
    # The crops sit where the centroid cropper puts them for this stage-1 map.
    np.testing.assert_array_equal(outputs["theta"], CentroidTheta()(outputs["stage1_logits"], images))
    # parse() is STN-iCNN's own (tests/test_parse.py); it runs on a photo below.
    assert ICNNBaseline.parse is STNiCNN.parse
    assert baseline.class_names == STNiCNN.class_names
    with pytest.raises(ValueError, match="1025x100 is larger than the model's 1024x1024"):
        baseline.parse(np.zeros((1025, 100, 3), np.uint8))


def test_stage1_gets_no_gradient_through_the_crops(baseline):
    images = np.random.default_rng(2).integers(0, 256, (1, 96, 96, 3)).astype(np.float32)
    with tf.GradientTape() as tape:
        outputs = baseline(images, training=False)
        loss = sum(tf.reduce_mean(v) for v in outputs["part_logits"].values())
    stage1 = baseline.get_layer("stage1").trainable_weights
    gradients = tape.gradient(loss, stage1 + baseline.get_layer("nose_model").trainable_weights)
    assert all(g is None for g in gradients[: len(stage1)])
    assert all(g is not None for g in gradients[len(stage1) :])


def test_keras_file_round_trip_gives_identical_outputs(baseline, tmp_path):
    images = np.random.default_rng(3).integers(0, 256, (1, HEIGHT, WIDTH, 3)).astype(np.float32)
    expected = baseline(images)
    path = tmp_path / "icnn_baseline.keras"
    baseline.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is ICNNBaseline and loaded.get_config() == baseline.get_config()
    actual = loaded(images)
    for key in ("stage1_logits", "theta", "probabilities", "labels"):
        np.testing.assert_array_equal(actual[key], expected[key], err_msg=key)


@pytest.mark.parametrize("shared", [True, False])
def test_from_stn_icnn_copies_stage1_and_part_weights(shared):
    keras.utils.set_random_seed(4)
    stn = STNiCNN(localizer="fcn", window=41, canvas_size=512, shared_part_models=shared)
    baseline = ICNNBaseline.from_stn_icnn(stn)
    assert (baseline.window, baseline.canvas_size, baseline.shared_part_models) == (41, 512, shared)
    stn_sub_models = {layer.name for layer in stn.layers if isinstance(layer, keras.Model)}
    assert stn_sub_models - {"localizer"} == set(baseline.sub_model_names)
    for name in baseline.sub_model_names:
        for ours, theirs in zip(baseline.get_layer(name).weights, stn.get_layer(name).weights):
            np.testing.assert_array_equal(ours, theirs, err_msg=f"{name}: {ours.path}")
    stage1_input = np.random.default_rng(5).random((1, GRID, GRID, 3)).astype(np.float32)
    np.testing.assert_array_equal(baseline.get_layer("stage1")(stage1_input), stn.get_layer("stage1")(stage1_input))
    # Copied, not shared.
    baseline.get_layer("stage1").weights[0].assign(tf.zeros_like(baseline.get_layer("stage1").weights[0]))
    assert np.any(np.asarray(stn.get_layer("stage1").weights[0]) != 0)
    with pytest.raises(TypeError, match="must be an STNiCNN or ICNNBaseline"):
        ICNNBaseline.from_stn_icnn(stn.get_layer("stage1"))


def _photo(path, canvas=CANVAS):
    image = Image.open(path).convert("RGB")
    image.thumbnail((canvas, canvas))  # only ever shrinks, keeping the aspect ratio
    return np.asarray(image)


def test_baseline_from_the_converted_checkpoint_parses_a_photo(converted_model):
    """The reference checkpoint holds *random* weights (../shared/parity/README.md), so this checks
    plumbing, not accuracy. The baseline built from it computes STN-iCNN's stage-1 logits exactly;
    the two label maps can differ only inside the part windows, where the same part models run on
    crops placed differently (the checkpoint's localizer aims at plausible part centres, the
    centroids of a random stage-1 map fall elsewhere). Outside every window both maps are
    background by construction, and inside them the random part models call few pixels parts
    (about 7% of this photo for STN-iCNN, 3% for the baseline), so about 92% agree. The 90% floor
    is loose for that; a model that labelled parts outside its windows (a broken paste-back or
    background product) would fall far below it. With trained weights the two should agree more.
    """
    path = FACES_DIR / "astronaut.png"
    if not path.exists():
        pytest.skip(f"{path} is not available")
    image = _photo(path)
    baseline = ICNNBaseline.from_stn_icnn(converted_model)
    labels = baseline.parse(image)
    assert labels.shape == image.shape[:2] and labels.dtype == np.uint8
    theirs = converted_model(image[np.newaxis].astype(np.float32))
    scaled = converted_model.get_layer("scale")(image[np.newaxis].astype(np.float32))
    stage1_input = converted_model.get_layer("stage1_resize")(scaled)
    np.testing.assert_array_equal(baseline.get_layer("stage1")(stage1_input), theirs["stage1_logits"])
    agreement = float(np.mean(labels == np.asarray(theirs["labels"][0])))
    print(f"baseline vs STN-iCNN on {path.name} {image.shape[:2]}: {agreement:.1%} of pixels agree")
    assert agreement > 0.90
