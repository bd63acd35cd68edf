"""Exports of trained parsers: SavedModels for TF Serving."""

from keras_stn_icnn.export.saved_model import export_saved_model, next_version, serving_archive

__all__ = ["export_saved_model", "next_version", "serving_archive"]
