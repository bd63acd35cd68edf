"""Timing a call the same way every time: warm-up, repeats, median and spread."""

import contextlib
import dataclasses
import time

import numpy as np


@dataclasses.dataclass(frozen=True)
class Timing:
    """Seconds per item of repeated timed calls.

    Attributes:
        seconds: tuple of float, one entry per timed call: its wall time
            divided by the items it handled.

    Example:
    >>> timing = Timing((0.2, 0.1, 0.3))
    >>> timing.median, timing.minimum, timing.maximum
    (0.2, 0.1, 0.3)
    """

    seconds: tuple

    def __post_init__(self):
        if not self.seconds:
            raise ValueError("a Timing needs at least one timed call")

    @property
    def median(self):
        return float(np.median(self.seconds))

    @property
    def minimum(self):
        return float(np.min(self.seconds))

    @property
    def maximum(self):
        return float(np.max(self.seconds))

    def milliseconds(self):
        """`"median (min-max)"` in milliseconds, for tables."""
        return f"{self.median * 1e3:.1f} ({self.minimum * 1e3:.1f}-{self.maximum * 1e3:.1f})"


def time_per_item(function, items=1, repeats=10, warmup=2, clock=time.perf_counter):
    """Times `function()` after warm-up calls.

    The warm-up calls trace graphs, allocate buffers and fill caches; only
    the calls after them are timed, each on its own.

    Args:
        function: a callable taking no arguments; it must finish its work
            before returning (convert results to numpy inside it).
        items: int, how many items (faces, images) one call handles; each
            call's time is divided by it.
        repeats: int, number of timed calls, at least 1.
        warmup: int, number of untimed calls before them, at least 0.
        clock: callable returning seconds, `time.perf_counter` by default.

    Returns:
        A `Timing`.

    Example:
    >>> time_per_item(lambda: sum(range(1000)), repeats=3).median > 0
    True
    """
    if int(repeats) < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats!r}")
    if int(warmup) < 0:
        raise ValueError(f"warmup must be at least 0, got {warmup!r}")
    if int(items) < 1:
        raise ValueError(f"items must be at least 1, got {items!r}")
    for _ in range(int(warmup)):
        function()
    seconds = []
    for _ in range(int(repeats)):
        start = clock()
        function()
        seconds.append((clock() - start) / int(items))
    return Timing(tuple(seconds))


def time_in_turns(steps, repeats=5, contexts=None):
    """Times several settings of one computation in turns, so that each sees the same machine load.

    Each setting's step is called once untimed first (it traces its graphs
    then), inside its context if it has one; then the settings are timed one
    call each, in turns, `repeats` times. Ratios of the medians are what a
    side-by-side benchmark prints.

    Args:
        steps: dict, setting name -> callable taking no arguments, as for
            `time_per_item`.
        repeats: int, timed calls of each setting, at least 1.
        contexts: dict, setting name -> callable returning a context manager
            to enter for that setting's untimed first call (what its traced
            graphs are built under), or None.

    Returns:
        dict, setting name -> `Timing`.

    Example:
    >>> timings = time_in_turns({"short": lambda: sum(range(10)), "long": lambda: sum(range(10**5))}, repeats=3)
    >>> sorted(timings), len(timings["long"].seconds)
    (['long', 'short'], 3)
    """
    contexts = contexts or {}
    unknown = sorted(set(contexts) - set(steps))
    if unknown:
        raise ValueError(f"contexts name settings that have no step: {unknown}")
    for setting, step in steps.items():
        with contexts.get(setting, contextlib.nullcontext)():
            step()
    seconds = {setting: [] for setting in steps}
    for _ in range(int(repeats)):
        for setting, step in steps.items():
            seconds[setting].extend(time_per_item(step, repeats=1, warmup=0).seconds)
    return {setting: Timing(tuple(times)) for setting, times in seconds.items()}
