"""Benchmarks: speed and memory against the authors' implementation and the arithmetic limit.

- `run_benchmark` / `format_report`: the whole benchmark (`keras-stn-icnn benchmark`).
- `measure_latency`, `measure_stages`: per-face latency of runtimes, and per pipeline step.
- `measure_training`: images/s of each training stage's optimiser step.
- `count_flops`: FLOPs of a traced call; `matmul_gflops`, `PeakMemory`, `describe_machine`.
- `AuthorsPipeline`: the authors' PyTorch pipeline, from a checkout of their code (needs torch).
"""

from keras_stn_icnn.benchmarking.flops import FlopCount, count_flops, operation_flops
from keras_stn_icnn.benchmarking.inference_speed import (
    STAGES,
    LatencyResult,
    measure_latency,
    measure_stages,
    stage_functions,
)
from keras_stn_icnn.benchmarking.machine import PeakMemory, describe_machine, matmul_gflops
from keras_stn_icnn.benchmarking.reference import AuthorsPipeline, ReferenceUnavailable
from keras_stn_icnn.benchmarking.run import BenchmarkReport, format_report, run_benchmark
from keras_stn_icnn.benchmarking.timing import Timing, time_in_turns, time_per_item
from keras_stn_icnn.benchmarking.training_speed import TrainingResult, measure_training, random_stage_batch
from keras_stn_icnn.choices import RUNTIMES

__all__ = [
    "RUNTIMES",
    "STAGES",
    "AuthorsPipeline",
    "BenchmarkReport",
    "FlopCount",
    "LatencyResult",
    "PeakMemory",
    "ReferenceUnavailable",
    "Timing",
    "TrainingResult",
    "count_flops",
    "describe_machine",
    "format_report",
    "matmul_gflops",
    "measure_latency",
    "measure_stages",
    "measure_training",
    "operation_flops",
    "random_stage_batch",
    "run_benchmark",
    "stage_functions",
    "time_in_turns",
    "time_per_item",
]
