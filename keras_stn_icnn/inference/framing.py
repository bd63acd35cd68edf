"""How a face is framed for a parser: the square crop around a detected face.

A parser labels a face framed the way its training pictures were framed.
The built-in synthetic set shows one face at one scale in a 512x512 picture
(its height about half the picture's). `Framing` turns a detector's box into
such a crop: a square whose side is a fixed multiple of the box height,
centred at a fixed offset from the box centre, then resized so that its side
lies in the training range (for the synthetic set, exactly 512).
`measure_framing` derives those numbers from pictures framed as in training;
`HELEN_FRAMING` holds what it measured on synthetic HELEN-framed faces.

Example:
>>> HELEN_FRAMING.crop_region(FaceBox(100, 100, 80, 100)).side
245
"""

import dataclasses
import math

import numpy as np
from PIL import Image

from keras_stn_icnn.data.synthetic import PHOTO_SIZE
from keras_stn_icnn.inference.detection import FaceBox


@dataclasses.dataclass(frozen=True)
class CropRegion:
    """A square region of a photograph, which may reach past the photograph's edges.

    Args:
        left: int, x of the first column (may be negative).
        top: int, y of the first row (may be negative).
        side: int > 0, width and height in pixels.

    Example:
    >>> CropRegion(-10, 5, 20).clipped((100, 100))
    (5, 25, 0, 10)
    """

    left: int
    top: int
    side: int

    def clipped(self, photo_shape):
        """`(top, bottom, left, right)` of the part inside a photo of shape `(H, W, ...)`."""
        height, width = photo_shape[:2]
        return (
            max(self.top, 0),
            min(self.top + self.side, height),
            max(self.left, 0),
            min(self.left + self.side, width),
        )

    def to_json(self):
        """`[left, top, side]` as plain ints."""
        return [int(self.left), int(self.top), int(self.side)]


@dataclasses.dataclass(frozen=True)
class Framing:
    """The square crop a parser expects around a detected face.

    Args:
        side_per_box_height: float > 0, the crop side divided by the
            detector box's height.
        center_offset: `(dx, dy)`, the crop centre minus the box centre, in
            box heights (positive: right, down).
        side_range: `(low, high)` ints, the crop is resized so that its side
            lies in this range (the picture sizes the parser was trained on).

    Example:
    >>> framing = Framing(2.0, (0.0, 0.0), (250, 800))
    >>> framing.crop_region(FaceBox(0, 0, 50, 50))
    CropRegion(left=-25, top=-25, side=100)
    >>> framing.model_side(100)
    250
    """

    side_per_box_height: float
    center_offset: tuple
    side_range: tuple

    def __post_init__(self):
        if not (math.isfinite(self.side_per_box_height) and self.side_per_box_height > 0):
            raise ValueError(f"side_per_box_height must be a positive number, got {self.side_per_box_height}")
        if len(self.center_offset) != 2 or not all(math.isfinite(v) for v in self.center_offset):
            raise ValueError(f"center_offset must be two finite numbers (dx, dy), got {self.center_offset}")
        low, high = self.side_range
        if not (isinstance(low, int) and isinstance(high, int) and 0 < low <= high):
            raise ValueError(f"side_range must be two integers 0 < low <= high, got {self.side_range}")

    def crop_region(self, face):
        """The square `CropRegion` of a `FaceBox` in photo pixels."""
        if not isinstance(face, FaceBox):
            raise TypeError(f"crop_region needs a FaceBox, got {type(face).__name__}")
        center_x, center_y = face.center
        side = max(1, round(self.side_per_box_height * face.height))
        center_x += self.center_offset[0] * face.height
        center_y += self.center_offset[1] * face.height
        return CropRegion(left=round(center_x - side / 2), top=round(center_y - side / 2), side=side)

    def model_side(self, side):
        """The side the crop is resized to before parsing: `side` clipped to `side_range`."""
        return int(min(max(side, self.side_range[0]), self.side_range[1]))


HELEN_FRAMING = Framing(side_per_box_height=2.45, center_offset=(-0.002, -0.017), side_range=(PHOTO_SIZE, PHOTO_SIZE))
"""STN-iCNN's framing: `measure_framing(MTCNNDetector(), ...)` on the synthetic
faces `render_face(0)` ... `render_face(399)` of generator version 4 (MTCNN
found exactly one face in 309 of them; in 212 of generator 3's, whose
framing was 2.398 and (0.054, -0.054)), whose photos are all 512x512 with the
face at one scale: the crop is resized to 512 px, so a real face reaches the
model at the scale the parser was trained on. `tests/test_face_parser.py`
measures it again on other faces."""


def measure_framing(detector, images, side_range):
    """Derive a `Framing` from pictures framed as a parser's training pictures.

    Every picture must show one face; pictures where the detector finds no
    face or several are skipped. The side of a picture is the geometric mean
    of its width and height (the crop is square, the pictures need not be).

    Args:
        detector: callable `uint8 [H, W, 3] -> list of FaceBox`.
        images: iterable of uint8 `[H, W, 3]` arrays.
        side_range: `(low, high)` picture sides of the training set.

    Returns:
        `(framing, count)`: the `Framing` of the medians, and how many
        pictures it was measured on.

    Raises:
        ValueError: the detector found exactly one face in no picture.

    Example:
    >>> framing, count = measure_framing(MTCNNDetector(), faces, (250, 800))  # doctest: +SKIP
    """
    ratios, offsets_x, offsets_y = [], [], []
    for image in images:
        faces = detector(image)
        if len(faces) != 1:
            continue
        face = faces[0]
        height, width = image.shape[:2]
        center_x, center_y = face.center
        ratios.append(math.sqrt(height * width) / face.height)
        offsets_x.append((width / 2.0 - center_x) / face.height)
        offsets_y.append((height / 2.0 - center_y) / face.height)
    if not ratios:
        raise ValueError("the detector found exactly one face in none of the pictures; nothing to measure")
    framing = Framing(
        side_per_box_height=round(float(np.median(ratios)), 3),
        center_offset=(round(float(np.median(offsets_x)), 3), round(float(np.median(offsets_y)), 3)),
        side_range=tuple(int(v) for v in side_range),
    )
    return framing, len(ratios)


def extract_crop(image, region, side):
    """The square `region` of `image`, zero outside the photo, resized to `side` x `side`.

    Args:
        image: uint8 `[H, W, 3]` array.
        region: `CropRegion`.
        side: int > 0, the output side (bilinear resampling).

    Returns:
        uint8 `[side, side, 3]` array.

    Example:
    >>> extract_crop(np.full((4, 4, 3), 9, np.uint8), CropRegion(2, 2, 4), 4)[:, :, 0].tolist()
    [[9, 9, 0, 0], [9, 9, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    """
    crop = np.zeros((region.side, region.side, 3), np.uint8)
    top, bottom, left, right = region.clipped(image.shape)
    if bottom > top and right > left:
        crop[top - region.top : bottom - region.top, left - region.left : right - region.left] = image[
            top:bottom, left:right
        ]
    if side == region.side:
        return crop
    return np.asarray(Image.fromarray(crop).resize((side, side), Image.BILINEAR))


def resize_labels(labels, side):
    """A square label map resized to `side` x `side` by nearest neighbour (ids are not blended).

    Example:
    >>> resize_labels(np.array([[0, 1], [2, 3]], np.uint8), 4)[0].tolist()
    [0, 0, 1, 1]
    """
    if labels.shape[0] == side:
        return labels
    return np.asarray(Image.fromarray(labels).resize((side, side), Image.NEAREST))
