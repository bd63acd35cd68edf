"""Speed and memory of STN-iCNN on this machine, next to the authors' pipeline.

The same as `keras-stn-icnn benchmark`; every option of that command applies. It prints:
- the per-face latency at batch 1, 4 and 8 of the Keras model, the SavedModel, LiteRT
  (float32, dynamic range, float16) and ONNX Runtime, each with its achieved GFLOP/s, its
  distance to the arithmetic limit and the process's peak memory;
- where the time goes at batch 1 (the rough mask, localizer and crop; the part models;
  the paste-back), next to the authors' split;
- training images/s for each stage, with peak memory;
- the FLOPs per face counted from the model, and the machine's measured float32
  matrix-multiply rate.

With `--reference-dir` (a checkout of the authors' repository) and `--reference-checkpoint`
(or `--model` as an authors' `.pth.tar`), and torch installed, the authors' pipeline runs in
the same process on the same photo and the ratios are measured; without them, the stored
figures of `../shared/docs/REFERENCE_SPEC.md` are printed and said to come from elsewhere.

Usage:
    python benchmarks/stn_icnn.py [--image PHOTO] [--exports DIR] [--repeats 10]
    python benchmarks/stn_icnn.py --model stn_icnn_reference_checkpoint.pth.tar \\
        --reference-dir STN-iCNN/ --image astronaut.png
"""

import sys

from keras_stn_icnn import cli

if __name__ == "__main__":
    sys.exit(cli.main(["benchmark", *sys.argv[1:]]))
