"""The `keras-stn-icnn` command line.

Example:
    keras-stn-icnn synthesize data/synthetic --num-train 200 --contact-sheet sheet.png
"""

import argparse
import sys

from keras_stn_icnn.data.helen import HelenReader
from keras_stn_icnn.data.synthetic import generate_synthetic_helen
from keras_stn_icnn.visualize import contact_sheet, save_png


def render_contact_sheet(root, path, split="train", count=12, columns=4):
    """Render `count` examples of a HELEN-layout set with their label overlays.

    Args:
        root: str or Path of the dataset.
        path: str or Path of the PNG to write.
        split: which split's first examples to show.
        count: int, how many examples.
        columns: int, examples per row.

    Example:
    >>> render_contact_sheet("data/synthetic", "sheet.png")  # doctest: +SKIP
    """
    reader = HelenReader(root)
    examples = [reader.load(example) for example in reader.examples(split)[:count]]
    sheet = contact_sheet(
        [e["image"] for e in examples], [e["label"] for e in examples], schema="helen", columns=columns
    )
    save_png(sheet, path)


def _synthesize(args):
    root = generate_synthetic_helen(
        args.root, num_train=args.num_train, num_val=args.num_val, num_test=args.num_test, seed=args.seed
    )
    print(f"synthetic HELEN-layout set at {root}")
    if args.contact_sheet:
        render_contact_sheet(root, args.contact_sheet, count=args.sheet_count, columns=args.sheet_columns)
        print(f"contact sheet at {args.contact_sheet}")


def build_parser():
    """The argument parser of `keras-stn-icnn`.

    Example:
    >>> build_parser().parse_args(["synthesize", "out"]).num_train
    200
    """
    parser = argparse.ArgumentParser(prog="keras-stn-icnn", description="Face parsing with STN-iCNN in Keras.")
    commands = parser.add_subparsers(dest="command", required=True)
    synthesize = commands.add_parser(
        "synthesize", help="write the built-in synthetic face set in HELEN's layout"
    )
    synthesize.add_argument("root", help="folder to create (an identical existing set is reused)")
    synthesize.add_argument("--num-train", type=int, default=200)
    synthesize.add_argument("--num-val", type=int, default=40)
    synthesize.add_argument("--num-test", type=int, default=60)
    synthesize.add_argument("--seed", type=int, default=0)
    synthesize.add_argument("--contact-sheet", metavar="PNG", help="also render samples with label overlays")
    synthesize.add_argument("--sheet-count", type=int, default=12)
    synthesize.add_argument("--sheet-columns", type=int, default=4)
    synthesize.set_defaults(run=_synthesize)
    return parser


def main(argv=None):
    """Run `keras-stn-icnn` with `argv` (default: the process arguments); returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (ValueError, FileExistsError) as error:
        print(f"keras-stn-icnn {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
