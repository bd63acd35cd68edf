"""What `keras-stn-icnn parse` reads: photographs, folders of them, and videos.

`collect_inputs(paths)` expands files and folders (recursively, sorted) into
`InputItem`s, each with the relative name its outputs get, and refuses two
inputs that would write the same outputs. `read_photo` reads one picture as
uint8 RGB (EXIF orientation applied); `read_video` yields a video's frames
through OpenCV. Both raise `UnreadableInputError` naming the file when it
cannot be read, so a caller can report it and go on with the rest.

Example:
>>> items = collect_inputs(["photos/", "clip.mp4"])  # doctest: +SKIP
>>> [(item.kind, str(item.output_stem)) for item in items]  # doctest: +SKIP
[('photo', 'photos/a'), ('video', 'clip')]
"""

import dataclasses
from pathlib import Path, PurePosixPath

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from keras_stn_icnn.checks import check_int

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")


class UnreadableInputError(ValueError):
    """A photo or video that cannot be read; the message names the file and why."""


@dataclasses.dataclass(frozen=True)
class InputItem:
    """One photo or video to parse.

    Args:
        path: Path of the file.
        kind: `"photo"` or `"video"`.
        output_stem: PurePosixPath, relative, where its outputs go inside the
            output folder (without suffix): the file's stem, under the name
            of the folder it was found in when a folder was given.

    Example:
    >>> InputItem(Path("a/b.jpg"), "photo", PurePosixPath("a/b")).output_stem.name
    'b'
    """

    path: Path
    kind: str
    output_stem: PurePosixPath


def collect_inputs(paths):
    """The photos and videos named by `paths` (files, or folders searched recursively).

    Args:
        paths: iterable of str or Path.

    Returns:
        list of `InputItem`, in the order given; a folder's files sorted.

    Raises:
        FileNotFoundError: a path does not exist.
        ValueError: a file given by name is neither a photo nor a video (by
            suffix), or two inputs would write the same outputs.

    Example:
    >>> collect_inputs(["missing.jpg"])
    Traceback (most recent call last):
    ...
    FileNotFoundError: missing.jpg does not exist
    """
    items = []
    for given in paths:
        path = Path(given)
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist")
        if path.is_dir():
            base = PurePosixPath(path.resolve().name or "root")
            for found in sorted(p for p in path.rglob("*") if p.is_file()):
                kind = _kind(found)
                if kind is not None:
                    relative = PurePosixPath(found.relative_to(path).with_suffix("").as_posix())
                    items.append(InputItem(found, kind, base / relative))
        else:
            kind = _kind(path)
            if kind is None:
                raise ValueError(
                    f"{path} is neither a photo ({', '.join(PHOTO_SUFFIXES)}) nor a video ({', '.join(VIDEO_SUFFIXES)})"
                )
            items.append(InputItem(path, kind, PurePosixPath(path.stem)))
    seen = {}
    for item in items:
        key = str(item.output_stem).lower()
        if key in seen:
            raise ValueError(
                f"{seen[key]} and {item.path} would write the same outputs ({item.output_stem}.*); "
                "rename one or parse them separately"
            )
        seen[key] = item.path
    return items


def read_photo(path):
    """One picture as uint8 `[H, W, 3]` RGB, turned upright by its EXIF orientation.

    Raises:
        UnreadableInputError: the file is not a picture Pillow can decode.

    Example:
    >>> read_photo("shared/faces/astronaut.png").shape  # doctest: +SKIP
    (512, 512, 3)
    """
    try:
        with Image.open(path) as picture:
            return _rgb8(ImageOps.exif_transpose(picture))
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise UnreadableInputError(f"cannot read {path} as a picture: {error}") from error


SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")
"""Pillow's modes for 16-bit greyscale pictures (PNG, TIFF); `"I"` holds them in 32-bit integers."""


def _rgb8(picture):
    """uint8 RGB of a Pillow picture; 16-bit greyscale is scaled to 8 bits, not clipped at 255 as Pillow does."""
    if picture.mode in SIXTEEN_BIT_MODES:
        grey = np.asarray(picture).astype(np.float64)
        if grey.min() < 0 or grey.max() > 65535:
            raise ValueError(f"greyscale values {grey.min():g}-{grey.max():g} are outside the 16-bit range 0-65535")
        grey = np.round(grey / 257.0).astype(np.uint8)
        return np.repeat(grey[..., np.newaxis], 3, axis=-1)
    return np.asarray(picture.convert("RGB"))


def read_video(path, every=1, max_frames=None):
    """The frames of a video: yields `(frame_number, uint8 [H, W, 3] RGB)`.

    Args:
        path: str or Path of the video.
        every: int >= 1, keep every `every`-th frame (frame numbers count all frames).
        max_frames: int >= 1 or None, stop after this many kept frames.

    Raises:
        UnreadableInputError: OpenCV cannot open the file or it holds no frame.

    Example:
    >>> frames = list(read_video("clip.mp4", every=10))  # doctest: +SKIP
    """
    check_int(every, "every")
    if max_frames is not None:
        check_int(max_frames, "max_frames")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise UnreadableInputError(f"cannot open {path} as a video (OpenCV could not decode it)")
        number = kept = 0
        while max_frames is None or kept < max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            if number % every == 0:
                kept += 1
                yield number, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            number += 1
        if number == 0:
            raise UnreadableInputError(f"{path} holds no frame OpenCV can decode")
    finally:
        capture.release()


def video_frame_rate(path):
    """Frames per second OpenCV reports for a video (25.0 when it reports none)."""
    capture = cv2.VideoCapture(str(path))
    try:
        rate = capture.get(cv2.CAP_PROP_FPS)
    finally:
        capture.release()
    return float(rate) if rate and np.isfinite(rate) and rate > 0 else 25.0


def _kind(path):
    suffix = path.suffix.lower()
    if suffix in PHOTO_SUFFIXES:
        return "photo"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    return None
