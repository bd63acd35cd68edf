"""Trains a single-pass zoo parser (one-stage iCNN, RNN-G, BASS, RED-Net) resumably.

The single-pass parsers train in one stage: images at the working size in,
label maps as targets, the model's own loss (`DenseParsingMixin`). The
trainer gives them what `StageTrainer` gives STN-iCNN's stages: the same
seeded, augmented, resumable epochs (`data.pipeline`), Adam with the paper's
halving schedule, `MirroredStrategy` over the local devices by default with
BatchNorm over the global batch, per-epoch checkpoints and backups, a CSV of
metrics, TensorBoard logs and progress bars. Its folder holds what a stage
folder holds; `final.weights.h5` marks the run done.
"""

import dataclasses
import functools
import time
from pathlib import Path

import keras

from keras_stn_icnn.data.augment import PAPER_AUGMENTATION
from keras_stn_icnn.data.pipeline import dense_training_pipeline
from keras_stn_icnn.train.callbacks import (
    TimeBudget,
    atomic_save_weights,
    backed_up_epochs,
    backup_dir,
    stage_callbacks,
)
from keras_stn_icnn.train.custom_loop import fit_with_custom_loop, needs_custom_loop
from keras_stn_icnn.train.optimizers import ADAM_EPSILON, halving_schedule
from keras_stn_icnn.train.strategy import (
    check_global_batch_size,
    distribution_strategy,
    global_batch_norm,
    is_chief,
    worker_id,
)
from keras_stn_icnn.train.trainer import FINAL_WEIGHTS


@dataclasses.dataclass(frozen=True)
class DenseSchedule:
    """How long and how fast a single-pass parser trains.

    Args:
        epochs: int, passes over the (augmented) training set.
        batch_size: int, the global batch size.
        learning_rate: float, Adam's initial rate.
        halve_every_epochs: int, the rate halves every so many epochs.
        copies: int, augmented copies of each face per epoch (1 with
            `augmentation=None`).
        augmentation: `AugmentationConfig` or None.
        time_budget_seconds: float or None, stop once this much training
            time is spent (the epoch in progress ends there).

    Example:
    >>> DenseSchedule(epochs=10, batch_size=8, learning_rate=1e-3).halve_every_epochs
    5
    """

    epochs: int
    batch_size: int
    learning_rate: float
    halve_every_epochs: int = 5
    copies: int = 2
    augmentation: object = PAPER_AUGMENTATION
    time_budget_seconds: float = None

    def __post_init__(self):
        for name in ("epochs", "batch_size", "halve_every_epochs", "copies"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate!r}")
        if self.time_budget_seconds is not None and not self.time_budget_seconds > 0:
            raise ValueError(f"time_budget_seconds must be positive or None, got {self.time_budget_seconds!r}")


class DenseTrainer:
    """Trains a single-pass parser from a `DenseSchedule`, resumably, under a distribution strategy.

    Args:
        run_dir: str or path-like, the run's folder (`backup/`,
            `checkpoints/`, `metrics.csv`, `logs/`, `final.weights.h5`).
        build_model: callable with no arguments returning the parser (a
            `DenseParsingMixin` model); called inside the strategy's scope.
        schedule: a `DenseSchedule`.
        seed: int, seeds the weights' initialisation and the data.
        strategy: a `tf.distribute.Strategy`, or None for
            `train.strategy.distribution_strategy()`.
        verbose: Keras `fit` verbosity (`"auto"`: progress bars).

    Attributes:
        model: the parser being trained.
        history: dict, Keras's history of the last `train`.
        training_seconds: float, the wall time `train` spent fitting.

    Example:
    >>> trainer = DenseTrainer("runs/rnn_g", functools.partial(RNNG, input_size=128),
    ...                        DenseSchedule(epochs=10, batch_size=8, learning_rate=1e-3))  # doctest: +SKIP
    >>> model = trainer.train(HelenReader(root).dataset("train"))  # doctest: +SKIP
    """

    def __init__(self, run_dir, build_model, schedule, *, seed=0, strategy=None, verbose="auto"):
        self.run_dir = Path(run_dir)
        self.schedule = schedule
        self.seed = int(seed)
        self.strategy = strategy or distribution_strategy()
        self.verbose = verbose
        check_global_batch_size(schedule.batch_size, self.strategy)
        keras.utils.set_random_seed(self.seed)
        with self.strategy.scope():
            self.model = build_model()
        self.history = {}
        self.training_seconds = 0.0

    @property
    def is_done(self):
        return (self.run_dir / FINAL_WEIGHTS).is_file()

    def train(self, dataset):
        """Trains on `dataset`, or loads the final weights of a finished run.

        Args:
            dataset: `tf.data.Dataset` of `{"image", "label"}` in the model's
                class ids, not augmented (the trainer augments it).

        Returns:
            The trained model (`self.model`).
        """
        if self.is_done:
            self.model.load_weights(str(self.run_dir / FINAL_WEIGHTS))
            print(f"[{self.run_dir.name}] already done; loaded {self.run_dir / FINAL_WEIGHTS}")
            return self.model
        schedule = self.schedule
        worker = worker_id(self.strategy)
        done_epochs = backed_up_epochs(backup_dir(self.run_dir, worker))
        batches = dense_training_pipeline(
            dataset,
            batch_size=schedule.batch_size,
            input_size=self.model.input_size,
            augmentation=schedule.augmentation,
            copies=schedule.copies,
            seed=self.seed,
            epochs=schedule.epochs,
            first_epoch=min(done_epochs, schedule.epochs - 1),
        )
        if done_epochs:
            print(f"[{self.run_dir.name}] resuming after epoch {done_epochs} of {schedule.epochs}")
        with self.strategy.scope():
            self.model.compile(
                optimizer=keras.optimizers.Adam(
                    halving_schedule(schedule.learning_rate, batches.steps_per_epoch, schedule.halve_every_epochs),
                    epsilon=ADAM_EPSILON,
                )
            )
        chief = is_chief(self.strategy)
        budget = TimeBudget(schedule.time_budget_seconds) if schedule.time_budget_seconds else None
        callbacks = stage_callbacks(self.run_dir, self.model, batch_size=schedule.batch_size, chief=chief, worker=worker)
        callbacks += [budget] if budget else []
        if needs_custom_loop(self.strategy):
            fit = functools.partial(fit_with_custom_loop, self.model, initial_epoch=min(done_epochs, schedule.epochs))
        else:
            fit = functools.partial(self.model.fit, shuffle=False)  # the pipeline shuffles, seeded per epoch
        start = time.perf_counter()
        with global_batch_norm(self.model, self.strategy):
            history = fit(
                batches.dataset,
                epochs=schedule.epochs,
                steps_per_epoch=batches.steps_per_epoch,
                callbacks=callbacks,
                verbose=self.verbose,
            )
        self.history = history.history
        self.training_seconds = time.perf_counter() - start
        if chief:
            atomic_save_weights(self.model, self.run_dir / FINAL_WEIGHTS)
        return self.model
