"""STN-iCNN (Yin et al.): end-to-end face parsing through a differentiable crop."""

import keras
from keras import layers

from keras_stn_icnn.checks import check_choice
from keras_stn_icnn.geometry import STAGE1_SIZE
from keras_stn_icnn.labels import STN_ICNN_CLASS_NAMES
from keras_stn_icnn.layers.crop_transformer import CropTransformer, PartAssembly
from keras_stn_icnn.layers.part_recentring import PartRecentring
from keras_stn_icnn.layers.resampling import AlignedBilinearResize
from keras_stn_icnn.models.icnn.icnn import ICNN
from keras_stn_icnn.models.parsing import (
    ParsingMixin,
    crop_and_label_parts,
    parsing_outputs,
    part_model_plan,
)
from keras_stn_icnn.models.stn_icnn.centroid_localizer import FRAME_SIZE, CentroidLocalizer
from keras_stn_icnn.models.stn_icnn.fcn_localizer import FCNLocalizer
from keras_stn_icnn.models.stn_icnn.resnet18_localizer import ResNet18Localizer
from keras_stn_icnn.models.stn_icnn.vgg9_localizer import VGG9Localizer

LOCALIZERS = {
    "resnet18": ResNet18Localizer,
    "fcn": FCNLocalizer,
    "vgg9": VGG9Localizer,
    "centroid": CentroidLocalizer,
}
"""Localizer names accepted by `STNiCNN(localizer=...)`."""


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class STNiCNN(ParsingMixin, keras.Model):
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
            `"fcn"` (the authors' all-convolutional one), `"vgg9"` (the
            paper's Fig. 3) or `"centroid"` (ours: the soft centroids of the
            stage-1 mask, no weights, `CentroidLocalizer`). Defaults to
            `"resnet18"`.
        window: int, odd side of the part crops. Defaults to 81 (HELEN; the
            paper uses 127 for CelebAMask-HQ).
        canvas_size: int, side of the square canvas crops are taken from, and
            so the largest image the model accepts. Defaults to 1024.
        shared_part_models: bool, share the eyebrow and eye models between
            the two sides with mirroring (True, the reference) or give each
            of the six parts its own model (False).
        recentre_crops: bool, ours: after the part models label their crops,
            move every crop onto the centroid of its part as its model sees
            it, cut it again and label it again (`layers.PartRecentring`;
            the part models run twice). The part models are trained on
            crops centred on their parts and lose F1 a few pixels off; the
            localizer places crops from a 128x128 mask. Defaults to False
            (the paper's single pass).
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

    config_keys = ("localizer", "window", "canvas_size", "shared_part_models", "recentre_crops")

    def __init__(
        self,
        localizer="resnet18",
        window=81,
        canvas_size=1024,
        shared_part_models=True,
        recentre_crops=False,
        **kwargs,
    ):
        check_choice(localizer, LOCALIZERS, "localizer")
        canvas = (int(canvas_size), int(canvas_size))
        num_classes = len(STN_ICNN_CLASS_NAMES)

        # === Layers ===
        scale = layers.Rescaling(1.0 / 255.0, name="scale")
        stage1_resize = AlignedBilinearResize((STAGE1_SIZE, STAGE1_SIZE), name="stage1_resize")
        stage1 = ICNN(num_classes, name="stage1")
        placement = {}
        if localizer == "centroid":  # it places crops on a frame of the canvas, so it needs their sizes
            placement = {"window": window, "canvas_size": canvas_size, "frame_size": min(FRAME_SIZE, canvas_size)}
        localizer_model = LOCALIZERS[localizer](num_mask_channels=num_classes, name="localizer", **placement)
        cropper = CropTransformer(window, canvas_size=canvas, name="crop")
        plan = part_model_plan(shared_part_models)
        part_models = {name: ICNN(channels, name=name) for name, channels, _, _ in plan}
        assembly = PartAssembly(canvas_size=canvas, name="assembly")
        recentring = PartRecentring(window, canvas_size=canvas, name="recentring") if recentre_crops else None

        # === Functional model ===
        images = keras.Input(shape=(None, None, 3), name="images")
        scaled = scale(images)
        stage1_logits = stage1(stage1_resize(scaled))
        theta = localizer_model(layers.Softmax(name="stage1_softmax")(stage1_logits))
        theta, part_logits = crop_and_label_parts(scaled, theta, cropper, plan, part_models, window, recentring)
        outputs = parsing_outputs(stage1_logits, theta, part_logits, assembly, images)
        super().__init__(inputs=images, outputs=outputs, **kwargs)

        # === Config ===
        self.localizer = localizer
        self.window = int(window)
        self.canvas_size = int(canvas_size)
        self.shared_part_models = bool(shared_part_models)
        self.recentre_crops = bool(recentre_crops)
        self._parse_function = None

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
        >>> model = STNiCNN.from_pytorch_checkpoint("after_end2_end_10mean.pth.tar")  # doctest: +SKIP
        >>> labels = model.parse(image)  # doctest: +SKIP
        """
        # Deferred: the converter sits above the models in the import order.
        from keras_stn_icnn.convert import stn_icnn_from_pytorch_checkpoint

        return stn_icnn_from_pytorch_checkpoint(path, localizer=localizer, **kwargs)
