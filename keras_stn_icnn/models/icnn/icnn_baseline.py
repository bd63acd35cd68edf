"""The two-stage iCNN baseline (Zhou et al.; re-implemented by Yin et al.)."""

import keras
from keras import layers

from keras_stn_icnn.geometry import STAGE1_SIZE
from keras_stn_icnn.labels import STN_ICNN_CLASS_NAMES
from keras_stn_icnn.layers.centroid_theta import CentroidTheta
from keras_stn_icnn.layers.crop_transformer import CropTransformer, PartAssembly
from keras_stn_icnn.layers.resampling import AlignedBilinearResize
from keras_stn_icnn.models.icnn.icnn import ICNN
from keras_stn_icnn.models.parsing import (
    ParsingMixin,
    parsing_outputs,
    part_model_plan,
    run_part_models,
)


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class ICNNBaseline(ParsingMixin, keras.Model):
    """iCNN baseline face parser: rough mask -> centroid crops -> part labels -> one map.

    STN-iCNN with the localizer replaced by the baseline's fixed cropper:

    1. As in `STNiCNN`, the image (values 0-255, up to `canvas_size`) is
       scaled to [0, 1] and resized to 128x128 (bilinear, corners aligned);
       the stage-1 `ICNN` gives 9-class logits.
    2. `CentroidTheta` places each part's `window x window` crop at the
       centroid of that part in the argmax of the stage-1 map, scaled to the
       image and floored onto the canvas (the convention of the ground-truth
       thetas, with the same rule for missing parts). This step is not
       differentiable: the stage-1 model learns only from its own loss.
    3. `CropTransformer` cuts the crops (plain copies at whole-pixel
       centres), the part `ICNN`s label them (by default one model for both
       eyebrows and one for both eyes, the second side mirrored), and
    4. `PartAssembly` pastes them back into a 9-class map at the input's
       resolution.

    The sub-models are named as in `STNiCNN` (`"stage1"`, `"eyebrow_model"`,
    `"eye_model"`, `"nose_model"`, `"mouth_model"`, or `"<part>_model"`
    each without sharing), so weights move between the two with
    `get_layer(name).set_weights(...)`; `from_stn_icnn` does it for a whole
    model.

    Args:
        window: int, odd side of the part crops. Defaults to 81 (HELEN; 127
            for CelebAMask-HQ).
        canvas_size: int, side of the square canvas crops are taken from,
            and so the largest image the model accepts. Defaults to 1024.
        shared_part_models: bool, share the eyebrow and eye models between
            the two sides with mirroring (True, the reference) or give each
            of the six parts its own model (False).
        **kwargs: standard `keras.Model` arguments.

    Call arguments:
        images: float or uint8 tensor `[B, H, W, 3]` with values in [0, 255].

    Returns:
        A dict, as `STNiCNN` gives it: `"stage1_logits"` `[B, 128, 128, 9]`,
        `"theta"` `[B, 6, 2, 3]` (from the centroids), `"part_logits"` (a dict
        part name -> `[B, window, window, 2 or 4]`), `"probabilities"`
        `[B, H, W, 9]` and `"labels"` uint8 `[B, H, W]`.

    Example:
    >>> model = ICNNBaseline()
    >>> outputs = model(keras.ops.zeros([1, 300, 200, 3]))
    >>> outputs["labels"].shape
    TensorShape([1, 300, 200])
    >>> model.parse(np.zeros((300, 200, 3), np.uint8)).shape
    (300, 200)
    """

    config_keys = ("window", "canvas_size", "shared_part_models")

    def __init__(self, window=81, canvas_size=1024, shared_part_models=True, **kwargs):
        canvas = (int(canvas_size), int(canvas_size))
        num_classes = len(STN_ICNN_CLASS_NAMES)

        # === Layers ===
        scale = layers.Rescaling(1.0 / 255.0, name="scale")
        stage1_resize = AlignedBilinearResize((STAGE1_SIZE, STAGE1_SIZE), name="stage1_resize")
        stage1 = ICNN(num_classes, name="stage1")
        centroid_theta = CentroidTheta(window, canvas_size=canvas, name="centroid_theta")
        cropper = CropTransformer(window, canvas_size=canvas, name="crop")
        plan = part_model_plan(shared_part_models)
        part_models = {name: ICNN(channels, name=name) for name, channels, _, _ in plan}
        assembly = PartAssembly(canvas_size=canvas, name="assembly")

        # === Functional model ===
        images = keras.Input(shape=(None, None, 3), name="images")
        scaled = scale(images)
        stage1_logits = stage1(stage1_resize(scaled))
        theta = centroid_theta(stage1_logits, images)
        patches = cropper(scaled, theta)
        part_logits = run_part_models(patches, plan, part_models, window)
        outputs = parsing_outputs(stage1_logits, theta, part_logits, assembly, images)
        super().__init__(inputs=images, outputs=outputs, **kwargs)

        # === Config ===
        self.window = int(window)
        self.canvas_size = int(canvas_size)
        self.shared_part_models = bool(shared_part_models)
        self._parse_function = None

    @property
    def sub_model_names(self):
        """Names of the sub-models shared with `STNiCNN`: stage 1, then the part models."""
        return ["stage1"] + [name for name, _, _, _ in part_model_plan(self.shared_part_models)]

    @classmethod
    def from_stn_icnn(cls, stn_model, **kwargs):
        """Builds a baseline with the stage-1 and part-model weights of an STN-iCNN.

        The new model has the same `window`, `canvas_size` and
        `shared_part_models`; the localizer has no counterpart and is left
        out. The weights are copied, not shared: training one model later
        does not change the other.

        Args:
            stn_model: an `STNiCNN` (or another `ICNNBaseline`).
            **kwargs: further `keras.Model` arguments (e.g. `name`).

        Returns:
            An `ICNNBaseline`.

        Raises:
            TypeError when `stn_model` is neither.

        Example:
        >>> from keras_stn_icnn.models import STNiCNN
        >>> stn = STNiCNN(canvas_size=256)  # or STNiCNN.from_pytorch_checkpoint(path)
        >>> baseline = ICNNBaseline.from_stn_icnn(stn)
        >>> baseline.parse(np.zeros((96, 80, 3), np.uint8)).shape
        (96, 80)
        """
        # Deferred: the STN-iCNN module imports the icnn package this module is part of.
        from keras_stn_icnn.models.stn_icnn.stn_icnn import STNiCNN

        if not isinstance(stn_model, (STNiCNN, ICNNBaseline)):
            raise TypeError(f"stn_model must be an STNiCNN or ICNNBaseline, got {type(stn_model).__name__}")
        baseline = cls(
            window=stn_model.window,
            canvas_size=stn_model.canvas_size,
            shared_part_models=stn_model.shared_part_models,
            **kwargs,
        )
        for name in baseline.sub_model_names:
            baseline.get_layer(name).set_weights(stn_model.get_layer(name).get_weights())
        return baseline
