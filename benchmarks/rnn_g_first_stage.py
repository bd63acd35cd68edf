"""Is it RNN-G's classes, its second stage, or its first stage that learns slowly? One change at a time.

Trains one of five parsers on the same synthetic training faces (whole photos, the parser's own resize to
`--size`), `compile()` (Adam at the default rate) and `fit` with the class priors, batch 8, and prints the
test F1 (STN-iCNN ids, full resolution) every `--every` steps:

- `rnn_g_9`: `RNNG` on STN-iCNN's 9 classes (the zoo's one-stage `rnn_g`);
- `rnn_g_11`: `RNNG` on HELEN's 11 classes (face skin and hair as well);
- `two_stage`: `RNNGTwoStage` (HELEN's classes), and its first stage scored alone beside it;
- `face_box_9`: `RNNGFaceBox` on STN-iCNN's 9 classes (the zoo's `rnn_g_face_box`): RNN-G at 128 px on the face
  box a small network finds on the photo at `--size`;
- `two_stage_face_box`: `RNNGTwoStage(first_stage="rnn_g_face_box")`, and its first stage alone.

docs/zoo_learning.md's "classes, second stage or first stage" table comes from it.

Usage:
    python benchmarks/rnn_g_first_stage.py rnn_g_9 --synthetic-dir data/synthetic_helen [--size 128]
        [--every 100] [--evaluations 6]
"""

import argparse
import json
import time

import keras
import numpy as np

from keras_stn_icnn.data.helen import HelenReader
from keras_stn_icnn.evaluation import evaluate_parser, in_stn_icnn_ids
from keras_stn_icnn.labels import HELEN_CLASS_NAMES, STN_ICNN_CLASS_NAMES
from keras_stn_icnn.models import RNNG, RNNGFaceBox, RNNGTwoStage

BATCH_SIZE = 8
PARSERS = {
    "rnn_g_9": ("stn_icnn", lambda size: RNNG(STN_ICNN_CLASS_NAMES, input_size=size)),
    "rnn_g_11": ("helen", lambda size: RNNG(HELEN_CLASS_NAMES, input_size=size)),
    "two_stage": ("helen", lambda size: RNNGTwoStage(input_size=size)),
    "face_box_9": ("stn_icnn", lambda size: RNNGFaceBox(STN_ICNN_CLASS_NAMES, input_size=size)),
    "two_stage_face_box": ("helen", lambda size: RNNGTwoStage(input_size=size, first_stage="rnn_g_face_box")),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("parser", choices=sorted(PARSERS))
    parser.add_argument("--synthetic-dir", required=True, help="a synthetic set (train and test splits)")
    parser.add_argument("--size", type=int, default=128, help="working size (default: 128, the paper's)")
    parser.add_argument("--every", type=int, default=100, help="steps between evaluations (default: 100)")
    parser.add_argument("--evaluations", type=int, default=6, help="how many (default: 6)")
    args = parser.parse_args()

    schema, build = PARSERS[args.parser]
    examples = list(HelenReader(args.synthetic_dir, schema=schema).dataset("train").as_numpy_iterator())
    images = np.stack([example["image"] for example in examples])
    labels = np.stack([example["label"] for example in examples])
    test = HelenReader(args.synthetic_dir, schema="stn_icnn").dataset("test")
    keras.utils.set_random_seed(0)
    model = build(args.size)
    model.compile()
    order = np.random.default_rng(0)
    images_per_round = args.every * BATCH_SIZE
    permutations = -(-images_per_round // len(images))
    seen, start = 0, time.time()
    for _ in range(args.evaluations):
        chosen = np.concatenate([order.permutation(len(images)) for _ in range(permutations)])[:images_per_round]
        model.fit(images[chosen], labels[chosen], batch_size=BATCH_SIZE, epochs=1, shuffle=False, verbose=0)
        seen += images_per_round
        row = {"parser": args.parser, "images": seen, "minutes": round((time.time() - start) / 60, 1)}
        row["overall_f1"] = round(
            evaluate_parser(in_stn_icnn_ids(model.parse, schema), test, progress=False).overall, 3
        )
        if args.parser.startswith("two_stage"):
            first_stage = model.get_layer("first_stage")
            first_alone = evaluate_parser(in_stn_icnn_ids(first_stage.parse, schema), test, progress=False)
            row["first_stage_alone_f1"] = round(first_alone.overall, 3)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
