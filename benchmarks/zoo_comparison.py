"""Every zoo model trained on the same synthetic split for the same time: docs/results.md's comparison table.

Trains STN-iCNN (giving the iCNN baseline and STN-iCNN* on the way) and every
single-pass parser of the zoo on the main job's synthetic training faces, each
for `--minutes` of wall time on this machine (RED-Net's exemplar prior filled
from that set's validation faces first), scores them on the evaluation
script's synthetic test faces (`--test-seed`, `--test-num`), and prints one
Markdown table with the paper's F1 groups, parameters, GFLOP and milliseconds per
512x512 face. `--output FILE` also writes the table to FILE.

Usage:
    python benchmarks/zoo_comparison.py [--minutes 4] [--models icnn rnn_g bass red_net]
        [--no-two-stage] [--input-size 256] [--run-dir runs/zoo_comparison] [--output table.md]
"""

import argparse
import sys
from pathlib import Path

from keras_stn_icnn.benchmarking.zoo_comparison import compare_zoo, format_comparison
from keras_stn_icnn.data.helen import HelenReader
from keras_stn_icnn.data.synthetic import generate_synthetic_helen
from keras_stn_icnn.evaluation import synthetic_test_set
from keras_stn_icnn.files import atomic_write
from keras_stn_icnn.models.zoo import zoo_names


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=4.0, help="training budget of every model")
    parser.add_argument("--models", nargs="+", choices=zoo_names("single_pass"), default=list(zoo_names("single_pass")))
    parser.add_argument("--no-two-stage", action="store_true", help="leave out STN-iCNN and the iCNN baseline")
    parser.add_argument("--input-size", type=int, default=256, help="working size of the single-pass parsers")
    parser.add_argument("--synthetic-dir", default="data/synthetic_helen", help="the main job's training set")
    parser.add_argument("--test-seed", type=int, default=1)
    parser.add_argument("--test-num", type=int, default=100)
    parser.add_argument("--run-dir", default="runs/zoo_comparison")
    parser.add_argument("--output", help="also write the table to this file")
    args = parser.parse_args(argv)
    if not args.minutes > 0:
        parser.error(f"--minutes must be positive, got {args.minutes}")

    # The main job's synthetic set (its default sizes), so the zoo trains on the faces STN-iCNN trains on.
    main_job_set = generate_synthetic_helen(args.synthetic_dir, num_train=200, num_val=20, num_test=60, seed=0)
    train = HelenReader(main_job_set, schema="stn_icnn").dataset("train")
    validation = HelenReader(main_job_set, schema="stn_icnn").dataset("val")
    test = HelenReader(synthetic_test_set(args.test_seed, args.test_num), schema="stn_icnn").dataset("test")
    rows = compare_zoo(
        train,
        test,
        args.run_dir,
        args.minutes * 60,
        prior_dataset=validation,
        single_pass=args.models,
        two_stage=not args.no_two_stage,
        input_size=args.input_size,
    )
    table = format_comparison(rows)
    print(
        f"\nEvery model trained {args.minutes:g} min on the synthetic training split; "
        f"F1 on {args.test_num} synthetic test faces (seed {args.test_seed}).\n"
    )
    print(table)
    if args.output:
        atomic_write(args.output, lambda path: Path(path).write_text(table + "\n"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
