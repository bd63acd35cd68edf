"""Per-face latency of a parser in every runtime it is exported to, side by side.

Runs the Keras model (its serving function as one `tf.function`), the
SavedModel, the LiteRT files and the ONNX file made by
`keras-stn-icnn export ... --format all --out EXPORTS` on the same 512x512
photo, at batch 1 and 8, after a warm-up, and prints the median, min and max
milliseconds per face over the repeats, each runtime's speed relative to
Keras, and the file sizes. All runtimes get the same thread count.

Usage:
    keras-stn-icnn export MODEL --format all --out EXPORTS
    python benchmarks/export_latency.py MODEL EXPORTS [--repeats 10] [--threads 2] [--image PATH]
"""

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from keras_stn_icnn.data.synthetic import render_face
from keras_stn_icnn.evaluation import load_parser
from keras_stn_icnn.export import KerasRunner, LiteRTRunner, OnnxRunner, SavedModelRunner
from keras_stn_icnn.files import size_on_disk

SIDE = 512


def _photo(path):
    image = Image.open(path).convert("RGB") if path else Image.fromarray(render_face(11)[0])
    return np.asarray(image.resize((SIDE, SIDE), Image.BILINEAR))


def _ms_per_face(runner, batch, repeats):
    runner(batch)  # warm-up: traces / allocates for this shape
    runner(batch)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        runner(batch)
        seconds.append(time.perf_counter() - start)
    return np.asarray(seconds) * 1000.0 / len(batch)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="the source .keras file or authors' .pth.tar")
    parser.add_argument("exports", help="the --out folder of `keras-stn-icnn export --format all`")
    parser.add_argument("--name", default="stn_icnn")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--image", help="photo to parse (default: a synthetic face), resized to 512x512")
    args = parser.parse_args()

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    model = load_parser(args.model).model
    exports = Path(args.exports)
    versions = sorted((exports / args.name).iterdir(), key=lambda p: int(p.name) if p.name.isdigit() else -1)
    runners = {
        "keras": (KerasRunner(model), None),
        "saved_model": (SavedModelRunner(versions[-1]), versions[-1]),
    }
    for suffix in ("", "_dynamic_range", "_float16"):
        path = exports / f"{args.name}{suffix}.tflite"
        runners[f"litert{suffix}"] = (LiteRTRunner(path, model.canvas_size, args.threads), path)
    path = exports / f"{args.name}.onnx"
    runners["onnx"] = (OnnxRunner(path, model.canvas_size, args.threads), path)

    photo = _photo(args.image)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{args.threads} threads per runtime; {SIDE}x{SIDE} photo, {args.repeats} repeats after warm-up")
    print(f"{'runtime':<22}{'batch':>5}{'median ms/face':>16}{'min':>8}{'max':>8}{'vs keras':>10}{'size MB':>9}")
    for batch_size in (1, 8):
        batch = np.repeat(photo[np.newaxis], batch_size, axis=0)
        keras_median = None
        for name, (runner, path) in runners.items():
            ms = _ms_per_face(runner, batch, args.repeats)
            median = float(np.median(ms))
            keras_median = keras_median or median
            size = f"{size_on_disk(path) / 2**20:9.1f}" if path else f"{'-':>9}"
            print(f"{name:<22}{batch_size:>5}{median:>16.1f}{ms.min():>8.1f}{ms.max():>8.1f}"
                  f"{keras_median / median:>9.2f}x{size}")


if __name__ == "__main__":
    main()
