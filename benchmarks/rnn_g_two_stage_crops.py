"""Where RNN-G's two-stage parser loses: its first stage, or where that first stage places the crops.

Loads trained `RNNGTwoStage` weights (a run's `final.weights.h5`) and scores them on unseen synthetic faces
(the evaluation script's `--synthetic --seed 424242 --num 100`, in STN-iCNN's classes) six ways, the
component networks' weights the same in each:

1. `first stage alone`: the first stage's labels, no component network;
2. `crops from its argmax` and 3. `crops from its probabilities`: the crops placed from the first stage's
   labels or from its softmax probabilities (`ComponentThetas`; the parser's own is its `crop_placement`);
4. `ground-truth centres, own extents` and 5. `own centres, ground-truth extents`: one half of the parser's own
   placement from the labels;
6. `ground-truth crops`: the crops the component networks were trained on, the ceiling of any crop placement
   for them.

docs/zoo_learning.md's two-stage RNN-G table comes from it.

Usage:
    python benchmarks/rnn_g_two_stage_crops.py runs/zoo_comparison/rnn_g_two_stage/final.weights.h5 \
        [--model rnn_g_two_stage_context] [--input-size 256] [--seed 424242 --num 100]
"""

import argparse

import keras
import numpy as np
import tensorflow as tf

from keras_stn_icnn.choices import CROP_PLACEMENTS
from keras_stn_icnn.data.helen import HelenReader
from keras_stn_icnn.evaluation import synthetic_test_set
from keras_stn_icnn.labels import HELEN_CLASS_NAMES, label_mapping
from keras_stn_icnn.layers.facial_components import ComponentThetas
from keras_stn_icnn.metrics import confusion_matrix, f1_scores, format_f1_table
from keras_stn_icnn.models.rnn_g.component_networks import COMPONENT_NETWORKS
from keras_stn_icnn.ops.facial_components import COMPONENTS, component_thetas
from keras_stn_icnn.train.single_pass_trainer import build_single_pass

TWO_STAGE_MODELS = ("rnn_g_two_stage", "rnn_g_two_stage_context", "rnn_g_two_stage_face_box")

WAYS = (
    "first stage alone",
    "crops from its argmax",
    "crops from its probabilities",
    "ground-truth centres, own extents",
    "own centres, ground-truth extents",
    "ground-truth crops",
)


def at_given_thetas(model):
    """`(images, thetas) -> (first-stage probabilities, merged probabilities)` with the crops placed from outside."""
    images = keras.Input((None, None, 3), name="images")
    thetas = keras.Input((len(COMPONENTS), 2, 3), name="thetas")
    first = model.get_layer("first_stage")(images)
    crops = model.get_layer("component_crops")(model.get_layer("scale")(images), thetas)
    probabilities = [
        model.get_layer(f"{component.name}_softmax")(model.get_layer(COMPONENT_NETWORKS[component.name])(crop))
        for component, crop in zip(COMPONENTS, crops)
    ]
    merged = model.get_layer("component_merge")(first["probabilities"], thetas, probabilities)
    return keras.Model([images, thetas], [first["probabilities"], merged])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights", help="the run's final.weights.h5")
    parser.add_argument("--model", default="rnn_g_two_stage", choices=TWO_STAGE_MODELS)
    parser.add_argument("--input-size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=424242)
    parser.add_argument("--num", type=int, default=100)
    args = parser.parse_args()

    model = build_single_pass(args.model, args.input_size)
    model.load_weights(args.weights)
    given = at_given_thetas(model)
    root = synthetic_test_set(args.seed, args.num, progress=False)
    to_stn_icnn = label_mapping("helen", "stn_icnn")
    confusions = {way: np.zeros((9, 9), np.int64) for way in WAYS}
    helen = HelenReader(root, schema="helen").dataset("test")
    stn_icnn = HelenReader(root, schema="stn_icnn").dataset("test")
    for helen_example, stn_icnn_example in zip(helen, stn_icnn):
        image = tf.cast(helen_example["image"], tf.float32)[tf.newaxis]
        labels = tf.cast(helen_example["label"], tf.int32)[tf.newaxis]
        one_hot = tf.one_hot(labels, len(HELEN_CLASS_NAMES))
        truth = component_thetas(one_hot, tf.shape(labels)[1:3], HELEN_CLASS_NAMES, model.margin)
        outputs = model(image)
        own = outputs["component_thetas"]
        scales, centres = slice(0, 2), slice(2, 3)
        thetas = {
            **{
                f"crops from its {placement}": ComponentThetas(model.margin, placement)(outputs["logits"], image)
                for placement in CROP_PLACEMENTS
            },
            "ground-truth centres, own extents": tf.concat([own[..., scales], truth[..., centres]], -1),
            "own centres, ground-truth extents": tf.concat([truth[..., scales], own[..., centres]], -1),
            "ground-truth crops": truth,
        }
        target = stn_icnn_example["label"].numpy()
        for way, theta in thetas.items():
            first, merged = given([image, theta])
            predicted = to_stn_icnn[tf.argmax(merged, -1)[0].numpy()]
            confusions[way] += confusion_matrix(target, predicted, 9)
        confusions["first stage alone"] += confusion_matrix(target, to_stn_icnn[tf.argmax(first, -1)[0].numpy()], 9)
    print(f"{args.model}'s own crops: from its {model.crop_placement}")
    for way in WAYS:
        scores = f1_scores(confusions[way])
        print(f"\n{way}: overall F1 {scores['overall']:.3f}")
        print(format_f1_table(scores))


if __name__ == "__main__":
    main()
