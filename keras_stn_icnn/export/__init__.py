"""Exports of trained parsers: SavedModels for TF Serving, LiteRT and ONNX, each checked.

- `export_model`: every format at once, each validated against the Keras
  model before it is put in place (`keras-stn-icnn export` runs it).
- `export_saved_model`, `export_litert`, `export_onnx`: one format.
- `open_export`: run an export in its runtime (SavedModel, LiteRT, ONNX
  Runtime), with the Keras model's calling convention.
"""

from keras_stn_icnn.choices import FORMATS
from keras_stn_icnn.export.exporter import ExportResult, export_model, format_results
from keras_stn_icnn.export.litert import QUANTIZATIONS, LiteRTConverter, export_litert, litert_model
from keras_stn_icnn.export.onnx import export_onnx, onnx_model
from keras_stn_icnn.export.runtimes import (
    KerasRunner,
    LiteRTRunner,
    OnnxRunner,
    SavedModelRunner,
    open_export,
)
from keras_stn_icnn.export.saved_model import export_saved_model, next_version, serving_archive
from keras_stn_icnn.export.serving_config import write_models_config
from keras_stn_icnn.export.validation import (
    ExportValidationError,
    ParityReport,
    compare_runners,
    reference_outputs,
    validation_images,
)

__all__ = [
    "FORMATS",
    "QUANTIZATIONS",
    "ExportResult",
    "ExportValidationError",
    "KerasRunner",
    "LiteRTConverter",
    "LiteRTRunner",
    "OnnxRunner",
    "ParityReport",
    "SavedModelRunner",
    "compare_runners",
    "export_litert",
    "export_model",
    "export_onnx",
    "export_saved_model",
    "format_results",
    "litert_model",
    "next_version",
    "onnx_model",
    "open_export",
    "reference_outputs",
    "serving_archive",
    "validation_images",
    "write_models_config",
]
