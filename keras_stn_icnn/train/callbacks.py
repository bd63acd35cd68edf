"""Callbacks that keep a run's work: backups to resume from, per-epoch checkpoints, logs.

- `keras.callbacks.BackupAndRestore` saves the model and optimizer state at
  the end of every epoch (keeping the previous state too, in case a kill
  lands during a write); a restarted run resumes at the epoch after the last
  backed-up one, redoing at most the epoch it was killed in.
- `EpochCheckpoint` writes the parser's weights after every epoch, to a
  temporary file renamed into place, so a checkpoint is whole or absent.
- `Throughput` adds each epoch's training images per second to the logs.
- `TimeBudget` ends training once a wall-clock budget is spent (to compare
  models trained for the same time).
- `BudgetedLearningRate` advances a step schedule by the run's steps or its
  time budget, whichever is further along, so a budgeted run anneals fully.
- `BatchNormStatistics` recomputes BatchNorm's population statistics from
  the final weights once training ends.
- `keras.callbacks.CSVLogger` (appending, so a resumed run continues the
  same file) and `keras.callbacks.TensorBoard`.
"""

import json
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_stn_icnn.checks import check_int
from keras_stn_icnn.files import atomic_write

BACKUP_METADATA = "training_metadata.json"
"""The file in which `keras.callbacks.BackupAndRestore` records the epochs done."""


def atomic_save_weights(model, path):
    """Saves `model`'s weights to `path` (`.weights.h5`) with `atomic_write`.

    Args:
        model: a built Keras model.
        path: str or path-like, ending in `.weights.h5`.

    Example:
    >>> atomic_save_weights(model, "runs/stage1/final.weights.h5")  # doctest: +SKIP
    """
    return atomic_write(path, lambda partial: model.save_weights(str(partial)))


def backed_up_epochs(backup_dir):
    """Epochs completed according to a `BackupAndRestore` folder (0 if none).

    Args:
        backup_dir: str or path-like.

    Returns:
        int.

    Example:
    >>> backed_up_epochs("/nonexistent")
    0
    """
    metadata = Path(backup_dir) / BACKUP_METADATA
    if not metadata.is_file():
        return 0
    return int(json.loads(metadata.read_text())["epoch"])


class EpochCheckpoint(keras.callbacks.Callback):
    """Writes a model's weights after every epoch, atomically, keeping the newest few.

    Args:
        directory: str or path-like; files are `epoch-001.weights.h5`, ...
        model_to_save: the model whose weights are written (e.g. the whole
            parser while a stage model trains).
        keep: int, how many of the newest checkpoints to keep.

    Example:
    >>> stage_model.fit(data, callbacks=[EpochCheckpoint("runs/stage1/checkpoints", parser)])  # doctest: +SKIP
    """

    def __init__(self, directory, model_to_save, keep=3):
        super().__init__()
        self.directory = Path(directory)
        self.model_to_save = model_to_save
        self.keep = int(keep)

    def on_epoch_end(self, epoch, logs=None):
        atomic_save_weights(self.model_to_save, self.directory / f"epoch-{epoch + 1:03d}.weights.h5")
        for old in sorted(self.directory.glob("epoch-*.weights.h5"))[: -self.keep]:
            old.unlink()


class Throughput(keras.callbacks.Callback):
    """Adds `images_per_second` (global batch size x steps / wall time) to every epoch's logs.

    The first epoch of a run includes building the training step, so it
    reads low; later epochs are the steady rate.

    Args:
        batch_size: int, the global batch size.

    Example:
    >>> model.fit(data, callbacks=[Throughput(batch_size=16)])  # doctest: +SKIP
    """

    def __init__(self, batch_size):
        super().__init__()
        self.batch_size = int(batch_size)
        self._start = None
        self._steps = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        self._steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self._steps += 1

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self._start is not None:
            logs["images_per_second"] = self._steps * self.batch_size / (time.perf_counter() - self._start)


