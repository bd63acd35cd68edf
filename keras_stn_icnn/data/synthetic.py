"""Synthetic face photographs with exact HELEN-style part labels.

`render_face(seed)` paints one random face photograph and its label map;
`generate_synthetic_helen(root)` writes a whole data set of them in HELEN's
layout, so the package can train and be tested without any download.

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
7. eyebrows -> 2 left_eyebrow, 3 right_eyebrow.
8. eyes: the whole eye opening (sclera, iris, pupil, lash line)
   -> 4 left_eye, 5 right_eye.
9. nose (a rounded region from the bridge to the tip, nostrils included,
   coloured close to the skin) -> 6 nose.
10. mouth -> 7 upper_lip, 8 inner_mouth (only when the mouth is open; teeth
    and tongue included), 9 lower_lip.
11. fringe (bangs) and locks over the cheeks -> 10 hair; a fringe may hide
    part or all of one or both eyebrows.
12. glasses: tinted lenses change the picture only (the parts stay visible
    and keep their labels); frame pixels inside the face outline become
    1 face skin whatever was under them, frame pixels outside it keep the
    label under them (hair or background).
13. an occluder (hand, microphone, rectangle or ellipse) -> 0 background;
    it comes in from the left, right or below and stops before the face's
    middle, so part of the nose and of the lips always stays visible.

"Left" and "right" follow the picture: the left eyebrow and left eye are the
ones on the image's left (smaller x) when the face is upright, that is at
u < 0 in the face frame.
"""

import io
import json
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from PIL import Image, ImageFilter

GENERATOR_VERSION = 3  # 3: one photo size and one face scale (2: 250-800 px photos, face scale with the photo)
"""Changes whenever the same seed would give different files."""

NUM_CLASSES = 11
BACKGROUND, SKIN, LEFT_EYEBROW, RIGHT_EYEBROW, LEFT_EYE, RIGHT_EYE = 0, 1, 2, 3, 4, 5
NOSE, UPPER_LIP, INNER_MOUTH, LOWER_LIP, HAIR = 6, 7, 8, 9, 10

MANIFEST_NAME = "synthetic.json"
SPLIT_FILES = {"train": "exemplars.txt", "val": "tuning.txt", "test": "testing.txt"}
NAME_FORMAT = "synthetic_{:06d}"

PHOTO_SIZE = 512  # every photo is PHOTO_SIZE x PHOTO_SIZE, as in the authors' CelebAMask-HQ preprocessing
FACE_SCALE_RANGE = (0.48, 0.54)  # face skin height / PHOTO_SIZE: every part fits STN-iCNN's 81 px window
MAX_ROTATION_DEGREES = 35.0
MIN_YAW_SQUASH = 0.82  # horizontal scale of the face, 1 = frontal
INNER_FACE_BOX = (-0.68, -0.52, 0.68, 0.94)  # holds brows, eyes, nose, mouth in the face frame
FRAME_MARGIN_PX = 3.0  # the inner-face box stays this far inside the image
JPEG_QUALITY_RANGE = (30, 95)
MAX_BLUR_SIGMA = 1.8
MAX_NOISE_SIGMA = 10.0

MOUTH_OPEN_PROBABILITY = 0.5
FRINGE_OVER_BROWS_PROBABILITY = 0.25
GLASSES_PROBABILITY = 0.25
OCCLUDER_PROBABILITY = 0.2

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
_BACKGROUND_KINDS = ("plain", "gradient", "clutter")
_BACKGROUND_WEIGHTS = (0.15, 0.2, 0.65)
_OCCLUDER_KINDS = ("hand", "microphone", "rectangle", "ellipse")
_PROGRESS_STEPS = 20  # a progress line every 5 %


# ----------------------------------------------------------------------------
# Public API


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
    seed = _check_seed(seed, "seed")
    jpeg_bytes, label, params = _render(seed)
    image = _decode_jpeg(jpeg_bytes)
    if return_params:
        return image, label, params
    return image, label


def generate_synthetic_helen(root, *, num_train=200, num_val=40, num_test=60, seed=0, progress=True):
    """Writes a synthetic face-parsing data set in HELEN's layout.

    Layout (what `HelenReader` reads)::

        root/images/synthetic_000000.jpg ...
        root/labels/synthetic_000000/synthetic_000000_lbl00.png ... _lbl10.png
        root/exemplars.txt   train lines "<1-based index> , <name>"
        root/tuning.txt      val
        root/testing.txt     test
        root/synthetic.json  generator version, seed and counts

    Names count over all splits, train first, then val, then test; face `i`
    is `render_face((seed, i))` (`(*seed, i)` for a tuple seed). Label file
    `_lblKK.png` is 255 where the label is class KK and 0 elsewhere.

    The set is built in a temporary sibling folder and renamed to `root` only
    when complete. If `root` already holds a set of the same version, seed and
    counts, it is returned as it is. A set an older generator version wrote
    with the same seed and counts, holding nothing but what the generator
    writes, is made again and replaces it (its faces no longer match
    `render_face`). An empty `root` folder is replaced; any other existing
    `root` raises `FileExistsError` and is left untouched.

    Args:
        root: str or Path of the folder to create.
        num_train: int >= 1, training faces.
        num_val: int >= 0, validation faces.
        num_test: int >= 0, test faces.
        seed: int or tuple of ints (non-negative).
        progress: bool; print "synthetic faces: i/n" lines to stderr.

    Returns:
        `root` as a `pathlib.Path`.

    Raises:
        ValueError: a count or the seed is not valid.
        FileExistsError: `root` exists and holds something else.

    Example:
    >>> root = generate_synthetic_helen("/tmp/synthetic_helen", num_train=8,
    ...                                 num_val=2, num_test=2, progress=False)
    >>> sorted(path.name for path in root.glob("*.txt"))
    ['exemplars.txt', 'testing.txt', 'tuning.txt']
    """
    counts = {
        "num_train": _check_count(num_train, "num_train", minimum=1),
        "num_val": _check_count(num_val, "num_val", minimum=0),
        "num_test": _check_count(num_test, "num_test", minimum=0),
    }
    seed = _check_seed(seed, "seed")
    manifest = {"generator_version": GENERATOR_VERSION, "seed": _jsonable_seed(seed), **counts}
    root = Path(root)
    stale = _is_stale_set(root, manifest)
    if not stale and (root.exists() or root.is_symlink()) and _is_same_set(root, manifest):
        if progress:
            print(f"synthetic faces: reusing {root}", file=sys.stderr, flush=True)
        return root
    if stale and progress:
        print(f"synthetic faces: {root} was made by an older generator; making it again",
              file=sys.stderr, flush=True)
    root.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{root.name}.partial-"))
    try:
        _write_set(temporary, seed, counts, manifest, progress)
        if stale:
            retired = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{root.name}.stale-"))
            os.replace(root, retired / root.name)
            os.replace(temporary, root)
            shutil.rmtree(retired)
            return root
        try:
            os.replace(temporary, root)  # atomic; replaces an empty folder only
        except OSError:
            # Another process may have written the same set meanwhile; anything else
            # that appeared at root raises FileExistsError from _is_same_set.
            if not (root.exists() and _is_same_set(root, manifest)):
                raise
    finally:
        if temporary.exists():
            shutil.rmtree(temporary)
    return root


