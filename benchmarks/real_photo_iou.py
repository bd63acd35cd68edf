"""How well models trained on synthetic faces parse real ones: part IoU on the real-photo set.

Scores each model as a user runs it, `FaceParser(model)` on the photo (MTCNN
finds the face, the crop is framed as the model was trained, the labels are
pasted back), against the labels MediaPipe's attention face mesh draws
(`examples/make_real_face_set.py`), with IoU per part group
(`metrics.PART_IOU_GROUPS`: brows, eyes, nose, lips, inner mouth) from one
histogram over the whole set, and their mean. The first row scores the labels
of MediaPipe's other face-mesh network against the same truth: the ceiling of
what landmark-drawn labels can tell apart.

Usage:
    python benchmarks/real_photo_iou.py runs/train_helen/stn_icnn.keras \
        runs/train_helen/icnn_baseline.keras [--data data/real_faces]
"""

import argparse
import math
from pathlib import Path

from keras_stn_icnn.evaluation import evaluate_on_real_faces, landmark_label_agreement
from keras_stn_icnn.metrics import PART_IOU_GROUPS


def format_row(name, scores, width):
    cells = ("nan" if math.isnan(scores[group]) else f"{scores[group]:.3f}" for group in (*PART_IOU_GROUPS, "mean"))
    return f"{name:<{width}}  " + "  ".join(f"{cell:>11}" for cell in cells)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="preset names or folders, .keras files or SavedModel folders")
    parser.add_argument("--data", default="data/real_faces", help="the set examples/make_real_face_set.py wrote")
    args = parser.parse_args()
    root = Path(args.data)
    if not (root / "test" / "labels").is_dir():
        raise SystemExit(f"{root} holds no real-photo set; make it with examples/make_real_face_set.py")

    rows = {"second landmark model (ceiling)": landmark_label_agreement(root)}
    for model in args.models:
        rows[model] = evaluate_on_real_faces(model, root)
    width = max(len(name) for name in rows)
    num_faces = len(list((root / "test" / "labels").glob("*.png")))
    print(f"part IoU on {num_faces} real faces of {root}")
    print(f"{'':<{width}}  " + "  ".join(f"{group:>11}" for group in (*PART_IOU_GROUPS, "mean")))
    for name, scores in rows.items():
        print(format_row(name, scores, width))


if __name__ == "__main__":
    main()
