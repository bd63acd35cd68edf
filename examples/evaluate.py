"""Score a face parser on HELEN's test set (or the synthetic set) with the paper's F1 table.

F1 comes from one confusion histogram over every pixel of the split, at full
resolution (the reference's rule). The script prints the paper's groups, the
per-class F1, the reference's merged-foreground F1, and ends with the line
`overall F1: 0.xxx`.

Usage:
    python examples/evaluate.py --model PATH --data-dir HELEN [--split test]
    python examples/evaluate.py --model PATH --synthetic [--seed 0] [--num 20] [--cache-dir DIR]

`--model` is a `.keras` file, a SavedModel folder or an authors' `.pth.tar`
checkpoint (`--localizer` says which localizer that checkpoint has).
"""

import argparse
import sys

from keras_stn_icnn.data import DatasetError
from keras_stn_icnn.evaluation import default_cache_dir, evaluate_on_helen, synthetic_test_set
from keras_stn_icnn.models.loading import load_parser


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help=".keras file, SavedModel folder or .pth.tar checkpoint")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data-dir", help="a folder in HELEN's layout (images/, labels/, testing.txt, ...)")
    source.add_argument("--synthetic", action="store_true", help="evaluate on the built-in synthetic faces")
    parser.add_argument("--split", default=None, choices=["train", "val", "test"],
                        help="split of --data-dir (default test); the synthetic set has only test")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic set")
    parser.add_argument("--num", type=int, default=20, help="number of synthetic test faces")
    parser.add_argument("--cache-dir", default=None,
                        help=f"where synthetic sets are kept (default {default_cache_dir()})")
    parser.add_argument("--localizer", default="resnet18", choices=["resnet18", "fcn"],
                        help="localizer of a .pth.tar checkpoint")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv=None):
    """Runs the evaluation with `argv` (default: the process arguments); returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.synthetic and args.split not in (None, "test"):
        parser.error("the synthetic set is evaluated on its test split; drop --split")
    progress = not args.no_progress
    try:
        if args.synthetic:
            data_dir = synthetic_test_set(args.seed, args.num, args.cache_dir, progress=progress)
        else:
            data_dir = args.data_dir
        model = load_parser(args.model, localizer=args.localizer)
        print(f"evaluating {args.model} ({model.kind}) on {data_dir}, split {args.split or 'test'}")
        result = evaluate_on_helen(model, data_dir, split=args.split or "test", progress=progress)
    except (ValueError, FileNotFoundError, FileExistsError, DatasetError) as error:
        print(f"evaluate.py: error: {error}", file=sys.stderr)
        return 2
    print(result.report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
