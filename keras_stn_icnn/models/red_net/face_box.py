"""RED-Net on a face box its own small network finds, in place of the paper's face detector."""

import keras
import numpy as np

from keras_stn_icnn.checks import check_widths
from keras_stn_icnn.labels import HELEN_CLASS_NAMES
from keras_stn_icnn.models.face_box import FaceBoxParser, face_size_or_default
from keras_stn_icnn.models.red_net.red_net import RedNet
from keras_stn_icnn.models.single_pass import DEFAULT_CANVAS_SIZE

DEFAULT_FACE_SIZE = 224
"""RED-Net's working size on the face box: its paper's crop size (the face region at 250 x 250, §4)."""


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class RedNetFaceBox(FaceBoxParser):
    """RED-Net on the face box a small finder network places on the photo (`FaceBoxParser`).

    RED-Net (Guo et al., AAAI 2018) parses the face region scaled to
    250 x 250. On a whole photo its brows are a few pixels high, and a
    CPU-sized RED-Net misses most of them (`docs/zoo_learning.md`: 80% of
    brow pixels labelled background). Here `RedNet` (sub-model `"red_net"`,
    working size `face_size`) labels the face box the finder places on the
    whole photo, and is trained with its own loss (`RedNet.parsing_loss`) on
    the ground truth's boxes. Its adaptive prior works in the box's frame:
    `fit_prior` fills the exemplar bank with ground-truth label maps cut in
    their face boxes.

    Args:
        class_names: tuple of str, the label ids it predicts (see `RedNet`).
            Defaults to HELEN's 11 classes.
        input_size: int, the working size of the photo, a multiple of 4.
            Defaults to 256.
        face_size: int, RED-Net's working size on the face box, a multiple
            of `2 ** len(encoder_filters)`, or None (the default) for 224
            (RED-Net's) or `input_size` if smaller.
        finder_size: int, the finder's input size (see `FaceBoxParser`), or
            None (the default) for 64 or `input_size` if smaller.
        margin: float >= 0, the box's side beyond the face's extent, relative
            to it. Defaults to 0.4 (see `FaceBoxParser`).
        encoder_filters: tuple of int, RED-Net's encoder widths (see
            `RedNet`). Defaults to `(64, 128, 256, 512, 512)`.
        blocks_per_unit: int, residual blocks in each encoder unit.
            Defaults to 2.
        num_exemplars: int, exemplars averaged into the prior. Defaults to 5.
        bank_size: int, the most exemplars `fit_prior` stores. Defaults to 330.
        pca_components: int in [1, 10], the key points' PCA dimension.
            Defaults to 5.
        canvas_size: int, the largest image side `parse` accepts. Defaults
            to 1024.
        coordinate_channels: bool, whether RED-Net's classifier also reads
            each pixel's position in the box (see `RedNet`). Defaults to
            False.
        **kwargs: standard `keras.Model` arguments.

    Call arguments and returns: as `FaceBoxParser`.

    Example:
    >>> model = RedNetFaceBox(input_size=64, face_size=32, encoder_filters=(4, 8), blocks_per_unit=1, bank_size=8)
    >>> model(keras.ops.zeros([1, 120, 100, 3]))["labels"].shape
    TensorShape([1, 120, 100])
    """

    config_keys = (
        "class_names",
        "input_size",
        "face_size",
        "finder_size",
        "margin",
        "encoder_filters",
        "blocks_per_unit",
        "num_exemplars",
        "bank_size",
        "pca_components",
        "canvas_size",
        "coordinate_channels",
    )
    default_learning_rate = RedNet.default_learning_rate

    def __init__(
        self,
        class_names=HELEN_CLASS_NAMES,
        input_size=256,
        face_size=None,
        finder_size=None,
        margin=0.4,
        encoder_filters=(64, 128, 256, 512, 512),
        blocks_per_unit=2,
        num_exemplars=5,
        bank_size=330,
        pca_components=5,
        canvas_size=DEFAULT_CANVAS_SIZE,
        coordinate_channels=False,
        **kwargs,
    ):
        encoder_filters = check_widths(encoder_filters, "encoder_filters")
        face_size = face_size_or_default(face_size, input_size, DEFAULT_FACE_SIZE, multiple=2 ** len(encoder_filters))
        red_net = RedNet(
            class_names,
            face_size,
            encoder_filters,
            blocks_per_unit,
            num_exemplars,
            bank_size,
            pca_components,
            canvas_size,
            coordinate_channels,
            name="red_net",
        )
        super().__init__(red_net, input_size, finder_size, margin, **kwargs)
        self.encoder_filters = red_net.encoder_filters
        self.blocks_per_unit = red_net.blocks_per_unit
        self.num_exemplars = red_net.num_exemplars
        self.bank_size = red_net.bank_size
        self.pca_components = red_net.pca_components
        self.coordinate_channels = red_net.coordinate_channels

    def fit_prior(self, label_maps):
        """Fills RED-Net's exemplar bank from ground-truth label maps cut in their face boxes.

        Args:
            label_maps: integer array `[M, H, W]` of class ids, with
                `num_exemplars <= M <= bank_size`, of photos framed as the
                model's (see `RedNet.fit_prior`).

        Raises:
            ValueError when `M` is out of range or the maps are not integer.
        """
        label_maps = np.asarray(label_maps)
        if label_maps.ndim != 3 or label_maps.dtype.kind not in "iu":
            raise ValueError(
                f"fit_prior needs integer label maps [M, H, W], got {label_maps.dtype} of shape {label_maps.shape}"
            )
        self._face_parser.fit_prior(self.ground_truth_face_labels(label_maps).numpy())
