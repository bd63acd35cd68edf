"""What the two-stage face parsers (STN-iCNN and the iCNN baseline) share.

Both parsers have the same layout — a 128x128 stage-1 `ICNN`, part `ICNN`s
named `"eyebrow_model"`, `"eye_model"`, `"nose_model"`, `"mouth_model"` (or
one per part), and `PartAssembly` — and differ only in how the part crops are
placed. Everything else lives here once, so the two cannot drift apart:

- `part_model_plan`: which part models exist and which parts they serve
  mirrored;
- `run_part_models`: stacking the parts one model serves into one batch,
  mirroring the second eyebrow/eye and mirroring its logits back;
- `crop_and_label_parts`: the crops and their part models, re-centred on
  the parts once when asked (`layers.PartRecentring`);
- `parsing_outputs`: softmax, paste-back and the named output dict;
- `ParsingMixin`: `class_names` and `parse()` (numpy images in, checked, run
  per size as one `tf.function`, label maps out).
"""

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from keras_stn_icnn.checks import check_image
from keras_stn_icnn.labels import STN_ICNN_CLASS_NAMES, STN_ICNN_PART_NAMES, STN_ICNN_PARTS
from keras_stn_icnn.layers.label_map import LabelMap
from keras_stn_icnn.models.presets import PresetMixin

# Shared part models: (model name, parts it labels, parts it sees mirrored).
_SHARED_PART_MODELS = (
    ("eyebrow_model", ("eyebrow1", "eyebrow2"), ("eyebrow2",)),
    ("eye_model", ("eye1", "eye2"), ("eye2",)),
    ("nose_model", ("nose",), ()),
    ("mouth_model", ("mouth",), ()),
)


def _part_channels(part_name):
    return 1 + len(dict(STN_ICNN_PARTS)[part_name])


def part_model_plan(shared_part_models):
    """The part models of a parser and the parts each serves.

    Args:
        shared_part_models: bool, one model for both eyebrows and one for
            both eyes, the second side mirrored (the authors' layout), or one
            model per part.

    Returns:
        list of `(model name, number of classes, parts, mirrored parts)`.
    """
    if shared_part_models:
        return [(name, _part_channels(parts[0]), parts, mirrored) for name, parts, mirrored in _SHARED_PART_MODELS]
    return [(f"{part}_model", _part_channels(part), (part,), ()) for part in STN_ICNN_PART_NAMES]


def run_part_models(patches, plan, part_models, window):
    """Runs the part models on the part crops.

    The parts one model serves run as one batch (`[B, k, ...] -> [B * k, ...]`);
    a mirrored part's patch is flipped left-right before the model and its
    logits flipped back.

    Args:
        patches: tensor `[B, 6, window, window, 3]` in `STN_ICNN_PART_NAMES` order.
        plan: `part_model_plan(...)`.
        part_models: dict model name -> model.
        window: int, the crop side.

    Returns:
        dict part name -> logits `[B, window, window, classes]`, in
        `STN_ICNN_PART_NAMES` order.
    """
    part_logits = {}
    for model_name, _, parts, mirrored in plan:
        stacked = keras.ops.stack(
            [
                keras.ops.flip(patches[:, STN_ICNN_PART_NAMES.index(part)], 2)
                if part in mirrored
                else patches[:, STN_ICNN_PART_NAMES.index(part)]
                for part in parts
            ],
            axis=1,
        )
        logits = part_models[model_name](keras.ops.reshape(stacked, (-1, window, window, 3)))
        logits = keras.ops.reshape(logits, (-1, len(parts), window, window, logits.shape[-1]))
        for k, part in enumerate(parts):
            part_logits[part] = keras.ops.flip(logits[:, k], 2) if part in mirrored else logits[:, k]
    return {part: part_logits[part] for part in STN_ICNN_PART_NAMES}


def crop_and_label_parts(images, theta, cropper, plan, part_models, window, recentring=None):
    """Cuts the part crops at `theta` and runs the part models on them, re-centred once if asked.

    Args:
        images: the tensor the crops are cut from.
        theta: tensor `[B, 6, 2, 3]`.
        cropper: callable `(images, theta) -> [B, 6, window, window, 3]`
            (a `CropTransformer`).
        plan: `part_model_plan(...)`.
        part_models: dict model name -> model.
        window: int, the crop side.
        recentring: a `PartRecentring`, or None. With one, every crop is
            moved onto the centroid of its part as the part model labels it,
            cut again and labelled again (the part models run twice).

    Returns:
        `(theta, part_logits)`: the thetas of the crops labelled last and
        `run_part_models`' dict part name -> logits.
    """
    part_logits = run_part_models(cropper(images, theta), plan, part_models, window)
    if recentring is not None:
        theta = recentring(theta, [part_logits[part] for part in STN_ICNN_PART_NAMES])
        part_logits = run_part_models(cropper(images, theta), plan, part_models, window)
    return theta, part_logits


