"""The picture being painted: a 2x supersampled colour buffer and the 1x label map."""

import math

import numpy as np
from PIL import Image


class Canvas:
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
        inside = self._inside(shape, frame)
        if inside is not None:
            planes, mask, u, v = inside
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

    def shade(self, shape, factor, frame="face"):
        """Multiplies the colours inside `shape` by `factor(u, v) -> [N]` (the label map is left as it is)."""
        inside = self._inside(shape, frame)
        if inside is not None:
            planes, mask, u, v = inside
            weight = factor(u[mask], v[mask])
            for plane in planes:
                plane[mask] *= weight

    def _inside(self, shape, frame):
        """(colour planes of the window, mask, u, v) of the 2x pixels inside `shape`, or None if there are none."""
        grid = self._grid(shape.box, frame, 2)
        if grid is None:
            return None
        window, u, v = grid
        mask = shape.inside(u, v)
        if not mask.any():
            return None
        return self.planes[(slice(None), *window)], mask, u, v

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


def to_picture(planes):
    """[3, H, W] float planes -> PIL RGB picture."""
    return Image.fromarray(np.moveaxis(planes, 0, -1).clip(0, 255).round().astype(np.uint8))


def from_picture(picture):
    """PIL RGB picture -> [3, H, W] float32 planes."""
    return np.moveaxis(np.asarray(picture, np.float32), -1, 0)
