"""Score a face parser on HELEN's test set (or the synthetic set) with the paper's F1 table.

F1 comes from one confusion histogram over every pixel of the split, at full
resolution (the reference's rule). The script prints the paper's groups, the
per-class F1, the reference's merged-foreground F1, and ends with the line
`overall F1: 0.xxx`.

Usage:
    python examples/evaluate.py --model PATH --data-dir HELEN [--split test]
    python examples/evaluate.py --model PATH --synthetic [--seed 0] [--num 20] [--cache-dir DIR]

`--model` is a `.keras` file, a SavedModel folder or an authors' `.pth.tar`
checkpoint (`--localizer` says which localizer that checkpoint has). The
script is `keras-stn-icnn evaluate`.
"""

import sys

from keras_stn_icnn.cli import main

if __name__ == "__main__":
    sys.exit(main(["evaluate", *sys.argv[1:]]))
