"""The whole benchmark: latency in every runtime, training throughput, memory, FLOPs, the
arithmetic limit, and the authors' pipeline side by side (`keras-stn-icnn benchmark` runs it)."""

import dataclasses
import tempfile
from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_stn_icnn.benchmarking import stored_reference
from keras_stn_icnn.benchmarking.flops import count_flops
from keras_stn_icnn.benchmarking.inference_speed import STAGES, measure_latency, measure_stages
from keras_stn_icnn.benchmarking.machine import PeakMemory, describe_machine, matmul_gflops
from keras_stn_icnn.benchmarking.timing import time_per_item
from keras_stn_icnn.benchmarking.training_speed import TrainingResult, measure_training
from keras_stn_icnn.choices import FORMATS, RUNTIMES
from keras_stn_icnn.export import (
    KerasRunner,
    LiteRTRunner,
    OnnxRunner,
    SavedModelRunner,
    export_model,
    next_version,
)

TRAINING_FLOPS_PER_FORWARD = 3
"""A training step's arithmetic per image, in forward passes: the forward pass, the gradients of
the inputs and those of the weights (each about one forward pass of convolutions)."""


@dataclasses.dataclass(frozen=True)
class BenchmarkReport:
    """Everything one benchmark run measured.

    Attributes:
        machine: str, `describe_machine()`.
        matmul_gflops: float, the machine's float32 matmul rate.
        flops: `FlopCount` of one face.
        image_shape: tuple, the photo's `(H, W, 3)`.
        latency: list of `LatencyResult` (this package's runtimes).
        stages: dict step -> seconds per face at batch 1 (the Keras model).
        training: list of `TrainingResult`.
        reference_latency: list of `LatencyResult` of the authors' pipeline
            (runtime `"authors"`), empty when it was not run.
        reference_stages: dict step -> seconds per face, or None.
        reference_training: list of `TrainingResult`, empty when not run.
        reference_notes: list of str, how the reference was run.
    """

    machine: str
    matmul_gflops: float
    flops: object
    image_shape: tuple
    latency: list
    stages: dict
    training: list
    reference_latency: list
    reference_stages: dict
    reference_training: list
    reference_notes: list

    @property
    def limit_seconds_per_face(self):
        """FLOPs per face at the machine's matmul rate: the arithmetic limit."""
        return self.flops.total / (self.matmul_gflops * 1e9)


def export_runners(model, exports, name, runtimes, threads):
    """Runners for the exported files of `model` in `exports` (written there if missing).

    Args:
        model: the Keras parser the exports were made from.
        exports: path of a `keras-stn-icnn export --format all` folder.
        name: str, the exports' name (`stn_icnn`, `icnn_baseline`).
        runtimes: iterable of `RUNTIMES` entries.
        threads: int or None, LiteRT and ONNX Runtime threads.

    Returns:
        dict runtime -> runner, in `runtimes` order.

    Example:
    >>> runners = export_runners(model, "savedmodels", "stn_icnn", ["keras", "onnx"], 2)  # doctest: +SKIP
    """
    exports = Path(exports)
    canvas = getattr(model, "canvas_size", None)
    runners = {}
    for runtime in runtimes:
        if runtime == "keras":
            runners[runtime] = KerasRunner(model)
        elif runtime == "saved_model":
            latest = next_version(exports / name) - 1
            if latest < 1:
                raise FileNotFoundError(f"no SavedModel version folder under {exports / name}")
            runners[runtime] = SavedModelRunner(exports / name / str(latest))
        elif runtime.startswith("litert"):
            suffix = runtime[len("litert") :]
            runners[runtime] = LiteRTRunner(_existing(exports / f"{name}{suffix}.tflite"), canvas, threads)
        elif runtime == "onnx":
            runners[runtime] = OnnxRunner(_existing(exports / f"{name}.onnx"), canvas, threads)
        else:
            raise ValueError(f"unknown runtime {runtime!r}; expected one of {RUNTIMES}")
    return runners


def _existing(path):
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; export the model with --format all first")
    return path


def _formats_for(runtimes):
    formats = set()
    for runtime in runtimes:
        if runtime == "saved_model":
            formats.add("saved_model")
        elif runtime.startswith("litert"):
            formats.add("tflite")
        elif runtime == "onnx":
            formats.add("onnx")
    return [fmt for fmt in FORMATS if fmt in formats]


