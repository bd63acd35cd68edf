"""Synthetic faces composited into larger scenes, for the face detection and parsing tests.

A scene is a quiet gradient with `SLOTS` fixed slots side by side; a face picture goes in the middle of
a slot. MTCNN is convolutional and the scene's size is fixed, so a face it finds alone in a slot it
finds the same way next to faces in the other slots.
"""

import numpy as np
from PIL import Image

from keras_stn_icnn.data.synthetic import render_face

SCENE_HEIGHT = 420
FACE_HEIGHT = 300
SLOTS = 3
SLOT_WIDTH = 400  # wider than the square pictures of height 300
MARGIN = 30
GAP = 40
SCENE_WIDTH = 2 * MARGIN + SLOTS * SLOT_WIDTH + (SLOTS - 1) * GAP
SURE_CONFIDENCE = 0.985
"""A face counts as detectable when MTCNN finds it alone in its slot with at least this confidence."""


def face_picture(seed, height=FACE_HEIGHT):
    """The synthetic picture of `seed`, resized to `height` rows (aspect kept)."""
    image = render_face(seed)[0]
    width = round(image.shape[1] * height / image.shape[0])
    return np.asarray(Image.fromarray(image).resize((width, height), Image.BILINEAR))


def scene(pictures_by_slot):
    """A scene with `{slot: picture}` placed; returns the scene and `{slot: (left, top, width, height)}`."""
    rows = np.linspace(70, 150, SCENE_HEIGHT)[:, np.newaxis, np.newaxis]
    canvas = np.broadcast_to(rows + np.array([0, 10, 30]), (SCENE_HEIGHT, SCENE_WIDTH, 3))
    canvas = canvas.astype(np.uint8).copy()
    rectangles = {}
    for slot, picture in pictures_by_slot.items():
        height, width = picture.shape[:2]
        left = MARGIN + slot * (SLOT_WIDTH + GAP) + (SLOT_WIDTH - width) // 2
        top = (SCENE_HEIGHT - height) // 2
        canvas[top : top + height, left : left + width] = picture
        rectangles[slot] = (left, top, width, height)
    return canvas, rectangles


def detectable_faces(detector, first_seed=300, tries=60):
    """For each slot, the first synthetic face (from `first_seed` on) the detector finds surely there."""
    found = {}
    seed = first_seed
    for slot in range(SLOTS):
        while slot not in found:
            if seed >= first_seed + tries:
                raise AssertionError(f"the detector surely found faces for only {len(found)} slots in {tries} seeds")
            picture = face_picture(seed)
            faces = detector(scene({slot: picture})[0])
            if len(faces) == 1 and faces[0].confidence >= SURE_CONFIDENCE:
                found[slot] = picture
            seed += 1
    return found


def inside(point, rectangle):
    """Whether `(x, y)` lies in `(left, top, width, height)`."""
    x, y = point
    left, top, width, height = rectangle
    return left <= x < left + width and top <= y < top + height
