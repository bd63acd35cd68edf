"""Parsing real photographs: face detection, framing, folders and videos.

Example:
>>> from keras_stn_icnn.inference import FaceParser  # doctest: +SKIP
>>> result = FaceParser(model)(photo)  # doctest: +SKIP
"""

from keras_stn_icnn.inference.detection import KEYPOINT_NAMES, FaceBox, MTCNNDetector
from keras_stn_icnn.inference.face_parser import FaceParser, ParsedFace, PhotoParsing
from keras_stn_icnn.inference.framing import (
    HELEN_FRAMING,
    CropRegion,
    Framing,
    extract_crop,
    measure_framing,
    resize_labels,
)
from keras_stn_icnn.inference.media import (
    PHOTO_SUFFIXES,
    VIDEO_SUFFIXES,
    InputItem,
    UnreadableInputError,
    collect_inputs,
    read_photo,
    read_video,
)
from keras_stn_icnn.inference.runner import ParseSummary, parse_inputs

__all__ = [
    "HELEN_FRAMING",
    "KEYPOINT_NAMES",
    "PHOTO_SUFFIXES",
    "VIDEO_SUFFIXES",
    "CropRegion",
    "FaceBox",
    "FaceParser",
    "Framing",
    "InputItem",
    "MTCNNDetector",
    "ParseSummary",
    "ParsedFace",
    "PhotoParsing",
    "UnreadableInputError",
    "collect_inputs",
    "extract_crop",
    "measure_framing",
    "parse_inputs",
    "read_photo",
    "read_video",
    "resize_labels",
]
