"""Runs a two-stage parser's training stages in order, resumably, under a distribution strategy.

The stages are data (`train.stages.STAGES`); every stage is one
`fitting.ResumableFit` in `<run_dir>/<stage>/`, so a run keeps, per stage,
its backups, per-epoch checkpoints, `metrics.csv`, TensorBoard `logs/` and,
once done, `final.weights.h5`. Running the same command again skips finished
stages and resumes the interrupted one at the start of the epoch it was
killed in, with the data that epoch would have had (`data.pipeline`), so the
finished run's history is the uninterrupted run's.
"""

from pathlib import Path

import keras

from keras_stn_icnn.checks import check_choice
from keras_stn_icnn.choices import STN_ICNN_STAGES
from keras_stn_icnn.data.pipeline import stn_icnn_training_pipeline
from keras_stn_icnn.labels import STN_ICNN_PART_NAMES
from keras_stn_icnn.models.class_priors import label_frequencies, set_prior_bias
from keras_stn_icnn.models.parsing import part_model_plan
from keras_stn_icnn.models.zoo import build_zoo_model, zoo_entry, zoo_names
from keras_stn_icnn.train.fitting import ResumableFit, default_jit_compile
from keras_stn_icnn.train.stages import STAGES
from keras_stn_icnn.train.strategy import check_global_batch_size, distribution_strategy, is_chief

PRIOR_SAMPLE_BATCHES = 8
"""Batches of a stage's first epoch whose labels give the class priors."""

FREEZABLE = ("stage1", "localizer")
"""Sub-models a stage may freeze (`Stage.frozen`); a parser without a localizer has only the first."""


def build_two_stage(name, recipe, canvas_size=1024, localizer=None):
    """Builds a two-stage zoo parser for a recipe: its window, the canvas, its localizer and crop re-centring if it
    has a localizer.

    Args:
        name: str, a two-stage model of `models.zoo.ZOO` (`"stn_icnn"`,
            `"icnn_baseline"`).
        recipe: a `train.recipes.Recipe`.
        canvas_size: int, the crop canvas (the largest image side).
        localizer: str, the localizer of a model with a `"localizer"` stage,
            or None for the recipe's.

    Returns:
        The untrained parser.

    Raises:
        ValueError for a single-pass model, or a localizer asked of a model
        without one.

    Example:
    >>> from keras_stn_icnn.train.recipes import SYNTHETIC_RECIPE
    >>> build_two_stage("icnn_baseline", SYNTHETIC_RECIPE, canvas_size=256).canvas_size
    256
    """
    entry = zoo_entry(name)
    if entry.training != "stages":
        raise ValueError(f"{name!r} is not a two-stage zoo model; those are {zoo_names('stages')}")
    arguments = {"window": recipe.window, "canvas_size": canvas_size}
    if "localizer" in entry.stages:
        arguments["localizer"] = localizer or recipe.localizer_network
        arguments["recentre_crops"] = recipe.recentre_crops
    elif localizer is not None:
        raise ValueError(f"{name} has no localizer (its stages are {entry.stages}), got localizer={localizer!r}")
    return build_zoo_model(name, **arguments)


