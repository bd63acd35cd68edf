"""STN-iCNN (Yin et al.): end-to-end face parsing through a differentiable crop."""

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from keras_stn_icnn.labels import STN_ICNN_CLASS_NAMES, STN_ICNN_PARTS
from keras_stn_icnn.layers.crop_transformer import CropTransformer, PartAssembly
from keras_stn_icnn.layers.resampling import AlignedBilinearResize
from keras_stn_icnn.models.icnn.icnn import ICNN
from keras_stn_icnn.models.stn_icnn.fcn_localizer import FCNLocalizer
from keras_stn_icnn.models.stn_icnn.resnet18_localizer import ResNet18Localizer
from keras_stn_icnn.models.stn_icnn.vgg9_localizer import VGG9Localizer

LOCALIZERS = {
    "resnet18": ResNet18Localizer,
    "fcn": FCNLocalizer,
    "vgg9": VGG9Localizer,
}
"""Localizer names accepted by `STNiCNN(localizer=...)`."""

STAGE1_SIZE = 128

# Shared part models: (model name, parts it labels, parts it sees mirrored).
_SHARED_PART_MODELS = (
    ("eyebrow_model", ("eyebrow1", "eyebrow2"), ("eyebrow2",)),
    ("eye_model", ("eye1", "eye2"), ("eye2",)),
    ("nose_model", ("nose",), ()),
    ("mouth_model", ("mouth",), ()),
)


def _part_channels(part_name):
    return 1 + len(dict(STN_ICNN_PARTS)[part_name])


