"""Checks every single-pass zoo parser must pass (issue 7, point 5), shared by its tests.

Each check takes a small instance of the model; the model's own test module
calls them, so a new zoo entry gets the same checks by calling them too.
"""

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_stn_icnn.export import LiteRTRunner, export_model
from keras_stn_icnn.export.litert import export_litert


def count_calls(layer):
    """Wraps `layer.call` to record its calls; returns the list they are appended to (one item a call or trace)."""
    calls = []
    call = layer.call
    layer.call = lambda *args, **kwargs: calls.append(1) or call(*args, **kwargs)
    return calls


def check_own_step_matches_keras_step(build_model, images, labels, counted_layer, seed):
    """A parser's own `train_step` (`TrainingLossStep`) against Keras' on the same batch, from the same weights.

    Builds three copies from `seed` (Keras' step, the own step, the start), takes one SGD step each way, and checks
    the loss and every weight agree and that the step moved the weights.

    Returns:
        `(keras_logs, own_logs, keras_calls, own_calls, start)`: each step's logs, the calls (traces) of
        `counted_layer` in each step, and the untouched copy.
    """
    models = []
    for _ in range(3):
        keras.utils.set_random_seed(seed)
        model = build_model()
        model.compile(optimizer=keras.optimizers.SGD(0.1))
        models.append(model)
    keras_step, own_step, start = models
    keras_calls, own_calls = (count_calls(model.get_layer(counted_layer)) for model in (keras_step, own_step))
    keras_logs = tf.function(lambda: keras.Model.train_step(keras_step, (images, labels)))()
    own_logs = tf.function(lambda: own_step.train_step((images, labels)))()
    assert float(own_logs["loss"]) == pytest.approx(float(keras_logs["loss"]), rel=1e-6)
    for expected, actual in zip(keras_step.trainable_weights, own_step.trainable_weights):
        np.testing.assert_allclose(actual.numpy(), expected.numpy(), atol=1e-6, err_msg=actual.path)
    assert max(np.max(np.abs(a.numpy() - b.numpy())) for a, b in zip(own_step.weights, start.weights)) > 1e-3
    return keras_logs, own_logs, keras_calls, own_calls, start


def random_faces(model, batch=2, size=None, seed=0):
    """Random uint8 images and label maps of random 4x4-pixel blocks at the model's working size (or `size`).

    Blocks rather than pixels, so that the maps have regions as well as boundaries (with a random
    label per pixel every pixel is a boundary pixel, and BASS's balanced boundary loss has nothing
    to balance against).
    """
    rng = np.random.default_rng(seed)
    side = size or model.input_size
    images = rng.integers(0, 256, (batch, side, side, 3)).astype(np.uint8)
    blocks = rng.integers(0, model.num_classes, (batch, -(-side // 4), -(-side // 4)))
    labels = blocks.repeat(4, axis=1).repeat(4, axis=2)[:, :side, :side].astype(np.uint8)
    return images, labels


def check_outputs_follow_the_image(model, height=70, width=50):
    """Probabilities and labels come back at the image's own size; logits at the working size."""
    outputs = model(np.zeros((2, height, width, 3), np.float32))
    classes = model.num_classes
    assert tuple(outputs["logits"].shape) == (2, model.input_size, model.input_size, classes)
    assert tuple(outputs["probabilities"].shape) == (2, height, width, classes)
    assert tuple(outputs["labels"].shape) == (2, height, width)
    np.testing.assert_allclose(np.sum(outputs["probabilities"], -1), 1.0, atol=1e-5)
    assert model.parse(np.zeros((height, width, 3), np.uint8)).shape == (height, width)


def check_a_training_step_changes_every_trainable_weight(model, learning_rate=1e-2):
    """One `fit` step on random uint8 faces, as photos are decoded, gives a finite loss and moves every weight."""
    images, labels = random_faces(model)
    before = [np.array(w) for w in model.trainable_weights]
    model.compile(optimizer=keras.optimizers.SGD(learning_rate))
    history = model.fit(images, labels, batch_size=2, epochs=1, verbose=0)
    loss = history.history["loss"][0]
    assert np.isfinite(loss) and loss > 0, loss
    unchanged = [w.path for w, old in zip(model.trainable_weights, before) if np.array_equal(np.array(w), old)]
    assert not unchanged, f"weights without a gradient: {unchanged}"
    return loss


def check_keras_file_round_trip(model, path):
    """Saved as `.keras` and loaded back: same class, same config, identical outputs."""
    images, _ = random_faces(model, batch=1, size=model.input_size + 6)
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model)
    assert loaded.get_config() == model.get_config()
    for key in ("logits", "probabilities", "labels"):
        np.testing.assert_array_equal(
            np.array(loaded(images.astype(np.float32))[key]),
            np.array(model(images.astype(np.float32))[key]),
            err_msg=key,
        )
    return loaded


def check_exports(model, out_dir, name):
    """SavedModel (the exporter's own parity check) and float32 LiteRT exports agree with the model.

    Only the float32 LiteRT file is compared: the quantised ones of an untrained model flip its
    near-tied labels, so their agreement depends on the initialisation, not on the export.
    """
    images, _ = random_faces(model, batch=1, size=model.input_size + 6)
    (saved_model,) = export_model(model, out_dir, ["saved_model"], name=name, images=[images])
    assert saved_model.parity.passed
    path = export_litert(model, Path(out_dir) / f"{name}.tflite")
    expected = model(images.astype(np.float32))
    actual = LiteRTRunner(path)(images)
    np.testing.assert_allclose(actual["probabilities"], expected["probabilities"], atol=1e-4)
    assert np.mean(actual["labels"] == np.array(expected["labels"])) >= 0.999
    return saved_model, path


TINY_RED_NET = dict(encoder_filters=(16, 16), blocks_per_unit=1, num_exemplars=2, bank_size=8, pca_components=3)
"""RED-Net's sizes in its small instances, on the whole photo and on a face box."""

TINY_ZOO_ARGUMENTS = {
    "icnn": dict(input_size=32, filters=(4, 4, 4, 4)),
    "rnn_g": dict(input_size=16),
    "rnn_g_context": dict(input_size=32, filters=(4, 8, 8), rnn_channels=4, context_filters=(4, 4, 4)),
    "rnn_g_face_box": dict(input_size=32, face_size=16, finder_size=16),
    "rnn_g_two_stage": dict(input_size=16, component_filters=(4, 8)),
    "rnn_g_two_stage_context": dict(
        input_size=32,
        component_filters=(4, 8),
        first_stage_arguments=dict(filters=(4, 8, 8), rnn_channels=4, rnn_stride=4, context_filters=(4, 4, 4)),
    ),
    "rnn_g_two_stage_face_box": dict(input_size=32, component_filters=(4, 8)),
    "bass": dict(input_size=32, depths=(1, 1, 1, 1), base_filters=4),
    "bass_cpu": dict(input_size=32, depths=(1, 1, 1, 1), base_filters=4),
    "red_net": dict(input_size=32, **TINY_RED_NET),
    "red_net_cpu": dict(input_size=32, **TINY_RED_NET),
    "red_net_face_box": dict(input_size=32, face_size=16, finder_size=16, **TINY_RED_NET),
    "red_net_cpu_face_box": dict(input_size=32, face_size=16, finder_size=16, **TINY_RED_NET),
}
"""Small instances of every single-pass zoo model (`models.zoo.zoo_names("single_pass")`), for tests that build
them all. A CPU variant differs from its class's entry only in the sizes these override, so both get the same."""
