"""Painters of what may cover the face: a fringe and locks of hair, glasses, an occluding object."""

import math

import numpy as np

from keras_stn_icnn.data.synthetic.class_ids import BACKGROUND, HAIR, SKIN
from keras_stn_icnn.data.synthetic.face_parameters import face_outline
from keras_stn_icnn.data.synthetic.sampling import pick, random_colour, skin_tone, uniform
from keras_stn_icnn.data.synthetic.shapes import Shape, capsule, ellipse, rectangle, superellipse

FRINGE_OVER_BROWS_PROBABILITY = 0.25
OCCLUDER_KINDS = ("hand", "microphone", "rectangle", "ellipse")


def paint_front_hair(canvas, rng, face):
    """A fringe (bangs) and, for long hair, locks over the cheeks."""
    if face.hair_style == "bald":
        return
    head = face_outline(face, grow=1.03)
    eye_top = face.eye_y - face.eye_upper - 0.04
    brow_v = face.eye_y - face.brow_gap
    choice = rng.uniform()
    if choice < FRINGE_OVER_BROWS_PROBABILITY:
        base = brow_v + uniform(rng, -0.04, 0.06)
        slope = uniform(rng, -0.5, 0.5) if rng.uniform() < 0.5 else 0.0
    elif choice < FRINGE_OVER_BROWS_PROBABILITY + 0.15:
        base = brow_v - face.brow_arch - uniform(rng, 0.12, 0.3)
        slope = 0.0
    else:
        base = None
    if base is not None:
        amplitude, frequency, phase = uniform(rng, 0.01, 0.06), uniform(rng, 8, 25), uniform(rng, 0, 6.3)

        def fringe(u, v):
            edge = base + slope * u + amplitude * np.abs(np.sin(frequency * u + phase))
            return (v < np.minimum(edge, eye_top)) & (v > -1.2)

        canvas.paint(head & Shape(fringe, (-2, -2, 2, 2)), face.hair_paint, HAIR)
    brow_end = face.brow_dx + face.brow_half_length + abs(face.yaw_shift) + 0.03
    depth = uniform(rng, 0.04, 0.14)
    if face.hair_style == "long" and rng.uniform() < 0.5 and face.width - depth > brow_end:
        cheeks = face_outline(face, narrow=depth)
        end = min(face.hair_length, 0.8)

        def locks(u, v):
            return (v < end) & (v > -0.9)

        canvas.paint((head - cheeks) & Shape(locks, (-2, -2, 2, 2)), face.hair_paint, HAIR)


def paint_glasses(canvas, rng, face):
    """Tinted lenses (picture only) and frames (skin inside the face outline)."""
    power = uniform(rng, 2.0, 4.5)
    lens_w = min(face.eye_half_width + uniform(rng, 0.04, 0.09), face.eye_dx - 0.04)
    lens_h = max(uniform(rng, 0.09, 0.15), face.eye_upper + 0.04)
    lens_v = face.eye_y + uniform(rng, 0.0, 0.03)
    thin = rng.uniform() < 0.5
    rim = max(uniform(rng, 0.008, 0.016) if thin else uniform(rng, 0.025, 0.045), 1.2 * face.pixel)
    frame_kind = rng.uniform()
    if frame_kind < 0.6:
        frame_colour = np.full(3, uniform(rng, 10, 70), np.float32)
    elif frame_kind < 0.85:
        frame_colour = random_colour(rng)
    else:
        frame_colour = np.array([200, 170, 90] if rng.uniform() < 0.5 else [190, 190, 195], np.float32)
    tint = random_colour(rng, 40, 160) if rng.uniform() < 0.6 else np.full(3, 60, np.float32)
    tint_alpha = uniform(rng, 0.08, 0.45)

    bridge_v = lens_v - uniform(rng, 0.0, 0.5) * lens_h
    gap = face.eye_dx - lens_w
    frames = capsule(face.yaw_shift - gap, bridge_v, face.yaw_shift + gap, bridge_v, 0.6 * rim)
    for side in (-1, 1):
        cu = side * face.eye_dx + face.yaw_shift
        lens = superellipse(cu, lens_v, lens_w, lens_h, power)
        canvas.paint(lens, tint, alpha=tint_alpha)
        glare = lens & rectangle(cu - 0.3 * lens_w, lens_v, 0.25 * lens_w, 2 * lens_h, -0.5)
        canvas.paint(glare, (255, 255, 255), alpha=uniform(rng, 0.0, 0.25))
        ring = superellipse(cu, lens_v, lens_w + rim, lens_h + rim, power) - lens
        temple_start = cu + side * (lens_w + 0.5 * rim)
        temple_end = side * (face.width + 0.1)
        temple = capsule(temple_start, lens_v - 0.4 * lens_h, temple_end, lens_v - 0.5 * lens_h, 0.5 * rim)
        frames = frames | ring | temple
    canvas.paint(frames, frame_colour)
    canvas.paint_label(frames & face_outline(face), SKIN)


