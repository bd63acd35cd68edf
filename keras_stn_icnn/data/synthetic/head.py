"""Painters of the body and the head: clothes and neck, hair behind the head, ears, face skin, scalp hair."""

import math

import numpy as np

from keras_stn_icnn.data.synthetic.class_ids import BACKGROUND, HAIR, SKIN
from keras_stn_icnn.data.synthetic.face_parameters import face_half_width, face_outline, shaded, skin_shading
from keras_stn_icnn.data.synthetic.sampling import random_colour, uniform
from keras_stn_icnn.data.synthetic.shapes import Shape, ellipse


def paint_body(canvas, rng, face):
    """Clothes on the shoulders and the neck, both background."""
    shoulder_v = uniform(rng, 1.2, 1.6)
    shoulder_curve = uniform(rng, 0.1, 0.3)
    shoulder_width = uniform(rng, 1.7, 2.6)
    clothes = random_colour(rng)

    def shoulders(u, v):
        return (v >= shoulder_v + shoulder_curve * u * u) & (np.abs(u) <= shoulder_width)

    def clothes_colour(u, v):
        return (1.0 - 0.25 * np.clip(np.abs(u) / shoulder_width, 0, 1))[:, None] * clothes

    canvas.paint(Shape(shoulders, (-shoulder_width, shoulder_v, shoulder_width, 8)), clothes_colour, BACKGROUND)

    neck_width = uniform(rng, 0.36, 0.5)
    neckline = shoulder_v + uniform(rng, 0.0, 0.4)

    def neck(u, v):
        x = u / (neck_width * (1 + 0.15 * np.clip(v - 0.6, 0, None)))
        return (np.abs(x) <= 1) & (v >= 0.2) & (v <= neckline - 0.25 * (x * x - 1))

    def neck_colour(u, v):
        shade = 0.62 + 0.2 * np.clip(v - 0.9, 0, 0.5) - 0.1 * (u / neck_width) ** 2
        return shade[:, None] * face.skin

    box = (-1.3 * neck_width, 0.2, 1.3 * neck_width, neckline + 0.3)
    canvas.paint(Shape(neck, box), neck_colour, BACKGROUND)


def paint_head(canvas, rng, face):
    """Hair behind the head, ears, face skin and make-up, scalp hair."""
    style = face.hair_style
    if style != "bald":
        _paint_back_hair(canvas, rng, face)

    shading = skin_shading(face)
    if style in ("bald", "short") or rng.uniform() < 0.5:
        ear_v = face.eye_y + uniform(rng, 0.05, 0.2)
        ear_rx, ear_ry = uniform(rng, 0.08, 0.11), uniform(rng, 0.15, 0.2)
        for side in (-1, 1):
            cu = side * (face_half_width(face, ear_v) + 0.35 * ear_rx)
            tilt = side * math.radians(uniform(rng, 0, 15))
            canvas.paint(ellipse(cu, ear_v, ear_rx, ear_ry, tilt), shaded(face.skin, shading, 0.92), SKIN)
            inner = ellipse(cu + side * 0.2 * ear_rx, ear_v, 0.5 * ear_rx, 0.6 * ear_ry, tilt)
            canvas.paint(inner, shaded(face.skin, shading, 0.72), alpha=0.7)

    canvas.paint(face_outline(face), shaded(face.skin, shading), SKIN)
    blush = face.skin * np.array([1.05, 0.8, 0.8], np.float32)
    blush_alpha = uniform(rng, 0.0, 0.25)
    for side in (-1, 1):
        cheek = ellipse(side * 0.4 + face.yaw_shift, 0.28, 0.16, 0.11)
        canvas.paint(cheek, shaded(blush, shading), alpha=blush_alpha)

    if style != "bald":
        hairline_v = uniform(rng, -0.72, -0.5) if rng.uniform() < 0.85 else uniform(rng, -0.92, -0.75)
        curve = uniform(rng, 0.1, 0.5)
        peak = uniform(rng, 0.0, 0.08)
        parting = uniform(rng, -0.3, 0.3)

        def above_hairline(u, v):
            return v < hairline_v + curve * u * u - peak * np.exp(-(((u - parting) / 0.1) ** 2))

        scalp = face_outline(face, grow=1.02) & Shape(above_hairline, (-2, -2, 2, 2))
        canvas.paint(scalp, face.hair_paint, HAIR)
        if rng.uniform() < 0.6:
            sideburn_end = face.eye_y + uniform(rng, -0.25, 0.05)
            inner = face.width * uniform(rng, 0.8, 0.92)

            def sideburns(u, v):
                return (np.abs(u) > inner) & (v < sideburn_end)

            canvas.paint(face_outline(face, grow=1.02) & Shape(sideburns, (-2, -2, 2, 2)), face.hair_paint, HAIR)


def _paint_back_hair(canvas, rng, face):
    """Hair behind the head: a superellipse cap over the skull and straight sides down to the hair's length."""
    top = -1 - face.hair_thickness
    side_thickness = face.hair_thickness if face.hair_style == "short" else uniform(rng, 0.12, 0.45)
    half_width = face.width * (1 + side_thickness)
    middle = -0.2
    power = uniform(rng, 2.0, 2.8)
    flare = uniform(rng, 0.0, 0.35) if face.hair_style == "long" else 0.0
    wave, wave_frequency, wave_phase = uniform(rng, 0.0, 0.08), uniform(rng, 6, 16), uniform(rng, 0, 6.3)
    length = face.hair_length

    def inside(u, v):
        x = np.abs(u) / half_width
        y = np.abs(v - middle) / (middle - top)
        upper = (v <= middle) & (x**power + y**power <= 1)
        spread = 1 + flare * np.clip(v - middle, 0, None)
        bottom = length - 0.15 * x * x + wave * np.sin(wave_frequency * u + wave_phase)
        lower = (v > middle) & (x <= spread) & (v <= bottom)
        return upper | lower

    width = half_width * (1 + flare * (length - middle) if length > middle else 1)
    shape = Shape(inside, (-width, top, width, max(length, middle) + 0.1))
    canvas.paint(shape, lambda u, v: face.hair_paint(u, v) * np.float32(0.8), HAIR)
