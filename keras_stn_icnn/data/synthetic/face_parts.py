"""Painters of the inner face: eyebrows, eyes, nose and mouth."""

import numpy as np

from keras_stn_icnn.data.synthetic.class_ids import (
    INNER_MOUTH,
    LEFT_EYE,
    LEFT_EYEBROW,
    LOWER_LIP,
    NOSE,
    RIGHT_EYE,
    RIGHT_EYEBROW,
    UPPER_LIP,
)
from keras_stn_icnn.data.synthetic.face_parameters import shaded, skin_shading
from keras_stn_icnn.data.synthetic.sampling import uniform
from keras_stn_icnn.data.synthetic.shapes import Shape, band, ellipse, local_box, rotate

_BROW_HAIR_FREQUENCY = 180.0  # radians per face unit across the brow's hairs: one hair every ~2 px


def paint_eyebrows(canvas, face):
    """Both eyebrows, labelled left and right as the picture shows them."""
    for side, label in ((-1, LEFT_EYEBROW), (1, RIGHT_EYEBROW)):
        _paint_eyebrow(canvas, face, side, label)


def _paint_eyebrow(canvas, face, side, label):
    """A curved band, thick at the inner end and tapering outwards, blended into the skin."""
    cu = side * face.brow_dx + face.yaw_shift
    cv = face.eye_y - face.brow_gap
    length = face.brow_half_length

    def band(u, v):
        t = side * (u - cu) / length  # -1 at the inner end, +1 at the outer end
        centre = -face.brow_arch * (1 - t * t) - face.brow_slope * t
        half = 0.5 * face.brow_thickness * (1 - face.brow_taper * 0.5 * (t + 1))
        return t, np.abs(v - cv - centre) / half

    def inside(u, v):
        t, d = band(u, v)
        return (np.abs(t) <= 1) & (d <= 1)

    def alpha(u, v):
        t, d = band(u, v)
        along, across = t * length, side * (v - cv)
        hairs = np.sin(_BROW_HAIR_FREQUENCY * (along * np.sin(face.brow_strand_angle) + across))
        cover = (1 - face.brow_strands) + face.brow_strands * hairs * hairs
        return face.brow_alpha * cover * np.sqrt(1 - d * d) * (1 - 0.3 * np.clip(t, 0, 1))

    box = (cu - length, cv - face.brow_arch - 0.1, cu + length, cv + 0.1)
    canvas.paint(Shape(inside, box), face.brow, label, alpha=alpha)


def paint_eyes(canvas, face):
    """Both eyes, labelled left and right as the picture shows them."""
    for side, label in ((-1, LEFT_EYE), (1, RIGHT_EYE)):
        _paint_eye(canvas, face, side, label)


def _paint_eye(canvas, face, side, label):
    """Eyelid crease (skin), then the eye opening: sclera, iris, pupil, glint and lash line."""
    a, upper, lower = face.eye_half_width, face.eye_upper, face.eye_lower
    cu, cv = side * face.eye_dx + face.yaw_shift, face.eye_y
    angle = side * face.eye_tilt

    def local(u, v):
        x, y = rotate(u - cu, v - cv, angle)
        return x / a, y

    def upper_lid(t):
        return -upper * (1 - t * t) * (1 - 0.15 * side * t)

    def opening(u, v):
        t, y = local(u, v)
        return (np.abs(t) < 1) & (y >= upper_lid(t)) & (y <= lower * (1 - t * t))

    def crease(u, v):
        t, y = local(u, v)
        bulge = 1 - t * t
        return (np.abs(t) < 0.95) & (y <= -1.35 * upper * bulge) & (y >= -(1.35 * upper + 0.02) * bulge)

    def lash_line(u, v):
        t, y = local(u, v)
        return y <= upper_lid(t) + face.lash * upper * (1 - 0.5 * t * t)

    box = local_box(cu, cv, -a, -1.2 * upper, a, lower, angle)
    crease_box = local_box(cu, cv, -a, -1.35 * upper - 0.03, a, 0, angle)
    canvas.paint(Shape(crease, crease_box), shaded(face.skin, skin_shading(face), 0.8), alpha=0.55)
    eye = Shape(opening, box)
    canvas.paint(eye, face.sclera, label)
    iris_radius = face.iris_size * a
    iris_u, iris_v = cu + face.gaze[0] * a * 0.5, cv + face.gaze[1] * upper
    iris = eye & ellipse(iris_u, iris_v, iris_radius, iris_radius)
    canvas.paint(iris, _iris_colour(face.iris, iris_u, iris_v, iris_radius))
    pupil = 0.4 * iris_radius
    canvas.paint(eye & ellipse(iris_u, iris_v, pupil, pupil), (14, 12, 12))
    glint = 0.18 * iris_radius
    canvas.paint(eye & ellipse(iris_u + 0.3 * iris_radius, iris_v - 0.35 * iris_radius, glint, glint), (250, 250, 250))
    canvas.paint(eye & Shape(lash_line, box), face.hair * 0.2 + 5)


def _iris_colour(colour, cu, cv, radius):
    """f(u, v) -> iris colour, darker towards its rim."""

    def shade(u, v):
        r = np.sqrt((u - cu) ** 2 + (v - cv) ** 2) / radius
        return (1.1 - 0.5 * r * r)[:, None] * colour

    return shade


