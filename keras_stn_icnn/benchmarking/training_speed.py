"""Training throughput of each STN-iCNN stage, on the trainer's own compiled models."""

import dataclasses
import functools
import tempfile

import numpy as np
import tensorflow as tf

from keras_stn_icnn.benchmarking.machine import PeakMemory
from keras_stn_icnn.benchmarking.timing import time_per_item
from keras_stn_icnn.geometry import STAGE1_SIZE
from keras_stn_icnn.labels import STN_ICNN_CLASS_NAMES, STN_ICNN_PART_NAMES
from keras_stn_icnn.train import STN_ICNN_STAGES, StageTrainer
from keras_stn_icnn.train.recipes import HELEN_RECIPE


@dataclasses.dataclass(frozen=True)
class TrainingResult:
    """Throughput of one training stage.

    Attributes:
        stage: str, one of `STN_ICNN_STAGES`.
        batch_size: int.
        timing: `Timing`, seconds per image of one optimiser step.
        peak_mib: float, the process's peak resident memory while timing.
        added_mib: float or None, how far timing raised it above where it
            started (what the steps themselves needed).
    """

    stage: str
    batch_size: int
    timing: object
    peak_mib: float
    added_mib: float = None

    @property
    def images_per_second(self):
        return 1.0 / self.timing.median


def random_stage_batch(stage, batch_size, window=81, canvas_size=1024, image_size=512, seed=0):
    """One batch of random inputs shaped as the training pipeline makes them for `stage`.

    Args:
        stage: one of `STN_ICNN_STAGES`.
        batch_size: int.
        window: int, the part crop side.
        canvas_size: int, the joint stage's canvas side.
        image_size: int, side of the random photo centred on the canvas.
        seed: int.

    Returns:
        dict of tensors with the keys, shapes and dtypes of
        `data.pipeline.stn_icnn_training_pipeline` batches that the stage's
        model reads.

    Example:
    >>> random_stage_batch("stage1", 2)["stage1_image"].shape
    TensorShape([2, 128, 128, 3])
    """
    rng = np.random.default_rng(seed)
    batch = {
        "stage1_image": rng.random((batch_size, STAGE1_SIZE, STAGE1_SIZE, 3), np.float32),
        "stage1_label": rng.integers(
            0, len(STN_ICNN_CLASS_NAMES), (batch_size, STAGE1_SIZE, STAGE1_SIZE), dtype=np.uint8
        ),
    }
    if stage == "localizer":
        batch["theta"] = rng.normal(0.0, 0.1, (batch_size, len(STN_ICNN_PART_NAMES), 2, 3)).astype(np.float32)
    if stage == "parts":
        parts = len(STN_ICNN_PART_NAMES)
        batch["part_images"] = rng.integers(0, 256, (batch_size, parts, window, window, 3), dtype=np.uint8)
        batch["part_labels"] = rng.integers(0, 2, (batch_size, parts, window, window), dtype=np.uint8)
    if stage == "joint":
        top = (canvas_size - image_size) // 2
        inside = slice(top, top + image_size)
        canvas = np.zeros((batch_size, canvas_size, canvas_size, 3), np.uint8)
        canvas[:, inside, inside] = rng.integers(0, 256, (batch_size, image_size, image_size, 3))
        label = np.zeros((batch_size, canvas_size, canvas_size), np.uint8)
        label[:, inside, inside] = rng.integers(0, len(STN_ICNN_CLASS_NAMES), (batch_size, image_size, image_size))
        batch["canvas_image"], batch["canvas_label"] = canvas, label
    return {key: tf.constant(value) for key, value in batch.items()}


def measure_training(stages=STN_ICNN_STAGES, batch_size=8, repeats=5, warmup=2, recipe=HELEN_RECIPE, canvas_size=1024):
    """Images per second of one optimiser step of each stage.

    Each stage's model comes from `StageTrainer.compiled_stage_model`, so it
    is exactly what training runs (freezing, optimiser, per-group learning
    rates, losses), built in the default strategy (`MirroredStrategy` over
    the local devices). Steps run on one fixed random batch in memory, so
    the figures leave out the input pipeline.

    Args:
        stages: iterable of `STN_ICNN_STAGES` entries.
        batch_size: int, the global batch size.
        repeats: int, timed steps per stage.
        warmup: int, untimed steps before them (the first one traces).
        recipe: the `Recipe` whose optimiser settings and window are used.
        canvas_size: int, the joint stage's canvas; the random photo on it
            is 512 pixels square, or half the canvas if that is smaller.

    Returns:
        list of `TrainingResult`.

    Example:
    >>> [r.images_per_second for r in measure_training(["stage1"], repeats=2)]  # doctest: +SKIP
    """
    results = []
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = StageTrainer(run_dir, recipe, canvas_size=canvas_size, verbose=0)
        for stage in stages:
            model, inputs = trainer.compiled_stage_model(stage, steps_per_epoch=1000)
            batch = random_stage_batch(
                stage,
                batch_size,
                window=recipe.window,
                canvas_size=canvas_size,
                image_size=min(512, canvas_size // 2),
            )
            x = inputs(batch)
            arguments = x if isinstance(x, tuple) else (x,)
            with PeakMemory() as memory:
                timing = time_per_item(functools.partial(model.train_on_batch, *arguments), batch_size, repeats, warmup)
            results.append(TrainingResult(stage, batch_size, timing, memory.peak_mib, memory.added_mib))
    return results
