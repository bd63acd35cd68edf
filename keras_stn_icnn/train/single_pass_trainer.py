"""Trains a single-pass zoo parser (one-stage iCNN, RNN-G, BASS, RED-Net) resumably.

The single-pass parsers train in one stage: images at the working size in,
label maps as targets, the model's own loss (`SinglePassParsingMixin`). The
trainer gives them what `StageTrainer` gives STN-iCNN's stages: the same
seeded, augmented, resumable epochs (`data.pipeline`), a fresh model's logits
started at the class priors, Adam with a warm-up and cosine decay over the
run's steps or its time budget (the papers' halving schedule and zero start on request),
`MirroredStrategy` over the local devices by default with BatchNorm over the
global batch, per-epoch checkpoints and backups, a CSV of the loss and overall
F1, TensorBoard logs and progress bars. Its folder holds what a stage folder
holds; `final.weights.h5` marks the run done.
"""

import dataclasses
import functools
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_stn_icnn.checks import check_choice, check_int
from keras_stn_icnn.choices import LEARNING_RATE_SCHEDULES
from keras_stn_icnn.data.augment import PAPER_AUGMENTATION
from keras_stn_icnn.data.pipeline import single_pass_training_pipeline
from keras_stn_icnn.labels import get_schema
from keras_stn_icnn.models.single_pass import first_label_maps, working_size_labels
from keras_stn_icnn.models.zoo import build_zoo_model, zoo_entry, zoo_names
from keras_stn_icnn.optimizers import ADAM_EPSILON, Adam
from keras_stn_icnn.train.callbacks import BatchNormStatistics, BudgetedLearningRate
from keras_stn_icnn.train.fitting import ResumableFit, default_jit_compile
from keras_stn_icnn.train.optimizers import halving_schedule, warmup_cosine_schedule
from keras_stn_icnn.train.strategy import check_global_batch_size, distribution_strategy

MAX_EPOCHS = 60
"""The most epochs `train_single_pass` trains when given a time budget and no epochs: with the papers'
halving every 5 epochs the rate is then 1/4096 of its start (each epoch's views are a dataset of their
own to build). Under the default warm-up and cosine the rate decays over them or over the budget, whichever
ends first (`callbacks.BudgetedLearningRate`)."""


@dataclasses.dataclass(frozen=True)
class SinglePassSchedule:
    """How long and how fast a single-pass parser trains.

    Args:
        epochs: int, passes over the (augmented) training set.
        batch_size: int, the global batch size.
        learning_rate: float, Adam's peak rate (the initial one under `"halving"`).
        halve_every_epochs: int, with the `"halving"` schedule the rate
            halves every so many epochs.
        copies: int, augmented copies of each face per epoch (1 with
            `augmentation=None`).
        augmentation: `AugmentationConfig` or None.
        time_budget_seconds: float or None, stop once this much training
            time is spent (the epoch in progress ends there).
        rate_schedule: str, one of `LEARNING_RATE_SCHEDULES`:
            `"warmup_cosine"` (default; `optimizers.warmup_cosine_schedule`
            over `epochs` epochs, or with a time budget over whichever of
            the epochs and the budget ends first,
            `callbacks.BudgetedLearningRate`) or the papers' `"halving"`.
        class_priors: bool, start a fresh model's logits at the class
            frequencies of its first training batches (default; see
            `SinglePassParsingMixin.set_class_priors`), or at zero as the
            papers do.
        precise_batch_norm: bool, once training ends recompute the BatchNorm
            statistics from the final weights (`callbacks.BatchNormStatistics`,
            default), or keep Keras's moving averages.

    Example:
    >>> SinglePassSchedule(epochs=10, batch_size=8, learning_rate=1e-3).rate_schedule
    'warmup_cosine'
    """

    epochs: int
    batch_size: int
    learning_rate: float
    halve_every_epochs: int = 5
    copies: int = 2
    augmentation: object = PAPER_AUGMENTATION
    time_budget_seconds: float = None
    rate_schedule: str = "warmup_cosine"
    class_priors: bool = True
    precise_batch_norm: bool = True

    def __post_init__(self):
        for name in ("epochs", "batch_size", "halve_every_epochs", "copies"):
            check_int(getattr(self, name), name)
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate!r}")
        if self.time_budget_seconds is not None and not self.time_budget_seconds > 0:
            raise ValueError(f"time_budget_seconds must be positive or None, got {self.time_budget_seconds!r}")
        check_choice(self.rate_schedule, LEARNING_RATE_SCHEDULES, "rate_schedule")

    def learning_rate_schedule(self, steps_per_epoch):
        """The learning-rate schedule for `steps_per_epoch` steps an epoch.

        Args:
            steps_per_epoch: int.

        Returns:
            A `keras.optimizers.schedules.LearningRateSchedule`.

        Example:
        >>> schedule = SinglePassSchedule(epochs=10, batch_size=8, learning_rate=1e-3).learning_rate_schedule(10)
        >>> [round(float(schedule(step)), 5) for step in (0, 10, 100)]
        [0.0001, 0.001, 0.0]
        """
        if self.rate_schedule == "halving":
            return halving_schedule(self.learning_rate, steps_per_epoch, self.halve_every_epochs)
        return warmup_cosine_schedule(self.learning_rate, steps_per_epoch * self.epochs)


