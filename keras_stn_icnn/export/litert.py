"""LiteRT (TFLite) files of a face parser, builtin ops only.

The model's `signatures.images_function` is written out with
`keras.export.ExportArchive` (the path TensorFlow documents for Keras 3
models; a plain `tf.saved_model.save` gives files with uninitialised weights)
and converted with `tf.lite.TFLiteConverter.from_saved_model`, restricted to
`TFLITE_BUILTINS`: if any op needed the Flex (TF ops) delegate, conversion
fails rather than producing a file that needs a larger runtime. The file has
one signature, `serving_default`, with the same input (`images`, uint8
`[B, H, W, 3]`, resizable) and outputs as the SavedModel.

Quantisations (`QUANTIZATIONS`):
- `"float32"`: no quantisation.
- `"dynamic_range"`: weights stored as int8, activations float (about 4x
  smaller).
- `"float16"`: weights stored as float16 (about 2x smaller).
Full-integer quantisation is not offered: it breaks the bilinear crop (the
sampling weights and pixel indices need float precision).
"""

import tempfile

import keras
import tensorflow as tf

from keras_stn_icnn.checks import check_choice
from keras_stn_icnn.export import signatures
from keras_stn_icnn.files import write_file

QUANTIZATIONS = ("float32", "dynamic_range", "float16")
"""Quantisations `litert_model` accepts."""

SIGNATURE = "serving_default"
"""The one signature of an exported LiteRT file."""


class LiteRTConverter:
    """Converts one parser to LiteRT at several quantisations, tracing it once.

    The serving function is written out as a SavedModel once (in a temporary
    folder, removed by `close` or on leaving a `with` block); each `convert`
    call converts that.

    Args:
        model: a face parser (`STNiCNN`, `ICNNBaseline`).

    Example:
    >>> with LiteRTConverter(STNiCNN()) as converter:  # doctest: +SKIP
    ...     files = {q: converter.convert(q) for q in QUANTIZATIONS}
    """

    def __init__(self, model):
        # Not tracked: see saved_model.serving_archive (keras-team/keras#23553).
        archive = keras.export.ExportArchive()
        archive.add_endpoint(
            name=SIGNATURE,
            fn=signatures.images_function(model, check_size=False),
            input_signature=signatures.images_signature(),
        )
        self._saved_model_dir = tempfile.TemporaryDirectory(prefix="keras_stn_icnn_litert_")
        archive.write_out(self._saved_model_dir.name, verbose=False)

    def convert(self, quantization="float32"):
        """The `.tflite` file's content at `quantization` (one of `QUANTIZATIONS`), as bytes."""
        check_choice(quantization, QUANTIZATIONS, "quantization")
        converter = tf.lite.TFLiteConverter.from_saved_model(self._saved_model_dir.name, signature_keys=[SIGNATURE])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if quantization != "float32":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantization == "float16":
            converter.target_spec.supported_types = [tf.float16]
        return converter.convert()

    def close(self):
        """Removes the temporary SavedModel."""
        self._saved_model_dir.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def litert_model(model, quantization="float32"):
    """Converts a face parser to a LiteRT flatbuffer (builtin ops only).

    Args:
        model: a face parser (`STNiCNN`, `ICNNBaseline`).
        quantization: one of `QUANTIZATIONS`.

    Returns:
        bytes, the `.tflite` file's content.

    Raises:
        ValueError: unknown quantization.

    Example:
    >>> flatbuffer = litert_model(STNiCNN(), quantization="dynamic_range")  # doctest: +SKIP
    """
    check_choice(quantization, QUANTIZATIONS, "quantization")
    with LiteRTConverter(model) as converter:
        return converter.convert(quantization)


def export_litert(model, path, quantization="float32", overwrite=False, check=None, converter=None):
    """Writes `model` as a LiteRT file at `path`, atomically.

    Args:
        model: a face parser.
        path: str or path-like ending in `.tflite`.
        quantization: one of `QUANTIZATIONS`.
        overwrite: bool, replace an existing file (once the new one is
            complete); otherwise an existing file is an error.
        check: callable or None, called with the path of the complete
            temporary file before it is renamed into place; if it raises,
            nothing is put in place.
        converter: a `LiteRTConverter` of `model` to reuse (several
            quantisations of one model), or None.

    Returns:
        `Path` of the file.

    Raises:
        ValueError: `path` does not end in `.tflite`, or unknown quantization.
        FileExistsError: `path` exists and `overwrite` is False.

    Example:
    >>> export_litert(STNiCNN(), "exports/stn_icnn.tflite")  # doctest: +SKIP
    PosixPath('exports/stn_icnn.tflite')
    """
    check_choice(quantization, QUANTIZATIONS, "quantization")

    def make_content():
        if converter is None:
            return litert_model(model, quantization)
        return converter.convert(quantization)

    return write_file(path, make_content, ".tflite", overwrite=overwrite, check=check)
