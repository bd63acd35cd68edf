"""The training graphs of STN-iCNN's stages, built on a model's own sub-models.

Every stage model below shares its variables with the `STNiCNN` it was made
from, so training a stage trains the parser itself; nothing is copied.

- `stage1_model`: the stage-1 iCNN on 128x128 images (cross-entropy).
- `localizer_model`: frozen stage 1 -> softmax -> localizer -> theta
  (SmoothL1 against the ground-truth theta).
- `parts_model`: the part iCNNs on ground-truth crops (the sum of the six
  cross-entropies).
- `JointModel`: the whole pipeline on the padded canvas, cropping with the
  predicted theta; its targets are the label crops at that same theta
  (nearest), so the loss is computed inside the model.
"""

import keras
import tensorflow as tf

from keras_stn_icnn.data.stn_icnn_inputs import PART_CLASS_IDS
from keras_stn_icnn.geometry import STAGE1_SIZE
from keras_stn_icnn.labels import STN_ICNN_CLASS_NAMES, STN_ICNN_PART_NAMES
from keras_stn_icnn.layers.crop_transformer import CropTransformer
from keras_stn_icnn.models.parsing import crop_and_label_parts, part_model_plan, run_part_models

STAGE1 = "stage1"
LOCALIZER = "localizer"
PARTS = "parts"
"""Names of the three learning-rate groups (Lr1, Lr2, Lr3)."""


def part_models_of(model):
    """The part iCNNs of an `STNiCNN` or `ICNNBaseline`, by model name.

    Args:
        model: the parser.

    Returns:
        dict model name -> `ICNN`.
    """
    return {name: model.get_layer(name) for name, _, _, _ in part_model_plan(model.shared_part_models)}


def variable_groups(model):
    """The trainable variables of a parser in the three learning-rate groups.

    Args:
        model: an `STNiCNN`.

    Returns:
        dict `"stage1"`, `"localizer"`, `"parts"` -> list of variables.
    """
    return {
        STAGE1: model.get_layer("stage1").trainable_variables,
        LOCALIZER: model.get_layer("localizer").trainable_variables,
        PARTS: [v for m in part_models_of(model).values() for v in m.trainable_variables],
    }


def stage1_model(model):
    """The stage-1 iCNN: `[B, 128, 128, 3]` in [0, 1] -> 9-class logits.

    Args:
        model: an `STNiCNN` (or `ICNNBaseline`).

    Returns:
        The parser's own stage-1 `ICNN`.
    """
    return model.get_layer("stage1")


def localizer_model(model):
    """Stage-1 image -> theta `[B, 6, 2, 3]`, through the stage-1 iCNN and the localizer.

    Args:
        model: an `STNiCNN`.

    Returns:
        A functional `keras.Model` named `"localizer_training"`.
    """
    images = keras.Input((STAGE1_SIZE, STAGE1_SIZE, 3), name="stage1_image")
    logits = model.get_layer("stage1")(images)
    theta = model.get_layer("localizer")(keras.layers.Softmax(name="stage1_softmax")(logits))
    return keras.Model(images, theta, name="localizer_training")


def parts_model(model, window):
    """Ground-truth part crops `[B, 6, window, window, 3]` (uint8) -> logits per part.

    Args:
        model: an `STNiCNN` or `ICNNBaseline`.
        window: int, the crop side.

    Returns:
        A functional `keras.Model` named `"parts_training"` with a dict
        output part name -> logits `[B, window, window, classes]`.
    """
    crops = keras.Input((len(STN_ICNN_PART_NAMES), window, window, 3), name="part_images")
    scaled = keras.layers.Rescaling(1.0 / 255.0, name="scale")(crops)
    logits = run_part_models(scaled, part_model_plan(model.shared_part_models), part_models_of(model), window)
    return keras.Model(crops, logits, name="parts_training")


