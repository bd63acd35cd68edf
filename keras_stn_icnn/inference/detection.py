"""Finding faces in a photograph: `FaceBox` and the MTCNN detector.

The detector is MTCNN (Zhang et al., 2016) from the `mtcnn` package (MIT
licence; the package ships the network weights and runs them on
TensorFlow), so nothing is downloaded at run time. Any other detector can
stand in for it: `FaceParser` only needs a callable that takes a uint8
`[H, W, 3]` image and returns a list of `FaceBox`.

Example:
>>> detector = MTCNNDetector(min_confidence=0.9)  # doctest: +SKIP
>>> [face.box for face in detector(image)]  # doctest: +SKIP
[(182, 64, 83, 107)]
"""

import dataclasses

import numpy as np
from mtcnn import MTCNN
from mtcnn.stages import StageONet, StagePNet, StageRNet

KEYPOINT_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
"""MTCNN's five facial key points, in the order `FaceBox.keypoints` keeps them."""


@dataclasses.dataclass(frozen=True)
class FaceBox:
    """One detected face: a box in photo pixels, a confidence and optional key points.

    Args:
        left: int, x of the box's left column.
        top: int, y of the box's top row.
        width: int, > 0.
        height: int, > 0.
        confidence: float in [0, 1].
        keypoints: dict of name -> (x, y) floats (`KEYPOINT_NAMES` for MTCNN),
            may be empty.

    Example:
    >>> FaceBox(10, 20, 30, 40, 0.99).center
    (25.0, 40.0)
    """

    left: int
    top: int
    width: int
    height: int
    confidence: float = 1.0
    keypoints: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"a face box needs a positive width and height, got {self.width}x{self.height}")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"a face box's confidence must lie in [0, 1], got {self.confidence}")

    @property
    def box(self):
        """`(left, top, width, height)` in pixels."""
        return (self.left, self.top, self.width, self.height)

    @property
    def center(self):
        """`(x, y)` of the box's centre in pixels."""
        return (self.left + self.width / 2.0, self.top + self.height / 2.0)

    def to_json(self):
        """A JSON-ready dict: `box`, `confidence` and `keypoints`."""
        return {
            "box": [int(v) for v in self.box],
            "confidence": round(float(self.confidence), 4),
            "keypoints": {name: [round(float(x), 1), round(float(y), 1)] for name, (x, y) in self.keypoints.items()},
        }


class _SkipWhenNoCandidates:
    """An MTCNN refining stage (RNet, ONet) that hands on an empty set of candidate boxes without running.

    Each MTCNN stage refines the boxes the one before kept. When none are left (a photo without a
    face), the stage's network fails on the empty batch; MTCNN reads that error as "no face", but
    only after TensorFlow has logged it ("Local rendezvous is aborting with status: ...") on stderr.
    Handing the empty set on gives MTCNN's answer, no face, without the error or the line; a
    stage with candidates runs as it is, and its errors are raised as they were.

    Args:
        stage: the `mtcnn.stages` stage to run when there are candidates.
    """

    def __init__(self, stage):
        self.stage = stage

    def __call__(self, bboxes_batch, **kwargs):
        if len(bboxes_batch) == 0:
            return bboxes_batch
        return self.stage(bboxes_batch=bboxes_batch, **kwargs)


class MTCNNDetector:
    """Faces in a photograph, found by MTCNN: callable `uint8 [H, W, 3] -> list of FaceBox`.

    Boxes come sorted by confidence, highest first. Faces below
    `min_confidence` or smaller than `min_face_size` pixels are dropped.

    Args:
        min_confidence: float in [0, 1], the lowest confidence kept (MTCNN's
            last stage already drops faces below 0.8).
        min_face_size: int >= 12, the smallest face side searched for, in
            pixels (MTCNN's image pyramid starts there).

    Example:
    >>> detector = MTCNNDetector()  # doctest: +SKIP
    >>> faces = detector(np.asarray(PIL.Image.open("photo.jpg").convert("RGB")))  # doctest: +SKIP
    """

    def __init__(self, min_confidence=0.9, min_face_size=20):
        if not 0.0 <= min_confidence <= 1.0:
            raise ValueError(f"min_confidence must lie in [0, 1], got {min_confidence}")
        if isinstance(min_face_size, bool) or not isinstance(min_face_size, int) or min_face_size < 12:
            raise ValueError(f"min_face_size must be an integer of at least 12 pixels, got {min_face_size!r}")
        self.min_confidence = float(min_confidence)
        self.min_face_size = min_face_size
        # MTCNN's "face_and_landmarks_detection" stages, the refining ones skipped when nothing is left to refine.
        stages = [StagePNet(), _SkipWhenNoCandidates(StageRNet()), _SkipWhenNoCandidates(StageONet())]
        self._mtcnn = MTCNN(stages=stages, device="CPU:0")

    def __call__(self, image):
        """Detects the faces of one uint8 `[H, W, 3]` image; returns a list of `FaceBox`."""
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
            raise ValueError(f"the detector needs a uint8 [H, W, 3] image, got {image.dtype} {image.shape}")
        if min(image.shape[:2]) < 12:
            return []  # smaller than MTCNN's smallest window: no face can be found
        detections = self._mtcnn.detect_faces(image, min_face_size=self.min_face_size, box_format="xywh")
        faces = [
            FaceBox(
                left=int(d["box"][0]),
                top=int(d["box"][1]),
                width=int(d["box"][2]),
                height=int(d["box"][3]),
                confidence=float(d["confidence"]),
                keypoints={name: tuple(float(v) for v in d["keypoints"][name]) for name in KEYPOINT_NAMES},
            )
            for d in detections
            if d["confidence"] >= self.min_confidence and d["box"][2] > 0 and d["box"][3] > 0
        ]
        return sorted(faces, key=lambda face: -face.confidence)

    def __repr__(self):
        return f"MTCNNDetector(min_confidence={self.min_confidence}, min_face_size={self.min_face_size})"
