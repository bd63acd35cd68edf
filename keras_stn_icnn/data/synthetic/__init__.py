"""Synthetic face photographs with exact HELEN-style part labels.

`render_face(seed)` paints one random face photograph and its label map;
`generate_synthetic_helen(root)` writes a whole data set of them in HELEN's
layout, so the package can train and be tested without any download.

Modules:

* `rendering`: `render_face`, how a face is made and the painter's order.
* `face_parameters`: the random pose and face of a seed.
* `background`, `head`, `face_parts`, `relief`, `occlusions`: the painters, back to front.
* `shapes`, `canvas`: the regions painted and the picture and label map painted on.
* `helen_layout`, `generator`: the files of a set, and `generate_synthetic_helen`.
* `class_ids`, `sampling`: label ids, random draws (seeds and counts are checked with `keras_stn_icnn.checks`).
"""

from keras_stn_icnn.data.synthetic.class_ids import (
    BACKGROUND,
    HAIR,
    INNER_MOUTH,
    LEFT_EYE,
    LEFT_EYEBROW,
    LOWER_LIP,
    NOSE,
    NUM_CLASSES,
    RIGHT_EYE,
    RIGHT_EYEBROW,
    SKIN,
    UPPER_LIP,
)
from keras_stn_icnn.data.synthetic.face_parameters import FACE_SCALE_RANGE
from keras_stn_icnn.data.synthetic.generator import GENERATOR_VERSION, generate_synthetic_helen
from keras_stn_icnn.data.synthetic.rendering import PHOTO_SIZE, render_face

__all__ = [
    "BACKGROUND",
    "FACE_SCALE_RANGE",
    "GENERATOR_VERSION",
    "HAIR",
    "INNER_MOUTH",
    "LEFT_EYE",
    "LEFT_EYEBROW",
    "LOWER_LIP",
    "NOSE",
    "NUM_CLASSES",
    "PHOTO_SIZE",
    "RIGHT_EYE",
    "RIGHT_EYEBROW",
    "SKIN",
    "UPPER_LIP",
    "generate_synthetic_helen",
    "render_face",
]
