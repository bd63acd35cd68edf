"""Running an exported parser in the runtime that will serve it.

Each runner loads one export and is called like the Keras model's serving
function: uint8 `[B, H, W, 3]` in, a dict with `labels` uint8 `[B, H, W]` and
`probabilities` float32 `[B, H, W, C]` out (numpy).

- `KerasRunner`: the Keras model itself, the reference every export is
  compared with.
- `SavedModelRunner`: `tf.saved_model.load` and the `serving_default`
  signature (`saved_model_cli run` and TF Serving use TensorFlow's session
  loader; the tests check the export with that too).
- `LiteRTRunner`: the `ai-edge-litert` interpreter (XNNPACK on CPU).
- `OnnxRunner`: an `onnxruntime` CPU session.

LiteRT and ONNX graphs carry no assert ops, so their runners check the
images' size against the canvas themselves. `open_export(path)` picks the
runner from the path.
"""

from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_stn_icnn.checks import check_image_batch
from keras_stn_icnn.export import signatures


class KerasRunner:
    """The Keras model's serving function, run eagerly-compiled (`tf.function`).

    Args:
        model: a face parser (`STNiCNN`, `ICNNBaseline`).

    Example:
    >>> outputs = KerasRunner(model)(np.zeros((1, 300, 200, 3), np.uint8))  # doctest: +SKIP
    """

    format = "keras"

    def __init__(self, model):
        self.model = model
        self.canvas_size = getattr(model, "canvas_size", None)
        self._function = tf.function(
            signatures.images_function(model, check_size=False),
            input_signature=signatures.images_signature(),
        )

    def __call__(self, images):
        images = check_image_batch(np.asarray(images), canvas_size=self.canvas_size)
        return {name: value.numpy() for name, value in self._function(tf.constant(images)).items()}


class SavedModelRunner:
    """A SavedModel's `serving_default` signature (loaded with `tf.saved_model.load`).

    Args:
        path: str or path-like, a SavedModel version folder.

    Example:
    >>> outputs = SavedModelRunner("savedmodels/stn_icnn/1")(images)  # doctest: +SKIP
    """

    format = "saved_model"

    def __init__(self, path):
        self.path = Path(path)
        self._loaded = tf.saved_model.load(str(self.path))
        if "serving_default" not in self._loaded.signatures:
            raise ValueError(f"{self.path} has no serving_default signature")
        self._signature = self._loaded.signatures["serving_default"]

    def __call__(self, images):
        # The graph checks the size itself.
        images = check_image_batch(np.asarray(images))
        outputs = self._signature(**{signatures.IMAGES_INPUT: tf.constant(images)})
        return {name: value.numpy() for name, value in outputs.items()}


class LiteRTRunner:
    """A `.tflite` file run by the `ai-edge-litert` interpreter.

    Args:
        path: str or path-like, the file.
        canvas_size: int or None, the largest image side to accept (the
            graph itself does not check).
        num_threads: int or None, interpreter threads (None: LiteRT's default).

    Example:
    >>> outputs = LiteRTRunner("stn_icnn.tflite", canvas_size=1024)(images)  # doctest: +SKIP
    """

    format = "litert"

    def __init__(self, path, canvas_size=None, num_threads=None):
        # Deferred: ai_edge_litert is only needed to run LiteRT files.
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        self.canvas_size = canvas_size
        self.interpreter = Interpreter(model_path=str(self.path), num_threads=num_threads)
        self._runner = self.interpreter.get_signature_runner("serving_default")

    def op_names(self):
        """Names of the operators in the graph (all builtin, e.g. `"CONV_2D"`)."""
        return sorted({op["op_name"] for op in self.interpreter._get_ops_details()})

    def __call__(self, images):
        images = check_image_batch(np.asarray(images), canvas_size=self.canvas_size)
        return dict(self._runner(**{signatures.IMAGES_INPUT: images}))


class OnnxRunner:
    """An `.onnx` file run by an `onnxruntime` CPU session.

    Args:
        path: str or path-like, the file.
        canvas_size: int or None, the largest image side to accept (the
            graph itself does not check).
        num_threads: int or None, intra-op threads (None: onnxruntime's
            default).

    Example:
    >>> outputs = OnnxRunner("stn_icnn.onnx", canvas_size=1024)(images)  # doctest: +SKIP
    """

    format = "onnx"

    def __init__(self, path, canvas_size=None, num_threads=None):
        # Deferred: onnxruntime is only needed to run ONNX files.
        import onnxruntime

        self.path = Path(path)
        self.canvas_size = canvas_size
        options = onnxruntime.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = int(num_threads)
        self.session = onnxruntime.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        self._output_names = [output.name for output in self.session.get_outputs()]

    def __call__(self, images):
        images = check_image_batch(np.asarray(images), canvas_size=self.canvas_size)
        values = self.session.run(self._output_names, {signatures.IMAGES_INPUT: images})
        return dict(zip(self._output_names, values))


def open_export(path, canvas_size=None, num_threads=None):
    """The runner for an export: a SavedModel folder, a `.tflite` or an `.onnx` file.

    Args:
        path: str or path-like.
        canvas_size: int or None, for LiteRT and ONNX files (see their runners).
        num_threads: int or None, for LiteRT and ONNX files.

    Returns:
        A `SavedModelRunner`, `LiteRTRunner` or `OnnxRunner`.

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: `path` is none of these.

    Example:
    >>> runner = open_export("exports/stn_icnn.onnx", canvas_size=1024)  # doctest: +SKIP
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if path.is_dir() and (path / "saved_model.pb").is_file():
        return SavedModelRunner(path)
    if path.suffix == ".tflite":
        return LiteRTRunner(path, canvas_size, num_threads)
    if path.suffix == ".onnx":
        return OnnxRunner(path, canvas_size, num_threads)
    raise ValueError(
        f"{path} is not an export: expected a SavedModel folder (with saved_model.pb), a .tflite or an .onnx file"
    )