def _part_model_plan(shared_part_models):
    """Yields (model name, number of classes, parts, mirrored parts)."""
    if shared_part_models:
        for name, parts, mirrored in _SHARED_PART_MODELS:
            yield name, _part_channels(parts[0]), parts, mirrored
    else:
        for part, _ in STN_ICNN_PARTS:
            yield f"{part}_model", _part_channels(part), (part,), ()


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class STNiCNN(keras.Model):
    """STN-iCNN face parser: rough mask -> part crops -> part labels -> one map.

    1. The image (values 0-255, any size up to `canvas_size`) is scaled to
       [0, 1] and resized to 128x128 (bilinear, corners aligned, aspect ratio
       not kept); the stage-1 `ICNN` gives 9-class logits.
    2. A localizer (`"resnet18"`, `"fcn"` or `"vgg9"`) maps their softmax to
       six thetas `[[sx, 0, tx], [0, sy, ty]]` (eyebrow1, eyebrow2, eye1, eye2,
       nose, mouth), relative to the image centred on a zero canvas of
       `canvas_size`.
    3. `CropTransformer` cuts a `window x window` patch per part from the
       full-resolution image (bilinear, differentiable in theta), and part
       `ICNN`s label them. By default, as in the authors' code, one model
       serves both eyebrows and one both eyes: the second one's patch is
       mirrored horizontally before the model and its output mirrored back.
    4. `PartAssembly` pastes the part probabilities back (nearest) and
       assembles the 9-class probability map at the input's own resolution;
       its argmax is the label map in `class_names` ids.

    Args:
        localizer: str, one of `"resnet18"` (the released checkpoints'),
            `"fcn"` (the authors' all-convolutional one) or `"vgg9"` (the
            paper's Fig. 3). Defaults to `"resnet18"`.
        window: int, odd side of the part crops. Defaults to 81 (HELEN; the
            paper uses 127 for CelebAMask-HQ).
        canvas_size: int, side of the square canvas crops are taken from, and
            so the largest image the model accepts. Defaults to 1024.
        shared_part_models: bool, share the eyebrow and eye models between
            the two sides with mirroring (True, the reference) or give each
            of the six parts its own model (False).
        **kwargs: standard `keras.Model` arguments.

    Call arguments:
        images: float or uint8 tensor `[B, H, W, 3]` with values in [0, 255].

    Returns:
        A dict: `"stage1_logits"` `[B, 128, 128, 9]`, `"theta"`
        `[B, 6, 2, 3]`, `"part_logits"` (a dict part name ->
        `[B, window, window, 2 or 4]`), `"probabilities"` `[B, H, W, 9]` and
        `"labels"` uint8 `[B, H, W]`.

    Example:
    >>> model = STNiCNN()
    >>> outputs = model(keras.ops.zeros([1, 512, 512, 3]))
    >>> outputs["labels"].shape
    TensorShape([1, 512, 512])
    >>> model.parse(np.zeros((300, 200, 3), np.uint8)).shape
    (300, 200)
    """

    class_names = STN_ICNN_CLASS_NAMES
    """Names of the label ids that `parse` and `"labels"` return."""

    def __init__(
        self,
        localizer="resnet18",
        window=81,
        canvas_size=1024,
        shared_part_models=True,
        **kwargs,
    ):
        if localizer not in LOCALIZERS:
            raise ValueError(
                f"localizer must be one of {sorted(LOCALIZERS)}, got {localizer!r}"
            )
        canvas = (int(canvas_size), int(canvas_size))
        num_classes = len(STN_ICNN_CLASS_NAMES)
        part_names = [name for name, _ in STN_ICNN_PARTS]

        # === Layers ===
        scale = layers.Rescaling(1.0 / 255.0, name="scale")
        stage1_resize = AlignedBilinearResize((STAGE1_SIZE, STAGE1_SIZE), name="stage1_resize")
        stage1 = ICNN(num_classes, name="stage1")
        localizer_model = LOCALIZERS[localizer](num_mask_channels=num_classes, name="localizer")
        cropper = CropTransformer(window, canvas_size=canvas, name="crop")
        plan = list(_part_model_plan(shared_part_models))
        part_models = {
            name: ICNN(channels, name=name) for name, channels, _, _ in plan
        }
        assembly = PartAssembly(canvas_size=canvas, name="assembly")

        # === Functional model ===
        images = keras.Input(shape=(None, None, 3), name="images")
        scaled = scale(images)
        stage1_logits = stage1(stage1_resize(scaled))
        theta = localizer_model(layers.Softmax(name="stage1_softmax")(stage1_logits))
        patches = cropper(scaled, theta)
        part_logits = {}
        for model_name, _, parts, mirrored in plan:
            # The parts one model serves run as one batch: [B, k, ...] -> [B * k, ...].
            stacked = keras.ops.stack(
                [
                    keras.ops.flip(patches[:, part_names.index(part)], 2)
                    if part in mirrored
                    else patches[:, part_names.index(part)]
                    for part in parts
                ],
                axis=1,
            )
            logits = part_models[model_name](
                keras.ops.reshape(stacked, (-1, window, window, 3))
            )
            logits = keras.ops.reshape(logits, (-1, len(parts), window, window, logits.shape[-1]))
            for k, part in enumerate(parts):
                part_logits[part] = (
                    keras.ops.flip(logits[:, k], 2) if part in mirrored else logits[:, k]
                )
        part_probabilities = [
            layers.Softmax(name=f"{part}_softmax")(part_logits[part]) for part in part_names
        ]
        probabilities = assembly(part_probabilities, theta, images)
        labels = keras.ops.cast(keras.ops.argmax(probabilities, axis=-1), "uint8")
        outputs = {
            "stage1_logits": stage1_logits,
            "theta": theta,
            "part_logits": {part: part_logits[part] for part in part_names},
            "probabilities": probabilities,
            "labels": labels,
        }
        super().__init__(inputs=images, outputs=outputs, **kwargs)

        # === Config ===
        self.localizer = localizer
        self.window = int(window)
        self.canvas_size = int(canvas_size)
        self.shared_part_models = bool(shared_part_models)
        self._parse_function = None

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "localizer": self.localizer,
            "window": self.window,
            "canvas_size": self.canvas_size,
            "shared_part_models": self.shared_part_models,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    @classmethod
    def from_pytorch_checkpoint(cls, path, localizer="resnet18", **kwargs):
        """Builds an STNiCNN holding the weights of an authors' `.pth.tar` file.

        Reads the file without torch (see `keras_stn_icnn.convert`). A
        checkpoint may hold the stage-1 model (`model1` or `model`), the
        localizer (`select_net`) and the part models (`model2`); parts it
        lacks keep their fresh initialisation, and the returned model's
        `loaded_parts` attribute says which were loaded.

        Args:
            path: str or path-like, the checkpoint.
            localizer: `"resnet18"` or `"fcn"`, the localizer the checkpoint
                was trained with.
            **kwargs: further `STNiCNN` arguments.

        Returns:
            An `STNiCNN`.

        Example:
        >>> model = STNiCNN.from_pytorch_checkpoint("after_end2_end_10mean.pth.tar")
        >>> labels = model.parse(image)
        """
        # Deferred: the converter sits above the models in the import order.
        from keras_stn_icnn.convert import stn_icnn_from_pytorch_checkpoint

        return stn_icnn_from_pytorch_checkpoint(path, localizer=localizer, **kwargs)

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
        >>> model.parse(np.zeros((512, 512, 3), np.uint8)).shape
        (512, 512)
        """
        if isinstance(images, np.ndarray) and images.ndim == 3:
            return self.parse([images])[0]
        if isinstance(images, np.ndarray) and images.ndim == 4:
            return np.stack(self.parse(list(images)))
        if isinstance(images, np.ndarray):
            raise ValueError(
                f"images must be [H, W, 3] or [B, H, W, 3], got an array of shape {images.shape}"
            )
        if not isinstance(images, (list, tuple)):
            raise TypeError(
                f"images must be a numpy array or a list of them, got {type(images).__name__}"
            )
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
        where = f"image {index}"
        if not isinstance(image, np.ndarray):
            raise TypeError(f"{where}: expected a numpy array, got {type(image).__name__}")
        if image.ndim != 3 or image.shape[-1] != 3:
            raise ValueError(f"{where}: expected shape [H, W, 3] (RGB), got {image.shape}")
        if image.shape[0] == 0 or image.shape[1] == 0:
            raise ValueError(f"{where}: the image is empty (shape {image.shape})")
        if image.dtype != np.uint8:
            if image.dtype.kind != "f":
                raise TypeError(
                    f"{where}: expected dtype uint8 (or float with values in [0, 255]), "
                    f"got {image.dtype}"
                )
            if not np.all(np.isfinite(image)):
                raise ValueError(f"{where}: contains NaN or infinite values")
            low, high = float(image.min()), float(image.max())
            if low < 0 or high > 255:
                raise ValueError(
                    f"{where}: float values must lie in [0, 255], got [{low}, {high}]"
                )
        height, width = image.shape[:2]
        if height > self.canvas_size or width > self.canvas_size:
            raise ValueError(
                f"{where}: {height}x{width} is larger than the model's "
                f"{self.canvas_size}x{self.canvas_size} canvas; crop or resize the "
                f"face so that it fits"
            )
        return image.astype(np.float32)

    def _parse_batch(self, images):
        if self._parse_function is None:

            def parse_batch(batch):
                return self(batch, training=False)["labels"]

            self._parse_function = tf.function(
                parse_batch,
                input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)],
            )
        return self._parse_function(images)
