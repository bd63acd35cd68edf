"""The docstring examples of the modules that need no data files run and give what they show."""

import doctest
import importlib

import keras
import numpy as np
import pytest
import tensorflow as tf

MODULES = [
    "keras_stn_icnn.labels",
    "keras_stn_icnn.choices",
    "keras_stn_icnn.ops.affine",
    "keras_stn_icnn.ops.centroids",
    "keras_stn_icnn.visualize",
    "keras_stn_icnn.data.augment",
    "keras_stn_icnn.data.stn_icnn_inputs",
    "keras_stn_icnn.data.files",
    "keras_stn_icnn.data.lfw_pl",
    "keras_stn_icnn.data.reader",
    "keras_stn_icnn.metrics",
    "keras_stn_icnn.evaluation",
    "keras_stn_icnn.layers.centroid_theta",
    "keras_stn_icnn.data.pipeline",
    "keras_stn_icnn.train.recipes",
    "keras_stn_icnn.train.optimizers",
    "keras_stn_icnn.train.priors",
    "keras_stn_icnn.models.stn_icnn.centroid_localizer",
    "keras_stn_icnn.train.strategy",
    "keras_stn_icnn.train.callbacks",
    "keras_stn_icnn.train.custom_loop",
    "keras_stn_icnn.export.saved_model",
    "keras_stn_icnn.export.serving_config",
    "keras_stn_icnn.export.validation",
    "keras_stn_icnn.layers.label_map",
    "keras_stn_icnn.inference.detection",
    "keras_stn_icnn.inference.framing",
    "keras_stn_icnn.inference.media",
    "keras_stn_icnn.inference.runner",
    "keras_stn_icnn.benchmarking.timing",
    "keras_stn_icnn.benchmarking.machine",
    "keras_stn_icnn.benchmarking.flops",
    "keras_stn_icnn.benchmarking.training_speed",
    "keras_stn_icnn.cli",
    "keras_stn_icnn.models.dense_parsing",
    "keras_stn_icnn.models.zoo",
    "keras_stn_icnn.train.dense_trainer",
    "keras_stn_icnn.ops.label_boundaries",
    "keras_stn_icnn.ops.adaptive_prior",
    "keras_stn_icnn.ops.spatial_rnn",
    "keras_stn_icnn.losses.boundary_attention",
    "keras_stn_icnn.losses.rnn_g",
    "keras_stn_icnn.layers.max_unpooling",
    "keras_stn_icnn.layers.red_net_units",
    "keras_stn_icnn.layers.adaptive_prior",
    "keras_stn_icnn.layers.spatial_rnn",
    "keras_stn_icnn.models.bass.pyramid_pooling",
    "keras_stn_icnn.models.icnn.icnn_parser",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    results = doctest.testmod(module, extraglobs={"np": np, "tf": tf, "keras": keras}, optionflags=doctest.ELLIPSIS)
    assert results.attempted > 0
    assert results.failed == 0