class SinglePassTrainer:
    """Trains a single-pass parser from a `SinglePassSchedule`, resumably, under a distribution strategy.

    Args:
        run_dir: str or path-like, the run's folder (`backup/`,
            `checkpoints/`, `metrics.csv`, `logs/`, `final.weights.h5`).
        build_model: callable with no arguments returning the parser (a
            `SinglePassParsingMixin` model); called inside the strategy's scope.
        schedule: a `SinglePassSchedule`.
        seed: int, seeds the weights' initialisation and the data.
        strategy: a `tf.distribute.Strategy`, or None for
            `train.strategy.distribution_strategy()`.
        verbose: Keras `fit` verbosity (`"auto"`: progress bars).
        jit_compile: bool or `"auto"`, XLA for the training steps; None
            (the default): `fitting.default_jit_compile`.

    Attributes:
        model: the parser being trained.
        history: dict, Keras's history of the last `train`.
        training_seconds: float, the wall time `train` spent fitting.

    Example:
    >>> trainer = SinglePassTrainer("runs/rnn_g", functools.partial(RNNG, input_size=128),
    ...                        SinglePassSchedule(epochs=10, batch_size=8, learning_rate=1e-3))  # doctest: +SKIP
    >>> model = trainer.train(HelenReader(root).dataset("train"))  # doctest: +SKIP
    """

    def __init__(self, run_dir, build_model, schedule, *, seed=0, strategy=None, verbose="auto", jit_compile=None):
        self.run_dir = Path(run_dir)
        self.schedule = schedule
        self.seed = int(seed)
        self.strategy = strategy or distribution_strategy()
        self.verbose = verbose
        self.jit_compile = default_jit_compile(jit_compile)
        check_global_batch_size(schedule.batch_size, self.strategy)
        keras.utils.set_random_seed(self.seed)
        with self.strategy.scope():
            self.model = build_model()
        self.fit = ResumableFit(self.run_dir, self.model, self.strategy)
        self.history = {}
        self.training_seconds = 0.0

    @property
    def is_done(self):
        """Whether the run finished (its final weights exist)."""
        return self.fit.is_done

    def train(self, dataset):
        """Trains on `dataset`, or loads the final weights of a finished run.

        Args:
            dataset: `tf.data.Dataset` of `{"image", "label"}` in the model's
                class ids, not augmented (the trainer augments it).

        Returns:
            The trained model (`self.model`).
        """
        if self.fit.is_done:
            self.fit.load_final()
            return self.model
        schedule = self.schedule
        batches = single_pass_training_pipeline(
            dataset,
            batch_size=schedule.batch_size,
            input_size=self.model.input_size,
            augmentation=schedule.augmentation,
            copies=schedule.copies,
            seed=self.seed,
            epochs=schedule.epochs,
            first_epoch=min(self.fit.completed_epochs, schedule.epochs - 1),
        )
        if schedule.class_priors and not self.fit.completed_epochs:
            self.model.set_class_priors(first_label_maps(batches.dataset))
        learning_rate = schedule.learning_rate_schedule(batches.steps_per_epoch)
        callbacks = []
        if schedule.time_budget_seconds and schedule.rate_schedule == "warmup_cosine":
            # Anneal by the budget too: a slower machine than the epochs were sized for still ends at rate 0.
            total_steps = batches.steps_per_epoch * schedule.epochs
            callbacks.append(BudgetedLearningRate(learning_rate, total_steps, schedule.time_budget_seconds))
            learning_rate = float(learning_rate(0))
        if schedule.precise_batch_norm:
            callbacks.append(BatchNormStatistics(batches.dataset))
        with self.strategy.scope():
            self.model.compile(
                optimizer=Adam(learning_rate, epsilon=ADAM_EPSILON),
                jit_compile=self.jit_compile,
            )
        start = time.perf_counter()
        self.history = self.fit.run(
            self.model,
            batches.dataset,
            epochs=schedule.epochs,
            steps_per_epoch=batches.steps_per_epoch,
            batch_size=schedule.batch_size,
            time_budget_seconds=schedule.time_budget_seconds,
            verbose=self.verbose,
            fit_arguments={"class_priors": False},  # set above, from the pipeline's own batches, or left at zero
            callbacks=callbacks,
        )
        self.training_seconds = time.perf_counter() - start
        return self.model


