"""Parse a whole photo: find every face, parse it, and write labels, an overlay and a figure.

`--model` is a `.keras` file, a SavedModel version folder (e.g. the main
job's `savedmodels/stn_icnn/1`) or an authors' `.pth.tar` checkpoint
(default: the reference checkpoint in ../shared/parity, random weights in the
authors' exact format, converted without torch). Faces are found with MTCNN
and framed as in HELEN; `--no-detect` takes the photo as one framed face.
For folders and videos use `keras-stn-icnn parse`.

Usage:
    python examples/parse_photo.py [--model PATH] [--image PATH] [--output-dir DIR] [--no-detect]
"""

import argparse
from pathlib import Path

from keras_stn_icnn import FaceParser
from keras_stn_icnn.inference import read_photo
from keras_stn_icnn.models.loading import load_parser
from keras_stn_icnn.visualize import overlay, save_png, side_by_side

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        type=Path,
        default=SHARED / "parity" / "stn_icnn_reference_checkpoint.pth.tar",
        help="a .keras file, a SavedModel version folder or an authors' .pth.tar checkpoint",
    )
    parser.add_argument("--localizer", default="resnet18", choices=["resnet18", "fcn"])
    parser.add_argument("--image", type=Path, default=SHARED / "faces" / "astronaut.png")
    parser.add_argument("--output-dir", type=Path, default=Path("outputs"))
    parser.add_argument("--no-detect", action="store_true", help="the photo is one face, already framed")
    args = parser.parse_args()

    for path in (args.model, args.image):
        if not path.exists():
            parser.error(f"not found: {path}")
    loaded = load_parser(args.model, localizer=args.localizer)
    face_parser = FaceParser(loaded, detector=None if args.no_detect else "mtcnn")
    image = read_photo(args.image)
    face_parser(image, detect=not args.no_detect)  # warm-up: traces the graph once
    result = face_parser(image, detect=not args.no_detect)
    print(
        f"{args.image.name} ({image.shape[1]}x{image.shape[0]}): {len(result.faces)} faces; "
        f"detection {result.detect_seconds * 1000:.0f} ms, parsing {result.parse_seconds * 1000:.0f} ms"
    )
    for index, face in enumerate(result.faces):
        counts = ", ".join(f"{name} {count}" for name, count in face.pixel_counts.items())
        print(f"  face {index}: box {face.box.box}, confidence {face.box.confidence:.3f}; {counts}")
    stem = args.image.stem
    save_png(result.labels, args.output_dir / f"{stem}_labels.png")
    save_png(overlay(image, result.labels), args.output_dir / f"{stem}_overlay.png")
    save_png(side_by_side(image, result.labels), args.output_dir / f"{stem}_figure.png")
    print(f"wrote {stem}_labels.png, {stem}_overlay.png and {stem}_figure.png to {args.output_dir}")


if __name__ == "__main__":
    main()