class StageTrainer:
    """Trains a two-stage parser's stages from a recipe, one folder per stage.

    Args:
        run_dir: str or path-like, where the run's stages keep their state.
        recipe: a `train.recipes.Recipe`.
        model: str, the two-stage zoo model to train (`models.zoo.ZOO`); it
            goes through its entry's `stages`.
        localizer: str, the localizer of a model that has one (`STNiCNN`),
            or None for the recipe's. A localizer without weights
            (`"centroid"`) skips the localizer stage.
        canvas_size: int, the crop canvas (the largest image side).
        seed: int, seeds the weights' initialisation and the data.
        strategy: a `tf.distribute.Strategy`, or None for
            `train.strategy.distribution_strategy()`.
        verbose: Keras `fit` verbosity (`"auto"`: progress bars).
        time_budget_seconds: dict stage name -> seconds, or None: stop a
            stage once it has trained that long (`callbacks.TimeBudget`), to
            compare parsers trained for the same time.
        jit_compile: bool or `"auto"`, XLA for the training steps; None
            (the default): `fitting.default_jit_compile`. Across workers
            (`MultiWorkerMirroredStrategy`) the stages train with
            `custom_loop.fit_with_custom_loop`, without XLA.

    Example:
    >>> trainer = StageTrainer("runs/helen", HELEN_RECIPE)  # doctest: +SKIP
    >>> parser = trainer.train(HelenReader(root, schema="stn_icnn").dataset("train"))  # doctest: +SKIP
    """

    def __init__(
        self,
        run_dir,
        recipe,
        *,
        model="stn_icnn",
        localizer=None,
        canvas_size=1024,
        seed=0,
        strategy=None,
        verbose="auto",
        jit_compile=None,
        time_budget_seconds=None,
    ):
        self.stages = zoo_entry(model).stages
        if not self.stages:
            raise ValueError(f"{model!r} is a single-pass model; StageTrainer trains {zoo_names('stages')}")
        self.run_dir = Path(run_dir)
        self.recipe = recipe
        self.canvas_size = int(canvas_size)
        self.seed = int(seed)
        self.strategy = strategy or distribution_strategy()
        self.chief = is_chief(self.strategy)
        self.verbose = verbose
        self.jit_compile = default_jit_compile(jit_compile)
        unknown = sorted(set(time_budget_seconds or {}) - set(self.stages))
        if unknown:
            raise ValueError(f"time_budget_seconds names unknown stage(s) {unknown}; {model}'s are {self.stages}")
        self.time_budget_seconds = dict(time_budget_seconds or {})
        for stage in self.stages:
            check_global_batch_size(getattr(recipe, stage).batch_size, self.strategy)
        keras.utils.set_random_seed(self.seed)
        with self.strategy.scope():
            self.parser = build_two_stage(model, recipe, self.canvas_size, localizer)
        self.histories = {}

    def train(self, dataset, stages=None):
        """Runs `stages` in order (finished ones are loaded, not redone).

        Args:
            dataset: `tf.data.Dataset` of `{"image", "label"}` (STN-iCNN ids),
                the training split, not augmented (the stages augment it).
            stages: names from the model's stages (`self.stages`), in that
                order, or None for all of them.

        Returns:
            The trained parser (`self.parser`).
        """
        stages = self.stages if stages is None else tuple(stages)
        unknown = [s for s in stages if s not in self.stages]
        if unknown:
            raise ValueError(f"unknown stage(s) {unknown}; this model's stages are {self.stages}")
        if list(stages) != [s for s in self.stages if s in stages]:
            raise ValueError(f"stages must be in the order {self.stages}, got {stages}")
        for stage in stages:
            self.run_stage(stage, dataset)
        return self.parser

    def stage_fit(self, stage):
        """The `fitting.ResumableFit` of one stage, in `<run_dir>/<stage>/`."""
        return ResumableFit(self.run_dir / stage, self.parser, self.strategy)

    def run_stage(self, stage, dataset):
        """Trains one stage, or loads its final weights when it is already done."""
        spec = STAGES[stage]
        fit = self.stage_fit(stage)
        if fit.is_done:
            fit.load_final()
            return
        if spec.needs_weights_of and not self.parser.get_layer(spec.needs_weights_of).trainable_weights:
            print(f"[{stage}] the {self.parser.localizer} localizer has no weights to train")
            fit.save_final()
            return
        settings = getattr(self.recipe, stage)
        done_epochs = fit.completed_epochs
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
            with_parts=spec.with_parts,
            with_canvas=spec.with_canvas,
        )
        if not done_epochs and self.recipe.prior_output_bias and spec.prior_bias:
            self._set_prior_biases(stage, batches.dataset)
        model, inputs = self.compiled_stage_model(stage, batches.steps_per_epoch)
        self.histories[stage] = fit.run(
            model,
            batches.dataset.map(inputs),
            epochs=settings.epochs,
            steps_per_epoch=batches.steps_per_epoch,
            batch_size=settings.batch_size,
            time_budget_seconds=self.time_budget_seconds.get(stage),
            verbose=self.verbose,
        )
        self._set_trainable(None)

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
        frozen = STAGES[stage].frozen(self.recipe) if stage else ()
        present = {layer.name for layer in self.parser.layers}
        for name in FREEZABLE:
            if name in present:
                self.parser.get_layer(name).trainable = name not in frozen

    def compiled_stage_model(self, stage, steps_per_epoch):
        """The model that trains `stage`, compiled as `run_stage` trains it.

        Freezes what the stage does not train and builds the model in the
        trainer's strategy scope, with the recipe's optimiser, learning rates
        and losses. `run_stage` fits it; benchmarks time its steps.

        Args:
            stage: one of the model's stages (`self.stages`).
            steps_per_epoch: int, steps of one epoch (the schedule's unit).

        Returns:
            `(model, inputs)`: the compiled Keras model and the function that
            maps a training pipeline batch to its `(x, y)` or `x`.

        Example:
        >>> model, inputs = trainer.compiled_stage_model("stage1", 100)  # doctest: +SKIP
        >>> model.train_on_batch(*inputs(batch))  # doctest: +SKIP
        """
        check_choice(stage, self.stages, "stage")
        spec = STAGES[stage]
        settings = getattr(self.recipe, stage)
        self._set_trainable(stage)
        with self.strategy.scope():
            model = spec.build_model(self.parser, self.recipe, self.canvas_size)
            model.compile(
                optimizer=spec.optimizer(self.parser, self.recipe, settings, steps_per_epoch),
                loss=spec.loss() if spec.loss else None,
                metrics=spec.metrics(self.canvas_size) or None,
                jit_compile=self.jit_compile,
            )
        return model, spec.inputs
