"""The random pose and face of a seed, and the face's outline and skin shading, in the face frame."""

import math
from types import SimpleNamespace

import numpy as np

from keras_stn_icnn.data.synthetic.sampling import pick, skin_tone, uniform
from keras_stn_icnn.data.synthetic.shapes import Shape

FACE_SCALE_RANGE = (0.48, 0.54)  # face skin height / PHOTO_SIZE: every part fits STN-iCNN's 81 px window
MAX_ROTATION_DEGREES = 35.0
MIN_YAW_SQUASH = 0.82  # horizontal scale of the face, 1 = frontal
INNER_FACE_BOX = (-0.68, -0.52, 0.68, 0.94)  # holds brows, eyes, nose, mouth in the face frame
FRAME_MARGIN_PX = 3.0  # the inner-face box stays this far inside the image

MOUTH_OPEN_PROBABILITY = 0.5

_HAIR_COLOURS = {
    "black": (22, 20, 20),
    "dark_brown": (50, 35, 26),
    "brown": (94, 63, 40),
    "light_brown": (142, 104, 66),
    "blond": (208, 176, 114),
    "red": (152, 68, 33),
    "grey": (142, 140, 136),
    "white": (214, 212, 206),
    "dyed_pink": (205, 84, 150),
    "dyed_blue": (58, 92, 185),
    "dyed_purple": (112, 62, 150),
    "dyed_green": (62, 140, 92),
}
_HAIR_COLOUR_WEIGHTS = (14, 16, 14, 10, 10, 6, 7, 4, 2, 2, 2, 2)
_HAIR_STYLES = ("bald", "short", "medium", "long")
_HAIR_STYLE_WEIGHTS = (0.08, 0.3, 0.32, 0.3)
_HAIR_LENGTHS = {"short": (-0.1, 0.2), "medium": (0.3, 0.95), "long": (1.2, 2.4)}  # lowest v of the hair
_IRIS_COLOURS = np.array(
    [(88, 56, 32), (42, 28, 20), (124, 98, 52), (84, 118, 72), (74, 112, 160), (118, 128, 138)],
    np.float32,
)
_LIP_TARGETS = np.array(
    [(190, 82, 92), (160, 66, 74), (205, 108, 122), (130, 58, 54), (150, 40, 72), (212, 52, 64)],
    np.float32,
)


def draw_pose(rng, height, width):
    """Scale, rotation, squash and centre; the inner-face box always fits in the image."""
    face_scale = uniform(rng, *FACE_SCALE_RANGE)
    pixels_per_unit = face_scale * min(height, width) / 2
    rotation = uniform(rng, -MAX_ROTATION_DEGREES, MAX_ROTATION_DEGREES)
    squash = uniform(rng, MIN_YAW_SQUASH, 1.0)
    angle = math.radians(rotation)
    c, s = math.cos(angle), math.sin(angle)
    linear = pixels_per_unit * np.array([[c, s], [-s, c]]) @ np.diag([squash, 1.0])
    u0, v0, u1, v1 = INNER_FACE_BOX
    offsets = np.array([(u0, v0), (u1, v0), (u0, v1), (u1, v1)]) @ linear.T
    # The largest face at the largest rotation still fits, so low <= high.
    low = FRAME_MARGIN_PX - offsets.min(axis=0)
    high = np.array([width, height]) - FRAME_MARGIN_PX - offsets.max(axis=0)
    centre = rng.uniform(low, high)
    return SimpleNamespace(
        face_scale=face_scale,
        pixels_per_unit=pixels_per_unit,
        rotation=rotation,
        squash=squash,
        centre=centre,
        face_to_image=np.concatenate([linear, centre[:, None]], axis=1),
    )