def parsing_outputs(stage1_logits, theta, part_logits, assembly, images):
    """Pastes the part probabilities back and names every output.

    Args:
        stage1_logits: tensor `[B, 128, 128, 9]`.
        theta: tensor `[B, 6, 2, 3]`, where the crops were taken.
        part_logits: dict part name -> logits, from `run_part_models`.
        assembly: a `PartAssembly`.
        images: the model's input `[B, H, W, 3]` (gives the output size).

    Returns:
        dict with `"stage1_logits"`, `"theta"`, `"part_logits"`,
        `"probabilities"` `[B, H, W, 9]` and `"labels"` uint8 `[B, H, W]`.
    """
    part_probabilities = [layers.Softmax(name=f"{part}_softmax")(part_logits[part]) for part in STN_ICNN_PART_NAMES]
    probabilities = assembly(part_probabilities, theta, images)
    labels = LabelMap(name="labels")(probabilities)
    return {
        "stage1_logits": stage1_logits,
        "theta": theta,
        "part_logits": {part: part_logits[part] for part in STN_ICNN_PART_NAMES},
        "probabilities": probabilities,
        "labels": labels,
    }


class ParsingMixin(PresetMixin):
    """`class_names`, `parse()`, presets and the config of a parser model with a `"labels"` output.

    The model must have a `canvas_size` attribute (the largest image side it
    accepts) and return a dict with `"labels"` `[B, H, W]` when called.
    """

    class_names = STN_ICNN_CLASS_NAMES
    """Names of the label ids that `parse` and `"labels"` return."""

    config_keys = ()
    """Constructor arguments that `get_config` records (attributes of the same name)."""

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            **{key: getattr(self, key) for key in self.config_keys},
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def parse(self, images):
        """Labels photographs of faces: uint8 images in, uint8 label maps out.

        Each image must be a face framed as in training (HELEN-like framing:
        the face fills most of the picture) and at most `canvas_size` pixels
        high and wide; larger images are refused rather than silently
        resized, since the crops would then cover other parts of the face.

        Args:
            images: one uint8 `[H, W, 3]` array, a list of them (sizes may
                differ), or a uint8 `[B, H, W, 3]` array. Float arrays with
                values in [0, 255] are accepted too.

        Returns:
            uint8 label map(s) with ids of `class_names`: `[H, W]` for one
            image, a list for a list, `[B, H, W]` for a batch array.

        Raises:
            TypeError / ValueError naming the offending image when an input
            is not an array, has the wrong dtype, rank or channel count, is
            empty, holds NaN or values outside [0, 255], or is larger than
            the canvas.

        Example:
        >>> from keras_stn_icnn.models import STNiCNN
        >>> model = STNiCNN(canvas_size=512)
        >>> model.parse(np.zeros((512, 512, 3), np.uint8)).shape
        (512, 512)
        """
        if isinstance(images, np.ndarray) and images.ndim == 3:
            return self.parse([images])[0]
        if isinstance(images, np.ndarray) and images.ndim == 4:
            return np.stack(self.parse(list(images)))
        if isinstance(images, np.ndarray):
            raise ValueError(f"images must be [H, W, 3] or [B, H, W, 3], got an array of shape {images.shape}")
        if not isinstance(images, (list, tuple)):
            raise TypeError(f"images must be a numpy array or a list of them, got {type(images).__name__}")
        checked = [self._checked_image(image, index) for index, image in enumerate(images)]
        results = [None] * len(checked)
        by_size = {}
        for index, image in enumerate(checked):
            by_size.setdefault(image.shape, []).append(index)
        for indices in by_size.values():
            batch = np.stack([checked[i] for i in indices])
            labels = self._parse_batch(tf.constant(batch)).numpy()
            for i, label_map in zip(indices, labels):
                results[i] = label_map
        return results

    def _checked_image(self, image, index):
        check_image(image, f"image {index}", canvas_size=self.canvas_size, allow_float=True)
        return image.astype(np.float32)

    def _parse_batch(self, images):
        if getattr(self, "_parse_function", None) is None:

            def parse_batch(batch):
                return self(batch, training=False)["labels"]

            self._parse_function = tf.function(
                parse_batch,
                input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)],
            )
        return self._parse_function(images)
