"""The one resumable fitting path every trainer uses.

A fit lives in one folder: `backup/<worker>/` (Keras `BackupAndRestore`),
`checkpoints/` (the tracked model's weights after every epoch),
`metrics.csv`, TensorBoard `logs/`, and `final.weights.h5` once it is done.
`ResumableFit` reads that folder (is the fit done, how many epochs did a
killed run finish) and runs the fit: Keras `fit` on one machine, or
`custom_loop.fit_with_custom_loop` across machines where Keras `fit` fails,
with BatchNorm over the global batch, an optional time budget, and the final
weights saved through a temporary file and a rename. `StageTrainer` runs one
per STN-iCNN stage; `SinglePassTrainer` runs one for a single-pass parser.
"""

import functools
from pathlib import Path

import tensorflow as tf

from keras_stn_icnn.train.callbacks import (
    TimeBudget,
    atomic_save_weights,
    backed_up_epochs,
    backup_dir,
    stage_callbacks,
)
from keras_stn_icnn.train.custom_loop import fit_with_custom_loop, needs_custom_loop
from keras_stn_icnn.train.strategy import global_batch_norm, is_chief, worker_id

FINAL_WEIGHTS = "final.weights.h5"
"""The file that marks a fit done and holds its tracked model's weights."""


def default_jit_compile(jit_compile=None):
    """XLA for the training steps: None means on when a GPU is visible, else off.

    On CPUs XLA compiles for minutes and steps no faster.

    Args:
        jit_compile: bool, `"auto"` or None.

    Returns:
        bool or `"auto"`, what `Model.compile` gets.

    Example:
    >>> default_jit_compile(True)
    True
    """
    if jit_compile is None:
        return "auto" if tf.config.list_logical_devices("GPU") else False
    return jit_compile


class ResumableFit:
    """One fit in one folder: resumable, distributed, checkpointed.

    Args:
        fit_dir: str or path-like, the fit's folder.
        tracked_model: the model whose weights are checkpointed every epoch
            and saved as `final.weights.h5` (the parser, also when a stage
            trains a graph built on its sub-models).
        strategy: the `tf.distribute.Strategy` the model was built under.
        name: str, how log lines name the fit (default: the folder's name).

    Example:
    >>> fit = ResumableFit("runs/helen/stage1", parser, strategy)  # doctest: +SKIP
    >>> first_epoch = fit.completed_epochs  # doctest: +SKIP
    >>> history = fit.run(model, batches, epochs=10, steps_per_epoch=100, batch_size=4)  # doctest: +SKIP
    """

    def __init__(self, fit_dir, tracked_model, strategy, name=None):
        self.fit_dir = Path(fit_dir)
        self.tracked_model = tracked_model
        self.strategy = strategy
        self.name = name or self.fit_dir.name
        self.chief = is_chief(strategy)
        self.worker = worker_id(strategy)

    @property
    def final_weights(self):
        """Path of the finished fit's weights."""
        return self.fit_dir / FINAL_WEIGHTS

    @property
    def is_done(self):
        """Whether the fit finished (its final weights exist)."""
        return self.final_weights.is_file()

    @property
    def completed_epochs(self):
        """Epochs a previous, interrupted run of this fit finished (0 for a new fit)."""
        return backed_up_epochs(backup_dir(self.fit_dir, self.worker))

    def load_final(self):
        """Loads the finished fit's weights into the tracked model."""
        self.tracked_model.load_weights(str(self.final_weights))
        print(f"[{self.name}] already done; loaded {self.final_weights}")

    def save_final(self):
        """Marks the fit done: the tracked model's weights, written atomically (chief only)."""
        if self.chief:
            atomic_save_weights(self.tracked_model, self.final_weights)

    def run(
        self,
        model,
        dataset,
        *,
        epochs,
        steps_per_epoch,
        batch_size,
        time_budget_seconds=None,
        verbose="auto",
        fit_arguments=None,
        callbacks=(),
    ):
        """Fits `model` (compiled) from the epoch the backups reach, then saves the final weights.

        Args:
            model: the compiled Keras model to fit (the tracked model, or a
                training graph sharing its variables).
            dataset: `tf.data.Dataset` of the model's `(x, y)` or `x`,
                starting at the epoch to resume (the pipeline's
                `first_epoch`), `steps_per_epoch` batches per epoch.
            epochs: int, the fit's total epochs.
            steps_per_epoch: int.
            batch_size: int, the global batch size (for the throughput log).
            time_budget_seconds: float or None, stop once this much time is
                spent (`callbacks.TimeBudget`).
            verbose: Keras `fit` verbosity.
            fit_arguments: dict or None, further arguments of the model's own
                `fit` (e.g. a single-pass parser's `class_priors`); the
                custom loop, which does not call `fit`, ignores them.
            callbacks: further Keras callbacks, run after the fit's own
                (e.g. `callbacks.BatchNormStatistics`, whose work at the end
                of training the final weights then hold).

        Returns:
            dict, Keras's history.
        """
        done_epochs = self.completed_epochs
        if done_epochs:
            print(f"[{self.name}] resuming after epoch {done_epochs} of {epochs}")
        extra_callbacks = callbacks
        callbacks = stage_callbacks(
            self.fit_dir, self.tracked_model, batch_size=batch_size, chief=self.chief, worker=self.worker
        )
        if time_budget_seconds:
            callbacks.append(TimeBudget(time_budget_seconds))
        callbacks += list(extra_callbacks)
        if needs_custom_loop(self.strategy):
            fit = functools.partial(fit_with_custom_loop, model, initial_epoch=min(done_epochs, epochs))
        else:
            # The pipelines shuffle, seeded per epoch.
            fit = functools.partial(model.fit, shuffle=False, **(fit_arguments or {}))
        with global_batch_norm(self.tracked_model, self.strategy):
            history = fit(dataset, epochs=epochs, steps_per_epoch=steps_per_epoch, callbacks=callbacks, verbose=verbose)
        self.save_final()
        return history.history