def _local_label_tables():
    """Per part, a table 9-class id -> part-local id (0 background, then the part's classes)."""
    tables = []
    for class_ids in PART_CLASS_IDS:
        table = [0] * len(STN_ICNN_CLASS_NAMES)
        for local_id, class_id in enumerate(class_ids, start=1):
            table[class_id] = local_id
        tables.append(table)
    return tables


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class JointModel(keras.Model):
    """End-to-end training graph of an `STNiCNN`: the loss flows through the crop.

    Inputs are the stage-1 image and the canvas (the image and its label
    centred on a zero `canvas_size` square), as the training pipeline makes
    them. The stage-1 iCNN and the localizer predict theta; the bilinear
    `CropTransformer` cuts the parts from the canvas (differentiable in
    theta); the part iCNNs label them. The targets are the label crops at the
    predicted theta (nearest, no gradient), so the loss is the sum over the
    six parts of the pixel-mean cross-entropy, computed in `compute_loss`.

    Args:
        parser: the `STNiCNN` whose sub-models are trained.
        **kwargs: standard `keras.Model` arguments.

    Call arguments:
        inputs: dict with `"stage1_image"` float `[B, 128, 128, 3]` in
            [0, 1], `"canvas_image"` uint8 `[B, S, S, 3]` and
            `"canvas_label"` uint8 `[B, S, S]` (S = the parser's canvas).

    Returns:
        dict: `"theta"`, `"part_logits"` (part -> logits) and
        `"part_labels"` (part -> int32 `[B, window, window]` targets).

    Example:
    >>> joint = JointModel(STNiCNN(canvas_size=256))  # doctest: +SKIP
    >>> joint.compile(optimizer="adam")  # doctest: +SKIP
    >>> joint.fit(batches.map(joint_inputs), steps_per_epoch=10)  # doctest: +SKIP
    """

    def __init__(self, parser, **kwargs):
        super().__init__(**kwargs)
        self.parser = parser
        self.window = parser.window
        self.stage1 = parser.get_layer("stage1")
        self.localizer = parser.get_layer("localizer")
        self.part_models = part_models_of(parser)
        self.plan = part_model_plan(parser.shared_part_models)
        self.image_crop = CropTransformer(self.window, mode="bilinear", name="image_crop")
        self.label_crop = CropTransformer(self.window, mode="nearest", name="label_crop")
        self.local_labels = tf.constant(_local_label_tables(), tf.int32)
        self.cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def call(self, inputs, training=None):
        stage1_logits = self.stage1(inputs["stage1_image"], training=training)
        theta = self.localizer(keras.ops.softmax(stage1_logits, axis=-1), training=training)
        canvas = keras.ops.cast(inputs["canvas_image"], "float32") / 255.0
        recentring = self.parser.get_layer("recentring") if self.parser.recentre_crops else None
        theta, part_logits = crop_and_label_parts(
            canvas, theta, self.image_crop, self.plan, self.part_models, self.window, recentring
        )
        label_patches = self.label_crop(keras.ops.cast(inputs["canvas_label"], "float32")[..., None], theta)
        class_ids = tf.stop_gradient(keras.ops.cast(label_patches[..., 0], "int32"))
        part_labels = {
            part: tf.gather(self.local_labels[index], class_ids[:, index])
            for index, part in enumerate(STN_ICNN_PART_NAMES)
        }
        return {"theta": theta, "part_logits": part_logits, "part_labels": part_labels}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        # A keras Loss scales itself for the number of replicas in sync.
        loss = sum(
            self.cross_entropy(y_pred["part_labels"][part], y_pred["part_logits"][part]) for part in STN_ICNN_PART_NAMES
        )
        return loss + sum(self.losses) if self.losses else loss

    def get_config(self):
        return {"name": self.name, "parser": keras.saving.serialize_keras_object(self.parser)}

    @classmethod
    def from_config(cls, config):
        parser = keras.saving.deserialize_keras_object(config.pop("parser"))
        return cls(parser, **config)