def paint_occluder(canvas, rng, face, kind):
    """An opaque object coming from the left, right or below, stopping before the face's middle."""
    entry = pick(rng, ("left", "right", "below"))
    tilt = math.radians(uniform(rng, -20, 20))
    if entry == "below":
        front = (uniform(rng, -0.4, 0.4) + face.yaw_shift, uniform(rng, face.mouth_y + face.gap_lower + 0.1, 0.95))
        direction = -math.pi / 2 + tilt
    else:
        side = -1 if entry == "left" else 1
        front = (side * uniform(rng, 0.12, 0.6) + face.yaw_shift, uniform(rng, -0.35, 0.75))
        direction = (0.0 if side < 0 else math.pi) + tilt
    # Local frame: x points into the face along `direction`, the object lies at x <= 0.
    c, s = math.cos(direction), math.sin(direction)

    def place(x, y):
        return front[0] + x * c - y * s, front[1] + x * s + y * c

    if kind == "hand":
        colour = face.skin * rng.uniform(0.85, 1.1) if rng.uniform() < 0.6 else skin_tone(rng)
        finger_length = uniform(rng, 0.22, 0.34)
        palm_rx, palm_ry = uniform(rng, 0.18, 0.26), uniform(rng, 0.18, 0.24)
        palm_x = -finger_length - 0.7 * palm_rx
        shape = ellipse(*place(palm_x, 0.0), palm_rx, palm_ry, -direction)
        shape = shape | capsule(*place(palm_x, 0.0), *place(-3.0, 0.0), 0.8 * palm_ry)
        finger_radius = 0.22 * palm_ry
        for k, offset in enumerate(np.linspace(-0.72, 0.72, 4) * palm_ry):
            length = finger_length * (0.8 if k in (0, 3) else 1.0)
            shape = shape | capsule(
                *place(palm_x, offset), *place(palm_x + 0.7 * palm_rx + length - finger_radius, offset), finger_radius
            )
        thumb_y = palm_ry * (1 if rng.uniform() < 0.5 else -1)
        shape = shape | capsule(*place(palm_x, thumb_y), *place(palm_x + 0.6 * palm_rx, 1.6 * thumb_y), finger_radius)
        front_u, front_v = front

        def paint(u, v):
            distance = np.sqrt((u - front_u) ** 2 + (v - front_v) ** 2)
            return (1.0 - 0.12 * np.clip(distance, 0, 1.5))[:, None] * colour

    elif kind == "microphone":
        radius = uniform(rng, 0.1, 0.18)
        head_u, head_v = place(-radius, 0.0)
        shape = ellipse(head_u, head_v, radius, radius) | capsule(
            head_u, head_v, *place(-3.0, 0.0), uniform(rng, 0.04, 0.07)
        )
        grey = uniform(rng, 40, 120)
        mesh = uniform(rng, 120, 250)

        def paint(u, v):
            grille = np.sin(mesh * (u - head_u)) * np.sin(mesh * (v - head_v)) > 0.3
            inside_head = (u - head_u) ** 2 + (v - head_v) ** 2 <= radius * radius
            value = np.where(inside_head, np.where(grille, grey + 40, grey), 18)
            return np.repeat(value[:, None], 3, axis=1).astype(np.float32)

    elif kind == "rectangle":
        half_height = uniform(rng, 0.08, 0.3)
        length = uniform(rng, 0.3, 3.0)
        shape = rectangle(*place(-length / 2, 0.0), length / 2, half_height, -direction)
        paint = random_colour(rng)
    else:
        rx, ry = uniform(rng, 0.12, 0.35), uniform(rng, 0.12, 0.3)
        shape = ellipse(*place(-rx, 0.0), rx, ry, -direction)
        paint = random_colour(rng)
    canvas.paint(shape, paint, BACKGROUND)
