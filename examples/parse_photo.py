"""Parse a face photo with the authors' STN-iCNN weights, converted without torch.

Reads an authors' `.pth.tar` checkpoint (default: the reference checkpoint in
../shared/parity, random weights in the authors' exact format), parses the
photo and writes the label map (class ids) and a colour overlay as PNG files.

Usage:
    python examples/parse_photo.py [--checkpoint PATH] [--image PATH] [--output-dir DIR]
"""

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image

from keras_stn_icnn import STNiCNN
from keras_stn_icnn.visualize import overlay, save_png

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=SHARED / "parity" / "stn_icnn_reference_checkpoint.pth.tar",
        help="an authors' STN-iCNN .pth.tar file",
    )
    parser.add_argument("--localizer", default="resnet18", choices=["resnet18", "fcn"])
    parser.add_argument("--image", type=Path, default=SHARED / "faces" / "astronaut.png")
    parser.add_argument("--output-dir", type=Path, default=Path("outputs"))
    args = parser.parse_args()

    for path in (args.checkpoint, args.image):
        if not path.is_file():
            parser.error(f"file not found: {path}")
    model = STNiCNN.from_pytorch_checkpoint(args.checkpoint, localizer=args.localizer)
    print(f"loaded {', '.join(model.loaded_parts)} from {args.checkpoint}")
    image = np.asarray(Image.open(args.image).convert("RGB"))
    model.parse(image)  # warm-up: traces the graph once
    start = time.perf_counter()
    labels = model.parse(image)
    elapsed = time.perf_counter() - start
    print(f"parsed {args.image.name} ({image.shape[1]}x{image.shape[0]}) in {elapsed * 1000:.0f} ms")
    for class_id, name in enumerate(model.class_names):
        print(f"  {class_id} {name:<14} {int(np.sum(labels == class_id)):>8} px")
    stem = args.image.stem
    save_png(labels, args.output_dir / f"{stem}_labels.png")
    save_png(overlay(image, labels, schema="stn_icnn"), args.output_dir / f"{stem}_overlay.png")
    print(f"wrote {args.output_dir / (stem + '_labels.png')} and {stem}_overlay.png")


if __name__ == "__main__":
    main()
