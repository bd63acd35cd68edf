"""What the single-pass face parsers share: the one-stage iCNN, RNN-G, BASS and RED-Net.

A single-pass parser labels the whole face at once: the image
(values 0-255, any size up to `canvas_size`) is scaled to [0, 1] and resized
to `input_size x input_size` (bilinear, corners aligned, as STN-iCNN's stage 1
does), the network predicts per-pixel logits at that working size, and the
logits are resized back to the image's size before the softmax and argmax.

Every single-pass parser returns a dict with at least:

- `"logits"` `[B, input_size, input_size, C]`: the final prediction at the
  working size (what the losses compare with the labels);
- `"probabilities"` `[B, H, W, C]` and `"labels"` uint8 `[B, H, W]` at the
  input's size (what `parse`, the exports and the evaluation read);

plus any further named outputs its losses need (RNN-G's coarse logits and
gates, BASS's boundary maps). Because the parsers share `ParsingMixin`, they
have `parse()` and `class_names` like `STNiCNN` and export through the same
signatures.

Training is Keras `fit` with labels as targets: `model.fit(images, labels)`
with uint8/int `[B, H, W]` label maps of the images' size. The model's
`compute_loss` resizes the labels to the working size (nearest) and calls its
`parsing_loss`, made of `keras.losses.Loss` objects, whose reduction divides
by the number of replicas, so the loss is right under `tf.distribute`.
"""

import keras

from keras_stn_icnn.labels import HELEN_CLASS_NAMES
from keras_stn_icnn.layers.label_map import LabelMap
from keras_stn_icnn.layers.resampling import AlignedBilinearResize, AlignedBilinearResizeLike
from keras_stn_icnn.models.parsing import ParsingMixin
from keras_stn_icnn.ops import resize

DEFAULT_CANVAS_SIZE = 1024
"""Largest image side a single-pass parser accepts unless told otherwise."""


def checked_class_names(class_names):
    """The class names of a parser, checked: a tuple of 2 to 256 distinct strings.

    Args:
        class_names: sequence of str; id `k` is `class_names[k]`, id 0 the
            background.

    Returns:
        tuple of str.

    Raises:
        ValueError naming the value when it is not such a sequence.

    Example:
    >>> checked_class_names(["background", "skin"])
    ('background', 'skin')
    """
    if isinstance(class_names, str) or not hasattr(class_names, "__iter__"):
        raise ValueError(f"class_names must be a sequence of str, got {class_names!r}")
    names = tuple(class_names)
    if not 2 <= len(names) <= 256 or not all(isinstance(name, str) for name in names):
        raise ValueError(f"class_names must be 2 to 256 strings, got {class_names!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"class_names must be distinct, got {class_names!r}")
    return names


def single_pass_inputs(input_size, name="images"):
    """The input and the working-size view of a single-pass parser.

    Args:
        input_size: int, side of the square working size.
        name: str, name of the input.

    Returns:
        `(images, working)`: the `keras.Input` `[B, H, W, 3]` (values 0-255)
        and the image scaled to [0, 1] and resized to
        `[B, input_size, input_size, 3]`.
    """
    images = keras.Input(shape=(None, None, 3), name=name)
    scaled = keras.layers.Rescaling(1.0 / 255.0, name="scale")(images)
    working = AlignedBilinearResize((input_size, input_size), name="working_resize")(scaled)
    return images, working


def single_pass_outputs(logits, images, **extra_outputs):
    """The named outputs of a single-pass parser from its working-size logits.

    Args:
        logits: tensor `[B, input_size, input_size, C]`.
        images: the model's input `[B, H, W, 3]` (gives the output size).
        **extra_outputs: further named outputs (for the losses).

    Returns:
        dict with `"logits"`, `"probabilities"` `[B, H, W, C]`, `"labels"`
        uint8 `[B, H, W]` and the extra outputs.
    """
    full_size = AlignedBilinearResizeLike(name="output_resize")(logits, images)
    probabilities = keras.layers.Softmax(name="probabilities")(full_size)
    labels = LabelMap(name="labels")(probabilities)
    return {"logits": logits, "probabilities": probabilities, "labels": labels, **extra_outputs}


def working_size_labels(labels, size):
    """Label maps `[B, H, W]` resized (nearest) to `size x size`, as int32.

    Args:
        labels: integer tensor `[B, H, W]` (or `[B, H, W, 1]`).
        size: int, the working size.

    Returns:
        int32 tensor `[B, size, size]`.

    Example:
    >>> working_size_labels(keras.ops.zeros([2, 300, 200], "uint8"), 64).shape
    TensorShape([2, 64, 64])
    """
    labels = keras.ops.convert_to_tensor(labels)
    if len(labels.shape) == 3:
        labels = labels[..., None]
    resized = resize.resize_nearest(keras.ops.cast(labels, "int32"), (size, size))
    return resized[..., 0]


class SinglePassParsingMixin(ParsingMixin):
    """`parse`, `class_names` and `compute_loss` of a single-pass parser.

    The model must set `class_names` (tuple of str), `input_size` and
    `canvas_size` (ints) in `__init__`, list its constructor arguments in
    `config_keys`, and define `parsing_loss(labels, outputs)`: the training
    loss from working-size int32 labels `[B, s, s]` and the output dict,
    built from `keras.losses.Loss` objects so that it is scaled per replica.
    """

    class_names = HELEN_CLASS_NAMES

    @property
    def num_classes(self):
        """Number of label ids the parser predicts."""
        return len(self.class_names)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Keras `fit`'s loss: `parsing_loss` on labels resized to the working size.

        Args:
            x: the images (unused).
            y: integer label maps `[B, H, W]` of the images' size.
            y_pred: the output dict.
            sample_weight: not supported; must be None.
            training: bool.

        Returns:
            scalar loss.
        """
        if y is None:
            raise ValueError(
                f"{type(self).__name__} trains on label maps: call fit(images, labels) with integer [B, H, W] labels"
            )
        if sample_weight is not None:
            raise ValueError(f"{type(self).__name__} does not support sample_weight")
        labels = working_size_labels(y, self.input_size)
        return self.parsing_loss(labels, y_pred)

    def parsing_loss(self, labels, outputs):
        raise NotImplementedError(f"{type(self).__name__} must define parsing_loss")
