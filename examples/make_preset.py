"""Turn a trained model into a preset folder of savedmodels/, with the metadata users judge it by.

Reads the run's `summary.json` (beside the `.keras` file: recipe, training
data, test-split F1), scores the model on 100 unseen synthetic faces and,
when the real-photo set exists (`examples/make_real_face_set.py`), its part
IoU on real photos next to the landmark labels' own ceiling; then writes the
preset (`save_preset`: config, weights, metadata, SavedModel version 1) and
updates `savedmodels/models.config` so TF Serving serves it. A retrained
preset replaces its old folder (`--overwrite`), never sits beside it.

Usage:
    python examples/make_preset.py runs/train_helen/stn_icnn.keras --name stn_icnn_synthetic \
        --command "python examples/train_helen.py" [--real-faces data/real_faces] [--overwrite]
"""

import argparse
import json
import math
from pathlib import Path

import keras

import keras_stn_icnn.models  # noqa: F401  (registers the zoo's classes before loading)
from keras_stn_icnn.data.synthetic.helen_layout import MANIFEST_NAME
from keras_stn_icnn.evaluation import (
    evaluate_on_helen,
    evaluate_on_real_faces,
    landmark_label_agreement,
    synthetic_test_set,
)
from keras_stn_icnn.export import write_models_config
from keras_stn_icnn.models import save_preset

UNSEEN_SEED, UNSEEN_FACES = 424242, 100


def rounded(scores):
    return {name: (None if math.isnan(value) else round(value, 4)) for name, value in scores.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="the trained .keras file (its run's summary.json beside it)")
    parser.add_argument("--name", required=True, help="the preset's name (its folder under --out)")
    parser.add_argument("--command", required=True, help="the command that trained the model, as users would type it")
    parser.add_argument("--real-faces", default="data/real_faces", help="the real-photo set, if made")
    parser.add_argument("--out", default="savedmodels", help="the folder presets live in")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing preset of that name")
    args = parser.parse_args()

    model_path = Path(args.model)
    summary_path = model_path.parent / "summary.json"
    if not summary_path.is_file():
        raise SystemExit(f"{summary_path} not found: a preset records its run's recipe and scores")
    summary = json.loads(summary_path.read_text())
    model = keras.saving.load_model(model_path, compile=False)
    run_name = model_path.name.removesuffix(".keras")
    unseen = evaluate_on_helen(model.parse, synthetic_test_set(seed=UNSEEN_SEED, num=UNSEEN_FACES), progress=False)
    scores = {
        "synthetic_test_split_f1": rounded(summary["results"][run_name]["scores"]),
        f"synthetic_unseen_{UNSEEN_FACES}_f1": rounded(unseen.scores),
    }
    real_faces = Path(args.real_faces)
    if (real_faces / "test" / "labels").is_dir():
        scores["real_photo_part_iou"] = rounded(evaluate_on_real_faces(model, real_faces))
        scores["real_photo_landmark_ceiling_iou"] = rounded(landmark_label_agreement(real_faces))
    metadata = {
        "description": f"{type(model).__name__} trained on the built-in synthetic faces only (no real photograph)",
        "training_data": {
            "set": summary["data"],
            "synthetic_set": json.loads((Path(summary["data"]) / MANIFEST_NAME).read_text()),
            "real_photographs": 0,
        },
        "recipe": summary["recipe"],
        "command": args.command,
        "scores": scores,
    }
    path = save_preset(model, Path(args.out) / args.name, metadata=metadata, overwrite=args.overwrite)
    write_models_config(args.out)
    print(f"preset {path}:\n{json.dumps(scores, indent=1)}")


if __name__ == "__main__":
    main()
