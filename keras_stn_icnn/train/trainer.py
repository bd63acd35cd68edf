"""Runs STN-iCNN's training stages in order, resumably, under a distribution strategy.

Stages (paper, Section 2.4 and Table 1):

1. `"stage1"`: the stage-1 iCNN on 128x128 images, cross-entropy.
2. `"localizer"`: the localizer on ground-truth theta, SmoothL1 (beta 1,
   the mean over the 36 entries), stage 1 frozen.
3. `"parts"`: the part iCNNs on ground-truth crops, the sum of the six
   cross-entropies.
4. `"joint"`: end-to-end through the differentiable crop, Lr1 / Lr2 / Lr3
   for stage 1 / localizer / parts (or, with the recipe's
   `freeze_stage1_and_localizer`, the authors' released variant: only the
   part models train, on crops at the predicted theta).

The iCNN baseline needs stages 1 and 3 only: its cropper is the
non-differentiable centroid rule (`ICNNBaseline`).

Every stage lives in `<run_dir>/<stage>/`: `backup/` (Keras
`BackupAndRestore`), `checkpoints/` (the parser's weights after every epoch),
`metrics.csv`, TensorBoard `logs/`, and `final.weights.h5` once the stage is
done. Keras `fit` trains each stage; across machines
(`MultiWorkerMirroredStrategy`), where Keras `fit` fails, `custom_loop` runs
the same steps and callbacks. Running the same command again skips finished stages and resumes the
interrupted one at the start of the epoch it was killed in, with the data that
epoch would have had (`data.pipeline`), so the finished run's history is the
uninterrupted run's.
"""

import functools
from pathlib import Path

import keras
import tensorflow as tf

from keras_stn_icnn.choices import STN_ICNN_STAGES
from keras_stn_icnn.data.pipeline import stn_icnn_training_pipeline
from keras_stn_icnn.labels import STN_ICNN_PART_NAMES
from keras_stn_icnn.metrics import CropCentreError, FaceParsingF1
from keras_stn_icnn.models import STNiCNN
from keras_stn_icnn.models.parsing import part_model_plan
from keras_stn_icnn.train import stage_models
from keras_stn_icnn.train.callbacks import (
    TimeBudget,
    atomic_save_weights,
    backed_up_epochs,
    backup_dir,
    stage_callbacks,
)
from keras_stn_icnn.train.custom_loop import fit_with_custom_loop, needs_custom_loop
from keras_stn_icnn.train.optimizers import ADAM_EPSILON, GroupedAdam, halving_schedule, warmup_cosine_schedule
from keras_stn_icnn.train.priors import label_frequencies, set_prior_bias
from keras_stn_icnn.train.strategy import (
    check_global_batch_size,
    distribution_strategy,
    global_batch_norm,
    is_chief,
    worker_id,
)

FINAL_WEIGHTS = "final.weights.h5"

PRIOR_BIAS_STAGES = ("stage1", "parts")
"""Stages that start their iCNNs' logits bias at the log class priors (`Recipe.prior_output_bias`)."""

PRIOR_SAMPLE_BATCHES = 8
"""Batches of a stage's first epoch whose labels give the class priors."""


