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
What `fit` and `compile` add, so that a parser learns with their defaults:

- `fit` starts a fresh parser's logits at the class frequencies of the labels
  it is given (`set_class_priors`; `docs/stage1_ablation.md` and
  `docs/zoo_learning.md`: with a zero bias the part classes, 1% of a face's
  pixels, stay unlabelled for hundreds of steps). A parser whose logits bias
  is not all zero (trained, loaded, or set by hand) is left as it is, and
  `fit(..., class_priors=False)` leaves it to the user.
- `compile` defaults to Adam at the parser's `default_learning_rate` (measured
  per model, `docs/zoo_learning.md`) and logs, beside the loss, the
  merged-foreground F1 at the working size (`"overall_f1"`) and the mean of
  the classes' own F1 (`"mean_class_f1"`, which drops when a face's sides are
  confused or a small class is never labelled). It refuses `loss`, `loss_weights`
  and `metrics`: the loss is the model's own (its weights are constructor
  arguments), and Keras would otherwise drop them without a word.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_stn_icnn.labels import HELEN_CLASS_NAMES
from keras_stn_icnn.layers.label_map import LabelMap
from keras_stn_icnn.layers.resampling import AlignedBilinearResize, AlignedBilinearResizeLike
from keras_stn_icnn.metrics import FaceParsingF1, MeanClassF1
from keras_stn_icnn.models.class_priors import label_frequencies, set_prior_bias
from keras_stn_icnn.models.parsing import ParsingMixin
from keras_stn_icnn.ops import resize
from keras_stn_icnn.optimizers import Adam

DEFAULT_CANVAS_SIZE = 1024
"""Largest image side a single-pass parser accepts unless told otherwise."""

