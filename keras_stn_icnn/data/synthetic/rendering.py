"""`render_face`: one synthetic face photograph and its exact HELEN-style label map.

How a face is made:

* Every random choice comes from `np.random.default_rng(seed)`, drawn in a
  fixed order, so a seed always gives the same face, byte for byte.
* Parts are shapes in a canonical face frame: `u` to the right, `v` down,
  the face skin outline spans `v` in [-1, 1]. A random pose (in-plane
  rotation, scale, off-centre position and a mild horizontal squash that
  imitates yaw) maps the face frame onto the image; every pixel is mapped
  back through its inverse and the shapes are evaluated analytically there
  with vectorised numpy, inside each shape's bounding box.
* The painter's algorithm paints the parts back to front; a later shape
  overwrites an earlier one in the picture and in the label alike. The
  colour picture is painted at 2x2 supersampling and box-downsampled (smooth
  edges); the label is the painter's result at the 1x pixel centres, so it
  is exact for the picture.
* Finally come a lighting gradient across the whole picture, a colour cast,
  Gaussian blur, Gaussian noise and a JPEG round trip. The returned image is
  the decoded JPEG, identical to what a reader gets from the written file.
  Labels never go through JPEG.

Painter's order (back to front) and label of each layer:

1. background: plain, gradient or clutter (rectangles, ellipses, stripes,
   sometimes skin-coloured blobs) -> 0 background.
2. clothes and neck -> 0 background (the neck is skin-coloured but is NOT
   face skin, as in HELEN).
3. hair behind the head -> 10 hair (none for bald heads).
4. ears (unless long hair hides them) -> 1 face skin.
5. face skin (superellipse / egg outline, shaded darker towards the edges)
   -> 1 face skin; skin make-up such as blush and eyelid creases stays 1.
6. hair on the scalp down to the hairline, sideburns -> 10 hair.
7. eyebrows, with hair-like strands and soft edges -> 2 left_eyebrow,
   3 right_eyebrow.
8. eyes: the whole eye opening (sclera, iris, pupil, lash line)
   -> 4 left_eye, 5 right_eye.
9. nose (a rounded region from the bridge to the tip, nostrils included,
   coloured close to the skin) -> 6 nose.
10. mouth -> 7 upper_lip, 8 inner_mouth (only when the mouth is open; teeth
    and tongue included), 9 lower_lip.
11. the face's relief under a key light and its skin texture (`relief`):
    shadowed eye sockets, nose flanks, shadows under the nose and the lower
    lip, highlights, blotches; the face's colours are multiplied, its labels
    stay.
12. fringe (bangs) and locks over the cheeks -> 10 hair; a fringe may hide
    part or all of one or both eyebrows.
13. glasses: tinted lenses change the picture only (the parts stay visible
    and keep their labels); frame pixels inside the face outline become
    1 face skin whatever was under them, frame pixels outside it keep the
    label under them (hair or background).
14. an occluder (hand, microphone, rectangle or ellipse) -> 0 background;
    it comes in from the left, right or below and stops before the face's
    middle, so part of the nose and of the lips always stays visible.

Class ids, and which side is "left", are in `class_ids`.
"""

import io
import math

import numpy as np
from PIL import Image, ImageFilter

from keras_stn_icnn.checks import check_int
from keras_stn_icnn.data.synthetic.background import paint_background
from keras_stn_icnn.data.synthetic.canvas import Canvas, to_picture
from keras_stn_icnn.data.synthetic.class_ids import LEFT_EYEBROW, RIGHT_EYEBROW
from keras_stn_icnn.data.synthetic.face_parameters import draw_face, draw_pose
from keras_stn_icnn.data.synthetic.face_parts import paint_eyebrows, paint_eyes, paint_mouth, paint_nose
from keras_stn_icnn.data.synthetic.head import paint_body, paint_head
from keras_stn_icnn.data.synthetic.occlusions import OCCLUDER_KINDS, paint_front_hair, paint_glasses, paint_occluder
from keras_stn_icnn.data.synthetic.relief import paint_relief
from keras_stn_icnn.data.synthetic.sampling import pick, uniform

PHOTO_SIZE = 512  # every photo is PHOTO_SIZE x PHOTO_SIZE, as in the authors' CelebAMask-HQ preprocessing
JPEG_QUALITY_RANGE = (30, 95)
MAX_BLUR_SIGMA = 1.8
MAX_NOISE_SIGMA = 10.0

GLASSES_PROBABILITY = 0.25
OCCLUDER_PROBABILITY = 0.2


def render_face(seed, *, return_params=False):
    """Renders one synthetic face photograph and its exact label map.

    Args:
        seed: int or tuple of ints (non-negative), the seed of
            `np.random.default_rng`; the same seed always gives the same face.
        return_params: bool; also return the dict of the main random choices.

    Returns:
        `(image, label)`: uint8 `[H, W, 3]` RGB picture (after the JPEG round
        trip, exactly what the written `.jpg` decodes to) and uint8 `[H, W]`
        ids 0-10 of the HELEN classes (see the module docstring). With
        `return_params=True`, `(image, label, params)` where `params` holds
        `size` (H, W), `rotation_degrees` (counter-clockwise on screen),
        `face_scale` (face skin height / shorter image side), `face_centre`
        (x, y pixels), `yaw_squash`, `skin_tone` (RGB), `hair_style`,
        `hair_colour`, `mouth_open`, `hair_covers_brows` (a fringe hides
        eyebrow pixels), `glasses`, `occluder`, `occluder_kind`,
        `background`, `blur_sigma`, `noise_sigma` and `jpeg_quality`.

    Example:
    >>> image, label = render_face(7)
    >>> image.shape[:2] == label.shape, int(label.max()) <= 10
    (True, True)
    """
    seed = check_seed(seed, "seed")
    jpeg_bytes, label, params = render_face_jpeg(seed)
    image = _decode_jpeg(jpeg_bytes)
    if return_params:
        return image, label, params
    return image, label


