"""Parsing many photos and videos into an output folder: what `keras-stn-icnn parse` runs.

For a photo `<stem>` it writes `<stem>.labels.png` (uint8 class ids),
`<stem>.overlay.png` (the label colours over the photo, LaPa palette) and,
when asked, `<stem>.figure.png` (image | labels | overlay) and
`<stem>.json` (per-face boxes, crops and pixel counts). For a video it
writes `<stem>/frame_<n>.labels.png` for every parsed frame,
`<stem>.overlay.mp4` and, when asked, one `<stem>.json` with every frame.
Every file is written atomically and only inside the output folder; a
file that cannot be read is reported and skipped, the rest still run.

Example:
>>> summary = parse_inputs(FaceParser(model), collect_inputs(["photos"]), "out")  # doctest: +SKIP
>>> summary.failed  # doctest: +SKIP
[]
"""

import dataclasses
import json
from pathlib import Path

import cv2
import keras

from keras_stn_icnn.files import atomic_write
from keras_stn_icnn.inference.media import UnreadableInputError, read_photo, read_video, video_frame_rate
from keras_stn_icnn.labels import SCHEMAS
from keras_stn_icnn.visualize import overlay, save_png, side_by_side

VIDEO_CODEC = "mp4v"
"""FourCC of the overlay videos (MPEG-4 part 2, which every OpenCV build writes)."""


@dataclasses.dataclass
class ParseSummary:
    """What `parse_inputs` did.

    Args:
        photos: int, photos parsed.
        frames: int, video frames parsed.
        faces: int, faces found in all of them.
        failed: list of `(path, message)` for inputs that could not be read.
        detect_seconds: float, total time finding faces.
        parse_seconds: float, total time cropping, parsing and pasting.

    Example:
    >>> ParseSummary().photos
    0
    """

    photos: int = 0
    frames: int = 0
    faces: int = 0
    failed: list = dataclasses.field(default_factory=list)
    detect_seconds: float = 0.0
    parse_seconds: float = 0.0

    def report(self):
        """One line: counts, failures and time per picture and per face."""
        pictures = self.photos + self.frames
        per_picture = (self.detect_seconds + self.parse_seconds) / max(pictures, 1)
        per_face = self.parse_seconds / max(self.faces, 1)
        return (
            f"{self.photos} photos and {self.frames} video frames parsed, {self.faces} faces, "
            f"{len(self.failed)} inputs skipped; detection {self.detect_seconds:.2f} s, parsing "
            f"{self.parse_seconds:.2f} s ({1000 * per_picture:.0f} ms per picture, "
            f"{1000 * per_face:.0f} ms parsing per face)"
        )