PRIOR_SAMPLE_IMAGES = 256
"""Label maps `fit` reads (the first of its labels or batches) to set a fresh parser's class priors."""


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
    """`parse`, `class_names`, `compute_loss`, the class priors, `compile` and `fit` of a single-pass parser.

    The model must set `class_names` (tuple of str), `input_size` and
    `canvas_size` (ints) in `__init__`, list its constructor arguments in
    `config_keys`, name the layers whose bias is a logit per class in
    `prior_bias_layer_names` (or override `prior_bias_layers`), and define
    `parsing_loss(labels, outputs)`: the training loss from working-size
    int32 labels `[B, s, s]` and the output dict, built from
    `keras.losses.Loss` objects so that it is scaled per replica (or
    override `compute_loss` where the loss needs more than those labels).
    """

    class_names = HELEN_CLASS_NAMES
    prior_bias_layer_names = ()
    default_learning_rate = 1e-3
    """Adam's rate when `compile` is given no optimizer, and the trainer's when given no rate."""

    @property
    def num_classes(self):
        """Number of label ids the parser predicts."""
        return len(self.class_names)

    def prior_bias_layers(self):
        """The layers whose bias is one logit per class (set by `set_class_priors`).

        Returns:
            list of Keras layers, each with a `bias` of shape `[num_classes]`.
        """
        return [self.get_layer(name) for name in self.prior_bias_layer_names]

    def set_class_priors(self, labels):
        """Starts the parser's logits at the class frequencies of some label maps.

        Sets the bias of every `prior_bias_layers` layer to the log of each
        class's pixel frequency in `labels` at the working size, so that the
        first prediction is the class frequencies rather than uniform, and
        training does not spend its first hundreds of steps learning to say
        "background" everywhere.

        Args:
            labels: integer label maps `[N, H, W]` (array or tensor) in the
                parser's class ids.

        Returns:
            float64 numpy array `[num_classes]`, the frequencies set.

        Example:
        >>> from keras_stn_icnn.models import ICNNParser
        >>> model = ICNNParser(["background", "eye"], input_size=32)
        >>> labels = np.zeros((2, 32, 32), np.uint8)
        >>> labels[:, :8, :8] = 1
        >>> model.set_class_priors(labels).tolist()
        [0.9375, 0.0625]
        """
        labels = np.asarray(labels)
        if labels.ndim != 3 or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(
                f"set_class_priors takes integer label maps [N, H, W], got {labels.dtype} of shape {labels.shape}"
            )
        chunks = (
            working_size_labels(labels[start : start + 32], self.input_size).numpy()
            for start in range(0, len(labels), 32)
        )
        frequencies = label_frequencies(chunks, self.num_classes)
        for layer in self.prior_bias_layers():
            set_prior_bias(layer, frequencies)
        return frequencies

    def has_initial_logits_bias(self):
        """Whether every `prior_bias_layers` bias is still all zero (a fresh parser's).

        Example:
        >>> from keras_stn_icnn.models import ICNNParser
        >>> ICNNParser(["background", "eye"], input_size=32).has_initial_logits_bias()
        True
        """
        return all(not np.any(keras.ops.convert_to_numpy(layer.bias)) for layer in self.prior_bias_layers())

    def compile(self, optimizer=None, loss=None, loss_weights=None, metrics=None, **kwargs):
        """Keras `compile`, with the parser's own loss and its F1 logged.

        Args:
            optimizer: a Keras optimizer or its name, or None (the default)
                for Adam at `default_learning_rate` (`optimizers.Adam`:
                Keras' Adam bit for bit, quicker to trace).
            loss: must be None: the parser's loss is `parsing_loss`.
            loss_weights: must be None: the loss's weights are constructor
                arguments.
            metrics: must be None: the parser logs `"overall_f1"` and
                `"mean_class_f1"` itself.
            **kwargs: the rest of `keras.Model.compile` (e.g. `jit_compile`).

        Raises:
            ValueError naming the argument, instead of ignoring it.

        Example:
        >>> from keras_stn_icnn.models import ICNNParser
        >>> model = ICNNParser(["background", "eye"], input_size=32)
        >>> model.compile(loss="mse")
        Traceback (most recent call last):
        ...
        ValueError: ICNNParser trains on its own loss (parsing_loss); compile(loss='mse') would be ignored, ...
        """
        for name, value in (("loss", loss), ("loss_weights", loss_weights), ("metrics", metrics)):
            if value is not None:
                reason = (
                    f"{type(self).__name__} logs its overall F1 itself"
                    if name == "metrics"
                    else f"{type(self).__name__} trains on its own loss (parsing_loss)"
                )
                raise ValueError(
                    f"{reason}; compile({name}={value!r}) would be ignored, so it is refused. "
                    + ("Set the loss's weights through the constructor." if name != "metrics" else "")
                )
        if optimizer is None:
            optimizer = Adam(self.default_learning_rate)
        super().compile(optimizer=optimizer, **kwargs)
        if getattr(self, "_overall_f1", None) is None:
            self._overall_f1 = FaceParsingF1(self.num_classes, name="overall_f1")
            self._mean_class_f1 = MeanClassF1(self.num_classes)

    def compile_from_config(self, config):
        """Compiles a loaded parser as it was saved: its optimizer and settings (the loss and F1 are its own).

        Args:
            config: dict, the saved `get_compile_config()`.
        """
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def fit(self, x=None, y=None, *args, class_priors=True, **kwargs):
        """Keras `fit`; a fresh parser first takes the class priors of the labels it is given.

        Args:
            x: the images, or a `tf.data.Dataset` of `(images, labels)`.
            y: integer label maps `[N, H, W]`, or None with a dataset.
            *args: the rest of `keras.Model.fit`'s positional arguments.
            class_priors: bool. True (the default): when every logits bias is
                still zero (`has_initial_logits_bias`), set them from the first
                `PRIOR_SAMPLE_IMAGES` label maps (`set_class_priors`) before
                training. False: train from the bias as it is (the papers'
                zero start).
            **kwargs: the rest of `keras.Model.fit`'s arguments.

        Returns:
            Keras's `History`.
        """
        if class_priors and self.has_initial_logits_bias():
            labels = first_label_maps(x, y)
            if labels is not None:
                self.set_class_priors(labels)
        return super().fit(x, y, *args, **kwargs)

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
        return self.parsing_loss(self.training_labels(y, sample_weight), y_pred)

    def training_labels(self, y, sample_weight=None):
        """`fit`'s targets checked and resized (nearest) to the working size, for `compute_loss`.

        Args:
            y: integer label maps `[B, H, W]` of the images' size.
            sample_weight: must be None (not supported).

        Returns:
            int32 tensor `[B, input_size, input_size]`.

        Raises:
            ValueError: no labels, or sample weights.
        """
        if y is None:
            raise ValueError(
                f"{type(self).__name__} trains on label maps: call fit(images, labels) with integer [B, H, W] labels"
            )
        if sample_weight is not None:
            raise ValueError(f"{type(self).__name__} does not support sample_weight")
        return working_size_labels(y, self.input_size)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Adds the batch to the merged-foreground and mean class F1 at the working size; returns every metric."""
        self.update_f1(working_size_labels(y, self.input_size), y_pred["logits"])
        return self.get_metrics_result()

    def update_f1(self, labels, logits):
        """Adds a batch to the F1 `compile` logs (none before `compile`).

        Args:
            labels: int32 label maps `[B, h, w]`.
            logits: float scores `[B, h, w, C]` of the same size.
        """
        if getattr(self, "_overall_f1", None) is not None:
            self._overall_f1.update_state(labels, logits)
            self._mean_class_f1.update_state(labels, logits)

    def parsing_loss(self, labels, outputs):
        raise NotImplementedError(f"{type(self).__name__} must define parsing_loss")


class TrainingLossStep:
    """A `fit` step on `training_loss` alone, for parsers whose loss reads only some of their outputs.

    Keras' `train_step` runs the whole model and then `compute_loss`; where the
    loss runs part of the model again on other inputs (the ground truth's face
    box or crops), part of the whole run is work no gradient reads. This step
    differentiates the parser's `training_loss(images, labels, sample_weight)`,
    which runs only what its loss reads and returns `(loss, f1_labels,
    f1_logits)`: the scalar loss, and the int32 label maps `[B, s, s]` and
    logits `[B, s, s, C]` its training F1 is logged from. Put it before the
    parser's other bases.
    """

    def train_step(self, data):
        """One `fit` step: `training_loss`, its gradients applied, the loss and training F1 logged.

        Args:
            data: a batch `(images, labels)`, as `fit` gives it.

        Returns:
            dict of the loss and the metrics so far.
        """
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            loss, f1_labels, f1_logits = self.training_loss(tf.cast(x, tf.float32), y, sample_weight)
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            # Keras' loss tracker logs the loss before the losses' division by the number of replicas.
            self._loss_tracker.update_state(loss * replicas, sample_weight=tf.shape(x)[0])
            scaled_loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        self.update_f1(f1_labels, f1_logits)
        return self.get_metrics_result()


def first_label_maps(x, y=None):
    """The first `PRIOR_SAMPLE_IMAGES` label maps of `fit`'s data, or None where they cannot be read up front.

    Args:
        x: the images, or a `tf.data.Dataset` of `(images, labels)` batches.
        y: integer label maps `[N, H, W]`, or None with a dataset.

    Returns:
        numpy array `[M, H, W]` or None (a dataset of other elements, or a
        distributed one).

    Example:
    >>> first_label_maps(np.zeros((300, 8, 8, 3)), np.ones((300, 8, 8), np.uint8)).shape
    (256, 8, 8)
    """
    if y is not None:
        return np.asarray(y[:PRIOR_SAMPLE_IMAGES])
    if not isinstance(x, tf.data.Dataset):
        return None
    labels, count = [], 0
    for element in x:
        if not isinstance(element, tuple) or len(element) < 2:
            return None
        labels.append(np.asarray(element[1]))
        count += len(labels[-1])
        if count >= PRIOR_SAMPLE_IMAGES:
            break
    return np.concatenate(labels)[:PRIOR_SAMPLE_IMAGES] if labels else None