class StageTrainer:
    """Trains a parser's stages from a recipe, one folder per stage.

    Args:
        run_dir: str or path-like, where the run's stages keep their state.
        recipe: a `train.recipes.Recipe`.
        localizer: str, the `STNiCNN` localizer, or None for the recipe's.
            A localizer without weights (`"centroid"`) skips the localizer
            stage.
        canvas_size: int, the crop canvas (the largest image side).
        seed: int, seeds the weights' initialisation and the data.
        strategy: a `tf.distribute.Strategy`, or None for
            `train.strategy.distribution_strategy()`.
        verbose: Keras `fit` verbosity (`"auto"`: progress bars).
        stage_seconds: dict stage name -> seconds, or None: stop a stage
            once it has trained that long (`callbacks.TimeBudget`), to
            compare parsers trained for the same time.
        jit_compile: bool or `"auto"`, XLA for the training steps. None
            (the default) turns it on only when a GPU is visible: on CPUs
            XLA compiles for minutes and steps no faster. Across workers
            (`MultiWorkerMirroredStrategy`) the stages train with
            `custom_loop.fit_with_custom_loop`, without XLA.

    Example:
    >>> trainer = StageTrainer("runs/helen", HELEN_RECIPE)  # doctest: +SKIP
    >>> parser = trainer.train(HelenReader(root, schema="stn_icnn").dataset("train"))  # doctest: +SKIP
    """

    def __init__(self, run_dir, recipe, *, localizer=None, canvas_size=1024, seed=0, strategy=None,
                 verbose="auto", jit_compile=None, stage_seconds=None):
        self.run_dir = Path(run_dir)
        self.recipe = recipe
        self.canvas_size = int(canvas_size)
        self.seed = int(seed)
        self.strategy = strategy or distribution_strategy()
        self.chief = is_chief(self.strategy)
        self.worker = worker_id(self.strategy)
        self.verbose = verbose
        if jit_compile is None:
            jit_compile = "auto" if tf.config.list_logical_devices("GPU") else False
        self.jit_compile = jit_compile
        unknown = sorted(set(stage_seconds or {}) - set(STN_ICNN_STAGES))
        if unknown:
            raise ValueError(f"stage_seconds names unknown stage(s) {unknown}; the stages are {STN_ICNN_STAGES}")
        self.stage_seconds = dict(stage_seconds or {})
        for settings in (recipe.stage1, recipe.localizer, recipe.parts, recipe.joint):
            check_global_batch_size(settings.batch_size, self.strategy)
        keras.utils.set_random_seed(self.seed)
        with self.strategy.scope():
            self.parser = STNiCNN(localizer=localizer or recipe.localizer_network, window=recipe.window,
                                  canvas_size=self.canvas_size)
        self.histories = {}

    def train(self, dataset, stages=STN_ICNN_STAGES):
        """Runs `stages` in order (finished ones are loaded, not redone).

        Args:
            dataset: `tf.data.Dataset` of `{"image", "label"}` (STN-iCNN ids),
                the training split, not augmented (the stages augment it).
            stages: names from `STN_ICNN_STAGES`, in that order.

        Returns:
            The trained `STNiCNN` (`self.parser`).
        """
        unknown = [s for s in stages if s not in STN_ICNN_STAGES]
        if unknown:
            raise ValueError(f"unknown stage(s) {unknown}; the stages are {STN_ICNN_STAGES}")
        if list(stages) != [s for s in STN_ICNN_STAGES if s in stages]:
            raise ValueError(f"stages must be in the order {STN_ICNN_STAGES}, got {tuple(stages)}")
        for stage in stages:
            self.run_stage(stage, dataset)
        return self.parser

    def stage_dir(self, stage):
        return self.run_dir / stage

    def is_done(self, stage):
        return (self.stage_dir(stage) / FINAL_WEIGHTS).is_file()

    def run_stage(self, stage, dataset):
        """Trains one stage, or loads its final weights when it is already done."""
        stage_dir = self.stage_dir(stage)
        if self.is_done(stage):
            self.parser.load_weights(str(stage_dir / FINAL_WEIGHTS))
            print(f"[{stage}] already done; loaded {stage_dir / FINAL_WEIGHTS}")
            return
        if stage == "localizer" and not self.parser.get_layer("localizer").trainable_weights:
            print(f"[{stage}] the {self.parser.localizer} localizer has no weights to train")
            if self.chief:
                atomic_save_weights(self.parser, stage_dir / FINAL_WEIGHTS)
            return
        settings = self.recipe.joint if stage == "joint" else getattr(self.recipe, stage)
        done_epochs = backed_up_epochs(backup_dir(stage_dir, self.worker))
        batches = stn_icnn_training_pipeline(
            dataset,
            batch_size=settings.batch_size,
            window=self.recipe.window,
            canvas_size=self.canvas_size,
            augmentation=self.recipe.augmentation,
            copies=self.recipe.copies,
            seed=self.seed * 100 + STN_ICNN_STAGES.index(stage),
            epochs=settings.epochs,
            first_epoch=min(done_epochs, settings.epochs - 1),
            with_parts=stage == "parts",
            with_canvas=stage == "joint",
        )
        if done_epochs:
            print(f"[{stage}] resuming after epoch {done_epochs} of {settings.epochs}")
        elif self.recipe.prior_output_bias and stage in PRIOR_BIAS_STAGES:
            self._set_prior_biases(stage, batches.dataset)
        model, inputs = self.compiled_stage_model(stage, batches.steps_per_epoch)
        callbacks = stage_callbacks(
            stage_dir, self.parser, batch_size=settings.batch_size, chief=self.chief, worker=self.worker
        )
        if stage in self.stage_seconds:
            callbacks.append(TimeBudget(self.stage_seconds[stage]))
        if needs_custom_loop(self.strategy):
            fit = functools.partial(fit_with_custom_loop, model, initial_epoch=min(done_epochs, settings.epochs))
        else:
            fit = functools.partial(model.fit, shuffle=False)  # the pipeline shuffles, seeded per epoch
        with global_batch_norm(self.parser, self.strategy):
            history = fit(
                batches.dataset.map(inputs),
                epochs=settings.epochs,
                steps_per_epoch=batches.steps_per_epoch,
                callbacks=callbacks,
                verbose=self.verbose,
            )
        self.histories[stage] = history.history
        self._set_trainable(None)
        if self.chief:
            atomic_save_weights(self.parser, stage_dir / FINAL_WEIGHTS)

    def _set_prior_biases(self, stage, batches):
        """Starts the logits bias of the stage's iCNNs at the class frequencies of its first views."""
        sample = list(batches.take(PRIOR_SAMPLE_BATCHES).as_numpy_iterator())
        if stage == "stage1":
            stage1 = self.parser.get_layer("stage1")
            frequencies = label_frequencies((b["stage1_label"] for b in sample), stage1.num_classes)
            set_prior_bias(stage1.logits_layer, frequencies)
            return
        for name, num_classes, parts, _ in part_model_plan(self.parser.shared_part_models):
            indices = [STN_ICNN_PART_NAMES.index(part) for part in parts]
            frequencies = label_frequencies((b["part_labels"][:, indices] for b in sample), num_classes)
            set_prior_bias(self.parser.get_layer(name).logits_layer, frequencies)

    def _set_trainable(self, stage):
        """Freezes what a stage does not train (BatchNorm of frozen parts runs in inference mode)."""
        frozen = {
            "localizer": ("stage1",),
            "joint": ("stage1", "localizer") if self.recipe.freeze_stage1_and_localizer else (),
        }.get(stage, ())
        for name in ("stage1", "localizer"):
            self.parser.get_layer(name).trainable = name not in frozen

    def _schedule(self, learning_rate, steps_per_epoch, epochs):
        if self.recipe.schedule == "warmup_cosine":
            return warmup_cosine_schedule(learning_rate, steps_per_epoch * epochs)
        return halving_schedule(learning_rate, steps_per_epoch, self.recipe.halve_every_epochs)

    def _adam(self, learning_rate, steps_per_epoch, epochs):
        return keras.optimizers.Adam(self._schedule(learning_rate, steps_per_epoch, epochs), epsilon=ADAM_EPSILON)

    def compiled_stage_model(self, stage, steps_per_epoch):
        """The model that trains `stage`, compiled as `run_stage` trains it.

        Freezes what the stage does not train and builds the model in the
        trainer's strategy scope, with the recipe's optimiser, learning rates
        and losses. `run_stage` fits it; benchmarks time its steps.

        Args:
            stage: one of `STN_ICNN_STAGES`.
            steps_per_epoch: int, steps of one epoch (the learning rate
                halves every `recipe.halve_every_epochs` epochs).

        Returns:
            `(model, inputs)`: the compiled Keras model and the function that
            maps a training pipeline batch to its `(x, y)` or `x`.

        Example:
        >>> model, inputs = trainer.compiled_stage_model("stage1", 100)  # doctest: +SKIP
        >>> model.train_on_batch(*inputs(batch))  # doctest: +SKIP
        """
        if stage not in STN_ICNN_STAGES:
            raise ValueError(f"stage must be one of {STN_ICNN_STAGES}, got {stage!r}")
        self._set_trainable(stage)
        with self.strategy.scope():
            return self._compiled_stage_model(stage, steps_per_epoch)

    def _compiled_stage_model(self, stage, steps_per_epoch):
        parser = self.parser
        settings = self.recipe.joint if stage == "joint" else getattr(self.recipe, stage)
        if stage == "stage1":
            model = stage_models.stage1_model(parser)
            model.compile(
                optimizer=self._adam(settings.learning_rate, steps_per_epoch, settings.epochs),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=[FaceParsingF1(name="f1")],
                jit_compile=self.jit_compile,
            )
            return model, lambda b: (b["stage1_image"], b["stage1_label"])
        if stage == "localizer":
            model = stage_models.localizer_model(parser)
            model.compile(optimizer=self._adam(settings.learning_rate, steps_per_epoch, settings.epochs),
                          loss=keras.losses.Huber(delta=1.0),
                          metrics=["mae", CropCentreError(frame_size=self.canvas_size)], jit_compile=self.jit_compile)
            return model, lambda b: (b["stage1_image"], b["theta"])
        if stage == "parts":
            model = stage_models.parts_model(parser, self.recipe.window)
            model.compile(
                optimizer=self._adam(settings.learning_rate, steps_per_epoch, settings.epochs),
                loss={
                    part: keras.losses.SparseCategoricalCrossentropy(from_logits=True) for part in STN_ICNN_PART_NAMES
                },
                jit_compile=self.jit_compile,
            )
            return model, lambda b: (
                b["part_images"],
                {part: b["part_labels"][:, index] for index, part in enumerate(STN_ICNN_PART_NAMES)},
            )
        model = stage_models.JointModel(parser, name="joint_training")
        optimizer = GroupedAdam(
            {
                stage_models.STAGE1: settings.stage1_learning_rate,
                stage_models.LOCALIZER: settings.localizer_learning_rate,
                stage_models.PARTS: settings.parts_learning_rate,
            },
            learning_rate=self._schedule(1.0, steps_per_epoch, settings.epochs),
        )
        optimizer.assign_groups(stage_models.variable_groups(parser))
        model.compile(optimizer=optimizer, jit_compile=self.jit_compile)
        inputs = ("stage1_image", "canvas_image", "canvas_label")
        sample = {
            "stage1_image": tf.zeros([1, 128, 128, 3]),
            "canvas_image": tf.zeros([1, self.canvas_size, self.canvas_size, 3], tf.uint8),
            "canvas_label": tf.zeros([1, self.canvas_size, self.canvas_size], tf.uint8),
        }
        model(sample)  # builds it, which BackupAndRestore needs before it restores
        return model, lambda b: {key: b[key] for key in inputs}
