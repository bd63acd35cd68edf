"""Slow, plain-NumPy references written straight from PyTorch's definitions.

They share no code with the package, so a test comparing the two checks the
TensorFlow implementation against an independent reading of the semantics.
"""

import numpy as np


def linspace(size):
    return np.linspace(-1.0, 1.0, size)


def grid_sample(image, theta, out_h, out_w, mode, frame=None, offset=(0, 0)):
    """One crop: image [H, W, C], theta [2, 3] -> [out_h, out_w, C] (float64)."""
    frame_h, frame_w = frame or image.shape[:2]
    out = np.zeros((out_h, out_w, image.shape[2]))

    def pixel(r, c):
        r, c = r - offset[0], c - offset[1]
        if 0 <= r < image.shape[0] and 0 <= c < image.shape[1]:
            return image[r, c].astype(np.float64)
        return np.zeros(image.shape[2])

    for i, yn in enumerate(linspace(out_h)):
        for j, xn in enumerate(linspace(out_w)):
            xs = theta[0, 0] * xn + theta[0, 1] * yn + theta[0, 2]
            ys = theta[1, 0] * xn + theta[1, 1] * yn + theta[1, 2]
            x = (xs + 1) / 2 * (frame_w - 1)
            y = (ys + 1) / 2 * (frame_h - 1)
            if mode == "nearest":
                out[i, j] = pixel(int(np.rint(y)), int(np.rint(x)))
                continue
            x0, y0 = int(np.floor(x)), int(np.floor(y))
            fx, fy = x - x0, y - y0
            out[i, j] = (
                pixel(y0, x0) * (1 - fx) * (1 - fy)
                + pixel(y0, x0 + 1) * fx * (1 - fy)
                + pixel(y0 + 1, x0) * (1 - fx) * fy
                + pixel(y0 + 1, x0 + 1) * fx * fy
            )
    return out


def max_pool_3x3_stride2(x):
    """[H, W, C] with -inf padding of 1 on every side."""
    h, w, c = x.shape
    padded = np.full((h + 2, w + 2, c), -np.inf)
    padded[1:-1, 1:-1] = x
    out_h, out_w = (h - 1) // 2 + 1, (w - 1) // 2 + 1
    out = np.empty((out_h, out_w, c))
    for i in range(out_h):
        for j in range(out_w):
            out[i, j] = padded[2 * i : 2 * i + 3, 2 * j : 2 * j + 3].max(axis=(0, 1))
    return out


def resize_nearest(x, out_h, out_w):
    """PyTorch 'nearest': source index floor(dst * in / out)."""
    h, w = x.shape[:2]
    rows = np.minimum(np.floor(np.arange(out_h) * (h / out_h)).astype(int), h - 1)
    cols = np.minimum(np.floor(np.arange(out_w) * (w / out_w)).astype(int), w - 1)
    return x[rows][:, cols]


def resize_bilinear_align_corners(x, out_h, out_w):
    h, w = x.shape[:2]
    ys = np.arange(out_h) * ((h - 1) / (out_h - 1)) if out_h > 1 else np.zeros(1)
    xs = np.arange(out_w) * ((w - 1) / (out_w - 1)) if out_w > 1 else np.zeros(1)
    y0 = np.minimum(np.floor(ys).astype(int), h - 1)
    x0 = np.minimum(np.floor(xs).astype(int), w - 1)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    fy, fx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    x = x.astype(np.float64)
    top = x[y0][:, x0] * (1 - fx) + x[y0][:, x1] * fx
    bottom = x[y1][:, x0] * (1 - fx) + x[y1][:, x1] * fx
    return top * (1 - fy) + bottom * fy
