"""RNN-G on a face box its own small network finds, in place of the paper's face detector."""

import keras

from keras_stn_icnn.labels import STN_ICNN_CLASS_NAMES
from keras_stn_icnn.models.face_box import FaceBoxParser, face_size_or_default
from keras_stn_icnn.models.rnn_g.rnn_g import RNNG
from keras_stn_icnn.models.single_pass import DEFAULT_CANVAS_SIZE

DEFAULT_FACE_SIZE = 128
"""RNN-G's working size on the face box, the paper's "aligned ... 128 x 128" face (§4)."""


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class RNNGFaceBox(FaceBoxParser):
    """RNN-G on the face box a small finder network places on the photo (`FaceBoxParser`).

    RNN-G (Liu et al., BMVC 2017) parses faces "detected and roughly aligned
    to the center ... with a resolution of 128 x 128" (§4): its 25k weights
    see a face that fills the frame. On a whole photo it sees a face's eye as
    3-4 pixels at 128 px and barely learns (`docs/zoo_learning.md`). Here
    `RNNG` (sub-model `"rnn_g"`, working size `face_size`) labels the face
    box the finder places on the whole photo, and is trained with its own
    loss (`RNNG.parsing_loss`) on the ground truth's boxes.

    Args:
        class_names: tuple of str, the label ids it predicts; must include
            at least one of `FACE_PART_CLASSES`. Defaults to STN-iCNN's 9.
        input_size: int, the working size of the photo, a multiple of 4.
            Defaults to 256.
        face_size: int, RNN-G's working size on the face box, a multiple of
            4, or None (the default) for 128 (the paper's) or `input_size`
            if smaller.
        finder_size: int, the finder's input size (see `FaceBoxParser`), or
            None (the default) for 64 or `input_size` if smaller.
        margin: float >= 0, the box's side beyond the face's extent, relative
            to it. Defaults to 0.4 (see `FaceBoxParser`).
        loss_weights: RNN-G's loss weights (see `RNNG`), or None.
        canvas_size: int, the largest image side `parse` accepts. Defaults
            to 1024.
        **kwargs: standard `keras.Model` arguments.

    Call arguments and returns: as `FaceBoxParser`.

    Example:
    >>> model = RNNGFaceBox(input_size=64, face_size=32, finder_size=32)
    >>> model(keras.ops.zeros([1, 120, 100, 3]))["labels"].shape
    TensorShape([1, 120, 100])
    """

    config_keys = ("class_names", "input_size", "face_size", "finder_size", "margin", "loss_weights", "canvas_size")
    default_learning_rate = RNNG.default_learning_rate

    def __init__(
        self,
        class_names=STN_ICNN_CLASS_NAMES,
        input_size=256,
        face_size=None,
        finder_size=None,
        margin=0.4,
        loss_weights=None,
        canvas_size=DEFAULT_CANVAS_SIZE,
        **kwargs,
    ):
        face_size = face_size_or_default(face_size, input_size, DEFAULT_FACE_SIZE)
        rnn_g = RNNG(class_names, face_size, loss_weights, canvas_size, name="rnn_g")
        super().__init__(rnn_g, input_size, finder_size, margin, **kwargs)
        self.loss_weights = rnn_g.loss_weights
