"""Random draws shared by the face and its painters: numbers, choices and colours."""

import numpy as np

_SKIN_TONES = np.array(
    [
        (255, 232, 220),
        (244, 208, 184),
        (231, 185, 151),
        (212, 158, 118),
        (182, 126, 89),
        (143, 95, 63),
        (106, 67, 44),
        (72, 46, 33),
        (50, 33, 25),
    ],
    np.float32,
)


def uniform(rng, low, high):
    """A Python float (not np.float64, which would turn float32 arrays into float64)."""
    return float(rng.uniform(low, high))


def pick(rng, options, weights=None):
    """One of `options`, with probabilities proportional to `weights` (uniform if None)."""
    if weights is not None:
        weights = np.asarray(weights, np.float64) / np.sum(weights)
    return options[int(rng.choice(len(options), p=weights))]


def random_colour(rng, low=15, high=240):
    """A random RGB colour of random saturation."""
    colour = rng.uniform(low, high, 3)
    grey = colour.mean()
    return (grey + (colour - grey) * rng.uniform(0.2, 1.3)).clip(0, 255).astype(np.float32)


def skin_tone(rng):
    """A skin colour on the light-to-dark scale of `_SKIN_TONES`, with a small random tint."""
    scaled = rng.uniform(0, 1) * (len(_SKIN_TONES) - 1)
    low = min(int(scaled), len(_SKIN_TONES) - 2)
    tone = _SKIN_TONES[low] + (_SKIN_TONES[low + 1] - _SKIN_TONES[low]) * (scaled - low)
    return (tone * rng.uniform(0.94, 1.06, 3)).clip(0, 255).astype(np.float32)
