"""Regions of the plane the painters fill: `Shape` and the primitives they are built from.

A shape is evaluated analytically on arrays of points `(u, v)` (the face
frame, or image pixels) and carries a bounding box, so a painter only
evaluates it on the pixels that may lie inside.
"""

import math

import numpy as np


class Shape:
    """A region: `inside(u, v) -> bool array` and a bounding box (u0, v0, u1, v1)."""

    def __init__(self, inside, box):
        self.inside = inside
        self.box = tuple(float(edge) for edge in box)

    def __or__(self, other):
        box = (*np.minimum(self.box[:2], other.box[:2]), *np.maximum(self.box[2:], other.box[2:]))
        return Shape(lambda u, v: self.inside(u, v) | other.inside(u, v), box)

    def __and__(self, other):
        box = (*np.maximum(self.box[:2], other.box[:2]), *np.minimum(self.box[2:], other.box[2:]))
        return Shape(lambda u, v: self.inside(u, v) & other.inside(u, v), box)

    def __sub__(self, other):
        return Shape(lambda u, v: self.inside(u, v) & ~other.inside(u, v), self.box)


def rotate(du, dv, angle):
    """Coordinates in a frame turned by `angle` radians counter-clockwise on screen."""
    c, s = math.cos(angle), math.sin(angle)
    return du * c - dv * s, du * s + dv * c


def local_box(cx, cy, x0, y0, x1, y1, angle):
    """Face-frame box of the local box (x0, y0, x1, y1) of a frame at (cx, cy) turned by `angle`."""
    c, s = math.cos(angle), math.sin(angle)
    xs = np.array([x0, x1, x0, x1])
    ys = np.array([y0, y0, y1, y1])
    us = cx + xs * c + ys * s
    vs = cy - xs * s + ys * c
    return us.min(), vs.min(), us.max(), vs.max()


def ellipse(cx, cy, rx, ry, angle=0.0):
    """The ellipse of radii (rx, ry) centred at (cx, cy), turned by `angle`."""

    def inside(u, v):
        x, y = rotate(u - cx, v - cy, angle)
        x = x / rx
        y = y / ry
        return x * x + y * y <= 1

    return Shape(inside, local_box(cx, cy, -rx, -ry, rx, ry, angle))


def superellipse(cx, cy, rx, ry, power, angle=0.0):
    """|x / rx| ** power + |y / ry| ** power <= 1 around (cx, cy), turned by `angle`."""

    def inside(u, v):
        x, y = rotate(u - cx, v - cy, angle)
        return np.abs(x / rx) ** power + np.abs(y / ry) ** power <= 1

    return Shape(inside, local_box(cx, cy, -rx, -ry, rx, ry, angle))


def rectangle(cx, cy, half_width, half_height, angle=0.0):
    """The rectangle of the given half sides centred at (cx, cy), turned by `angle`."""

    def inside(u, v):
        x, y = rotate(u - cx, v - cy, angle)
        return (np.abs(x) <= half_width) & (np.abs(y) <= half_height)

    return Shape(inside, local_box(cx, cy, -half_width, -half_height, half_width, half_height, angle))


def capsule(u0, v0, u1, v1, radius):
    """Points within `radius` of the segment (u0, v0)-(u1, v1)."""
    du, dv = u1 - u0, v1 - v0
    length2 = max(du * du + dv * dv, 1e-12)

    def inside(u, v):
        pu, pv = u - u0, v - v0
        t = np.clip((pu * du + pv * dv) / length2, 0, 1)
        eu, ev = pu - t * du, pv - t * dv
        return eu * eu + ev * ev <= radius * radius

    box = (min(u0, u1) - radius, min(v0, v1) - radius, max(u0, u1) + radius, max(v0, v1) + radius)
    return Shape(inside, box)


def band(cu, half_width):
    """The vertical band |u - cu| <= half_width."""
    return Shape(lambda u, v: np.abs(u - cu) <= half_width, (cu - half_width, -3, cu + half_width, 3))