def run_benchmark(
    model,
    photo,
    *,
    name="stn_icnn",
    exports=None,
    runtimes=RUNTIMES,
    batch_sizes=(1, 4, 8),
    repeats=10,
    training_stages=("stage1", "localizer", "parts", "joint"),
    training_batch_size=8,
    training_repeats=5,
    reference=None,
    threads=None,
    log=print,
):
    """Measures `model` (and the authors' pipeline when given) on this machine.

    Args:
        model: a Keras parser (`STNiCNN`, `ICNNBaseline`); its weights do not
            change the cost.
        photo: uint8 `[H, W, 3]` array, the face every batch is made of.
        name: str, the exports' name.
        exports: path of existing exports (`keras-stn-icnn export --format
            all`), or None to export into a temporary folder.
        runtimes: iterable of `RUNTIMES` entries.
        batch_sizes: iterable of int, latency batch sizes.
        repeats: int, timed calls per runtime and batch size.
        training_stages: iterable of stages whose steps are timed (needs an
            `STNiCNN`); empty to skip training.
        training_batch_size: int.
        training_repeats: int, timed steps per stage.
        reference: an `AuthorsPipeline` (see `benchmarking.reference`), or
            None to compare with the stored figures.
        threads: int or None, LiteRT and ONNX Runtime threads (None: their
            defaults).
        log: callable taking a progress line.

    Returns:
        A `BenchmarkReport`.

    Example:
    >>> report = run_benchmark(STNiCNN(), photo, runtimes=["keras"], training_stages=())  # doctest: +SKIP
    >>> print(format_report(report))  # doctest: +SKIP
    """
    runtimes = list(runtimes)
    machine = describe_machine()
    log(f"machine: {machine}")
    gflops = matmul_gflops()
    log(f"float32 matmul (2048x2048, TensorFlow): {gflops:.0f} GFLOP/s")
    flops = count_flops(lambda x: model(x, training=False)["labels"], [tf.TensorSpec([1, *photo.shape], tf.float32)])
    with tempfile.TemporaryDirectory() as scratch:
        formats = _formats_for(runtimes)
        if exports is None and formats:
            log(f"exporting to a temporary folder as {', '.join(formats)} (each checked against Keras)")
            export_model(model, scratch, formats, name=name)
            exports = scratch
        runners = export_runners(model, exports or scratch, name, runtimes, threads)
        log(f"latency: {', '.join(runners)} at batch {', '.join(map(str, batch_sizes))}")
        latency = measure_latency(runners, photo, batch_sizes, repeats)
    log("where the time goes (Keras, batch 1)")
    stages = measure_stages(model, photo, 1, repeats)
    training = []
    if training_stages:
        log(f"training steps: {', '.join(training_stages)} at batch {training_batch_size}")
        training = measure_training(training_stages, training_batch_size, training_repeats)
    reference_latency, reference_stages, reference_training = [], None, []
    if reference is not None:
        log(f"the authors' pipeline (torch {reference.torch_version})")
        reference_latency = measure_latency({"authors": reference.parse}, photo, batch_sizes, repeats)
        reference_stages = reference.parse_stage_seconds(photo[np.newaxis])
        reference_training = _reference_training(reference, training_stages, training_batch_size, training_repeats)
    return BenchmarkReport(
        machine=machine,
        matmul_gflops=gflops,
        flops=flops,
        image_shape=tuple(photo.shape),
        latency=latency,
        stages=stages,
        training=training,
        reference_latency=reference_latency,
        reference_stages=reference_stages,
        reference_training=reference_training,
        reference_notes=list(getattr(reference, "notes", [])),
    )


def _reference_training(reference, stages, batch_size, repeats):
    steps = {"joint": reference.joint_training_step, "stage1": reference.stage1_training_step}
    results = []
    for stage in stages:
        if stage in steps:
            step = steps[stage](batch_size)
            with PeakMemory() as memory:
                timing = time_per_item(step, batch_size, repeats)
            results.append(TrainingResult(stage, batch_size, timing, memory.peak_mib, memory.added_mib))
    return results


def _authors_ms(report, batch_size):
    """The authors' ms per face at a batch size: measured in this run, else stored, else None."""
    for result in report.reference_latency:
        if result.batch_size == batch_size:
            return result.timing.median * 1e3
    if report.reference_latency:
        return None
    return stored_reference.STORED_PARSE_MS_PER_FACE.get(batch_size)