def draw_face(rng, pixels_per_unit):
    """Geometry and colours of the head and its parts, in face-frame units."""
    pixel = 1.0 / pixels_per_unit  # one pixel in face units, for minimum sizes
    f = SimpleNamespace(pixel=pixel)
    f.width = uniform(rng, 0.64, 0.78)
    f.widest_v = uniform(rng, -0.15, 0.1)
    f.top_power = uniform(rng, 1.9, 2.6)
    f.jaw_power = uniform(rng, 1.4, 3.2)
    f.chin_power = uniform(rng, 1.6, 3.4)
    f.skin = skin_tone(rng)
    f.edge_shading = uniform(rng, 0.1, 0.35)
    light_angle = uniform(rng, 0, 2 * math.pi)
    light = uniform(rng, 0.0, 0.2)
    f.light = (light * math.cos(light_angle), light * math.sin(light_angle))
    f.yaw_shift = uniform(rng, -0.06, 0.06)

    f.eye_y = uniform(rng, -0.12, 0.02)
    f.eye_dx = uniform(rng, 0.26, 0.33)
    f.eye_half_width = f.eye_dx * uniform(rng, 0.46, 0.6)  # the eyes' inner corners 0.8-1.1 eye widths apart
    openness = uniform(rng, 0.24, 0.4) if rng.uniform() < 0.85 else uniform(rng, 0.07, 0.15)
    f.eye_upper = max(openness * f.eye_half_width, 1.4 * pixel)
    f.eye_lower = max(f.eye_upper * uniform(rng, 0.5, 0.8), 0.8 * pixel)
    f.eye_tilt = math.radians(uniform(rng, -4, 10))
    f.iris = _IRIS_COLOURS[rng.integers(len(_IRIS_COLOURS))] * rng.uniform(0.85, 1.15)
    f.gaze = (uniform(rng, -0.35, 0.35), uniform(rng, -0.2, 0.2))
    f.sclera = np.array([238, 234, 228], np.float32) * rng.uniform(0.62, 0.95)
    f.iris_size = uniform(rng, 0.45, 0.62)  # iris radius / eye half width
    f.lash = uniform(rng, 0.3, 0.65)  # the lash line's depth / the upper lid's height

    f.brow_dx = f.eye_dx + uniform(rng, -0.01, 0.04)
    f.brow_half_length = uniform(rng, 0.18, 0.27)
    f.brow_thickness = max(uniform(rng, 0.04, 0.09), 2.5 * pixel)
    f.brow_gap = f.eye_upper + 0.5 * f.brow_thickness + uniform(rng, 0.02, 0.07)  # brow centre above the eye's
    f.brow_arch = uniform(rng, 0.0, 0.06)
    f.brow_slope = uniform(rng, -0.04, 0.04)
    f.brow_taper = uniform(rng, 0.2, 0.8)
    f.brow_alpha = uniform(rng, 0.6, 0.95)
    f.brow_strands = uniform(rng, 0.15, 0.45)  # how much the hairs' pattern varies the brow's cover
    f.brow_strand_angle = uniform(rng, 0.3, 0.9)  # how steeply the hairs lie (radians from the brow's line)

    f.nose_top = f.eye_y + uniform(rng, -0.02, 0.05)
    f.nose_tip = uniform(rng, 0.28, 0.42)
    f.nose_bridge = max(uniform(rng, 0.04, 0.075), 1.5 * pixel)
    f.nose_wing = uniform(rng, 0.15, 0.22)
    f.nose_ball = uniform(rng, 0.07, 0.11)
    f.nose_gamma = uniform(rng, 1.5, 3.0)
    f.nose_contrast = uniform(rng, 0.03, 0.12)

    f.mouth_y = min(f.nose_tip + uniform(rng, 0.17, 0.26), 0.66)
    f.mouth_half_width = uniform(rng, 0.22, 0.3)
    f.mouth_tilt = math.radians(uniform(rng, -3, 3))
    f.smile = uniform(rng, -0.03, 0.06)
    f.upper_lip = max(uniform(rng, 0.035, 0.075), 1.5 * pixel)
    f.lower_lip = max(uniform(rng, 0.045, 0.1), 1.5 * pixel)
    f.cupid_bow = uniform(rng, 0.0, 0.5)
    f.mouth_open = bool(rng.uniform() < MOUTH_OPEN_PROBABILITY)
    opening = max(uniform(rng, 0.04, 0.16), 3.0 * pixel) if f.mouth_open else 0.0
    f.gap_upper = opening * uniform(rng, 0.2, 0.45)
    f.gap_lower = opening - f.gap_upper
    lip_target = _LIP_TARGETS[rng.integers(len(_LIP_TARGETS))]
    f.lip = f.skin + (lip_target - f.skin) * uniform(rng, 0.1, 0.75)

    f.hair_style = pick(rng, _HAIR_STYLES, _HAIR_STYLE_WEIGHTS)
    f.hair_colour_name = pick(rng, tuple(_HAIR_COLOURS), _HAIR_COLOUR_WEIGHTS)
    f.hair = np.array(_HAIR_COLOURS[f.hair_colour_name], np.float32) * rng.uniform(0.85, 1.15, 3)
    if f.hair_colour_name.startswith("dyed"):
        f.brow = np.array(_HAIR_COLOURS["dark_brown"], np.float32) * rng.uniform(0.8, 1.4)
    else:
        f.brow = f.hair * uniform(rng, 0.55, 0.9)
    f.hair_length = uniform(rng, *_HAIR_LENGTHS[f.hair_style]) if f.hair_style != "bald" else None
    f.hair_thickness = uniform(rng, 0.03, 0.1) if f.hair_style == "short" else uniform(rng, 0.1, 0.35)
    f.hair_paint = _hair_colour(f, rng, crown_v=-1.3 - f.hair_thickness)
    return f


