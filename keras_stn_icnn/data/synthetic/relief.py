"""The face's relief under a key light, and its skin texture: what makes a painted face read as a photograph.

Real faces are recognised by their shading as much as by their outlines:
eye sockets in shadow under the brow ridge, one side of the nose darker than
the other, a shadow under the nose and under the lower lip, highlights on
the nose tip, forehead and cheekbones, and skin that is never one flat
colour. `paint_relief` multiplies the painted face (skin and parts alike)
by such a shading map and a blotchy skin texture, both evaluated
analytically in the face frame; it changes the picture only, never the
label map.
"""

import math

import numpy as np

from keras_stn_icnn.data.synthetic.face_parameters import face_outline
from keras_stn_icnn.data.synthetic.sampling import uniform

TEXTURE_WAVES = 14  # plane waves summed into the skin's blotches


def paint_relief(canvas, rng, face):
    """Shades the whole face by its relief under a random key light and adds skin texture.

    Args:
        canvas: the `Canvas` the face is painted on.
        rng: `np.random.Generator` of the face's seed.
        face: the face's parameters (`face_parameters.draw_face`).
    """
    relief = _relief(rng, face)
    texture = _skin_texture(rng)
    canvas.shade(face_outline(face), lambda u, v: relief(u, v) * texture(u, v))


def _bump(u, v, cu, cv, ru, rv):
    """A Gaussian bump of radii (ru, rv) centred at (cu, cv), 1 at its centre."""
    x, y = (u - cu) / ru, (v - cv) / rv
    return np.exp(-(x * x + y * y))


def _relief(rng, face):
    """f(u, v) -> brightness factor of the face's relief under a key light from the side `light`."""
    light = uniform(rng, -1.0, 1.0)  # -1: from the picture's left, +1: from its right
    socket = uniform(rng, 0.12, 0.4)
    nose_side = uniform(rng, 0.1, 0.35)
    under_nose = uniform(rng, 0.15, 0.45)
    under_lip = uniform(rng, 0.1, 0.35)
    fold = uniform(rng, 0.0, 0.2)
    shine = uniform(rng, 0.03, 0.2)
    nose_u = 1.3 * face.yaw_shift
    mouth_u = 1.1 * face.yaw_shift
    lower_lip_v = face.mouth_y + face.gap_lower + face.lower_lip
    socket_ru, socket_rv = 1.25 * face.eye_half_width, 0.5 * (face.brow_gap + face.eye_upper) + 0.02

    def relief(u, v):
        dark = np.zeros_like(u)
        for side in (-1, 1):
            centre_u = side * face.eye_dx + face.yaw_shift - side * 0.03
            # The socket: in shadow under the brow ridge, deeper on the side away from the light.
            depth = socket * (1 + 0.35 * side * -light)
            dark += depth * _bump(u, v, centre_u, face.eye_y - 0.4 * face.brow_gap, socket_ru, socket_rv)
            # The nose's flank away from the light, from the bridge down to the wing.
            flank = nose_side * max(0.0, -side * light) + 0.3 * nose_side
            flank_u = nose_u + side * (face.nose_bridge + 0.5 * face.nose_wing)
            dark += flank * _bump(
                u, v, flank_u, 0.5 * (face.nose_top + face.nose_tip), 0.05, 0.5 * (face.nose_tip - face.nose_top)
            )
            # The folds from the nose's wings to the mouth's corners.
            fold_u = nose_u + side * (face.nose_wing + 0.4 * (face.mouth_half_width - face.nose_wing))
            dark += fold * _bump(u, v, fold_u, 0.5 * (face.nose_tip + face.mouth_y), 0.025, 0.09)
        dark += under_nose * _bump(u, v, nose_u, face.nose_tip + 0.03, 0.8 * face.nose_wing, 0.035)
        dark += under_lip * _bump(u, v, mouth_u, lower_lip_v + 0.04, 0.7 * face.mouth_half_width, 0.04)
        bright = shine * (
            _bump(u, v, nose_u, face.nose_tip - face.nose_ball, 0.5 * face.nose_wing, 0.5 * face.nose_ball)
            + 0.7 * _bump(u, v, 0.0, -0.55, 0.35, 0.15)
            + 0.5 * _bump(u, v, 0.45 * light, 0.2, 0.12, 0.08)
        )
        return np.clip(1 - dark + bright, 0.3, 1.4)

    return relief


def _skin_texture(rng):
    """f(u, v) -> a blotchy brightness factor around 1: plane waves of random direction, frequency and phase."""
    strength = uniform(rng, 0.01, 0.04)
    angles = rng.uniform(0, math.pi, TEXTURE_WAVES)
    frequencies = np.exp(rng.uniform(math.log(4), math.log(40), TEXTURE_WAVES))
    phases = rng.uniform(0, 2 * math.pi, TEXTURE_WAVES)
    ku = (frequencies * np.cos(angles)).astype(np.float32)
    kv = (frequencies * np.sin(angles)).astype(np.float32)
    weight = np.float32(strength * math.sqrt(2.0 / TEXTURE_WAVES))  # the sum's standard deviation: `strength`

    def texture(u, v):
        total = np.ones_like(u)
        for a, b, phase in zip(ku, kv, phases):
            total += weight * np.sin(a * u + b * v + phase)
        return total

    return texture
