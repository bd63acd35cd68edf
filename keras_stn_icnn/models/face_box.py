"""A single-pass parser on a face box its own small network finds, in place of the papers' face detector.

RNN-G (Liu et al., BMVC 2017) parses faces "detected and roughly aligned to
the center ... with a resolution of 128 x 128" (§4), RED-Net (Guo et al.,
AAAI 2018) the face region scaled to 250 x 250: both see a face that fills
the frame. On a whole photo the same networks see a face's eye as a few
pixels and learn slowly (`docs/zoo_learning.md`: RNN-G 0.05 F1 after 4,800
images against 0.775 on face crops; RED-Net 0.785 against 0.856 after
6,400). `FaceBoxParser` adds the step the papers take before them, so that
they parse whole photos: a small fully convolutional network (the finder)
labels the face's parts as one class on the photo at `finder_size`, the
square box around them (`layers.face_box.FaceBoxTheta`) is cut from the
working photo at `face_size`, the face parser labels the crop, and its
probabilities are pasted back (background outside the box).

`RNNGFaceBox` and `RedNetFaceBox` are the two parsers built on it.
"""

import keras
import tensorflow as tf
from keras import layers

from keras_stn_icnn.checks import check_int
from keras_stn_icnn.labels import STN_ICNN_CLASS_NAMES
from keras_stn_icnn.layers.batch_normalization import BatchNormalization
from keras_stn_icnn.layers.face_box import FaceBoxCrop, FaceBoxPaste, FaceBoxTheta
from keras_stn_icnn.layers.resampling import AlignedBilinearResize
from keras_stn_icnn.models.class_priors import label_frequencies, set_prior_bias
from keras_stn_icnn.models.single_pass import (
    SinglePassParsingMixin,
    TrainingLossStep,
    single_pass_inputs,
    single_pass_outputs,
    working_size_labels,
)
from keras_stn_icnn.ops.resize import resize_bilinear_align_corners

DEFAULT_FINDER_SIZE = 64
"""The finder's input size: the face's parts span some 24 pixels of it."""

FACE_PART_CLASSES = STN_ICNN_CLASS_NAMES[1:]
"""The classes whose pixels make the face box: brows, eyes, nose, lips and inner mouth (not skin or hair)."""


FINDER_DILATIONS = (2, 4, 8)
"""The dilations of the finder's three convolutions after its pooling: a cell of its map sees 63 pixels of the
64 px photo, the whole face. Undilated (a 17 px view) it learned a third slower: trained alone on 2,000 synthetic
faces, its box held 87% of the face's parts' pixels after 6,400 images (the ground truth's box 99-100%);
dilated, 99%, and with BatchNorm 100% (docs/zoo_learning.md)."""


def face_finder(map_size, filters=(16, 32), name="face_finder"):
    """The finder: a small fully convolutional network from a photo to (not face, face) logits at half its size.

    A 5x5 convolution, a 2x2 max pooling, then three 3x3 convolutions
    dilated by `FINDER_DILATIONS`, each followed by BatchNorm and ReLU; a
    1x1 convolution gives the logits.

    Args:
        map_size: int, the side of the logits map (the photo is `2 * map_size`).
        filters: `(f1, f2)`, channels before and after the pooling.
        name: str, the model's name.

    Returns:
        a `keras.Model` from photos `[B, 2 m, 2 m, 3]` (values in [0, 1]) to
        logits `[B, m, m, 2]`.

    Example:
    >>> face_finder(16)(tf.zeros([1, 32, 32, 3])).shape
    TensorShape([1, 16, 16, 2])
    """
    small, large = filters
    photos = keras.Input((2 * map_size, 2 * map_size, 3), name="photos")
    x = layers.Conv2D(small, 5, padding="same", use_bias=False, name="conv1")(photos)
    x = layers.ReLU(name="relu1")(BatchNormalization(name="bn1")(x))
    x = layers.MaxPooling2D(2, name="pool1")(x)
    for index, dilation in enumerate(FINDER_DILATIONS, start=2):
        x = layers.Conv2D(large, 3, padding="same", dilation_rate=dilation, use_bias=False, name=f"conv{index}")(x)
        x = layers.ReLU(name=f"relu{index}")(BatchNormalization(name=f"bn{index}")(x))
    logits = layers.Conv2D(2, 1, name="face_classifier")(x)
    return keras.Model(photos, logits, name=name)


