"""Every zoo model trained on the same synthetic split for the same time: docs/results.md's comparison table.

Trains STN-iCNN (giving the iCNN baseline and STN-iCNN* on the way) and every
single-pass parser of the zoo on synthetic training faces (`--num-train` of the
main job's one-size generator, seed 0), each for `--minutes` of wall time on
this machine, scores them on unseen synthetic test faces (`--test-seed`,
`--test-num`: the evaluation script's `--synthetic --seed 424242 --num 100` by
default), and prints one Markdown table with the paper's F1 groups, parameters,
GFLOP and milliseconds per 512x512 face; RED-Net a second time with its
exemplar prior filled from the set's validation faces, and RNN-G's two-stage
parser, which labels HELEN's classes, trained on the same faces' HELEN labels
and scored in STN-iCNN's. `--arguments JSON` replaces constructor
arguments of every single-pass model's zoo entry, for a probe of one setting
(`--models rnn_g --arguments '{"kernel_initializer": "he_normal"}'`); the
line printed above the table repeats them, and the run's weights load into a
model built with them (`build_single_pass(name, size, arguments=...)`).
`--output FILE` also writes the table to FILE. Each run's `metrics.csv` holds its training loss and F1 per epoch
(`benchmarks/learning_curves.py` plots them).

Usage:
    python benchmarks/zoo_comparison.py [--minutes 15] [--models icnn rnn_g rnn_g_face_box ... red_net_cpu]
        [--no-two-stage] [--num-train 2000] [--input-size 256] [--batch-size 8] [--arguments JSON]
        [--run-dir runs/zoo_comparison] [--output table.md]
"""

import argparse
import json
import sys
from pathlib import Path

import tensorflow as tf

from keras_stn_icnn.benchmarking.zoo_comparison import compare_zoo, format_comparison
from keras_stn_icnn.data.helen import HelenReader
from keras_stn_icnn.data.synthetic import generate_synthetic_helen
from keras_stn_icnn.evaluation import synthetic_test_set
from keras_stn_icnn.files import atomic_write
from keras_stn_icnn.models.zoo import zoo_names

CPU_TABLE_MODELS = (
    "icnn",
    "rnn_g",
    "rnn_g_context",
    "rnn_g_face_box",
    "rnn_g_two_stage",
    "rnn_g_two_stage_context",
    "rnn_g_two_stage_face_box",
    "bass_cpu",
    "red_net_cpu",
    "red_net_cpu_face_box",
)
"""The single-pass models of docs/zoo_comparison.md: every one, with the CPU variants of BASS and RED-Net (the
papers' networks step too slowly on a 2-core CPU for a 15-minute budget: their step times are in
docs/zoo_learning.md) and RNN-G's whole-photo variants `rnn_g_context` and `rnn_g_two_stage_context` beside the
paper's networks."""


def json_object(text):
    """`--arguments`' value: a JSON object, or an argparse error naming the text."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not JSON ({error}): {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object, got {text!r}")
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=15.0, help="training budget of every model")
    parser.add_argument("--models", nargs="+", choices=zoo_names("single_pass"), default=list(CPU_TABLE_MODELS))
    parser.add_argument("--no-two-stage", action="store_true", help="leave out STN-iCNN and the iCNN baseline")
    parser.add_argument("--input-size", type=int, default=256, help="working size of the single-pass parsers")
    parser.add_argument("--batch-size", type=int, default=8, help="batch size of the single-pass parsers")
    parser.add_argument(
        "--arguments",
        type=json_object,
        help="JSON object of constructor arguments replacing the zoo entries' in every single-pass model",
    )
    parser.add_argument("--synthetic-dir", default="data/synthetic_helen_2000", help="the training set's folder")
    parser.add_argument("--num-train", type=int, default=2000, help="synthetic training faces")
    parser.add_argument("--test-seed", type=int, default=424242)
    parser.add_argument("--test-num", type=int, default=100)
    parser.add_argument("--run-dir", default="runs/zoo_comparison")
    parser.add_argument("--output", help="also write the table to this file")
    args = parser.parse_args(argv)
    if not args.minutes > 0:
        parser.error(f"--minutes must be positive, got {args.minutes}")
    if args.batch_size < 1:
        parser.error(f"--batch-size must be at least 1, got {args.batch_size}")

    # The main job's generator and seed (its first 200 training faces are the main job's), more faces.
    main_job_set = generate_synthetic_helen(
        args.synthetic_dir, num_train=args.num_train, num_val=20, num_test=100, seed=0
    )
    reader = HelenReader(main_job_set, schema="stn_icnn")
    train = reader.dataset("train").apply(tf.data.experimental.assert_cardinality(len(reader.examples("train"))))
    helen_reader = HelenReader(main_job_set, schema="helen")
    helen_train = helen_reader.dataset("train").apply(
        tf.data.experimental.assert_cardinality(len(reader.examples("train")))
    )
    validation = reader.dataset("val")
    test = HelenReader(synthetic_test_set(args.test_seed, args.test_num), schema="stn_icnn").dataset("test")
    rows = compare_zoo(
        train,
        test,
        args.run_dir,
        args.minutes * 60,
        prior_dataset=validation,
        other_train_datasets={"helen": helen_train},
        single_pass=args.models,
        two_stage=not args.no_two_stage,
        input_size=args.input_size,
        batch_size=args.batch_size,
        model_arguments=args.arguments,
    )
    table = format_comparison(rows)
    print(
        f"\nEvery model trained {args.minutes:g} min on the synthetic training split; "
        f"F1 on {args.test_num} synthetic test faces (seed {args.test_seed})."
    )
    if args.arguments:
        print(f"The single-pass models' zoo arguments replaced by {json.dumps(args.arguments)}.")
    print()
    print(table)
    if args.output:
        atomic_write(args.output, lambda path: Path(path).write_text(table + "\n"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
