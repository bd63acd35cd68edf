"""ONNX graphs of a face parser, converted with tf2onnx.

The model's `signatures.images_function` is traced as a `tf.function` and
converted by `tf2onnx.convert.from_function` (what Keras' own
`model.export(format="onnx")` uses with the TensorFlow backend, here with the
serving function instead of the raw call, so the inputs and outputs are those
of the SavedModel: `images` uint8 `[B, H, W, 3]` with dynamic sizes ->
`labels` uint8 and `probabilities` float32).
"""

import tensorflow as tf

from keras_stn_icnn.export import signatures
from keras_stn_icnn.files import write_file

DEFAULT_OPSET = 18
"""ONNX opset of exports (onnxruntime 1.17 and later run it)."""


def onnx_model(model, opset=DEFAULT_OPSET):
    """Converts a face parser to an ONNX `ModelProto`.

    Args:
        model: a face parser (`STNiCNN`, `ICNNBaseline`).
        opset: int, the ONNX opset.

    Returns:
        `onnx.ModelProto`.

    Example:
    >>> proto = onnx_model(STNiCNN())  # doctest: +SKIP
    >>> [i.name for i in proto.graph.input]  # doctest: +SKIP
    ['images']
    """
    # Deferred: tf2onnx is slow to import and only needed here.
    import tf2onnx

    function = tf.function(
        signatures.images_function(model, check_size=False),
        input_signature=signatures.images_signature(),
    )
    proto, _ = tf2onnx.convert.from_function(function, input_signature=signatures.images_signature(), opset=int(opset))
    return proto


def export_onnx(model, path, opset=DEFAULT_OPSET, overwrite=False, check=None):
    """Writes `model` as an ONNX file at `path`, atomically.

    Args:
        model: a face parser.
        path: str or path-like ending in `.onnx`.
        opset: int, the ONNX opset.
        overwrite: bool, replace an existing file (once the new one is
            complete); otherwise an existing file is an error.
        check: callable or None, called with the path of the complete
            temporary file before it is renamed into place; if it raises,
            nothing is put in place.

    Returns:
        `Path` of the file.

    Raises:
        ValueError: `path` does not end in `.onnx`.
        FileExistsError: `path` exists and `overwrite` is False.

    Example:
    >>> export_onnx(STNiCNN(), "exports/stn_icnn.onnx")  # doctest: +SKIP
    PosixPath('exports/stn_icnn.onnx')
    """
    return write_file(
        path,
        lambda: onnx_model(model, opset).SerializeToString(),
        ".onnx",
        overwrite=overwrite,
        check=check,
    )
