"""Parsing whole photographs: detect every face, frame it, parse it, paste the labels back.

`FaceParser` wraps any parser of the zoo (a model with `parse`, such as
`STNiCNN` or `ICNNBaseline`, or a `LoadedParser` from a `.keras` file, a
SavedModel or an authors' checkpoint). For each face the detector finds it
cuts the square crop of `Framing` (zero outside the photo), resizes it into
the training range, parses it, resizes the labels back and pastes them into
one label map the size of the photo. Only a face's parts are pasted; where
the crops of two faces overlap, a pixel takes the part of the face whose crop
centre is nearest.

Example:
>>> face_parser = FaceParser(STNiCNN.from_pytorch_checkpoint("model.pth.tar"))  # doctest: +SKIP
>>> result = face_parser(photo)  # doctest: +SKIP
>>> result.labels.shape == photo.shape[:2], len(result.faces)  # doctest: +SKIP
(True, 2)
"""

import dataclasses
import time

import numpy as np
from PIL import Image

from keras_stn_icnn.checks import check_image
from keras_stn_icnn.choices import DEFAULT_PRESET
from keras_stn_icnn.inference.detection import FaceBox, MTCNNDetector
from keras_stn_icnn.inference.framing import (
    HELEN_FRAMING,
    CropRegion,
    Framing,
    extract_crop,
    resize_labels,
)
from keras_stn_icnn.labels import STN_ICNN_CLASS_NAMES
from keras_stn_icnn.models.loading import load_parser


@dataclasses.dataclass
class ParsedFace:
    """One face of a parsed photograph.

    Args:
        box: `FaceBox` the detector found (the whole picture with `detect=False`).
        crop: `CropRegion` that was parsed, in photo pixels.
        pixel_counts: dict of class name -> pixels this face holds in the
            photo's label map (after overlaps are settled), background left out.

    Example:
    >>> result.faces[0].pixel_counts["nose"]  # doctest: +SKIP
    1873
    """

    box: FaceBox
    crop: CropRegion
    pixel_counts: dict

    def to_json(self):
        """A JSON-ready dict: the box, the crop and the pixel counts."""
        return {**self.box.to_json(), "crop": self.crop.to_json(), "pixel_counts": dict(self.pixel_counts)}


@dataclasses.dataclass
class PhotoParsing:
    """The result of `FaceParser` on one photograph.

    Args:
        labels: uint8 `[H, W]` class ids of `class_names`, the photo's size.
        face_index: int16 `[H, W]`, which face (index into `faces`) each
            labelled pixel belongs to; -1 for background.
        faces: list of `ParsedFace`, the detector's order (most confident first).
        class_names: tuple of str, the names of the label ids.
        detect_seconds: float, time spent finding faces.
        parse_seconds: float, time spent cropping, parsing and pasting.

    Example:
    >>> result = face_parser(photo)  # doctest: +SKIP
    >>> result.to_json()["faces"][0]["box"]  # doctest: +SKIP
    [182, 64, 83, 107]
    """

    labels: np.ndarray
    face_index: np.ndarray
    faces: list
    class_names: tuple
    detect_seconds: float
    parse_seconds: float

    def to_json(self):
        """A JSON-ready dict: photo size, class names, timings and every face."""
        height, width = self.labels.shape
        return {
            "height": int(height),
            "width": int(width),
            "class_names": list(self.class_names),
            "detect_seconds": round(self.detect_seconds, 4),
            "parse_seconds": round(self.parse_seconds, 4),
            "faces": [face.to_json() for face in self.faces],
        }