# ----------------------------------------------------------------------------
# Argument checks


def _is_integer(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_count(value, name, minimum):
    if not _is_integer(value) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_seed(seed, name):
    if _is_integer(seed) and seed >= 0:
        return int(seed)
    if isinstance(seed, tuple) and seed and all(_is_integer(item) and item >= 0 for item in seed):
        return tuple(int(item) for item in seed)
    raise ValueError(f"{name} must be a non-negative int or a non-empty tuple of them, got {seed!r}")


def _jsonable_seed(seed):
    return list(seed) if isinstance(seed, tuple) else seed


def _face_seed(seed, index):
    return (*seed, index) if isinstance(seed, tuple) else (seed, index)


# ----------------------------------------------------------------------------
# Writing the data set


def _is_same_set(root, manifest):
    """True if `root` holds the set `manifest` describes, False if it is empty; raises otherwise."""
    if not root.is_dir():
        raise FileExistsError(
            f"{root} exists and is not a folder; generate_synthetic_helen needs a new or empty folder"
        )
    manifest_path = root / MANIFEST_NAME
    if manifest_path.is_file():
        try:
            found = json.loads(manifest_path.read_text())
        except (OSError, ValueError):
            found = None
        if found == manifest:
            return True
        raise FileExistsError(
            f"{root} already holds a synthetic set made with other arguments ({found}, wanted {manifest}); "
            "it is left untouched: pass another root or remove that folder yourself"
        )
    if any(root.iterdir()):
        raise FileExistsError(
            f"{root} exists and is not empty; generate_synthetic_helen never overwrites or deletes files, "
            "pass a new or empty folder"
        )
    return False


def _is_stale_set(root, manifest):
    """True if `root` holds only a set an older generator wrote with `manifest`'s seed and counts."""
    manifest_path = root / MANIFEST_NAME
    if root.is_symlink() or not manifest_path.is_file():
        return False
    try:
        found = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(found, dict) or found.get("generator_version") == manifest["generator_version"]:
        return False
    if {**found, "generator_version": manifest["generator_version"]} != manifest:
        return False
    return {path.name for path in root.iterdir()} <= {"images", "labels", MANIFEST_NAME, *SPLIT_FILES.values()}


def _write_set(folder, seed, counts, manifest, progress):
    """Renders and writes every face, the split lists and the manifest into `folder`."""
    images = folder / "images"
    labels = folder / "labels"
    images.mkdir()
    labels.mkdir()
    # mkdtemp makes the folder private (0700); give it the mode a plain mkdir gets.
    os.chmod(folder, images.stat().st_mode & 0o777)
    total = sum(counts.values())
    step = max(1, total // _PROGRESS_STEPS)
    index = 0
    for list_name, count in zip(SPLIT_FILES.values(), counts.values()):
        lines = []
        for number in range(1, count + 1):
            name = NAME_FORMAT.format(index)
            jpeg_bytes, label, _ = _render(_face_seed(seed, index))
            (images / f"{name}.jpg").write_bytes(jpeg_bytes)
            label_dir = labels / name
            label_dir.mkdir()
            for class_id in range(NUM_CLASSES):
                binary = np.where(label == class_id, np.uint8(255), np.uint8(0))
                Image.fromarray(binary).save(label_dir / f"{name}_lbl{class_id:02d}.png", compress_level=1)
            lines.append(f"{number} , {name}\n")
            index += 1
            if progress and (index % step == 0 or index == total):
                print(f"synthetic faces: {index}/{total}", file=sys.stderr, flush=True)
        (folder / list_name).write_text("".join(lines))
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def _decode_jpeg(jpeg_bytes):
    """JPEG bytes -> uint8 [H, W, 3]."""
    with Image.open(io.BytesIO(jpeg_bytes)) as picture:
        return np.asarray(picture.convert("RGB"))


# ----------------------------------------------------------------------------
# Canvas and shapes


class _Shape:
    """A region: `inside(u, v) -> bool array` and a bounding box (u0, v0, u1, v1)."""

    def __init__(self, inside, box):
        self.inside = inside
        self.box = tuple(float(edge) for edge in box)

    def __or__(self, other):
        box = (*np.minimum(self.box[:2], other.box[:2]), *np.maximum(self.box[2:], other.box[2:]))
        return _Shape(lambda u, v: self.inside(u, v) | other.inside(u, v), box)

    def __and__(self, other):
        box = (*np.maximum(self.box[:2], other.box[:2]), *np.minimum(self.box[2:], other.box[2:]))
        return _Shape(lambda u, v: self.inside(u, v) & other.inside(u, v), box)

    def __sub__(self, other):
        return _Shape(lambda u, v: self.inside(u, v) & ~other.inside(u, v), self.box)


class _Canvas:
    """The 2x colour buffer, the 1x label map and the pose of the face.

    The colour buffer is planar, `[3, 2H, 2W]` float32: masked reads and
    writes of single planes are several times faster than of RGB triples.
    Shapes are painted in the face frame (`frame="face"`) or in image pixel
    coordinates (`frame="image"`, x right, y down, pixel (i, j) centred at
    (j + 0.5, i + 0.5)).
    """

    def __init__(self, height, width, face_to_image):
        self.height, self.width = height, width
        self.planes = np.zeros((3, 2 * height, 2 * width), np.float32)
        self.label = np.zeros((height, width), np.uint8)
        self.face_to_image = face_to_image
        linear_inverse = np.linalg.inv(face_to_image[:, :2])
        self.image_to_face = np.concatenate([linear_inverse, -linear_inverse @ face_to_image[:, 2:]], axis=1)

    def paint(self, shape, colour, label=None, frame="face", alpha=None):
        """Paints `colour` (RGB or `f(u, v) -> [N, 3]`) inside `shape`, blended by `alpha` if given.

        `alpha` is a number or `f(u, v) -> [N]`; `label`, if given, is painted
        into the label map inside `shape`.
        """
        grid = self._grid(shape.box, frame, 2)
        if grid is not None:
            window, u, v = grid
            mask = shape.inside(u, v)
            if mask.any():
                planes = self.planes[(slice(None), *window)]
                if alpha is None and not callable(colour):
                    for plane, value in zip(planes, colour):
                        np.copyto(plane, value, where=mask)
                else:
                    u, v = u[mask], v[mask]
                    values = colour(u, v) if callable(colour) else np.broadcast_to(colour, (len(u), 3))
                    weight = alpha(u, v) if callable(alpha) else alpha
                    for channel, plane in enumerate(planes):
                        if alpha is None:
                            plane[mask] = values[:, channel]
                        else:
                            plane[mask] = plane[mask] * (1 - weight) + values[:, channel] * weight
        if label is not None:
            self.paint_label(shape, label, frame)

    def paint_label(self, shape, label, frame="face"):
        """Sets the label map to `label` at the pixel centres inside `shape`."""
        grid = self._grid(shape.box, frame, 1)
        if grid is not None:
            window, u, v = grid
            self.label[window][shape.inside(u, v)] = label

    def _grid(self, box, frame, scale):
        """(window slices, u, v) of the pixels at `scale` that may lie in `box`, or None."""
        u0, v0, u1, v1 = box
        if frame == "face":
            corners = np.array([(u0, v0, 1), (u1, v0, 1), (u0, v1, 1), (u1, v1, 1)]) @ self.face_to_image.T
            (x0, y0), (x1, y1) = corners.min(axis=0), corners.max(axis=0)
        else:
            x0, y0, x1, y1 = box
        columns = np.clip([math.floor(x0 * scale), math.ceil(x1 * scale)], 0, self.width * scale)
        rows = np.clip([math.floor(y0 * scale), math.ceil(y1 * scale)], 0, self.height * scale)
        if columns[0] >= columns[1] or rows[0] >= rows[1]:
            return None
        xs = (np.arange(*columns, dtype=np.float32) + 0.5) / scale
        ys = (np.arange(*rows, dtype=np.float32) + 0.5) / scale
        window = (slice(*rows), slice(*columns))
        if frame == "image":
            shape = (len(ys), len(xs))
            return window, np.broadcast_to(xs, shape), np.broadcast_to(ys[:, None], shape)
        m = self.image_to_face.astype(np.float32)
        u = m[0, 0] * xs + (m[0, 1] * ys + m[0, 2])[:, None]
        v = m[1, 0] * xs + (m[1, 1] * ys + m[1, 2])[:, None]
        return window, u, v

    def fill(self, colour):
        """Sets every pixel to `colour`, an RGB triple or [3, 2H, 2W] planes."""
        self.planes[:] = np.reshape(colour, (3, 1, 1)) if np.size(colour) == 3 else colour

    def downsampled(self):
        """The 2x buffer box-filtered to [3, H, W] planes."""
        p = self.planes
        return (p[:, 0::2, 0::2] + p[:, 0::2, 1::2] + p[:, 1::2, 0::2] + p[:, 1::2, 1::2]) * np.float32(0.25)

    def upsample_into(self, planes):
        """Fills the 2x buffer with [3, H, W] planes, each pixel repeated 2x2."""
        self.planes.reshape(3, self.height, 2, self.width, 2)[:] = planes[:, :, None, :, None]


def _rotate(du, dv, angle):
    """Coordinates in a frame turned by `angle` radians counter-clockwise on screen."""
    c, s = math.cos(angle), math.sin(angle)
    return du * c - dv * s, du * s + dv * c


def _local_box(cx, cy, x0, y0, x1, y1, angle):
    """Face-frame box of the local box (x0, y0, x1, y1) of a frame at (cx, cy) turned by `angle`."""
    c, s = math.cos(angle), math.sin(angle)
    xs = np.array([x0, x1, x0, x1])
    ys = np.array([y0, y0, y1, y1])
    us = cx + xs * c + ys * s
    vs = cy - xs * s + ys * c
    return us.min(), vs.min(), us.max(), vs.max()


def _ellipse(cx, cy, rx, ry, angle=0.0):
    def inside(u, v):
        x, y = _rotate(u - cx, v - cy, angle)
        x = x / rx
        y = y / ry
        return x * x + y * y <= 1

    return _Shape(inside, _local_box(cx, cy, -rx, -ry, rx, ry, angle))


def _superellipse(cx, cy, rx, ry, power, angle=0.0):
    def inside(u, v):
        x, y = _rotate(u - cx, v - cy, angle)
        return np.abs(x / rx) ** power + np.abs(y / ry) ** power <= 1

    return _Shape(inside, _local_box(cx, cy, -rx, -ry, rx, ry, angle))


def _rectangle(cx, cy, half_width, half_height, angle=0.0):
    def inside(u, v):
        x, y = _rotate(u - cx, v - cy, angle)
        return (np.abs(x) <= half_width) & (np.abs(y) <= half_height)

    return _Shape(inside, _local_box(cx, cy, -half_width, -half_height, half_width, half_height, angle))


def _capsule(u0, v0, u1, v1, radius):
    """Points within `radius` of the segment (u0, v0)-(u1, v1)."""
    du, dv = u1 - u0, v1 - v0
    length2 = max(du * du + dv * dv, 1e-12)

    def inside(u, v):
        pu, pv = u - u0, v - v0
        t = np.clip((pu * du + pv * dv) / length2, 0, 1)
        eu, ev = pu - t * du, pv - t * dv
        return eu * eu + ev * ev <= radius * radius

    box = (min(u0, u1) - radius, min(v0, v1) - radius, max(u0, u1) + radius, max(v0, v1) + radius)
    return _Shape(inside, box)


def _face_outline(face, grow=1.0, narrow=0.0):
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

    return _Shape(inside, (-width, top, width, bottom))


def _face_half_width(face, v):
    """Half width of the face outline at height v (a number)."""
    if v < face.widest_v:
        y, p, q = (face.widest_v - v) / (face.widest_v + 1), face.top_power, face.top_power
    else:
        y, p, q = (v - face.widest_v) / (1 - face.widest_v), face.jaw_power, face.chin_power
    return face.width * max(0.0, 1 - y**q) ** (1 / p)


# ----------------------------------------------------------------------------
# Random choices


def _uniform(rng, low, high):
    """A Python float (not np.float64, which would turn float32 arrays into float64)."""
    return float(rng.uniform(low, high))


def _pick(rng, options, weights=None):
    """One of `options`, with probabilities proportional to `weights` (uniform if None)."""
    if weights is not None:
        weights = np.asarray(weights, np.float64) / np.sum(weights)
    return options[int(rng.choice(len(options), p=weights))]


def _random_colour(rng, low=15, high=240):
    """A random RGB colour of random saturation."""
    colour = rng.uniform(low, high, 3)
    grey = colour.mean()
    return (grey + (colour - grey) * rng.uniform(0.2, 1.3)).clip(0, 255).astype(np.float32)


def _skin_tone(rng):
    """A skin colour on the light-to-dark scale of `_SKIN_TONES`, with a small random tint."""
    scaled = rng.uniform(0, 1) * (len(_SKIN_TONES) - 1)
    low = min(int(scaled), len(_SKIN_TONES) - 2)
    tone = _SKIN_TONES[low] + (_SKIN_TONES[low + 1] - _SKIN_TONES[low]) * (scaled - low)
    return (tone * rng.uniform(0.94, 1.06, 3)).clip(0, 255).astype(np.float32)


def _draw_pose(rng, height, width):
    """Scale, rotation, squash and centre; the inner-face box always fits in the image."""
    face_scale = _uniform(rng, *FACE_SCALE_RANGE)
    pixels_per_unit = face_scale * min(height, width) / 2
    rotation = _uniform(rng, -MAX_ROTATION_DEGREES, MAX_ROTATION_DEGREES)
    squash = _uniform(rng, MIN_YAW_SQUASH, 1.0)
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


def _draw_face(rng, pixels_per_unit):
    """Geometry and colours of the head and its parts, in face-frame units."""
    pixel = 1.0 / pixels_per_unit  # one pixel in face units, for minimum sizes
    f = SimpleNamespace(pixel=pixel)
    f.width = _uniform(rng, 0.64, 0.78)
    f.widest_v = _uniform(rng, -0.15, 0.1)
    f.top_power = _uniform(rng, 1.9, 2.6)
    f.jaw_power = _uniform(rng, 1.4, 3.2)
    f.chin_power = _uniform(rng, 1.6, 3.4)
    f.skin = _skin_tone(rng)
    f.edge_shading = _uniform(rng, 0.1, 0.35)
    light_angle = _uniform(rng, 0, 2 * math.pi)
    light = _uniform(rng, 0.0, 0.2)
    f.light = (light * math.cos(light_angle), light * math.sin(light_angle))
    f.yaw_shift = _uniform(rng, -0.06, 0.06)

    f.eye_y = _uniform(rng, -0.12, 0.02)
    f.eye_dx = _uniform(rng, 0.26, 0.33)
    f.eye_half_width = _uniform(rng, 0.11, 0.15)
    openness = _uniform(rng, 0.3, 0.5) if rng.uniform() < 0.85 else _uniform(rng, 0.08, 0.18)
    f.eye_upper = max(openness * f.eye_half_width, 1.4 * pixel)
    f.eye_lower = max(f.eye_upper * _uniform(rng, 0.5, 0.8), 0.8 * pixel)
    f.eye_tilt = math.radians(_uniform(rng, -4, 10))
    f.iris = _IRIS_COLOURS[rng.integers(len(_IRIS_COLOURS))] * rng.uniform(0.85, 1.15)
    f.gaze = (_uniform(rng, -0.35, 0.35), _uniform(rng, -0.2, 0.2))
    f.sclera = np.array([238, 234, 228], np.float32) * rng.uniform(0.78, 1.0)

    f.brow_gap = _uniform(rng, 0.16, 0.25)
    f.brow_dx = f.eye_dx + _uniform(rng, -0.01, 0.04)
    f.brow_half_length = _uniform(rng, 0.14, 0.21)
    f.brow_thickness = max(_uniform(rng, 0.03, 0.07), 2.5 * pixel)
    f.brow_arch = _uniform(rng, 0.0, 0.06)
    f.brow_slope = _uniform(rng, -0.04, 0.04)
    f.brow_taper = _uniform(rng, 0.2, 0.8)
    f.brow_alpha = _uniform(rng, 0.6, 0.95)

    f.nose_top = f.eye_y + _uniform(rng, -0.02, 0.05)
    f.nose_tip = _uniform(rng, 0.28, 0.42)
    f.nose_bridge = max(_uniform(rng, 0.035, 0.07), 1.5 * pixel)
    f.nose_wing = _uniform(rng, 0.11, 0.17)
    f.nose_ball = _uniform(rng, 0.07, 0.11)
    f.nose_gamma = _uniform(rng, 1.5, 3.0)
    f.nose_contrast = _uniform(rng, 0.03, 0.12)

    f.mouth_y = min(f.nose_tip + _uniform(rng, 0.17, 0.26), 0.66)
    f.mouth_half_width = _uniform(rng, 0.19, 0.28)
    f.mouth_tilt = math.radians(_uniform(rng, -3, 3))
    f.smile = _uniform(rng, -0.03, 0.06)
    f.upper_lip = max(_uniform(rng, 0.035, 0.075), 1.5 * pixel)
    f.lower_lip = max(_uniform(rng, 0.045, 0.1), 1.5 * pixel)
    f.cupid_bow = _uniform(rng, 0.0, 0.5)
    f.mouth_open = bool(rng.uniform() < MOUTH_OPEN_PROBABILITY)
    opening = max(_uniform(rng, 0.04, 0.16), 3.0 * pixel) if f.mouth_open else 0.0
    f.gap_upper = opening * _uniform(rng, 0.2, 0.45)
    f.gap_lower = opening - f.gap_upper
    lip_target = _LIP_TARGETS[rng.integers(len(_LIP_TARGETS))]
    f.lip = f.skin + (lip_target - f.skin) * _uniform(rng, 0.1, 0.75)

    f.hair_style = _pick(rng, _HAIR_STYLES, _HAIR_STYLE_WEIGHTS)
    f.hair_colour_name = _pick(rng, tuple(_HAIR_COLOURS), _HAIR_COLOUR_WEIGHTS)
    f.hair = np.array(_HAIR_COLOURS[f.hair_colour_name], np.float32) * rng.uniform(0.85, 1.15, 3)
    if f.hair_colour_name.startswith("dyed"):
        f.brow = np.array(_HAIR_COLOURS["dark_brown"], np.float32) * rng.uniform(0.8, 1.4)
    else:
        f.brow = f.hair * _uniform(rng, 0.55, 0.9)
    f.hair_length = _uniform(rng, *_HAIR_LENGTHS[f.hair_style]) if f.hair_style != "bald" else None
    f.hair_thickness = _uniform(rng, 0.03, 0.1) if f.hair_style == "short" else _uniform(rng, 0.1, 0.35)
    f.hair_paint = _hair_colour(f, rng, crown_v=-1.3 - f.hair_thickness)
    return f


# ----------------------------------------------------------------------------
# Rendering


def _render(seed):
    """(JPEG bytes, label, params) of the face of `seed`."""
    rng = np.random.default_rng(seed)
    height = width = PHOTO_SIZE
    pose = _draw_pose(rng, height, width)
    face = _draw_face(rng, pose.pixels_per_unit)
    canvas = _Canvas(height, width, pose.face_to_image)

    background = _paint_background(canvas, rng, face)
    _paint_body(canvas, rng, face)
    _paint_head(canvas, rng, face)
    _paint_eyebrows(canvas, face)
    _paint_eyes(canvas, face)
    _paint_nose(canvas, rng, face)
    _paint_mouth(canvas, rng, face)
    brow_pixels = _count_brow_pixels(canvas.label)
    _paint_front_hair(canvas, rng, face)
    covered = _count_brow_pixels(canvas.label) < brow_pixels
    glasses = bool(rng.uniform() < GLASSES_PROBABILITY)
    if glasses:
        _paint_glasses(canvas, rng, face)
    occluder_kind = _pick(rng, _OCCLUDER_KINDS) if rng.uniform() < OCCLUDER_PROBABILITY else None
    if occluder_kind is not None:
        _paint_occluder(canvas, rng, face, occluder_kind)

    image = _light(canvas.downsampled(), rng)
    blur_sigma = 0.0 if rng.uniform() < 0.35 else _uniform(rng, 0.3, MAX_BLUR_SIGMA)
    noise_sigma = _uniform(rng, 0.0, MAX_NOISE_SIGMA)
    jpeg_quality = int(rng.integers(JPEG_QUALITY_RANGE[0], JPEG_QUALITY_RANGE[1] + 1))
    picture = _to_picture(image)
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


def _skin_shading(face):
    """f(u, v) -> brightness factor of the skin: darker towards the edges, lit from one side."""
    light_u, light_v = face.light

    def shading(u, v):
        x = u / face.width
        r2 = x * x + v * v
        return np.clip(1 - face.edge_shading * r2 * r2 + light_u * x + light_v * v, 0.35, 1.25)

    return shading


def _shaded(colour, shading, factor=1.0):
    """f(u, v) -> `colour * factor` under `shading`."""
    colour = np.asarray(colour, np.float32) * factor
    return lambda u, v: shading(u, v)[:, None] * colour


def _paint_background(canvas, rng, face):
    """Fills the whole picture; returns the kind of background."""
    kind = _pick(rng, _BACKGROUND_KINDS, _BACKGROUND_WEIGHTS)
    height, width = canvas.height, canvas.width
    start = _random_colour(rng)
    if kind == "plain":
        canvas.fill(start)
    else:
        end = _random_colour(rng)
        angle = _uniform(rng, 0, 2 * math.pi)
        canvas.fill(_linear_gradient(2 * height, 2 * width, start, end, angle))
    if kind == "clutter":
        size = max(height, width)
        for _ in range(int(rng.integers(4, 21))):
            if rng.uniform() < 0.25:
                colour = _skin_tone(rng) if rng.uniform() < 0.7 else face.skin * rng.uniform(0.85, 1.1)
            else:
                colour = _random_colour(rng)
            cx, cy = _uniform(rng, 0, width), _uniform(rng, 0, height)
            rx, ry = rng.uniform(0.03, 0.3, 2) * size
            angle = _uniform(rng, 0, math.pi)
            shape_kind = _pick(rng, ("rectangle", "ellipse", "stripes"))
            if shape_kind == "ellipse":
                canvas.paint(_ellipse(cx, cy, rx, ry, angle), colour, frame="image")
                continue
            shape = _rectangle(cx, cy, rx, ry, angle if rng.uniform() < 0.5 else 0.0)
            if shape_kind == "stripes":
                canvas.paint(shape, _stripes(colour, _random_colour(rng), rng, size), frame="image")
            else:
                canvas.paint(shape, colour, frame="image")
    if rng.uniform() < 0.3:  # out of focus
        blurred = _to_picture(canvas.downsampled()).filter(ImageFilter.GaussianBlur(_uniform(rng, 0.5, 3.0)))
        canvas.upsample_into(_from_picture(blurred))
    return kind


def _linear_gradient(height, width, start, end, angle):
    """[3, height, width] planes going from `start` to `end` across the picture in direction `angle`."""
    c, s = math.cos(angle), math.sin(angle)
    xs = np.linspace(0, 1, width, dtype=np.float32) * c - min(c, 0)
    ys = np.linspace(0, 1, height, dtype=np.float32) * s - min(s, 0)
    span = abs(c) + abs(s)
    return np.stack([low + (xs + ys[:, None]) * ((high - low) / span) for low, high in zip(start, end)])


def _to_picture(planes):
    """[3, H, W] float planes -> PIL RGB picture."""
    return Image.fromarray(np.moveaxis(planes, 0, -1).clip(0, 255).round().astype(np.uint8))


def _from_picture(picture):
    """PIL RGB picture -> [3, H, W] float32 planes."""
    return np.moveaxis(np.asarray(picture, np.float32), -1, 0)


def _stripes(first, second, rng, size):
    """f(x, y) -> parallel stripes of two colours, in image pixels."""
    period = _uniform(rng, 0.01, 0.06) * size
    angle = _uniform(rng, 0, math.pi)
    cu, cv = math.cos(angle) * 2 * math.pi / period, math.sin(angle) * 2 * math.pi / period

    def colour(u, v):
        return np.where((np.sin(u * cu + v * cv) > 0)[:, None], first, second).astype(np.float32)

    return colour


def _paint_body(canvas, rng, face):
    """Clothes on the shoulders and the neck, both background."""
    shoulder_v = _uniform(rng, 1.2, 1.6)
    shoulder_curve = _uniform(rng, 0.1, 0.3)
    shoulder_width = _uniform(rng, 1.7, 2.6)
    clothes = _random_colour(rng)

    def shoulders(u, v):
        return (v >= shoulder_v + shoulder_curve * u * u) & (np.abs(u) <= shoulder_width)

    def clothes_colour(u, v):
        return (1.0 - 0.25 * np.clip(np.abs(u) / shoulder_width, 0, 1))[:, None] * clothes

    canvas.paint(_Shape(shoulders, (-shoulder_width, shoulder_v, shoulder_width, 8)), clothes_colour, BACKGROUND)

    neck_width = _uniform(rng, 0.36, 0.5)
    neckline = shoulder_v + _uniform(rng, 0.0, 0.4)

    def neck(u, v):
        x = u / (neck_width * (1 + 0.15 * np.clip(v - 0.6, 0, None)))
        return (np.abs(x) <= 1) & (v >= 0.2) & (v <= neckline - 0.25 * (x * x - 1))

    def neck_colour(u, v):
        shade = 0.62 + 0.2 * np.clip(v - 0.9, 0, 0.5) - 0.1 * (u / neck_width) ** 2
        return shade[:, None] * face.skin

    box = (-1.3 * neck_width, 0.2, 1.3 * neck_width, neckline + 0.3)
    canvas.paint(_Shape(neck, box), neck_colour, BACKGROUND)


def _hair_colour(face, rng, crown_v):
    """f(u, v) -> hair colour with strands fanning out from the crown and a sheen band."""
    frequency = _uniform(rng, 20, 45)
    phase = _uniform(rng, 0, 2 * math.pi)
    sheen_v = _uniform(rng, -1.0, -0.4)
    sheen = _uniform(rng, 0.05, 0.3)

    def colour(u, v):
        direction = u / (v - crown_v)
        strands = 1 + 0.1 * np.sin(frequency * direction + phase) + 0.06 * np.sin(2.7 * frequency * direction)
        shine = 1 + sheen * np.exp(-(((v - sheen_v) / 0.12) ** 2))
        return (strands * shine)[:, None] * face.hair

    return colour


def _paint_head(canvas, rng, face):
    """Hair behind the head, ears, face skin and make-up, scalp hair."""
    style = face.hair_style
    if style != "bald":
        _paint_back_hair(canvas, rng, face)

    shading = _skin_shading(face)
    if style in ("bald", "short") or rng.uniform() < 0.5:
        ear_v = face.eye_y + _uniform(rng, 0.05, 0.2)
        ear_rx, ear_ry = _uniform(rng, 0.08, 0.11), _uniform(rng, 0.15, 0.2)
        for side in (-1, 1):
            cu = side * (_face_half_width(face, ear_v) + 0.35 * ear_rx)
            tilt = side * math.radians(_uniform(rng, 0, 15))
            canvas.paint(_ellipse(cu, ear_v, ear_rx, ear_ry, tilt), _shaded(face.skin, shading, 0.92), SKIN)
            inner = _ellipse(cu + side * 0.2 * ear_rx, ear_v, 0.5 * ear_rx, 0.6 * ear_ry, tilt)
            canvas.paint(inner, _shaded(face.skin, shading, 0.72), alpha=0.7)

    canvas.paint(_face_outline(face), _shaded(face.skin, shading), SKIN)
    blush = face.skin * np.array([1.05, 0.8, 0.8], np.float32)
    blush_alpha = _uniform(rng, 0.0, 0.25)
    for side in (-1, 1):
        cheek = _ellipse(side * 0.4 + face.yaw_shift, 0.28, 0.16, 0.11)
        canvas.paint(cheek, _shaded(blush, shading), alpha=blush_alpha)

    if style != "bald":
        hairline_v = _uniform(rng, -0.72, -0.5) if rng.uniform() < 0.85 else _uniform(rng, -0.92, -0.75)
        curve = _uniform(rng, 0.1, 0.5)
        peak = _uniform(rng, 0.0, 0.08)
        parting = _uniform(rng, -0.3, 0.3)

        def above_hairline(u, v):
            return v < hairline_v + curve * u * u - peak * np.exp(-(((u - parting) / 0.1) ** 2))

        scalp = _face_outline(face, grow=1.02) & _Shape(above_hairline, (-2, -2, 2, 2))
        canvas.paint(scalp, face.hair_paint, HAIR)
        if rng.uniform() < 0.6:
            sideburn_end = face.eye_y + _uniform(rng, -0.25, 0.05)
            inner = face.width * _uniform(rng, 0.8, 0.92)

            def sideburns(u, v):
                return (np.abs(u) > inner) & (v < sideburn_end)

            canvas.paint(_face_outline(face, grow=1.02) & _Shape(sideburns, (-2, -2, 2, 2)), face.hair_paint, HAIR)


def _paint_back_hair(canvas, rng, face):
    """Hair behind the head: a superellipse cap over the skull and straight sides down to the hair's length."""
    top = -1 - face.hair_thickness
    side_thickness = face.hair_thickness if face.hair_style == "short" else _uniform(rng, 0.12, 0.45)
    half_width = face.width * (1 + side_thickness)
    middle = -0.2
    power = _uniform(rng, 2.0, 2.8)
    flare = _uniform(rng, 0.0, 0.35) if face.hair_style == "long" else 0.0
    wave, wave_frequency, wave_phase = _uniform(rng, 0.0, 0.08), _uniform(rng, 6, 16), _uniform(rng, 0, 6.3)
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
    shape = _Shape(inside, (-width, top, width, max(length, middle) + 0.1))
    canvas.paint(shape, lambda u, v: face.hair_paint(u, v) * np.float32(0.8), HAIR)


def _paint_eyebrows(canvas, face):
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
        return face.brow_alpha * (1 - 0.45 * d * d) * (1 - 0.3 * np.clip(t, 0, 1))

    box = (cu - length, cv - face.brow_arch - 0.1, cu + length, cv + 0.1)
    canvas.paint(_Shape(inside, box), face.brow, label, alpha=alpha)


def _paint_eyes(canvas, face):
    for side, label in ((-1, LEFT_EYE), (1, RIGHT_EYE)):
        _paint_eye(canvas, face, side, label)


def _paint_eye(canvas, face, side, label):
    """Eyelid crease (skin), then the eye opening: sclera, iris, pupil, glint and lash line."""
    a, upper, lower = face.eye_half_width, face.eye_upper, face.eye_lower
    cu, cv = side * face.eye_dx + face.yaw_shift, face.eye_y
    angle = side * face.eye_tilt

    def local(u, v):
        x, y = _rotate(u - cu, v - cv, angle)
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
        return y <= upper_lid(t) + 0.35 * upper * (1 - 0.5 * t * t)

    box = _local_box(cu, cv, -a, -1.2 * upper, a, lower, angle)
    crease_box = _local_box(cu, cv, -a, -1.35 * upper - 0.03, a, 0, angle)
    canvas.paint(_Shape(crease, crease_box), _shaded(face.skin, _skin_shading(face), 0.8), alpha=0.55)
    eye = _Shape(opening, box)
    canvas.paint(eye, face.sclera, label)
    iris_radius = 0.42 * a
    iris_u, iris_v = cu + face.gaze[0] * a * 0.5, cv + face.gaze[1] * upper
    iris = eye & _ellipse(iris_u, iris_v, iris_radius, iris_radius)
    canvas.paint(iris, _iris_colour(face.iris, iris_u, iris_v, iris_radius))
    pupil = 0.4 * iris_radius
    canvas.paint(eye & _ellipse(iris_u, iris_v, pupil, pupil), (14, 12, 12))
    glint = 0.18 * iris_radius
    canvas.paint(eye & _ellipse(iris_u + 0.3 * iris_radius, iris_v - 0.35 * iris_radius, glint, glint), (250, 250, 250))
    canvas.paint(eye & _Shape(lash_line, box), face.hair * 0.3 + 8)


def _iris_colour(colour, cu, cv, radius):
    """f(u, v) -> iris colour, darker towards its rim."""
    def shade(u, v):
        r = np.sqrt((u - cu) ** 2 + (v - cv) ** 2) / radius
        return (1.1 - 0.5 * r * r)[:, None] * colour

    return shade


def _paint_nose(canvas, rng, face):
    """A rounded region from the bridge to the tip, shaded close to the skin, with darker nostrils."""
    shading = _skin_shading(face)
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

    canvas.paint(_Shape(inside, (cu - wing, top, cu + wing, tip)), colour, NOSE)
    nostril_rx, nostril_ry = _uniform(rng, 0.2, 0.3) * wing, _uniform(rng, 0.15, 0.3) * ball
    nostril_dark = _uniform(rng, 0.4, 0.7)
    for side in (-1, 1):
        nostril = _ellipse(cu + side * 0.42 * wing, tip - 1.3 * nostril_ry, nostril_rx, nostril_ry, side * 0.35)
        canvas.paint(nostril, _shaded(face.skin, shading, nostril_dark), alpha=0.8)


def _paint_mouth(canvas, rng, face):
    """Upper lip, inner mouth (open mouths only: dark, teeth, tongue) and lower lip between five curves."""
    shading = _skin_shading(face)
    cu, cv = 1.1 * face.yaw_shift, face.mouth_y
    half, angle = face.mouth_half_width, face.mouth_tilt

    def curves(u, v):
        """t along the mouth, y across, and the five lip curves at t."""
        x, y = _rotate(u - cu, v - cv, angle)
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
        return _Shape(inside, _local_box(cu, cv, -half, -extent_top, half, extent_bottom, angle))

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
            depth = _uniform(rng, 0.3, 0.7)  # fraction of the opening the upper teeth fill
            upper_teeth = region(lambda it, ib, ot, ob: (it, it + depth * (ib - it))) & _band(cu, 0.75 * half)
            canvas.paint(upper_teeth, teeth)
        if rng.uniform() < 0.4:
            tongue = _ellipse(cu, cv + face.gap_lower, 0.55 * half, 0.6 * face.gap_lower + 0.01, angle)
            canvas.paint(inner & tongue, np.array([176, 76, 82], np.float32) * rng.uniform(0.8, 1.1))
    canvas.paint(lower, lip_colour, LOWER_LIP)


def _band(cu, half_width):
    """The vertical band |u - cu| <= half_width."""
    return _Shape(lambda u, v: np.abs(u - cu) <= half_width, (cu - half_width, -3, cu + half_width, 3))


def _paint_front_hair(canvas, rng, face):
    """A fringe (bangs) and, for long hair, locks over the cheeks."""
    if face.hair_style == "bald":
        return
    head = _face_outline(face, grow=1.03)
    eye_top = face.eye_y - face.eye_upper - 0.04
    brow_v = face.eye_y - face.brow_gap
    choice = rng.uniform()
    if choice < FRINGE_OVER_BROWS_PROBABILITY:
        base = brow_v + _uniform(rng, -0.04, 0.06)
        slope = _uniform(rng, -0.5, 0.5) if rng.uniform() < 0.5 else 0.0
    elif choice < FRINGE_OVER_BROWS_PROBABILITY + 0.15:
        base = brow_v - face.brow_arch - _uniform(rng, 0.12, 0.3)
        slope = 0.0
    else:
        base = None
    if base is not None:
        amplitude, frequency, phase = _uniform(rng, 0.01, 0.06), _uniform(rng, 8, 25), _uniform(rng, 0, 6.3)

        def fringe(u, v):
            edge = base + slope * u + amplitude * np.abs(np.sin(frequency * u + phase))
            return (v < np.minimum(edge, eye_top)) & (v > -1.2)

        canvas.paint(head & _Shape(fringe, (-2, -2, 2, 2)), face.hair_paint, HAIR)
    brow_end = face.brow_dx + face.brow_half_length + abs(face.yaw_shift) + 0.03
    depth = _uniform(rng, 0.04, 0.14)
    if face.hair_style == "long" and rng.uniform() < 0.5 and face.width - depth > brow_end:
        cheeks = _face_outline(face, narrow=depth)
        end = min(face.hair_length, 0.8)

        def locks(u, v):
            return (v < end) & (v > -0.9)

        canvas.paint((head - cheeks) & _Shape(locks, (-2, -2, 2, 2)), face.hair_paint, HAIR)


def _paint_glasses(canvas, rng, face):
    """Tinted lenses (picture only) and frames (skin inside the face outline)."""
    power = _uniform(rng, 2.0, 4.5)
    lens_w = min(face.eye_half_width + _uniform(rng, 0.04, 0.09), face.eye_dx - 0.04)
    lens_h = max(_uniform(rng, 0.09, 0.15), face.eye_upper + 0.04)
    lens_v = face.eye_y + _uniform(rng, 0.0, 0.03)
    thin = rng.uniform() < 0.5
    rim = max(_uniform(rng, 0.008, 0.016) if thin else _uniform(rng, 0.025, 0.045), 1.2 * face.pixel)
    frame_kind = rng.uniform()
    if frame_kind < 0.6:
        frame_colour = np.full(3, _uniform(rng, 10, 70), np.float32)
    elif frame_kind < 0.85:
        frame_colour = _random_colour(rng)
    else:
        frame_colour = np.array([200, 170, 90] if rng.uniform() < 0.5 else [190, 190, 195], np.float32)
    tint = _random_colour(rng, 40, 160) if rng.uniform() < 0.6 else np.full(3, 60, np.float32)
    tint_alpha = _uniform(rng, 0.08, 0.45)

    bridge_v = lens_v - _uniform(rng, 0.0, 0.5) * lens_h
    gap = face.eye_dx - lens_w
    frames = _capsule(face.yaw_shift - gap, bridge_v, face.yaw_shift + gap, bridge_v, 0.6 * rim)
    for side in (-1, 1):
        cu = side * face.eye_dx + face.yaw_shift
        lens = _superellipse(cu, lens_v, lens_w, lens_h, power)
        canvas.paint(lens, tint, alpha=tint_alpha)
        glare = lens & _rectangle(cu - 0.3 * lens_w, lens_v, 0.25 * lens_w, 2 * lens_h, -0.5)
        canvas.paint(glare, (255, 255, 255), alpha=_uniform(rng, 0.0, 0.25))
        ring = _superellipse(cu, lens_v, lens_w + rim, lens_h + rim, power) - lens
        temple_start = cu + side * (lens_w + 0.5 * rim)
        temple_end = side * (face.width + 0.1)
        temple = _capsule(temple_start, lens_v - 0.4 * lens_h, temple_end, lens_v - 0.5 * lens_h, 0.5 * rim)
        frames = frames | ring | temple
    canvas.paint(frames, frame_colour)
    canvas.paint_label(frames & _face_outline(face), SKIN)


def _paint_occluder(canvas, rng, face, kind):
    """An opaque object coming from the left, right or below, stopping before the face's middle."""
    entry = _pick(rng, ("left", "right", "below"))
    tilt = math.radians(_uniform(rng, -20, 20))
    if entry == "below":
        front = (_uniform(rng, -0.4, 0.4) + face.yaw_shift, _uniform(rng, face.mouth_y + face.gap_lower + 0.1, 0.95))
        direction = -math.pi / 2 + tilt
    else:
        side = -1 if entry == "left" else 1
        front = (side * _uniform(rng, 0.12, 0.6) + face.yaw_shift, _uniform(rng, -0.35, 0.75))
        direction = (0.0 if side < 0 else math.pi) + tilt
    # Local frame: x points into the face along `direction`, the object lies at x <= 0.
    c, s = math.cos(direction), math.sin(direction)

    def place(x, y):
        return front[0] + x * c - y * s, front[1] + x * s + y * c

    if kind == "hand":
        colour = face.skin * rng.uniform(0.85, 1.1) if rng.uniform() < 0.6 else _skin_tone(rng)
        finger_length = _uniform(rng, 0.22, 0.34)
        palm_rx, palm_ry = _uniform(rng, 0.18, 0.26), _uniform(rng, 0.18, 0.24)
        palm_x = -finger_length - 0.7 * palm_rx
        shape = _ellipse(*place(palm_x, 0.0), palm_rx, palm_ry, -direction)
        shape = shape | _capsule(*place(palm_x, 0.0), *place(-3.0, 0.0), 0.8 * palm_ry)
        finger_radius = 0.22 * palm_ry
        for k, offset in enumerate(np.linspace(-0.72, 0.72, 4) * palm_ry):
            length = finger_length * (0.8 if k in (0, 3) else 1.0)
            shape = shape | _capsule(
                *place(palm_x, offset), *place(palm_x + 0.7 * palm_rx + length - finger_radius, offset), finger_radius
            )
        thumb_y = palm_ry * (1 if rng.uniform() < 0.5 else -1)
        shape = shape | _capsule(*place(palm_x, thumb_y), *place(palm_x + 0.6 * palm_rx, 1.6 * thumb_y), finger_radius)
        front_u, front_v = front

        def paint(u, v):
            distance = np.sqrt((u - front_u) ** 2 + (v - front_v) ** 2)
            return (1.0 - 0.12 * np.clip(distance, 0, 1.5))[:, None] * colour

    elif kind == "microphone":
        radius = _uniform(rng, 0.1, 0.18)
        head_u, head_v = place(-radius, 0.0)
        shape = _ellipse(head_u, head_v, radius, radius) | _capsule(
            head_u, head_v, *place(-3.0, 0.0), _uniform(rng, 0.04, 0.07)
        )
        grey = _uniform(rng, 40, 120)
        mesh = _uniform(rng, 120, 250)

        def paint(u, v):
            grille = np.sin(mesh * (u - head_u)) * np.sin(mesh * (v - head_v)) > 0.3
            inside_head = (u - head_u) ** 2 + (v - head_v) ** 2 <= radius * radius
            value = np.where(inside_head, np.where(grille, grey + 40, grey), 18)
            return np.repeat(value[:, None], 3, axis=1).astype(np.float32)

    elif kind == "rectangle":
        half_height = _uniform(rng, 0.08, 0.3)
        length = _uniform(rng, 0.3, 3.0)
        shape = _rectangle(*place(-length / 2, 0.0), length / 2, half_height, -direction)
        paint = _random_colour(rng)
    else:
        rx, ry = _uniform(rng, 0.12, 0.35), _uniform(rng, 0.12, 0.3)
        shape = _ellipse(*place(-rx, 0.0), rx, ry, -direction)
        paint = _random_colour(rng)
    canvas.paint(shape, paint, BACKGROUND)


def _light(image, rng):
    """[3, H, W] planes under a brightness gradient across the whole picture, overall exposure and a colour cast."""
    height, width = image.shape[1:]
    angle = _uniform(rng, 0, 2 * math.pi)
    strength = _uniform(rng, 0.0, 0.5)
    exposure = _uniform(rng, 0.75, 1.15)
    cast = rng.uniform(0.92, 1.08, 3).astype(np.float32)
    half_diagonal = 0.5 * math.hypot(height, width)
    xs = (np.arange(width, dtype=np.float32) - width / 2) * (math.cos(angle) / half_diagonal)
    ys = (np.arange(height, dtype=np.float32) - height / 2) * (math.sin(angle) / half_diagonal)
    gain = exposure * (1 + strength * (xs + ys[:, None]))
    return image * gain * cast[:, None, None]
