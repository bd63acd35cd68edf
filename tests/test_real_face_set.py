"""examples/make_real_face_set.py: the label maps it fills from landmark outlines, on a hand-made face mesh."""

import importlib.util
import types
from pathlib import Path

import numpy as np
import pytest

from keras_stn_icnn.labels import LAPA_CLASS_NAMES

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "make_real_face_set.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("make_real_face_set", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # mediapipe is imported only inside the functions that run it
    return module


def cycle(ids):
    return {(a, b) for a, b in zip(ids, ids[1:] + ids[:1])}


def path(ids):
    return set(zip(ids, ids[1:]))


# A 100x100 face: vertex id -> (x, y). Brows are two lines each, eyes closed outlines, the nose a cloud of
# points, the lips an outer and an inner outline, each cut into upper and lower at its left and right ends.
POINTS = {
    # left brow (image left): upper line 0-1-2 at y 10, lower line 3-4-5 at y 16
    0: (10, 10), 1: (20, 10), 2: (30, 10), 3: (10, 16), 4: (20, 16), 5: (30, 16),
    # right brow
    6: (60, 10), 7: (70, 10), 8: (80, 10), 9: (60, 16), 10: (70, 16), 11: (80, 16),
    # eyes: diamonds around (20, 25) and (70, 25)
    12: (12, 25), 13: (20, 21), 14: (28, 25), 15: (20, 29),
    16: (62, 25), 17: (70, 21), 18: (78, 25), 19: (70, 29),
    # nose: a triangle's corners and a point inside it
    20: (45, 20), 21: (37, 50), 22: (53, 50), 23: (45, 40),
    # outer lips: left 24, upper 25-26-27, right 28, lower 29-30-31
    24: (25, 70), 25: (35, 62), 26: (45, 60), 27: (55, 62), 28: (65, 70), 29: (55, 80), 30: (45, 82), 31: (35, 80),
    # inner lips: left 32, upper 33, right 34, lower 35
    32: (33, 70), 33: (45, 67), 34: (57, 70), 35: (45, 74),
}  # fmt: skip
CONNECTIONS = types.SimpleNamespace(
    FACEMESH_LEFT_EYEBROW=path([0, 1, 2]) | path([3, 4, 5]),
    FACEMESH_RIGHT_EYEBROW=path([6, 7, 8]) | path([9, 10, 11]),
    FACEMESH_LEFT_EYE=cycle([12, 13, 14, 15]),
    FACEMESH_RIGHT_EYE=cycle([16, 17, 18, 19]),
    FACEMESH_NOSE=path([20, 21, 22, 23]),
    FACEMESH_LIPS=cycle([24, 25, 26, 27, 28, 29, 30, 31]) | cycle([32, 33, 34, 35]),
)


def test_each_part_is_filled_inside_its_outline_with_lapas_ids(script):
    points = np.array([POINTS[i] for i in range(len(POINTS))], np.float32)
    label = script.draw_labels(points, (100, 100), CONNECTIONS)
    ids = {name: LAPA_CLASS_NAMES.index(name) for name in LAPA_CLASS_NAMES}
    expected_at = {  # (x, y) -> class
        (20, 13): "left_eyebrow",
        (70, 13): "right_eyebrow",
        (20, 25): "left_eye",
        (70, 25): "right_eye",
        (45, 35): "nose",
        (45, 63): "upper_lip",  # between the outer and inner upper outlines
        (45, 70): "inner_mouth",
        (45, 78): "lower_lip",
        (5, 5): "background",
        (45, 90): "background",
        (20, 19): "background",  # between brow and eye
    }
    for (x, y), name in expected_at.items():
        assert label[y, x] == ids[name], (x, y, name, LAPA_CLASS_NAMES[label[y, x]])
    assert set(np.unique(label)) == {ids[name] for name in expected_at.values()}


def test_a_closed_outline_is_cut_at_its_leftmost_and_rightmost_points(script):
    points = np.array([POINTS[i] for i in range(len(POINTS))], np.float32)
    upper, lower = script.split_cycle([26, 27, 28, 29, 30, 31, 24, 25], points)
    assert upper == [24, 25, 26, 27, 28]
    assert lower == [24, 31, 30, 29, 28]


def test_a_square_window_leaving_the_photo_is_padded_with_black(script):
    image = np.full((10, 20, 3), 200, np.uint8)
    window, corner = script.square_window(image, (2, 3), 8)
    assert window.shape == (8, 8, 3)
    assert corner.tolist() == [-2.0, -1.0]
    assert (window[:1] == 0).all() and (window[:, :2] == 0).all() and (window[1:, 2:] == 200).all()
