"""Checks of the seeds and counts that `render_face` and `generate_synthetic_helen` take."""

import numpy as np


def _is_integer(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_count(value, name, minimum):
    """`value` as an int; raises ValueError naming `name` unless it is an integer >= `minimum`."""
    if not _is_integer(value) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_seed(seed, name):
    """`seed` as an int or tuple of ints; raises ValueError naming `name` unless all are >= 0."""
    if _is_integer(seed) and seed >= 0:
        return int(seed)
    if isinstance(seed, tuple) and seed and all(_is_integer(item) and item >= 0 for item in seed):
        return tuple(int(item) for item in seed)
    raise ValueError(f"{name} must be a non-negative int or a non-empty tuple of them, got {seed!r}")
