"""What STN-iCNN's F1 owes to where its crops are placed: same weights, five croppers.

Takes a trained STN-iCNN with the `"centroid"` localizer (`.keras`, e.g. the
main job's `stn_icnn_pretrained.keras`) and scores, on the same test faces
and with the same stage-1 and part-model weights:

1. `soft centroids, bilinear`: `CentroidLocalizer(whole_pixels=False)`,
   crops centred between pixels and resampled;
2. `soft centroids, whole pixels`: the default, centres floored as the
   ground truth's are;
3. `soft centroids, re-centred`: the default, then every crop moved onto
   its part as the part model labels it and labelled again
   (`STNiCNN(recentre_crops=True)`);
4. `hard centroids (iCNN baseline)`: `ICNNBaseline.from_stn_icnn`, the
   centroids of the argmax mask;
5. `ground-truth crops`: the crops the part models were trained on, the
   ceiling of any localizer for these part models.

Usage:
    python benchmarks/crop_placement.py runs/train_helen/stn_icnn_pretrained.keras \
        --data data/synthetic_helen [--seed 424242 --num 100]
"""

import argparse

import keras
import numpy as np
import tensorflow as tf

from keras_stn_icnn.data import HelenReader
from keras_stn_icnn.data.stn_icnn_inputs import ground_truth_theta
from keras_stn_icnn.evaluation import synthetic_test_set
from keras_stn_icnn.labels import STN_ICNN_CLASS_NAMES
from keras_stn_icnn.metrics import confusion_matrix, f1_scores, format_f1_table
from keras_stn_icnn.models import CentroidLocalizer, ICNNBaseline, STNiCNN
from keras_stn_icnn.models.parsing import parsing_outputs, part_model_plan, run_part_models


def soft_centroid_parser(path, whole_pixels, recentre_crops=False):
    """The STN-iCNN at `path`, its `CentroidLocalizer` placing crops on whole pixels or between them, its crops
    re-centred by the part models or not."""
    saved = keras.saving.load_model(path)
    if not isinstance(saved, STNiCNN) or not isinstance(saved.get_layer("localizer"), CentroidLocalizer):
        raise SystemExit(f"{path} is not an STN-iCNN with the centroid localizer")
    model = STNiCNN.from_config({**saved.get_config(), "recentre_crops": recentre_crops})
    model.set_weights(saved.get_weights())
    model.get_layer("localizer").whole_pixels = whole_pixels
    return model


def at_given_theta(model):
    """`(images, theta) -> labels`: the model's crop, part models and assembly at thetas given from outside."""
    images = keras.Input(shape=(None, None, 3), name="images")
    theta = keras.Input(shape=(6, 2, 3), name="theta")
    patches = model.get_layer("crop")(model.get_layer("scale")(images), theta)
    plan = part_model_plan(model.shared_part_models)
    part_logits = run_part_models(patches, plan, {name: model.get_layer(name) for name, *_ in plan}, model.window)
    outputs = parsing_outputs(None, theta, part_logits, model.get_layer("assembly"), images)
    return keras.Model([images, theta], outputs["labels"])


def score(croppers, examples, window, canvas_size):
    """Paper-table F1 of each cropper (`(image batch, ground-truth theta) -> labels`) over the examples."""
    num_classes = len(STN_ICNN_CLASS_NAMES)
    confusions = {name: np.zeros((num_classes, num_classes), np.int64) for name in croppers}
    for image, label in examples:
        batch = tf.constant(image[np.newaxis], tf.float32)
        truth = ground_truth_theta(tf.constant(label), window=window, canvas_size=canvas_size)[0][tf.newaxis]
        for name, cropper in croppers.items():
            confusions[name] += confusion_matrix(label, np.asarray(cropper(batch, truth)[0]), num_classes)
    return {name: f1_scores(confusion) for name, confusion in confusions.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a .keras STNiCNN with the centroid localizer")
    parser.add_argument("--data", help="a synthetic HELEN-layout folder whose test split to score")
    parser.add_argument("--seed", type=int, default=424242, help="without --data: seed of unseen synthetic faces")
    parser.add_argument("--num", type=int, default=100, help="without --data: how many")
    args = parser.parse_args()

    bilinear = soft_centroid_parser(args.model, whole_pixels=False)
    whole_pixels = soft_centroid_parser(args.model, whole_pixels=True)
    recentred = soft_centroid_parser(args.model, whole_pixels=True, recentre_crops=True)
    baseline = ICNNBaseline.from_stn_icnn(whole_pixels)
    ground_truth = at_given_theta(whole_pixels)
    root = args.data or synthetic_test_set(seed=args.seed, num=args.num, progress=False)
    examples = [
        (ex["image"].numpy(), ex["label"].numpy()) for ex in HelenReader(root, schema="stn_icnn").dataset("test")
    ]
    croppers = {
        "soft centroids, bilinear": lambda batch, _: bilinear(batch)["labels"],
        "soft centroids, whole pixels": lambda batch, _: whole_pixels(batch)["labels"],
        "soft centroids, re-centred": lambda batch, _: recentred(batch)["labels"],
        "hard centroids (iCNN baseline)": lambda batch, _: baseline(batch)["labels"],
        "ground-truth crops": lambda batch, truth: ground_truth([batch, truth]),
    }
    print(f"{len(examples)} test faces of {root}")
    for name, scores in score(croppers, examples, whole_pixels.window, whole_pixels.canvas_size).items():
        print(f"\n{name}: overall F1 {scores['overall']:.4f}")
        print(format_f1_table(scores))


if __name__ == "__main__":
    main()