def paint_nose(canvas, rng, face):
    """A rounded region from the bridge to the tip, shaded close to the skin, with darker nostrils."""
    shading = skin_shading(face)
    cu = 1.3 * face.yaw_shift
    top, tip, ball = face.nose_top, face.nose_tip, face.nose_ball
    ball_v = tip - ball
    bridge, wing = face.nose_bridge, face.nose_wing

    def half_width(v):
        t = np.clip((v - top) / (ball_v - top), 0, 1)
        return bridge + (0.8 * wing - bridge) * t**face.nose_gamma

    def inside(u, v):
        du = u - cu
        stem = (v >= top) & (v <= ball_v) & (np.abs(du) <= half_width(v))
        x, y = du / wing, (v - ball_v) / ball
        return stem | (x * x + y * y <= 1)

    def colour(u, v):
        du = u - cu
        edge = np.clip(np.abs(du) / np.maximum(half_width(v), wing * (v > ball_v)), 0, 1)
        ridge = np.exp(-((du / (0.5 * bridge)) ** 2))
        shade = 1 + face.nose_contrast * (0.6 * ridge - edge**4) - 0.03
        return (shading(u, v) * shade)[:, None] * face.skin

    canvas.paint(Shape(inside, (cu - wing, top, cu + wing, tip)), colour, NOSE)
    nostril_rx, nostril_ry = uniform(rng, 0.2, 0.3) * wing, uniform(rng, 0.15, 0.3) * ball
    nostril_dark = uniform(rng, 0.4, 0.7)
    for side in (-1, 1):
        nostril = ellipse(cu + side * 0.42 * wing, tip - 1.3 * nostril_ry, nostril_rx, nostril_ry, side * 0.35)
        canvas.paint(nostril, shaded(face.skin, shading, nostril_dark), alpha=0.8)


def paint_mouth(canvas, rng, face):
    """Upper lip, inner mouth (open mouths only: dark, teeth, tongue) and lower lip between five curves."""
    shading = skin_shading(face)
    cu, cv = 1.1 * face.yaw_shift, face.mouth_y
    half, angle = face.mouth_half_width, face.mouth_tilt

    def curves(u, v):
        """t along the mouth, y across, and the five lip curves at t."""
        x, y = rotate(u - cu, v - cv, angle)
        t = x / half
        bulge = np.clip(1 - t * t, 0, 1)
        split = -face.smile * t * t
        inner_top = split - face.gap_upper * bulge**0.7
        inner_bottom = split + face.gap_lower * bulge**0.7
        bow = 1 - face.cupid_bow * np.exp(-((t / 0.18) ** 2))
        outer_top = inner_top - face.upper_lip * bulge**0.6 * bow
        outer_bottom = inner_bottom + face.lower_lip * bulge**0.55
        return t, y, split, inner_top, inner_bottom, outer_top, outer_bottom

    def region(pick):
        def inside(u, v):
            t, y, _, inner_top, inner_bottom, outer_top, outer_bottom = curves(u, v)
            low, high = pick(inner_top, inner_bottom, outer_top, outer_bottom)
            return (np.abs(t) < 1) & (y >= low) & (y < high)

        extent_top = max(face.smile, 0) + face.gap_upper + face.upper_lip
        extent_bottom = max(-face.smile, 0) + face.gap_lower + face.lower_lip
        return Shape(inside, local_box(cu, cv, -half, -extent_top, half, extent_bottom, angle))

    def lip_colour(u, v):
        _, y, split, *_ = curves(u, v)
        closeness = np.exp(-(((y - split) / (0.3 * face.upper_lip)) ** 2))
        return (shading(u, v) * (1 - 0.35 * closeness))[:, None] * face.lip

    # Half-open bands [outer top, inner top), [inner top, inner bottom), [inner bottom, outer bottom):
    # closed (inner top = inner bottom) leaves no inner mouth.
    upper = region(lambda it, ib, ot, ob: (ot, it))
    lower = region(lambda it, ib, ot, ob: (ib, ob))
    canvas.paint(upper, lambda u, v: lip_colour(u, v) * np.float32(0.9), UPPER_LIP)
    if face.mouth_open:
        inner = region(lambda it, ib, ot, ob: (it, ib))
        canvas.paint(inner, np.array([62, 22, 26], np.float32) * rng.uniform(0.6, 1.3), INNER_MOUTH)
        teeth = np.array([236, 230, 214], np.float32) * rng.uniform(0.75, 1.0)
        if rng.uniform() < 0.7:
            depth = uniform(rng, 0.3, 0.7)  # fraction of the opening the upper teeth fill
            upper_teeth = region(lambda it, ib, ot, ob: (it, it + depth * (ib - it))) & band(cu, 0.75 * half)
            canvas.paint(upper_teeth, teeth)
        if rng.uniform() < 0.4:
            tongue = ellipse(cu, cv + face.gap_lower, 0.55 * half, 0.6 * face.gap_lower + 0.01, angle)
            canvas.paint(inner & tongue, np.array([176, 76, 82], np.float32) * rng.uniform(0.8, 1.1))
    canvas.paint(lower, lip_colour, LOWER_LIP)