def parse_inputs(
    face_parser,
    items,
    out_dir,
    *,
    detect=True,
    write_json=False,
    write_figure=False,
    every=1,
    max_frames=None,
    alpha=0.5,
    progress=True,
    log=print,
):
    """Parses every input of `collect_inputs` and writes its outputs under `out_dir`.

    Args:
        face_parser: `FaceParser`.
        items: list of `InputItem`.
        out_dir: str or Path of the output folder (created if needed).
        detect: bool, False treats every picture as one framed face.
        write_json: bool, also write the per-face JSON.
        write_figure: bool, also write the image | labels | overlay figure of photos.
        every: int >= 1, parse every `every`-th video frame.
        max_frames: int or None, at most this many frames per video.
        alpha: float in [0, 1], the overlay weight.
        progress: bool, show a progress bar over the inputs.
        log: callable taking one str, where skipped inputs are reported.

    Returns:
        `ParseSummary`.

    Raises:
        ValueError: an output would land outside `out_dir` or on an input file.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    writer = _Writer(out_dir, [item.path for item in items], face_parser.class_names, alpha)
    summary = ParseSummary()
    bar = keras.utils.Progbar(len(items), unit_name="input") if progress and items else None
    for count, item in enumerate(items, start=1):
        try:
            if item.kind == "photo":
                _parse_photo(face_parser, item, writer, summary, detect, write_json, write_figure)
            else:
                _parse_video(face_parser, item, writer, summary, detect, write_json, every, max_frames)
        except UnreadableInputError as error:
            summary.failed.append((item.path, str(error)))
            log(f"skipped: {error}")
        if bar is not None:
            bar.update(count, [("faces", summary.faces)], finalize=count == len(items))
    return summary


def _parse_photo(face_parser, item, writer, summary, detect, write_json, write_figure):
    image = read_photo(item.path)
    result = face_parser(image, detect=detect)
    stem = item.output_stem
    writer.png(f"{stem}.labels.png", result.labels)
    writer.png(f"{stem}.overlay.png", overlay(image, result.labels, writer.schema, writer.alpha))
    if write_figure:
        writer.png(f"{stem}.figure.png", side_by_side(image, result.labels, writer.schema, writer.alpha))
    if write_json:
        writer.json(f"{stem}.json", {"input": str(item.path), **result.to_json()})
    summary.photos += 1
    summary.faces += len(result.faces)
    summary.detect_seconds += result.detect_seconds
    summary.parse_seconds += result.parse_seconds


def _parse_video(face_parser, item, writer, summary, detect, write_json, every, max_frames):
    stem = item.output_stem
    frames = []

    def overlays():  # parsed one frame at a time, as the video writer asks for them
        for number, frame in read_video(item.path, every=every, max_frames=max_frames):
            result = face_parser(frame, detect=detect)
            writer.png(f"{stem}/frame_{number:06d}.labels.png", result.labels)
            frames.append({"frame": number, **result.to_json()})
            summary.frames += 1
            summary.faces += len(result.faces)
            summary.detect_seconds += result.detect_seconds
            summary.parse_seconds += result.parse_seconds
            yield overlay(frame, result.labels, writer.schema, writer.alpha)

    writer.video(f"{stem}.overlay.mp4", overlays(), video_frame_rate(item.path) / every)
    if write_json:
        writer.json(f"{stem}.json", {"input": str(item.path), "every": every, "frames": frames})


class _Writer:
    def __init__(self, out_dir, inputs, class_names, alpha):
        self.out_dir = out_dir.resolve()
        self.inputs = {Path(path).resolve() for path in inputs}
        self.schema = _schema_of(class_names)
        self.alpha = alpha

    def png(self, name, array):
        save_png(array, self._target(name))

    def json(self, name, payload):
        atomic_write(self._target(name), lambda partial: partial.write_text(json.dumps(payload, indent=2) + "\n"))

    def video(self, name, frames, rate):
        """Writes the RGB frames of an iterable as they come (a video is never held in memory whole)."""
        path = self._target(name)

        def write(partial):
            video = None
            try:
                for frame in frames:
                    if video is None:
                        height, width = frame.shape[:2]
                        fourcc = cv2.VideoWriter_fourcc(*VIDEO_CODEC)
                        video = cv2.VideoWriter(str(partial), fourcc, rate, (width, height))
                        if not video.isOpened():
                            raise OSError(f"OpenCV cannot write {VIDEO_CODEC} video to {path}")
                    video.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            finally:
                if video is not None:
                    video.release()

        atomic_write(path, write)

    def _target(self, name):
        path = (self.out_dir / name).resolve()
        if not path.is_relative_to(self.out_dir):
            raise ValueError(f"output {name!r} would be written outside {self.out_dir}")
        if path in self.inputs:
            raise ValueError(f"output {path} is one of the inputs; choose another output folder")
        return path


def _schema_of(class_names):
    for schema in SCHEMAS.values():
        if tuple(schema.class_names) == tuple(class_names):
            return schema
    raise ValueError(
        f"no label schema has the parser's classes {list(class_names)}; known schemas are {sorted(SCHEMAS)}"
    )
