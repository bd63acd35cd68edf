"""The first layer painted: a plain, gradient or cluttered background."""

import math

import numpy as np
from PIL import ImageFilter

from keras_stn_icnn.data.synthetic.canvas import from_picture, to_picture
from keras_stn_icnn.data.synthetic.sampling import pick, random_colour, skin_tone, uniform
from keras_stn_icnn.data.synthetic.shapes import ellipse, rectangle

_BACKGROUND_KINDS = ("plain", "gradient", "clutter")
_BACKGROUND_WEIGHTS = (0.15, 0.2, 0.65)


def paint_background(canvas, rng, face):
    """Fills the whole picture; returns the kind of background."""
    kind = pick(rng, _BACKGROUND_KINDS, _BACKGROUND_WEIGHTS)
    height, width = canvas.height, canvas.width
    start = random_colour(rng)
    if kind == "plain":
        canvas.fill(start)
    else:
        end = random_colour(rng)
        angle = uniform(rng, 0, 2 * math.pi)
        canvas.fill(_linear_gradient(2 * height, 2 * width, start, end, angle))
    if kind == "clutter":
        size = max(height, width)
        for _ in range(int(rng.integers(4, 21))):
            if rng.uniform() < 0.25:
                colour = skin_tone(rng) if rng.uniform() < 0.7 else face.skin * rng.uniform(0.85, 1.1)
            else:
                colour = random_colour(rng)
            cx, cy = uniform(rng, 0, width), uniform(rng, 0, height)
            rx, ry = rng.uniform(0.03, 0.3, 2) * size
            angle = uniform(rng, 0, math.pi)
            shape_kind = pick(rng, ("rectangle", "ellipse", "stripes"))
            if shape_kind == "ellipse":
                canvas.paint(ellipse(cx, cy, rx, ry, angle), colour, frame="image")
                continue
            shape = rectangle(cx, cy, rx, ry, angle if rng.uniform() < 0.5 else 0.0)
            if shape_kind == "stripes":
                canvas.paint(shape, _stripes(colour, random_colour(rng), rng, size), frame="image")
            else:
                canvas.paint(shape, colour, frame="image")
    if rng.uniform() < 0.3:  # out of focus
        blurred = to_picture(canvas.downsampled()).filter(ImageFilter.GaussianBlur(uniform(rng, 0.5, 3.0)))
        canvas.upsample_into(from_picture(blurred))
    return kind


def _linear_gradient(height, width, start, end, angle):
    """[3, height, width] planes going from `start` to `end` across the picture in direction `angle`."""
    c, s = math.cos(angle), math.sin(angle)
    xs = np.linspace(0, 1, width, dtype=np.float32) * c - min(c, 0)
    ys = np.linspace(0, 1, height, dtype=np.float32) * s - min(s, 0)
    span = abs(c) + abs(s)
    return np.stack([low + (xs + ys[:, None]) * ((high - low) / span) for low, high in zip(start, end)])


def _stripes(first, second, rng, size):
    """f(x, y) -> parallel stripes of two colours, in image pixels."""
    period = uniform(rng, 0.01, 0.06) * size
    angle = uniform(rng, 0, math.pi)
    cu, cv = math.cos(angle) * 2 * math.pi / period, math.sin(angle) * 2 * math.pi / period

    def colour(u, v):
        return np.where((np.sin(u * cu + v * cv) > 0)[:, None], first, second).astype(np.float32)

    return colour
