"""Per-face parsing latency: every runtime, several batch sizes, and where the time goes."""

import dataclasses
import functools

import keras
import numpy as np
import tensorflow as tf

from keras_stn_icnn.benchmarking.machine import PeakMemory
from keras_stn_icnn.benchmarking.timing import time_per_item
from keras_stn_icnn.models.parsing import parsing_outputs, part_model_plan, run_part_models

STAGES = ("stage1_localizer_crop", "part_models", "paste_back")
"""The pipeline's three steps, as the reference figures split them: the rough mask, localizer and
crop; the part models; pasting the part probabilities back and taking the label map."""


@dataclasses.dataclass(frozen=True)
class LatencyResult:
    """Per-face latency of one runtime at one batch size.

    Attributes:
        runtime: str, e.g. `"keras"`, `"saved_model"`, `"litert"`, `"onnx"`.
        batch_size: int.
        timing: `Timing`, seconds per face.
        peak_mib: float, the process's peak resident memory while timing.
        added_mib: float or None, how far timing raised it above where it
            started (what the runs themselves needed).
    """

    runtime: str
    batch_size: int
    timing: object
    peak_mib: float
    added_mib: float = None


def measure_latency(runners, photo, batch_sizes=(1, 4, 8), repeats=10, warmup=2):
    """Times each runner on batches of copies of `photo`.

    Every runner gets the same uint8 batch and returns numpy arrays, so the
    figures include moving the outputs out of the runtime.

    Args:
        runners: dict runtime name -> callable(uint8 `[B, H, W, 3]`), e.g.
            `export.KerasRunner(model)`, `export.LiteRTRunner(path)`.
        photo: uint8 array `[H, W, 3]`.
        batch_sizes: iterable of int.
        repeats: int, timed calls per runner and batch size.
        warmup: int, untimed calls before them.

    Returns:
        list of `LatencyResult`, batch size by batch size, runners in order.

    Example:
    >>> results = measure_latency({"keras": KerasRunner(model)}, photo, (1,))  # doctest: +SKIP
    >>> results[0].timing.median  # seconds per face  # doctest: +SKIP
    """
    results = []
    for batch_size in batch_sizes:
        batch = np.repeat(photo[np.newaxis], batch_size, axis=0)
        for name, runner in runners.items():
            with PeakMemory() as memory:
                timing = time_per_item(functools.partial(runner, batch), batch_size, repeats, warmup)
            results.append(LatencyResult(name, batch_size, timing, memory.peak_mib, memory.added_mib))
    return results


def stage_functions(model):
    """The pipeline's three steps (`STAGES`) as separate functions, for a breakdown.

    Args:
        model: an `STNiCNN` or `ICNNBaseline` (a parser with a `"crop"` and
            an `"assembly"` layer, `window`, `shared_part_models` and a
            `"theta"` output).

    Returns:
        dict step name -> `(tf.function, inputs)`: each function runs one
        step in inference mode on the inputs the step before it produced
        (computed once here from `images`), so each can be timed alone.

    Example:
    >>> steps = stage_functions(STNiCNN())  # doctest: +SKIP
    """
    plan = part_model_plan(model.shared_part_models)
    part_models = {name: model.get_layer(name) for name, _, _, _ in plan}
    to_crops = keras.Model(model.inputs, [model.get_layer("crop").output, model.output["theta"]])

    def crops(images):
        return to_crops(images, training=False)

    def part_logits(patches):
        return run_part_models(patches, plan, part_models, model.window)

    def labels(logits, theta, images):
        return parsing_outputs(None, theta, logits, model.get_layer("assembly"), images)["labels"]

    return {"stage1_localizer_crop": crops, "part_models": part_logits, "paste_back": labels}


def measure_stages(model, photo, batch_size=1, repeats=10, warmup=2):
    """Seconds per face of each step of the pipeline (`STAGES`), each timed alone.

    Each step runs as its own `tf.function` on the outputs of the step
    before it. The steps are timed in turn, one call of each per round, so
    that the machine's drift affects all alike. Their sum leaves out the
    overlap that one graph of the whole model allows, so it can exceed the
    whole model's latency a little.

    Args:
        model: see `stage_functions`.
        photo: uint8 array `[H, W, 3]`.
        batch_size: int.
        repeats: int, rounds.
        warmup: int, untimed rounds.

    Returns:
        dict step name -> median seconds per face.

    Example:
    >>> measure_stages(STNiCNN(), photo)["paste_back"]  # doctest: +SKIP
    """
    images = tf.constant(np.repeat(photo[np.newaxis], batch_size, axis=0).astype(np.float32))
    steps = {name: tf.function(step) for name, step in stage_functions(model).items()}
    patches, theta = steps["stage1_localizer_crop"](images)
    logits = steps["part_models"](patches)
    arguments = {"stage1_localizer_crop": (images,), "part_models": (patches,), "paste_back": (logits, theta, images)}
    calls = {
        name: (lambda step=step, args=arguments[name]: tf.nest.map_structure(lambda t: t.numpy(), step(*args)))
        for name, step in steps.items()
    }
    for _ in range(int(warmup)):
        for call in calls.values():
            call()
    seconds = {name: [] for name in calls}
    for _ in range(int(repeats)):
        for name, call in calls.items():
            seconds[name].append(time_per_item(call, batch_size, repeats=1, warmup=0).median)
    return {name: float(np.median(values)) for name, values in seconds.items()}
