"""Class schemas: which id means which facial part, and in which order.

The STN-iCNN schema is the 9-class target of the authors' code on HELEN:
background (HELEN's background, face skin and hair folded together) and the
eight inner-face classes HELEN labels `lbl02` ... `lbl09`. "Left" and "right"
are HELEN's names for its label files.
"""

STN_ICNN_CLASS_NAMES = (
    "background",
    "left_eyebrow",
    "right_eyebrow",
    "left_eye",
    "right_eye",
    "nose",
    "upper_lip",
    "inner_mouth",
    "lower_lip",
)
"""Class ids 0-8 of STN-iCNN's stage-1 map and final label map."""

STN_ICNN_PARTS = (
    ("eyebrow1", ("left_eyebrow",)),
    ("eyebrow2", ("right_eyebrow",)),
    ("eye1", ("left_eye",)),
    ("eye2", ("right_eye",)),
    ("nose", ("nose",)),
    ("mouth", ("upper_lip", "inner_mouth", "lower_lip")),
)
"""The six crops of STN-iCNN in theta order, with the classes each one labels.

A part model predicts `1 + len(classes)` channels: its background, then its
classes in this order. Assembling the parts in this order gives the class ids
of `STN_ICNN_CLASS_NAMES`.
"""

STN_ICNN_PART_NAMES = tuple(name for name, _ in STN_ICNN_PARTS)

STN_ICNN_PALETTE = (
    (0, 0, 0),
    (102, 255, 153),
    (0, 204, 153),
    (255, 255, 102),
    (255, 255, 204),
    (255, 153, 0),
    (255, 102, 255),
    (102, 0, 51),
    (255, 204, 255),
)
"""RGB colour of each STN-iCNN class id: the LaPa palette's colours of the same parts."""
