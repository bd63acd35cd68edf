"""What the machine can do: its description, its matrix-multiply rate, peak memory."""

import os
import platform
import resource
from pathlib import Path

import tensorflow as tf

from keras_stn_icnn.benchmarking.timing import time_per_item

_PROC_STATUS = Path("/proc/self/status")
_PROC_CLEAR_REFS = Path("/proc/self/clear_refs")


def describe_machine():
    """One line naming the CPU, its cores and the TensorFlow build.

    Example:
    >>> "cores" in describe_machine()
    True
    """
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{model}, {os.cpu_count()} cores, TensorFlow {tf.__version__}, {platform.system()}"


def matmul_gflops(size=2048, repeats=10):
    """The machine's float32 matrix-multiply rate in TensorFlow, in GFLOP/s.

    Multiplies two `size x size` float32 matrices as one `tf.function`
    (2 * size**3 floating-point operations per product) and takes the median
    rate over `repeats` timed products after two warm-up ones. This is the
    practical arithmetic limit that the models' convolutions are measured
    against.

    Args:
        size: int, the matrix side.
        repeats: int, timed products.

    Returns:
        float, GFLOP/s.

    Example:
    >>> matmul_gflops(size=256, repeats=3) > 0
    True
    """
    matrix = tf.random.stateless_uniform([size, size], seed=[1, 2])
    product = tf.function(lambda a: tf.matmul(a, a))
    timing = time_per_item(lambda: product(matrix).numpy(), repeats=repeats)
    return 2.0 * size**3 / timing.median / 1e9


def _status_kib(field):
    for line in _PROC_STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{_PROC_STATUS} has no {field} line")


class PeakMemory:
    """Peak resident memory of this process while a block runs.

    On Linux the kernel's high-water mark (`VmHWM`) is reset when the block
    starts (`/proc/self/clear_refs`) and read when it ends, so the figure
    belongs to the block alone: everything the process holds during it,
    the TensorFlow runtime and loaded models included. Elsewhere it falls
    back to the process's peak since it started (`ru_maxrss`), and
    `since_start` says so.

    Attributes:
        start_mib: float, resident memory when the block started (Linux;
            None elsewhere).
        peak_mib: float, set when the block ends.
        since_start: bool, True when the figure could not be reset and
            covers the whole process lifetime.

    Example:
    >>> with PeakMemory() as memory:
    ...     block = np.ones((64, 2**20 // 8))  # 64 MiB
    >>> memory.peak_mib > 64
    True
    """

    def __init__(self):
        self.start_mib = None
        self.peak_mib = None
        self.since_start = not (_PROC_STATUS.exists() and _PROC_CLEAR_REFS.exists())

    @property
    def added_mib(self):
        """How far the block raised resident memory above its start, or None if unknown."""
        if self.start_mib is None or self.peak_mib is None:
            return None
        return self.peak_mib - self.start_mib

    def __enter__(self):
        if not self.since_start:
            try:
                _PROC_CLEAR_REFS.write_text("5")
                self.start_mib = _status_kib("VmRSS") / 1024.0
            except OSError:
                self.since_start = True
        return self

    def __exit__(self, *exc_info):
        if self.since_start:
            self.peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        else:
            self.peak_mib = _status_kib("VmHWM") / 1024.0
        return False
