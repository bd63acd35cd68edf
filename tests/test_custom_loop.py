"""The custom training loop (for MultiWorkerMirroredStrategy) against Keras fit, on one process."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_stn_icnn.train.custom_loop import fit_with_custom_loop, needs_custom_loop

STEPS, EPOCHS = 3, 4


def compiled_model():
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(2),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse", metrics=["mae"], jit_compile=False)
    return model


def batches():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(STEPS * EPOCHS * 4, 5)).astype(np.float32)
    y = np.stack([x.sum(axis=1), x[:, 0] * x[:, 1]], axis=1).astype(np.float32)
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(4)


class Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def on_train_begin(self, logs=None):
        self.calls.append("train_begin")

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(f"epoch_begin {epoch}")

    def on_train_batch_end(self, batch, logs=None):
        self.calls.append(f"batch_end {batch}")

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(f"epoch_end {epoch} {sorted(logs)}")

    def on_train_end(self, logs=None):
        self.calls.append("train_end")


def test_the_loop_trains_like_keras_fit_and_calls_the_same_callbacks():
    by_fit, by_loop = compiled_model(), compiled_model()
    fit_recorder, loop_recorder = Recorder(), Recorder()
    fit_history = by_fit.fit(
        batches(), epochs=EPOCHS, steps_per_epoch=STEPS, shuffle=False, verbose=0, callbacks=[fit_recorder]
    )
    loop_history = fit_with_custom_loop(
        by_loop, batches(), epochs=EPOCHS, steps_per_epoch=STEPS, verbose=0, callbacks=[loop_recorder]
    )
    assert loop_recorder.calls == fit_recorder.calls
    assert loop_history.history.keys() == fit_history.history.keys() == {"loss", "mae"}
    for name in fit_history.history:
        np.testing.assert_allclose(loop_history.history[name], fit_history.history[name], rtol=1e-5)
    # The loss fell, so the comparison above compares training, not two untouched models.
    assert fit_history.history["loss"][-1] < 0.85 * fit_history.history["loss"][0]
    for a, b in zip(by_loop.weights, by_fit.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6, err_msg=a.path)
    assert int(by_loop.optimizer.iterations) == STEPS * EPOCHS


def test_a_resumed_loop_runs_only_the_remaining_epochs():
    model, recorder = compiled_model(), Recorder()
    history = fit_with_custom_loop(
        model, batches(), epochs=EPOCHS, steps_per_epoch=STEPS, initial_epoch=3, verbose=0, callbacks=[recorder]
    )
    assert len(history.history["loss"]) == 1
    assert [c for c in recorder.calls if c.startswith("epoch_begin")] == ["epoch_begin 3"]
    assert int(model.optimizer.iterations) == STEPS


def test_the_loop_stops_when_a_callback_asks():
    model = compiled_model()
    history = fit_with_custom_loop(
        model,
        batches(),
        epochs=EPOCHS,
        steps_per_epoch=STEPS,
        verbose=0,
        callbacks=[
            keras.callbacks.TerminateOnNaN(),
            keras.callbacks.LambdaCallback(
                on_epoch_end=lambda epoch, logs: setattr(model, "stop_training", epoch == 1)
            ),
        ],
    )
    assert len(history.history["loss"]) == 2


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"steps_per_epoch": 0}, "steps_per_epoch must be a positive int, got 0"),
        ({"initial_epoch": 5}, "need 0 <= initial_epoch <= epochs, got initial_epoch=5, epochs=4"),
    ],
)
def test_bad_arguments_are_refused_by_name(arguments, message):
    settings = {"epochs": EPOCHS, "steps_per_epoch": STEPS, **arguments}
    with pytest.raises(ValueError, match=message):
        fit_with_custom_loop(compiled_model(), batches(), **settings)


def test_an_uncompiled_model_is_refused():
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(2)], name="plain")
    with pytest.raises(ValueError, match="model 'plain' must be compiled before training"):
        fit_with_custom_loop(model, batches(), epochs=1, steps_per_epoch=1)


def test_only_multi_worker_strategies_need_the_loop():
    assert not needs_custom_loop(tf.distribute.get_strategy())
    assert not needs_custom_loop(tf.distribute.MirroredStrategy(["/cpu:0"]))


class TwoReplicas:
    num_replicas_in_sync = 2


def test_global_batch_norm_synchronises_every_nested_batch_norm_only_inside_the_block_and_only_for_replicas():
    from keras_stn_icnn import STNiCNN
    from keras_stn_icnn.train.strategy import global_batch_norm

    parser = STNiCNN(canvas_size=256)
    norms = [layer for layer in parser._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(norms) > 100  # inside the interlink blocks of every iCNN and the localizer too
    with global_batch_norm(parser, tf.distribute.get_strategy()):
        assert not any(layer.synchronized for layer in norms)
    with global_batch_norm(parser, TwoReplicas()):
        assert all(layer.synchronized for layer in norms)
    assert not any(layer.synchronized for layer in norms)
    assert all(
        config["config"].get("synchronized") is not True
        for config in _batch_norm_configs(parser.get_layer("stage1").get_config())
    )


def _batch_norm_configs(config):
    """Every serialised BatchNormalization in a nested config."""
    if isinstance(config, dict):
        if config.get("class_name") == "BatchNormalization":
            yield config
        for value in config.values():
            yield from _batch_norm_configs(value)
    elif isinstance(config, list):
        for value in config:
            yield from _batch_norm_configs(value)