class TimeBudget(keras.callbacks.Callback):
    """Stops training after the batch that spends a wall-clock budget.

    The epoch that batch belongs to ends there (its logs, checkpoint and
    backup are written as for any epoch), and `fit` returns.

    Args:
        seconds: float > 0, the training time allowed, counted from the
            start of `fit`.

    Attributes:
        elapsed: float, seconds trained when `fit` returned.
        exhausted: bool, whether the budget stopped training.

    Example:
    >>> model.fit(data, epochs=100, callbacks=[TimeBudget(300)])  # doctest: +SKIP
    """

    def __init__(self, seconds):
        super().__init__()
        if not float(seconds) > 0:
            raise ValueError(f"seconds must be a positive number, got {seconds!r}")
        self.seconds = float(seconds)
        self.elapsed = 0.0
        self.exhausted = False
        self._start = None

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()
        self.exhausted = False

    def on_train_batch_end(self, batch, logs=None):
        self.elapsed = time.perf_counter() - self._start
        if self.elapsed >= self.seconds:
            self.exhausted = True
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        self.elapsed = time.perf_counter() - self._start


class BudgetedLearningRate(keras.callbacks.Callback):
    """Sets the rate before every batch from a step schedule at the steps or the time budget, whichever is further.

    A schedule sized in steps (e.g. `optimizers.warmup_cosine_schedule` over
    a run's epochs) reaches its end only if the run takes all those steps.
    A run that a `TimeBudget` stops first, because the machine ran slower
    than its steps were sized for, ends with the rate still high: on 5
    December RED-Net's CPU variant stopped its cosine a quarter before the
    end. Before every batch this callback evaluates the schedule at
    `max(step, elapsed / seconds * total_steps)`, so the rate reaches the
    schedule's end whichever of the steps and the budget ends the run. The
    optimizer must have a float rate (a variable), not a schedule.

    Args:
        schedule: callable step -> rate, e.g. a
            `keras.optimizers.schedules.LearningRateSchedule`.
        total_steps: int, the steps `schedule` spans.
        seconds: float > 0, the time budget, counted from the start of `fit`.

    Example:
    >>> schedule = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=100)
    >>> callback = BudgetedLearningRate(schedule, total_steps=100, seconds=60)
    >>> round(callback.rate_at(step=10, elapsed=30), 6)  # half the budget spent: half way along
    0.0005
    """

    def __init__(self, schedule, total_steps, seconds):
        super().__init__()
        self.schedule = schedule
        self.total_steps = check_int(total_steps, "total_steps")
        if not float(seconds) > 0:
            raise ValueError(f"seconds must be a positive number, got {seconds!r}")
        self.seconds = float(seconds)
        self._start = None

    def rate_at(self, step, elapsed):
        """The rate after `step` steps and `elapsed` seconds of training.

        Args:
            step: int, optimizer steps taken.
            elapsed: float, seconds trained.

        Returns:
            float.
        """
        position = min(max(float(step), elapsed / self.seconds * self.total_steps), float(self.total_steps))
        return float(self.schedule(position))

    def on_train_begin(self, logs=None):
        try:
            self.model.optimizer.learning_rate = self.rate_at(0, 0.0)
        except TypeError as error:  # Keras: a rate given as a schedule is not settable
            raise ValueError(
                f"BudgetedLearningRate needs an optimizer with a float learning rate, not a schedule: {error}"
            ) from error
        self._start = time.perf_counter()

    def on_train_batch_begin(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        self.model.optimizer.learning_rate = self.rate_at(step, time.perf_counter() - self._start)


class BatchNormStatistics(keras.callbacks.Callback):
    """Recomputes every trainable BatchNorm layer's moving statistics from the final weights when training ends.

    During training, a BatchNorm layer's moving mean and variance are an
    exponential average over the last `1 / (1 - momentum)` batches (100 for
    Keras's default 0.99), taken while the weights before it were still
    changing. In a deep network the small lag of each layer compounds: on
    RED-Net's CPU variant after 15 minutes it cost 0.11 overall F1 on unseen
    faces (0.733 as trained, 0.841 recomputed; `docs/zoo_learning.md`).
    This callback, like "precise BatchNorm" (Wu and Johnson, 2021), runs the
    trained model in training mode over `num_batches` batches, the weights
    fixed, and sets each layer's statistics to their plain average over
    them. Layers that are frozen (`trainable=False`) keep theirs.

    Args:
        batches: `tf.data.Dataset` (or iterable) of the model's training
            batches, `(x, y)` or `x`; the first `num_batches` are used.
        num_batches: int, batches to average over.

    Example:
    >>> model.fit(batches, epochs=10, callbacks=[BatchNormStatistics(batches)])  # doctest: +SKIP
    """

    def __init__(self, batches, num_batches=32):
        super().__init__()
        self.num_batches = check_int(num_batches, "num_batches")
        self.batches = batches

    def on_train_end(self, logs=None):
        recompute_batch_norm_statistics(self.model, self.batches, self.num_batches)


def batch_norm_layers(model):
    """Every `keras.layers.BatchNormalization` in `model`, at any depth (inside sub-models and custom layers).

    Example:
    >>> [layer.name for layer in batch_norm_layers(keras.Sequential([keras.layers.BatchNormalization(name="bn")]))]
    ['bn']
    """
    return [
        layer
        for layer in model._flatten_layers(include_self=False)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]


def recompute_batch_norm_statistics(model, batches, num_batches=32):
    """Sets the moving statistics of `model`'s trainable BatchNorm layers to their average over batches.

    Args:
        model: a Keras model.
        batches: `tf.data.Dataset` or iterable of `(x, y)` or `x`.
        num_batches: int, how many batches to average over.

    Returns:
        int, the batches used (fewer than `num_batches` if `batches` ran out).

    Raises:
        ValueError if `batches` is empty.

    Example:
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.BatchNormalization()])
    >>> recompute_batch_norm_statistics(model, [keras.ops.convert_to_tensor([[1.0, 2.0], [3.0, 6.0]])])
    1
    >>> model.layers[0].moving_mean.numpy().tolist()
    [2.0, 4.0]
    """
    norms = [layer for layer in batch_norm_layers(model) if layer.trainable]
    saved = [(layer.momentum, layer.moving_mean.numpy(), layer.moving_variance.numpy()) for layer in norms]
    # At momentum 0 a call leaves its batch's statistics in the layers, to be summed here. The forward pass is
    # traced once: run eagerly, a deep model's thousands of small ops cost more than the batches' arithmetic.
    forward = tf.function(lambda images: model(images, training=True), reduce_retracing=True)
    sums = [(np.zeros(mean.shape), np.zeros(variance.shape)) for _, mean, variance in saved]
    used = 0
    try:
        for layer in norms:
            layer.momentum = 0.0
        for batch in batches:
            if used == num_batches:
                break
            forward(batch[0] if isinstance(batch, tuple) else batch)
            for (mean, variance), layer in zip(sums, norms):
                mean += layer.moving_mean.numpy()
                variance += layer.moving_variance.numpy()
            used += 1
        if not used:
            raise ValueError("no batches to recompute the BatchNorm statistics from")
    except BaseException:
        for layer, (_, mean, variance) in zip(norms, saved):  # the statistics as they were
            layer.moving_mean.assign(mean)
            layer.moving_variance.assign(variance)
        raise
    finally:
        for layer, (momentum, _, _) in zip(norms, saved):
            layer.momentum = momentum
    for layer, (mean, variance) in zip(norms, sums):
        layer.moving_mean.assign(mean / used)
        layer.moving_variance.assign(variance / used)
    return used


def stage_callbacks(stage_dir, parser, *, batch_size, chief=True, worker="local"):
    """The callbacks every training stage runs with.

    Args:
        stage_dir: str or path-like, the stage's folder in the run.
        parser: the model whose weights the per-epoch checkpoints hold.
        batch_size: int, the global batch size (for `Throughput`).
        chief: bool, whether this process writes the shared files
            (checkpoints, CSV, TensorBoard); every worker keeps its own
            backup.
        worker: str, this process's name in a cluster (its backup folder).

    Returns:
        list of callbacks.
    """
    stage_dir = Path(stage_dir)
    stage_dir.mkdir(parents=True, exist_ok=True)
    callbacks = [
        keras.callbacks.BackupAndRestore(
            str(backup_dir(stage_dir, worker)), save_freq="epoch", double_checkpoint=True, delete_checkpoint=False
        ),
        Throughput(batch_size),
    ]
    if chief:
        callbacks += [
            EpochCheckpoint(stage_dir / "checkpoints", parser),
            keras.callbacks.CSVLogger(str(stage_dir / "metrics.csv"), append=True),
            keras.callbacks.TensorBoard(str(stage_dir / "logs"), write_graph=False, profile_batch=0),
        ]
    return callbacks


def backup_dir(stage_dir, worker="local"):
    """The `BackupAndRestore` folder of one process in a stage folder."""
    return Path(stage_dir) / "backup" / worker
