"""A `fit` for strategies that Keras' own cannot drive: `MultiWorkerMirroredStrategy`.

Keras 3's `fit` fails under `MultiWorkerMirroredStrategy` before the first
step: it eagerly reduces a distributed batch to build the model, which that
strategy's collectives cannot do (keras-team/keras#20585). The training step
itself works, so `fit_with_custom_loop` drives the model's own `train_step`
(its compiled loss, metrics and optimizer; a model's `compute_loss` override
included) with `strategy.run`, and calls the same Keras callbacks `fit`
calls, in the same order. Losses scale themselves by the number of replicas
and the optimizer sums the gradients across them, so a step's gradient is the
mean over the global batch, as under `fit`.

Data: the dataset yields *global* batches. Every worker builds the same
(seeded) pipeline and `tf.distribute` gives each replica its slice of each
global batch (`AutoShardPolicy.DATA`), the split `MirroredStrategy` makes
across local devices.
"""

import keras
import tensorflow as tf


def needs_custom_loop(strategy):
    """Whether Keras `fit` cannot train under `strategy` (it spans several workers).

    Args:
        strategy: a `tf.distribute.Strategy`.

    Returns:
        bool.

    Example:
    >>> needs_custom_loop(tf.distribute.get_strategy())
    False
    """
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def fit_with_custom_loop(model, dataset, *, epochs, steps_per_epoch, initial_epoch=0, callbacks=(), verbose="auto"):
    """Trains a compiled model like `model.fit`, one `strategy.run` per step.

    The model must have been built and compiled under its strategy's scope.
    Steps run without XLA.

    Args:
        model: a compiled `keras.Model`.
        dataset: `tf.data.Dataset` of global batches, `(x, y)` or `x`,
            holding at least `(epochs - initial_epoch) * steps_per_epoch`
            batches.
        epochs: int, the index of the last epoch plus one (as in `fit`).
        steps_per_epoch: int, batches per epoch.
        initial_epoch: int, the first epoch to run (to resume a run).
        callbacks: Keras callbacks, called as `fit` calls them.
        verbose: `"auto"`, 0, 1 or 2: Keras progress bars, as in `fit`.

    Returns:
        A `keras.callbacks.History`.

    Example:
    >>> with strategy.scope():  # doctest: +SKIP
    ...     model = build_and_compile()
    >>> history = fit_with_custom_loop(model, batches, epochs=3, steps_per_epoch=50)  # doctest: +SKIP
    """
    if int(steps_per_epoch) < 1:
        raise ValueError(f"steps_per_epoch must be a positive int, got {steps_per_epoch!r}")
    if not 0 <= int(initial_epoch) <= int(epochs):
        raise ValueError(f"need 0 <= initial_epoch <= epochs, got initial_epoch={initial_epoch!r}, epochs={epochs!r}")
    if getattr(model, "optimizer", None) is None:
        raise ValueError(f"model {model.name!r} must be compiled before training")
    strategy = model.distribute_strategy
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    batches = iter(strategy.experimental_distribute_dataset(dataset.with_options(options)))

    @tf.function
    def train_step(iterator):
        strategy.run(model.train_step, args=(next(iterator),))

    history = keras.callbacks.History()
    callback_list = keras.callbacks.CallbackList(
        [*callbacks, history],
        add_progbar=verbose != 0,
        verbose=verbose,
        epochs=epochs,
        steps=steps_per_epoch,
        model=model,
    )
    model.stop_training = False
    callback_list.on_train_begin()
    logs = {}
    for epoch in range(int(initial_epoch), int(epochs)):
        model.reset_metrics()
        callback_list.on_epoch_begin(epoch)
        for step in range(int(steps_per_epoch)):
            callback_list.on_train_batch_begin(step)
            train_step(batches)
            logs = _metric_results(model)
            callback_list.on_train_batch_end(step, logs)
            if model.stop_training:
                break
        logs = _metric_results(model)
        callback_list.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callback_list.on_train_end(logs)
    return history


def _metric_results(model):
    """The model's metrics over the replicas of every worker, as floats (a collective: every worker calls it)."""
    return {name: float(value) for name, value in model.get_metrics_result().items()}