def face_size_or_default(face_size, input_size, default, multiple=4):
    """The face parser's working size: `face_size`, or for None `default` or `input_size` if smaller; checked.

    Args:
        face_size: int or None.
        input_size: int, the working size of the photo (checked here).
        default: int, the face parser's paper size, a multiple of `multiple`.
        multiple: int, what the face parser's working size must be a
            multiple of.

    Returns:
        int.

    Raises:
        ValueError naming `face_size` when it is not a positive multiple
        of `multiple`.

    Example:
    >>> face_size_or_default(None, 64, 128)
    64
    """
    input_size = check_int(input_size, "input_size", minimum=8, multiple=4)
    face_size = min(default, input_size) if face_size is None else face_size
    return check_int(face_size, "face_size", minimum=max(8, multiple), multiple=multiple)


class FaceBoxParser(TrainingLossStep, SinglePassParsingMixin, keras.Model):
    """A single-pass parser run on the face box a small finder network places on the photo.

    1. The image (values 0-255) is scaled to [0, 1] and resized to the
       working size `input_size` (as every single-pass parser does).
    2. The finder (`face_finder`) labels (not face, face) on the working
       photo resized to `finder_size`, at half that size; the face is
       `FACE_PART_CLASSES`.
    3. `FaceBoxTheta` places a square box on the finder's argmax: centred
       on the face's centroid, its side `1 + margin` times the face's
       extent (`ops.boxes`).
    4. The box is cut from the working photo at the face parser's working
       size `face_size` (bilinear) and labelled by the face parser.
    5. Its probabilities are pasted into the working frame (`FaceBoxPaste`,
       background outside the box); their log is the model's `"logits"` at
       the working size, resized to the image.

    Training (`model.fit(images, labels)`) sums the finder's cross-entropy
    against the cells of its map that hold a face pixel (`face_cells`), and
    the face parser's own loss (its `parsing_loss`) on the box the same rule
    places on those cells of the ground truth, as the papers train on
    detected faces. A `fit` step (`training_loss`) runs the finder on the photo
    and the face parser on the ground truth's box only; its training F1 is the
    face parser's there, at `face_size`. `set_class_priors` (called by `fit`)
    starts the face parser at the class frequencies of those crops and the
    finder at the face's share of the photo.

    Deviation from the papers: their face detector and alignment are
    replaced by the finder and the box (no rotation), so the model parses
    whole photos like the rest of the zoo.

    A subclass builds the face parser (a single-pass parser whose class
    names it shares) and passes it here; it sets its own `config_keys` and
    `default_learning_rate`.

    Args:
        face_parser: the single-pass parser (`SinglePassParsingMixin`) that
            labels the crop; its `input_size` is the crop's size and its
            `class_names` (which must include at least one of
            `FACE_PART_CLASSES`) and `canvas_size` are the model's.
        input_size: int, the working size of the photo, a multiple of 4.
        finder_size: int, the finder's input size, even, with `input_size`
            a multiple of half of it (the finder's map size), or None (the
            default) for 64 or `input_size` if smaller.
        margin: float >= 0, the box's side beyond the face's extent, relative
            to it. Defaults to 0.4. On 200 synthetic faces at a 256 px
            working photo the ground truth's box holds 99.99% of their parts'
            pixels at 0.3 (88 px on average; 99.4% on the worst face) and all
            of them at 0.5 (102 px); 0.4 leaves the found box room to be off.
        **kwargs: standard `keras.Model` arguments.

    Call arguments:
        images: float or uint8 tensor `[B, H, W, 3]` with values in [0, 255].

    Returns:
        A dict: `"logits"` `[B, input_size, input_size, C]` (log-probabilities
        in the working frame), `"face_logits"` `[B, finder_size / 2,
        finder_size / 2, 2]`, `"face_theta"` `[B, 2, 3]`, `"probabilities"`
        `[B, H, W, C]` and `"labels"` uint8 `[B, H, W]`.

    Example:
    >>> from keras_stn_icnn.models.rnn_g import RNNGFaceBox
    >>> model = RNNGFaceBox(input_size=64, face_size=32, finder_size=32)
    >>> isinstance(model, FaceBoxParser)
    True
    """

    def __init__(self, face_parser, input_size, finder_size=None, margin=0.4, **kwargs):
        class_names = face_parser.class_names
        face_ids = [class_id for class_id, name in enumerate(class_names) if name in FACE_PART_CLASSES]
        if not face_ids:
            raise ValueError(
                f"{type(self).__name__} places its box on the face's parts {FACE_PART_CLASSES}; "
                f"class_names={class_names!r} has none of them"
            )
        input_size = check_int(input_size, "input_size", minimum=8, multiple=4)
        finder_size = min(DEFAULT_FINDER_SIZE, input_size) if finder_size is None else finder_size
        finder_size = check_int(finder_size, "finder_size", minimum=8, multiple=2)
        if input_size % (finder_size // 2):
            raise ValueError(
                f"input_size ({input_size}) must be a multiple of the finder's map size, finder_size / 2 "
                f"({finder_size // 2}), so each cell of the map covers whole pixels"
            )

        # === Layers ===
        finder = face_finder(finder_size // 2)
        theta_layer = FaceBoxTheta(margin, name="face_theta")
        crop_layer = FaceBoxCrop(face_parser.input_size, name="face_crop")

        # === Functional model ===
        images, working = single_pass_inputs(input_size)
        face_logits = finder(AlignedBilinearResize((finder_size, finder_size), name="finder_resize")(working))
        theta = theta_layer(face_logits, working)
        face = layers.Rescaling(255.0, name="face_pixels")(crop_layer(working, theta))
        face_probabilities = layers.Softmax(name="face_probabilities")(face_parser(face)["logits"])
        logits = FaceBoxPaste(name="face_paste")(face_probabilities, theta, working)
        outputs = single_pass_outputs(logits, images, face_logits=face_logits, face_theta=theta)
        super().__init__(inputs=images, outputs=outputs, **kwargs)

        # === Config ===
        self.class_names = class_names
        self.input_size = input_size
        self.face_size = face_parser.input_size
        self.finder_size = finder_size
        self.margin = theta_layer.margin
        self.canvas_size = face_parser.canvas_size
        self._face_ids = face_ids
        self._face_parser = face_parser
        self._theta_layer = theta_layer
        self._crop_layer = crop_layer
        self._label_crop_layer = FaceBoxCrop(face_parser.input_size, mode="nearest")
        self._finder_cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def prior_bias_layers(self):
        """The face parser's logits layers and the finder's."""
        return [*self._face_parser.prior_bias_layers(), self.get_layer("face_finder").get_layer("face_classifier")]

    def face_cells(self, labels):
        """The cells of the finder's map that hold a face pixel: the finder's target, and the ground truth's box.

        Args:
            labels: int32 label maps `[B, input_size, input_size]`.

        Returns:
            int32 `[B, m, m]` of 0 and 1, `m = finder_size / 2`.
        """
        face = tf.reduce_any(labels[..., tf.newaxis] == self._face_ids, axis=-1, keepdims=True)
        cell = self.input_size // (self.finder_size // 2)
        return tf.cast(tf.nn.max_pool2d(tf.cast(face, tf.float32), cell, cell, "VALID")[..., 0] > 0, tf.int32)

    def face_boxes(self, labels):
        """The ground truth's face boxes: `FaceBoxTheta` of its `face_cells`.

        Args:
            labels: int32 label maps `[B, input_size, input_size]`.

        Returns:
            float32 thetas `[B, 2, 3]`.
        """
        return self._theta_layer(tf.one_hot(self.face_cells(labels), 2), labels[..., tf.newaxis])

    def face_label_crops(self, labels, theta):
        """Label maps cut in face boxes at `face_size` (nearest).

        Args:
            labels: int32 label maps `[B, input_size, input_size]`.
            theta: float32 `[B, 2, 3]`, the boxes.

        Returns:
            int32 `[B, face_size, face_size]`.
        """
        crops = self._label_crop_layer(tf.cast(labels, tf.float32)[..., tf.newaxis], theta)
        return tf.cast(tf.round(crops[..., 0]), tf.int32)

    def ground_truth_face_labels(self, label_maps):
        """Label maps of any size cut in the ground truth's face boxes: what the face parser is trained on.

        Args:
            label_maps: integer label maps `[N, H, W]` in the parser's class ids.

        Returns:
            int32 tensor `[N, face_size, face_size]`.
        """
        labels = working_size_labels(tf.convert_to_tensor(label_maps), self.input_size)
        return self.face_label_crops(labels, self.face_boxes(labels))

    def set_class_priors(self, labels):
        """Starts the face parser at the class frequencies of ground-truth face crops, the finder at the face's share.

        Args:
            labels: integer label maps `[N, H, W]` in the parser's class ids.

        Returns:
            float64 numpy array `[num_classes]`, the face parser's frequencies.
        """
        working = working_size_labels(tf.convert_to_tensor(labels), self.input_size)
        face_labels = self.face_label_crops(working, self.face_boxes(working))
        frequencies = label_frequencies([face_labels.numpy()], self.num_classes)
        for layer in self._face_parser.prior_bias_layers():
            set_prior_bias(layer, frequencies)
        face_share = float(tf.reduce_mean(tf.cast(self.face_cells(working), tf.float32)))
        set_prior_bias(self.prior_bias_layers()[-1], [1.0 - face_share, face_share])
        return frequencies

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Keras `fit`'s loss: the finder's cross-entropy plus the face parser's loss on ground-truth face boxes.

        Args:
            x: the images `[B, H, W, 3]`.
            y: integer label maps `[B, H, W]` of the images' size.
            y_pred: the output dict.
            sample_weight: not supported; must be None.
            training: bool.

        Returns:
            scalar loss.
        """
        labels = self.training_labels(y, sample_weight)
        return self._ground_truth_box_loss(self._working_photo(x), labels, y_pred["face_logits"], training)[0]

    def training_loss(self, images, labels, sample_weight=None):
        """The training step's loss, with the face parser run once, on the ground truth's face boxes.

        Keras' own step runs the whole model, the face parser on the found
        box included, and then `compute_loss` runs the face parser again on
        the ground truth's box, the only run the loss reads
        (`benchmarks/training_loss_step_speed.py`: `red_net_cpu_face_box` 925
        against 718 ms a step of 8 faces, 1.29x). The step (`TrainingLossStep`)
        runs the finder on the photo and the face parser on the ground truth's
        boxes and takes the same loss, so the gradients are those of Keras'
        step; the training F1 it logs is the face parser's on the ground
        truth's boxes, at `face_size` (`evaluate` still scores the found boxes).

        Args:
            images: float images `[B, H, W, 3]`, values 0-255.
            labels: integer label maps `[B, H, W]` of the images' size.
            sample_weight: must be None (not supported).

        Returns:
            `(loss, face_labels, face_logits)`: the scalar loss, and the ground
            truth's and the face parser's labels and logits in the boxes.
        """
        working_labels = self.training_labels(labels, sample_weight)
        working = self._working_photo(images)
        finder_input = self.get_layer("finder_resize")(working / 255.0)
        face_logits = self.get_layer("face_finder")(finder_input, training=True)
        loss, face_labels, face_outputs = self._ground_truth_box_loss(
            working, working_labels, face_logits, training=True
        )
        return loss, face_labels, face_outputs["logits"]

    def _working_photo(self, images):
        """The images at the working size, values 0-255."""
        return resize_bilinear_align_corners(tf.cast(images, tf.float32), (self.input_size, self.input_size))

    def _ground_truth_box_loss(self, working, labels, face_logits, training):
        """The loss on the ground truth's boxes, with the face parser's labels and outputs there."""
        finder_loss = self._finder_cross_entropy(self.face_cells(labels), face_logits)
        theta = self.face_boxes(labels)
        face_outputs = self._face_parser(self._crop_layer(working, theta), training=training)
        face_labels = self.face_label_crops(labels, theta)
        return finder_loss + self._face_parser.parsing_loss(face_labels, face_outputs), face_labels, face_outputs