def _hair_colour(face, rng, crown_v):
    """f(u, v) -> hair colour with strands fanning out from the crown and a sheen band."""
    frequency = uniform(rng, 20, 45)
    phase = uniform(rng, 0, 2 * math.pi)
    sheen_v = uniform(rng, -1.0, -0.4)
    sheen = uniform(rng, 0.05, 0.3)

    def colour(u, v):
        direction = u / (v - crown_v)
        strands = 1 + 0.1 * np.sin(frequency * direction + phase) + 0.06 * np.sin(2.7 * frequency * direction)
        shine = 1 + sheen * np.exp(-(((v - sheen_v) / 0.12) ** 2))
        return (strands * shine)[:, None] * face.hair

    return colour


def face_outline(face, grow=1.0, narrow=0.0):
    """The face skin outline: an egg of two superellipse halves meeting at v = face.widest_v."""
    width = face.width * grow - narrow
    top, bottom = -grow, grow
    widest = face.widest_v

    def inside(u, v):
        x = np.abs(u) / width
        upper = v < widest
        y = np.where(upper, (widest - v) / (widest - top), (v - widest) / (bottom - widest))
        x_power = np.where(upper, np.float32(face.top_power), np.float32(face.jaw_power))
        y_power = np.where(upper, np.float32(face.top_power), np.float32(face.chin_power))
        return x**x_power + y**y_power <= 1

    return Shape(inside, (-width, top, width, bottom))


def face_half_width(face, v):
    """Half width of the face outline at height v (a number)."""
    if v < face.widest_v:
        y, p, q = (face.widest_v - v) / (face.widest_v + 1), face.top_power, face.top_power
    else:
        y, p, q = (v - face.widest_v) / (1 - face.widest_v), face.jaw_power, face.chin_power
    return face.width * max(0.0, 1 - y**q) ** (1 / p)


def skin_shading(face):
    """f(u, v) -> brightness factor of the skin: darker towards the edges, lit from one side."""
    light_u, light_v = face.light

    def shading(u, v):
        x = u / face.width
        r2 = x * x + v * v
        return np.clip(1 - face.edge_shading * r2 * r2 + light_u * x + light_v * v, 0.35, 1.25)

    return shading


def shaded(colour, shading, factor=1.0):
    """f(u, v) -> `colour * factor` under `shading`."""
    colour = np.asarray(colour, np.float32) * factor
    return lambda u, v: shading(u, v)[:, None] * colour
