"""Checking an export against the Keras model it came from.

`reference_outputs` runs the model (`runtimes.KerasRunner`) on the
validation images once; `compare_runners` runs an export on them and
measures how far apart they are: the fraction of pixels whose label is
identical and the largest probability difference. An export
is accepted when the label agreement reaches its format's bar
(`MIN_LABEL_AGREEMENT`): 99.9% for float32 exports, whose differences are
float rounding; 95% for quantised LiteRT files, a sanity bar that catches a
broken conversion while the measured figure is reported.

`validation_images` are faces of the built-in synthetic set (no download),
at their own sizes, one at a time and as a batch of two.
"""

import dataclasses

import numpy as np

from keras_stn_icnn.checks import check_choice
from keras_stn_icnn.data.synthetic import render_face

MIN_LABEL_AGREEMENT = {
    "saved_model": 0.999,
    "tflite": 0.999,
    "onnx": 0.999,
    "tflite_dynamic_range": 0.95,
    "tflite_float16": 0.95,
}
"""Smallest accepted fraction of identical label pixels, per export kind."""

VALIDATION_SEEDS = (11, 12, 13)
"""Seeds of the synthetic faces exports are checked on."""


class ExportValidationError(RuntimeError):
    """An export does not give the Keras model's answers; `report` says how far off it is."""

    def __init__(self, report):
        super().__init__(
            f"the {report.kind} export disagrees with the Keras model: {report.summary()} "
            f"(needs label agreement >= {report.min_agreement:.2%})"
        )
        self.report = report


@dataclasses.dataclass(frozen=True)
class ParityReport:
    """How closely an export reproduces the Keras model.

    Attributes:
        kind: str, the export kind (a key of `MIN_LABEL_AGREEMENT`).
        label_agreement: float, fraction of pixels with the same label.
        max_probability_error: float, largest absolute probability difference.
        pixels: int, pixels compared.
        min_agreement: float, the bar for this kind.
    """

    kind: str
    label_agreement: float
    max_probability_error: float
    pixels: int
    min_agreement: float

    @property
    def passed(self):
        """Whether the label agreement reaches `min_agreement`."""
        return self.label_agreement >= self.min_agreement

    def summary(self):
        """One line: agreement, probability error and pixel count."""
        return (
            f"labels identical on {self.label_agreement:.4%} of {self.pixels} pixels, "
            f"max |probability difference| {self.max_probability_error:.2e}"
        )


def validation_images(seeds=VALIDATION_SEEDS):
    """Batches to compare exports on: each synthetic face alone, then two as one batch.

    Args:
        seeds: ints, synthetic face seeds (`render_face`).

    Returns:
        list of uint8 arrays `[B, H, W, 3]`; the last is the first face and its
        mirror image, stacked.

    Example:
    >>> [batch.shape[0] for batch in validation_images()]
    [1, 1, 1, 2]
    """
    faces = [render_face(seed)[0] for seed in seeds]
    batches = [face[np.newaxis] for face in faces]
    batches.append(np.stack([faces[0], faces[0][:, ::-1]]))
    return batches


def reference_outputs(reference, images=None):
    """The reference parser's outputs on the validation batches, computed once.

    Args:
        reference: callable `uint8 [B, H, W, 3] -> {"labels", "probabilities"}`
            (normally `runtimes.KerasRunner(model)`).
        images: list of uint8 `[B, H, W, 3]` batches, or None for
            `validation_images()`.

    Returns:
        list of `(batch, outputs)` pairs, for `compare_runners`.

    Example:
    >>> expected = reference_outputs(KerasRunner(model))  # doctest: +SKIP
    """
    images = validation_images() if images is None else images
    return [(batch, reference(batch)) for batch in images]


def compare_runners(expected, candidate, kind):
    """Runs an export on the validation batches and measures how far it is from the reference.

    Args:
        expected: `reference_outputs(...)`.
        candidate: callable `uint8 [B, H, W, 3] -> {"labels", "probabilities"}`
            running the export (`runtimes.open_export(path)`).
        kind: str, a key of `MIN_LABEL_AGREEMENT`.

    Returns:
        A `ParityReport`.

    Example:
    >>> expected = reference_outputs(KerasRunner(model))  # doctest: +SKIP
    >>> compare_runners(expected, OnnxRunner("m.onnx"), "onnx").passed  # doctest: +SKIP
    True
    """
    check_choice(kind, MIN_LABEL_AGREEMENT, "kind")
    same, pixels, max_error = 0, 0, 0.0
    for batch, reference in expected:
        actual = candidate(batch)
        if actual["labels"].shape != reference["labels"].shape:
            raise ValueError(
                f"the {kind} export returned labels of shape {actual['labels'].shape} for a batch "
                f"of {batch.shape}; the Keras model returns {reference['labels'].shape}"
            )
        same += int(np.sum(actual["labels"] == reference["labels"]))
        pixels += reference["labels"].size
        max_error = max(
            max_error,
            float(np.max(np.abs(actual["probabilities"].astype(np.float64) - reference["probabilities"]))),
        )
    return ParityReport(kind, same / pixels, max_error, pixels, MIN_LABEL_AGREEMENT[kind])
