"""What a trained single-pass model's BatchNorm statistics cost it: unseen-face F1 as trained and recomputed.

Loads a single-pass zoo model's weights (a run's `final.weights.h5`), scores it on unseen synthetic faces
(the evaluation script's `--synthetic --seed 424242 --num 100`), recomputes its BatchNorm layers' statistics
from the same weights over `--batches` batches of its training pipeline
(`train.callbacks.recompute_batch_norm_statistics`, what `SinglePassTrainer` now does when training ends),
and scores it again. docs/zoo_learning.md's BatchNorm table comes from it (weights trained before that
change, with Keras's moving averages).

Usage:
    python benchmarks/batch_norm_statistics.py red_net_cpu runs/zoo_comparison/red_net_cpu/final.weights.h5 \
        [--synthetic-dir data/synthetic_helen_2000] [--input-size 256] [--batches 32] [--batch-size 8]
"""

import argparse

from keras_stn_icnn.data.helen import HelenReader
from keras_stn_icnn.data.pipeline import single_pass_training_pipeline
from keras_stn_icnn.evaluation import evaluate_parser, in_stn_icnn_ids, synthetic_test_set
from keras_stn_icnn.models.zoo import zoo_entry, zoo_names
from keras_stn_icnn.train.callbacks import batch_norm_layers, recompute_batch_norm_statistics
from keras_stn_icnn.train.single_pass_trainer import build_single_pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=zoo_names("single_pass"))
    parser.add_argument("weights", help="the run's final.weights.h5")
    parser.add_argument("--synthetic-dir", default="data/synthetic_helen_2000", help="the training faces")
    parser.add_argument("--input-size", type=int, default=256)
    parser.add_argument("--batches", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--test-seed", type=int, default=424242)
    parser.add_argument("--test-num", type=int, default=100)
    args = parser.parse_args()

    schema = zoo_entry(args.model).label_schema
    model = build_single_pass(args.model, args.input_size)
    model.load_weights(args.weights)
    norms = batch_norm_layers(model)
    test = HelenReader(synthetic_test_set(args.test_seed, args.test_num), schema="stn_icnn").dataset("test")

    def score():
        return evaluate_parser(in_stn_icnn_ids(model.parse, schema), test, progress=False)

    before = score()
    batches = single_pass_training_pipeline(
        HelenReader(args.synthetic_dir, schema=schema).dataset("train"),
        batch_size=args.batch_size,
        input_size=args.input_size,
        augmentation=None,
        copies=1,
        seed=1,
    )
    used = recompute_batch_norm_statistics(model, batches.dataset, args.batches)
    after = score()
    print(
        f"{args.model}, {len(norms)} BatchNorm layers, statistics recomputed over {used} batches of {args.batch_size}"
    )
    print("| statistics | eyes | brows | nose | mouth | overall |\n|---|---|---|---|---|---|")
    for name, result in (("as trained", before), ("recomputed", after)):
        groups = " | ".join(f"{result.scores[group]:.3f}" for group in ("eyes", "brows", "nose", "mouth"))
        print(f"| {name} | {groups} | {result.overall:.3f} |")


if __name__ == "__main__":
    main()
