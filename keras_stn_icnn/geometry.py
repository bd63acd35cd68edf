"""STN-iCNN's fixed sizes, shared by the data views, the models and the authors' reference pipeline.

Example:
>>> STAGE1_SIZE, CANVAS_SIZE
(128, 1024)
"""

STAGE1_SIZE = 128
"""Side of the stage-1 input: the whole image resized to 128x128, aspect ratio not kept (paper, Section 2.2)."""

CANVAS_SIZE = 1024
"""Side of the zero canvas a photo is centred on before its parts are cropped (the authors' `OrigPad`)."""