def held_out_label_maps(dataset, size):
    """The label maps of a set of faces, each resized (nearest) to `size x size` and stacked.

    Args:
        dataset: `tf.data.Dataset` of `{"image", "label"}`, faces of any sizes.
        size: int, the side of the maps returned.

    Returns:
        uint8 array `[M, size, size]`.

    Example:
    >>> held_out_label_maps(HelenReader(root).dataset("val"), 256).shape  # doctest: +SKIP
    (20, 256, 256)
    """
    maps = [working_size_labels(example["label"][tf.newaxis], size)[0] for example in dataset]
    if not maps:
        raise ValueError("the held-out dataset for the exemplar prior has no faces")
    return np.stack([np.asarray(label_map, np.uint8) for label_map in maps])


def build_single_pass(name, input_size, prior_label_maps=None, class_names=None, arguments=None):
    """Builds a single-pass zoo parser and fills its exemplar prior, if it has one.

    Args:
        name: str, a single-pass model of `models.zoo.ZOO`.
        input_size: int, the working size.
        prior_label_maps: uint8 array `[M, input_size, input_size]` of
            held-out label maps (`held_out_label_maps`) for a model with an
            exemplar prior (RED-Net's `fit_prior`), or None.
        class_names: the classes it labels, or None for those of its zoo
            entry's `label_schema` (STN-iCNN's for most).
        arguments: dict or None, constructor arguments that replace the zoo
            entry's (a probe of one setting: `{"kernel_initializer":
            "he_normal"}`); not `input_size` or `class_names`, which are the
            arguments above.

    Returns:
        The model.

    Example:
    >>> build_single_pass("icnn", 32).input_size
    32
    >>> build_single_pass("rnn_g", 32, arguments={"rnn_channels": 16}).rnn_channels
    16
    """
    if zoo_entry(name).training != "single_pass":
        raise ValueError(f"{name!r} is not a single-pass zoo model; those are {zoo_names('single_pass')}")
    if not isinstance(arguments, (dict, type(None))):
        raise ValueError(f"arguments must be a dict or None, got {arguments!r}")
    own = sorted({"input_size", "class_names"} & set(arguments or {}))
    if own:
        raise ValueError(f"arguments must not set {own}: they are build_single_pass's own arguments")
    if class_names is None:
        class_names = get_schema(zoo_entry(name).label_schema).class_names
    model = build_zoo_model(name, **(arguments or {}), class_names=class_names, input_size=input_size)
    if prior_label_maps is not None and hasattr(model, "fit_prior"):
        model.fit_prior(prior_label_maps)
    return model


def train_single_pass(
    name,
    train_dataset,
    run_dir,
    seconds=None,
    *,
    input_size=256,
    batch_size=8,
    learning_rate=None,
    epochs=MAX_EPOCHS,
    augmentation=PAPER_AUGMENTATION,
    copies=2,
    prior_label_maps=None,
    arguments=None,
    seed=0,
    verbose="auto",
):
    """Trains one single-pass zoo parser on STN-iCNN's classes for `epochs`, or for `seconds` if sooner.

    Args:
        name: str, a single-pass model of `models.zoo.ZOO`.
        train_dataset: `tf.data.Dataset` of `{"image", "label"}` (STN-iCNN ids).
        run_dir: path-like, the run's folder.
        seconds: float or None, the training budget.
        input_size: int, the working size.
        batch_size: int.
        learning_rate: float, Adam's peak rate, or None for the model's
            `default_learning_rate`.
        epochs: int, the most epochs it trains (the warm-up and cosine span
            them all).
        augmentation: `AugmentationConfig` or None.
        copies: int, augmented copies of each face per epoch (1 with
            `augmentation=None`).
        prior_label_maps: uint8 array `[M, input_size, input_size]` of held-out
            label maps (`held_out_label_maps`) that fill the exemplar prior of a
            model that has one (RED-Net) before it trains, or None to train
            it without a prior. Ignored by models without one.
        arguments: dict or None, constructor arguments that replace the
            entry's (`build_single_pass`).
        seed: int.
        verbose: Keras `fit` verbosity.

    Returns:
        `(model, training seconds)`.
    """
    trainer = SinglePassTrainer(
        run_dir,
        functools.partial(build_single_pass, name, input_size, prior_label_maps, arguments=arguments),
        SinglePassSchedule(
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate or zoo_entry(name).model_class.default_learning_rate,
            copies=copies if augmentation is not None else 1,
            augmentation=augmentation,
            time_budget_seconds=seconds,
        ),
        seed=seed,
        verbose=verbose,
    )
    model = trainer.train(train_dataset)
    return model, trainer.training_seconds
