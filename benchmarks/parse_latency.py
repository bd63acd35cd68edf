"""Per-face latency of STNiCNN.parse on one photo, next to the authors' pipeline.

Loads the authors'-format checkpoint, parses the 512x512 reference photo at
batch 1 and batch 4 after a warm-up, and prints median, min and max over the
repeats. The authors' figures (373 ms at batch 1, 646 ms per face at batch 4)
were measured on this project's 2-core CPU with torch 2.13 and are printed
as stored in ../shared/docs/REFERENCE_SPEC.md, not re-measured here.

Usage:
    python benchmarks/parse_latency.py [--repeats 15] [--checkpoint PATH] [--image PATH]
"""

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
from PIL import Image

from keras_stn_icnn import STNiCNN

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REFERENCE_MS_PER_FACE = {1: 373.0, 4: 646.0}


def time_parse(model, images, repeats):
    model.parse(images)  # warm-up: traces the graph for this shape
    model.parse(images)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.parse(images)
        seconds.append(time.perf_counter() - start)
    return np.asarray(seconds) * 1000.0 / len(images)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument(
        "--checkpoint", type=Path,
        default=SHARED / "parity" / "stn_icnn_reference_checkpoint.pth.tar",
    )
    parser.add_argument("--image", type=Path, default=SHARED / "faces" / "astronaut.png")
    args = parser.parse_args()

    model = STNiCNN.from_pytorch_checkpoint(args.checkpoint)
    image = np.asarray(Image.open(args.image).convert("RGB"))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"image {image.shape[1]}x{image.shape[0]}; {args.repeats} repeats after warm-up")
    print(f"{'batch':>5} {'median ms/face':>15} {'min':>7} {'max':>7} "
          f"{'authors (stored)':>16} {'speed-up':>9}")
    for batch in (1, 4):
        per_face = time_parse(model, [image] * batch, args.repeats)
        median = float(np.median(per_face))
        reference = REFERENCE_MS_PER_FACE[batch]
        print(f"{batch:>5} {median:>15.1f} {per_face.min():>7.1f} {per_face.max():>7.1f} "
              f"{reference:>16.0f} {reference / median:>8.1f}x")


if __name__ == "__main__":
    main()
