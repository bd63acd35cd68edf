"""STN-iCNN's training stages as data: what each trains, on what, with which loss.

A `Stage` names its training graph (built on the parser's own sub-models,
`stage_models`), its loss and metrics, the views of the training pipeline it
reads and how a batch becomes the graph's `(x, y)`, what it freezes, and how
its optimizer is made. `StageTrainer` runs any of them the same way; adding a
stage is one more entry in `STAGES`.

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

A two-stage zoo model lists the stages it goes through (`models.zoo`): the
iCNN baseline needs stages 1 and 3 only, its cropper being the
non-differentiable centroid rule (`ICNNBaseline`).
"""

import dataclasses
from typing import Callable

import keras
import tensorflow as tf

from keras_stn_icnn.geometry import STAGE1_SIZE
from keras_stn_icnn.labels import STN_ICNN_PART_NAMES
from keras_stn_icnn.metrics import CropCentreError, FaceParsingF1
from keras_stn_icnn.optimizers import ADAM_EPSILON, Adam
from keras_stn_icnn.train import stage_models
from keras_stn_icnn.train.optimizers import GroupedAdam, halving_schedule, warmup_cosine_schedule


def learning_rate_schedule(recipe, learning_rate, steps_per_epoch, epochs):
    """The recipe's schedule for one stage: warm-up and cosine over its steps, or the paper's halving.

    Args:
        recipe: a `train.recipes.Recipe`.
        learning_rate: float, the stage's (peak) rate.
        steps_per_epoch: int.
        epochs: int, the stage's epochs.

    Returns:
        A `keras.optimizers.schedules.LearningRateSchedule`.

    Example:
    >>> from keras_stn_icnn.train.recipes import HELEN_PAPER_RECIPE
    >>> schedule = learning_rate_schedule(HELEN_PAPER_RECIPE, 0.01, steps_per_epoch=10, epochs=20)
    >>> [round(float(schedule(step)), 6) for step in (49, 50)]
    [0.01, 0.005]
    """
    if recipe.schedule == "warmup_cosine":
        return warmup_cosine_schedule(learning_rate, steps_per_epoch * epochs)
    return halving_schedule(learning_rate, steps_per_epoch, recipe.halve_every_epochs)


def adam(parser, recipe, settings, steps_per_epoch):
    """Adam (PyTorch's epsilon) at the stage's learning rate and the recipe's schedule."""
    schedule = learning_rate_schedule(recipe, settings.learning_rate, steps_per_epoch, settings.epochs)
    return Adam(schedule, epsilon=ADAM_EPSILON)


def grouped_adam(parser, recipe, settings, steps_per_epoch):
    """One Adam with the end-to-end rates Lr1 / Lr2 / Lr3 for the parser's three variable groups."""
    optimizer = GroupedAdam(
        {
            stage_models.STAGE1: settings.stage1_learning_rate,
            stage_models.LOCALIZER: settings.localizer_learning_rate,
            stage_models.PARTS: settings.parts_learning_rate,
        },
        learning_rate=learning_rate_schedule(recipe, 1.0, steps_per_epoch, settings.epochs),
    )
    optimizer.assign_groups(stage_models.variable_groups(parser))
    return optimizer


def _cross_entropy():
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _joint_model(parser, recipe, canvas_size):
    model = stage_models.JointModel(parser, name="joint_training")
    sample = {
        "stage1_image": tf.zeros([1, STAGE1_SIZE, STAGE1_SIZE, 3]),
        "canvas_image": tf.zeros([1, canvas_size, canvas_size, 3], tf.uint8),
        "canvas_label": tf.zeros([1, canvas_size, canvas_size], tf.uint8),
    }
    model(sample)  # builds it, which BackupAndRestore needs before it restores
    return model


@dataclasses.dataclass(frozen=True)
class Stage:
    """One training stage of a two-stage parser.

    Args:
        name: str, the stage's name (its folder in the run).
        build_model: callable `(parser, recipe, canvas_size) -> keras.Model`,
            the training graph (sharing the parser's variables).
        loss: callable with no arguments returning the loss (or a dict of
            losses per output), or None when the graph computes its own.
        metrics: callable `(canvas_size) -> list` of metrics.
        inputs: callable, a training-pipeline batch -> the graph's `(x, y)`
            or `x`.
        optimizer: callable `(parser, recipe, settings, steps_per_epoch)
            -> optimizer`.
        frozen: callable `(recipe) -> tuple` of the parser's sub-model names
            the stage does not train.
        with_parts: bool, the pipeline adds ground-truth part crops.
        with_canvas: bool, the pipeline adds the padded canvas.
        prior_bias: bool, the stage's iCNNs start their logits bias at the
            class priors when the recipe asks (`Recipe.prior_output_bias`).
        needs_weights_of: str or None, a sub-model the stage trains alone;
            the stage is skipped when it has no weights (the centroid
            localizer).

    Example:
    >>> STAGES["stage1"].frozen(None), STAGES["localizer"].frozen(None)
    ((), ('stage1',))
    """

    name: str
    build_model: Callable
    loss: Callable = None
    metrics: Callable = lambda canvas_size: []
    inputs: Callable = None
    optimizer: Callable = adam
    frozen: Callable = lambda recipe: ()
    with_parts: bool = False
    with_canvas: bool = False
    prior_bias: bool = False
    needs_weights_of: str = None


STAGES = {
    stage.name: stage
    for stage in (
        Stage(
            name="stage1",
            build_model=lambda parser, recipe, canvas_size: stage_models.stage1_model(parser),
            loss=_cross_entropy,
            metrics=lambda canvas_size: [FaceParsingF1(name="f1")],
            inputs=lambda batch: (batch["stage1_image"], batch["stage1_label"]),
            prior_bias=True,
        ),
        Stage(
            name="localizer",
            build_model=lambda parser, recipe, canvas_size: stage_models.localizer_model(parser),
            loss=lambda: keras.losses.Huber(delta=1.0),
            metrics=lambda canvas_size: ["mae", CropCentreError(frame_size=canvas_size)],
            inputs=lambda batch: (batch["stage1_image"], batch["theta"]),
            frozen=lambda recipe: ("stage1",),
            needs_weights_of="localizer",
        ),
        Stage(
            name="parts",
            build_model=lambda parser, recipe, canvas_size: stage_models.parts_model(parser, recipe.window),
            loss=lambda: {part: _cross_entropy() for part in STN_ICNN_PART_NAMES},
            inputs=lambda batch: (
                batch["part_images"],
                {part: batch["part_labels"][:, index] for index, part in enumerate(STN_ICNN_PART_NAMES)},
            ),
            with_parts=True,
            prior_bias=True,
        ),
        Stage(
            name="joint",
            build_model=_joint_model,
            inputs=lambda batch: {key: batch[key] for key in ("stage1_image", "canvas_image", "canvas_label")},
            optimizer=grouped_adam,
            frozen=lambda recipe: ("stage1", "localizer") if recipe.freeze_stage1_and_localizer else (),
            with_canvas=True,
        ),
    )
}
"""Every stage by name, in training order (`choices.STN_ICNN_STAGES`)."""