def _memory(result):
    added = f" (+{result.added_mib:.0f})" if result.added_mib is not None else ""
    return f"{result.peak_mib:.0f}{added}"


def format_report(report):
    """The report as the tables docs/performance.md shows.

    Args:
        report: a `BenchmarkReport`.

    Returns:
        str.

    Example:
    >>> print(format_report(run_benchmark(model, photo)))  # doctest: +SKIP
    """
    measured = bool(report.reference_latency)
    height, width = report.image_shape[:2]
    limit_ms = report.limit_seconds_per_face * 1e3
    lines = [
        f"machine: {report.machine}",
        f"float32 matmul rate: {report.matmul_gflops:.0f} GFLOP/s",
        f"FLOPs per face (convolutions and matrix products, {height}x{width} photo): "
        f"{report.flops.gflop:.2f} GFLOP = "
        + " + ".join(f"{layer} {flops / 1e9:.2f}" for layer, flops in sorted(report.flops.by_layer.items())),
        f"arithmetic limit: {limit_ms:.1f} ms per face (FLOPs / matmul rate)",
        "authors' pipeline: "
        + (
            "measured in this run"
            if measured
            else f"stored figures, measured elsewhere ({stored_reference.STORED_MACHINE}); "
            "pass --reference-dir to measure it here"
        ),
        *(f"  note: {note}" for note in report.reference_notes),
        "",
        "Per-face latency (median (min-max) over the repeats, after warm-up); GFLOP/s = FLOPs / latency; "
        "latency / limit = how far from the arithmetic limit; peak MiB = the process's peak resident "
        "memory while timing (+ how far the timed calls raised it)",
        "| runtime | batch | ms per face | GFLOP/s | latency / limit | peak MiB | vs authors |",
        "|---|---|---|---|---|---|---|",
    ]
    for result in report.latency:
        authors = _authors_ms(report, result.batch_size)
        ratio = f"{authors / (result.timing.median * 1e3):.1f}x faster" if authors else "-"
        lines.append(
            f"| {result.runtime} | {result.batch_size} | {result.timing.milliseconds()} | "
            f"{report.flops.total / result.timing.median / 1e9:.0f} | "
            f"{result.timing.median * 1e3 / limit_ms:.2f} | {_memory(result)} | {ratio} |"
        )
    for result in report.reference_latency:
        lines.append(
            f"| authors (torch) | {result.batch_size} | {result.timing.milliseconds()} | "
            f"{report.flops.total / result.timing.median / 1e9:.0f} | "
            f"{result.timing.median * 1e3 / limit_ms:.2f} | {_memory(result)} | 1.0x |"
        )
    authors_stages = report.reference_stages or stored_reference.STORED_STAGE_MS_PER_FACE
    scale = 1e3 if report.reference_stages else 1.0
    lines += [
        "",
        "Where the time goes (batch 1, ms per face; each step of the Keras model timed alone)",
        "| step | this package | authors |",
        "|---|---|---|",
        *(f"| {step} | {report.stages[step] * 1e3:.1f} | {authors_stages[step] * scale:.1f} |" for step in STAGES),
    ]
    if report.training:
        authors_training = {r.stage: r.images_per_second for r in report.reference_training} or (
            {} if measured else stored_reference.STORED_TRAINING_IMAGES_PER_SECOND
        )
        lines += [
            "",
            f"Training throughput (one Adam step on a fixed random batch, batch {report.training[0].batch_size})",
            "| stage | images/s | ms per image | peak MiB | authors images/s | vs authors |",
            "|---|---|---|---|---|---|",
        ]
        for result in report.training:
            authors = authors_training.get(result.stage)
            lines.append(
                f"| {result.stage} | {result.images_per_second:.1f} | {result.timing.milliseconds()} | "
                f"{_memory(result)} | {f'{authors:.1f}' if authors else '-'} | "
                f"{f'{result.images_per_second / authors:.1f}x' if authors else '-'} |"
            )
        limit = report.matmul_gflops * 1e9 / (TRAINING_FLOPS_PER_FORWARD * report.flops.total)
        lines.append(
            f"end-to-end training limit: about {limit:.1f} images/s "
            f"({TRAINING_FLOPS_PER_FORWARD} x {report.flops.gflop:.2f} GFLOP per image at the matmul rate)"
        )
    return "\n".join(lines)