def render_face_jpeg(seed):
    """(JPEG bytes, label, params) of the face of `seed`."""
    rng = np.random.default_rng(seed)
    height = width = PHOTO_SIZE
    pose = draw_pose(rng, height, width)
    face = draw_face(rng, pose.pixels_per_unit)
    canvas = Canvas(height, width, pose.face_to_image)

    background = paint_background(canvas, rng, face)
    paint_body(canvas, rng, face)
    paint_head(canvas, rng, face)
    paint_eyebrows(canvas, face)
    paint_eyes(canvas, face)
    paint_nose(canvas, rng, face)
    paint_mouth(canvas, rng, face)
    paint_relief(canvas, rng, face)
    brow_pixels = _count_brow_pixels(canvas.label)
    paint_front_hair(canvas, rng, face)
    covered = _count_brow_pixels(canvas.label) < brow_pixels
    glasses = bool(rng.uniform() < GLASSES_PROBABILITY)
    if glasses:
        paint_glasses(canvas, rng, face)
    occluder_kind = pick(rng, OCCLUDER_KINDS) if rng.uniform() < OCCLUDER_PROBABILITY else None
    if occluder_kind is not None:
        paint_occluder(canvas, rng, face, occluder_kind)

    image = _light(canvas.downsampled(), rng)
    blur_sigma = 0.0 if rng.uniform() < 0.35 else uniform(rng, 0.3, MAX_BLUR_SIGMA)
    noise_sigma = uniform(rng, 0.0, MAX_NOISE_SIGMA)
    jpeg_quality = int(rng.integers(JPEG_QUALITY_RANGE[0], JPEG_QUALITY_RANGE[1] + 1))
    picture = to_picture(image)
    if blur_sigma > 0:
        picture = picture.filter(ImageFilter.GaussianBlur(blur_sigma))
    noisy = np.asarray(picture, np.float32) + rng.standard_normal((height, width, 3), np.float32) * noise_sigma
    buffer = io.BytesIO()
    Image.fromarray(noisy.clip(0, 255).round().astype(np.uint8)).save(buffer, format="JPEG", quality=jpeg_quality)

    params = {
        "size": (height, width),
        "rotation_degrees": pose.rotation,
        "face_scale": pose.face_scale,
        "face_centre": (float(pose.centre[0]), float(pose.centre[1])),
        "yaw_squash": pose.squash,
        "skin_tone": tuple(int(round(c)) for c in face.skin),
        "hair_style": face.hair_style,
        "hair_colour": face.hair_colour_name,
        "mouth_open": face.mouth_open,
        "hair_covers_brows": bool(covered),
        "glasses": glasses,
        "occluder": occluder_kind is not None,
        "occluder_kind": occluder_kind,
        "background": background,
        "blur_sigma": blur_sigma,
        "noise_sigma": noise_sigma,
        "jpeg_quality": jpeg_quality,
    }
    return buffer.getvalue(), canvas.label, params


def _count_brow_pixels(label):
    return np.count_nonzero((label == LEFT_EYEBROW) | (label == RIGHT_EYEBROW))


def _light(image, rng):
    """[3, H, W] planes under a brightness gradient across the whole picture, overall exposure and a colour cast."""
    height, width = image.shape[1:]
    angle = uniform(rng, 0, 2 * math.pi)
    strength = uniform(rng, 0.0, 0.5)
    exposure = uniform(rng, 0.75, 1.15)
    cast = rng.uniform(0.92, 1.08, 3).astype(np.float32)
    half_diagonal = 0.5 * math.hypot(height, width)
    xs = (np.arange(width, dtype=np.float32) - width / 2) * (math.cos(angle) / half_diagonal)
    ys = (np.arange(height, dtype=np.float32) - height / 2) * (math.sin(angle) / half_diagonal)
    gain = exposure * (1 + strength * (xs + ys[:, None]))
    return image * gain * cast[:, None, None]


def _decode_jpeg(jpeg_bytes):
    """JPEG bytes -> uint8 [H, W, 3]."""
    with Image.open(io.BytesIO(jpeg_bytes)) as picture:
        return np.asarray(picture.convert("RGB"))


def check_seed(seed, name):
    """`seed` as an int or a tuple of ints; raises ValueError naming `name` unless all are >= 0."""
    items = seed if isinstance(seed, tuple) and seed else (seed,)
    try:
        values = tuple(check_int(item, name, minimum=0) for item in items)
    except ValueError:
        raise ValueError(f"{name} must be a non-negative int or a non-empty tuple of them, got {seed!r}") from None
    return values if isinstance(seed, tuple) else values[0]