class FaceParser:
    """Parses photographs with any number of faces into one label map per photo.

    Args:
        parser: a zoo model with a `parse` method (`STNiCNN`,
            `ICNNBaseline`), a `LoadedParser`
            (`keras_stn_icnn.models.loading.load_parser`), any callable
            taking a uint8 `[H, W, 3]` face and returning its `[H, W]` ids,
            or None (the default) for the default preset
            (`choices.DEFAULT_PRESET`, loaded with no network).
        detector: `"mtcnn"` (default: `MTCNNDetector()`), a callable
            `uint8 [H, W, 3] -> list of FaceBox`, or None for pictures that
            are each one framed face (then only `detect=False` is allowed).
        framing: `Framing` of the faces the parser was trained on
            (default `HELEN_FRAMING`, STN-iCNN's).
        class_names: names of the parser's label ids (default: the
            parser's `class_names`, else STN-iCNN's nine classes).

    Example:
    >>> face_parser = FaceParser()  # doctest: +SKIP
    >>> face_parser = FaceParser(load_parser("savedmodels/stn_icnn/1"))  # doctest: +SKIP
    >>> result = face_parser(photo)  # doctest: +SKIP
    >>> cropped = face_parser(face_picture, detect=False)  # doctest: +SKIP
    """

    def __init__(self, parser=None, detector="mtcnn", framing=HELEN_FRAMING, class_names=None):
        if parser is None:
            parser = load_parser(DEFAULT_PRESET)
        if not (callable(getattr(parser, "parse", None)) or callable(parser)):
            raise TypeError(
                f"parser must be a model with a parse() method or a callable image -> labels, "
                f"got {type(parser).__name__}"
            )
        if detector == "mtcnn":
            detector = MTCNNDetector()
        elif detector is not None and not callable(detector):
            raise TypeError(f"detector must be 'mtcnn', a callable image -> faces or None, got {detector!r}")
        if not isinstance(framing, Framing):
            raise TypeError(f"framing must be a Framing, got {type(framing).__name__}")
        self.parser = parser
        self.detector = detector
        self.framing = framing
        self.class_names = tuple(class_names or _class_names_of(parser))

    def __call__(self, image, detect=True):
        """Parses one photograph.

        Args:
            image: uint8 `[H, W, 3]` RGB array.
            detect: bool; False parses the whole picture as one face that
                is already framed (it is resized into the framing's side
                range, keeping its aspect ratio, and the labels resized back).

        Returns:
            `PhotoParsing`.

        Raises:
            ValueError / TypeError naming the problem when `image` is not a
            non-empty uint8 `[H, W, 3]` array, or the detector returns
            something other than `FaceBox`es.
        """
        image = check_image(image, "the photo")
        if not detect:
            return self._parse_whole(image)
        if self.detector is None:
            raise ValueError("this FaceParser has no detector (detector=None); call it with detect=False")
        start = time.perf_counter()
        faces = list(self.detector(image))
        detect_seconds = time.perf_counter() - start
        for face in faces:
            if not isinstance(face, FaceBox):
                raise TypeError(f"the detector must return FaceBox objects, got a {type(face).__name__}")
        return self.parse_faces(image, faces, detect_seconds=detect_seconds)

    def parse_faces(self, image, faces, detect_seconds=0.0):
        """Parses the given faces of a photograph (boxes from any source).

        Args:
            image: uint8 `[H, W, 3]` RGB array.
            faces: list of `FaceBox`.
            detect_seconds: float, recorded in the result.

        Returns:
            `PhotoParsing`.
        """
        image = check_image(image, "the photo")
        start = time.perf_counter()
        regions = [self.framing.crop_region(face) for face in faces]
        sides = [self.framing.model_side(region.side) for region in regions]
        crops = [extract_crop(image, region, side) for region, side in zip(regions, sides)]
        face_labels = [resize_labels(labels, region.side) for labels, region in zip(self._parse(crops), regions)]
        labels, face_index = _paste(image.shape[:2], regions, face_labels)
        counts = self._pixel_counts(labels, face_index, len(faces))
        parsed = [ParsedFace(face, region, count) for face, region, count in zip(faces, regions, counts)]
        parse_seconds = time.perf_counter() - start
        return PhotoParsing(labels, face_index, parsed, self.class_names, detect_seconds, parse_seconds)

    def _parse_whole(self, image):
        start = time.perf_counter()
        height, width = image.shape[:2]
        longer = max(height, width)
        target = self.framing.model_side(longer)
        if target != longer:
            size = (max(1, round(width * target / longer)), max(1, round(height * target / longer)))
            resized = np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR))
            labels = np.asarray(Image.fromarray(self._parse([resized])[0]).resize((width, height), Image.NEAREST))
        else:
            labels = self._parse([image])[0]
        face_index = np.where(labels > 0, 0, -1).astype(np.int16)
        [counts] = self._pixel_counts(labels, face_index, 1)
        face = ParsedFace(FaceBox(0, 0, width, height), CropRegion(0, 0, longer), counts)
        return PhotoParsing(labels, face_index, [face], self.class_names, 0.0, time.perf_counter() - start)

    def _parse(self, crops):
        if not crops:
            return []
        if callable(getattr(self.parser, "parse", None)):
            outputs = self.parser.parse(list(crops))
        else:
            outputs = [self.parser(crop) for crop in crops]
        results = []
        for crop, labels in zip(crops, outputs):
            labels = np.asarray(labels)
            if labels.shape != crop.shape[:2]:
                raise ValueError(
                    f"the parser returned labels of shape {labels.shape} for a face crop of shape {crop.shape}"
                )
            if labels.size and int(labels.max()) >= len(self.class_names):
                raise ValueError(
                    f"the parser returned id {int(labels.max())}, but class_names has only "
                    f"{len(self.class_names)} names; pass the parser's class_names"
                )
            results.append(labels.astype(np.uint8, copy=False))
        return results

    def _pixel_counts(self, labels, face_index, num_faces):
        """Per face, `{class name: pixels}` (background left out), from one pass over the photo."""
        owned = face_index >= 0
        num_classes = len(self.class_names)
        pairs = face_index[owned].astype(np.int64) * num_classes + labels[owned]
        counts = np.bincount(pairs, minlength=num_faces * num_classes).reshape(num_faces, num_classes)
        return [{name: int(n) for name, n in zip(self.class_names[1:], row[1:])} for row in counts]

    def __repr__(self):
        return f"FaceParser(parser={self.parser!r}, detector={self.detector!r}, framing={self.framing!r})"


def _paste(shape, regions, face_labels):
    labels = np.zeros(shape, np.uint8)
    face_index = np.full(shape, -1, np.int16)
    nearest = np.full(shape, np.inf, np.float32)
    for index, (region, crop_labels) in enumerate(zip(regions, face_labels)):
        top, bottom, left, right = region.clipped(shape)
        if bottom <= top or right <= left:
            continue
        part = crop_labels[top - region.top : bottom - region.top, left - region.left : right - region.left]
        center = (region.side - 1) / 2.0
        rows = (np.arange(top, bottom) - region.top - center)[:, np.newaxis]
        columns = (np.arange(left, right) - region.left - center)[np.newaxis, :]
        distance = (rows**2 + columns**2).astype(np.float32)
        window = (slice(top, bottom), slice(left, right))
        take = (part > 0) & (distance < nearest[window])
        labels[window][take] = part[take]
        face_index[window][take] = index
        nearest[window][take] = distance[take]
    return labels, face_index


def _class_names_of(parser):
    for owner in (parser, getattr(parser, "model", None)):
        names = getattr(owner, "class_names", None)
        if names:
            return names
    return STN_ICNN_CLASS_NAMES
