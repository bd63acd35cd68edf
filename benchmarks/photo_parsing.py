"""Time per photo and per face of FaceParser: detection (MTCNN) and parsing, side by side.

Runs `FaceParser` on the two photographs of ../shared/faces and on a group
photo of three synthetic faces, after two warm-up runs per photo, and prints
the median (min-max) over the repeats of the detection time, the parsing
time (crop, parse, paste) and the parsing time per face. Parsing costs the
same whatever the weights, so the default model is the reference checkpoint
(random weights in the authors' format).

Usage:
    python benchmarks/photo_parsing.py [--repeats 7] [--model PATH]
"""

import argparse
import os
import platform
from pathlib import Path

import numpy as np
from PIL import Image

from keras_stn_icnn import FaceParser
from keras_stn_icnn.data.synthetic import render_face
from keras_stn_icnn.inference import read_photo
from keras_stn_icnn.models.loading import load_parser

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
GROUP_SEEDS = (302, 305, 306)  # synthetic faces MTCNN finds surely (tests/scenes.py picks them the same way)


def group_photo(seeds=GROUP_SEEDS, face_height=300, gap=40, margin=30):
    """The synthetic faces of `seeds`, resized to `face_height` rows, side by side on a grey gradient."""
    pictures = []
    for seed in seeds:
        image = render_face(seed)[0]
        width = round(image.shape[1] * face_height / image.shape[0])
        pictures.append(np.asarray(Image.fromarray(image).resize((width, face_height), Image.BILINEAR)))
    height = face_height + 2 * margin + 60
    width = 2 * margin + sum(p.shape[1] for p in pictures) + gap * (len(pictures) - 1)
    rows = np.linspace(70, 150, height)[:, np.newaxis, np.newaxis]
    photo = np.broadcast_to(rows + np.array([0, 10, 30]), (height, width, 3)).astype(np.uint8).copy()
    left = margin
    for picture in pictures:
        top = (height - picture.shape[0]) // 2
        photo[top : top + face_height, left : left + picture.shape[1]] = picture
        left += picture.shape[1] + gap
    return photo


def time_photo(face_parser, photo, repeats):
    """Detection seconds, parsing seconds and face count of `repeats` runs after two warm-ups."""
    for _ in range(2):
        face_parser(photo)
    runs = [face_parser(photo) for _ in range(repeats)]
    return (
        np.array([run.detect_seconds for run in runs]),
        np.array([run.parse_seconds for run in runs]),
        len(runs[-1].faces),
    )


def _spread(seconds):
    ms = seconds * 1000.0
    return f"{np.median(ms):7.0f} ({ms.min():.0f}-{ms.max():.0f})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--model", type=Path, default=SHARED / "parity" / "stn_icnn_reference_checkpoint.pth.tar")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")

    face_parser = FaceParser(load_parser(args.model))
    photos = {name: read_photo(SHARED / "faces" / name) for name in ("astronaut.png", "grace_hopper.jpg")}
    photos["synthetic group (3 faces)"] = group_photo()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; model {args.model.name}; "
        f"median (min-max) ms of {args.repeats} runs after 2 warm-ups"
    )
    print(f"{'photo':<27} {'size':>9} {'faces':>5} {'detection ms':>20} {'parsing ms':>20} {'parsing ms/face':>20}")
    for name, photo in photos.items():
        detect, parse, faces = time_photo(face_parser, photo, args.repeats)
        per_face = parse / max(faces, 1)
        size = f"{photo.shape[1]}x{photo.shape[0]}"
        print(f"{name:<27} {size:>9} {faces:>5} {_spread(detect):>20} {_spread(parse):>20} {_spread(per_face):>20}")


if __name__ == "__main__":
    main()
