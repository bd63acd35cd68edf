"""Ids of the HELEN classes in the synthetic label maps.

"Left" and "right" follow the picture: the left eyebrow and left eye are the
ones on the image's left (smaller x) when the face is upright, that is at
u < 0 in the face frame.
"""

NUM_CLASSES = 11

BACKGROUND, SKIN, LEFT_EYEBROW, RIGHT_EYEBROW, LEFT_EYE, RIGHT_EYE = 0, 1, 2, 3, 4, 5
NOSE, UPPER_LIP, INNER_MOUTH, LOWER_LIP, HAIR = 6, 7, 8, 9, 10
