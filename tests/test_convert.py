"""Weight mapping from the authors' state dicts: layouts, unused layers, errors."""

import numpy as np
import pytest

from keras_stn_icnn import ICNN, STNiCNN
from keras_stn_icnn.convert import (
    WeightMappingError,
    load_icnn_state_dict,
    load_stn_icnn_checkpoint,
    read_pytorch_checkpoint,
)


@pytest.fixture(scope="module")
def checkpoint(reference_checkpoint_path):
    return read_pytorch_checkpoint(reference_checkpoint_path)


def test_every_weight_is_loaded_from_the_checkpoint(converted_model, checkpoint):
    assert converted_model.loaded_parts == ("stage1", "localizer", "part_models")
    stage1 = converted_model.get_layer("stage1")
    np.testing.assert_array_equal(
        stage1.get_layer("input_conv_0").kernel,
        np.transpose(checkpoint["model1"]["input_conv.0.weight"], (2, 3, 1, 0)),
    )
    fc = converted_model.get_layer("localizer").get_layer("fc")
    np.testing.assert_array_equal(fc.kernel, checkpoint["select_net"]["model_res.fc.weight"].T)
    norm = converted_model.get_layer("mouth_model").get_layer("head_norm_1")
    np.testing.assert_array_equal(norm.moving_variance, checkpoint["model2"]["model.3.last_con1_bnm.running_var"])


def test_stage1_only_checkpoint_with_wrapper_prefixes(checkpoint):
    """The authors' stage-1 files use key `model`; DataParallel adds `module.`."""
    state = {f"module.{key}": value for key, value in checkpoint["model1"].items()}
    model = STNiCNN(localizer="fcn")
    assert load_stn_icnn_checkpoint(model, {"model": state, "epoch": 3}) == ("stage1",)
    np.testing.assert_array_equal(
        model.get_layer("stage1").get_layer("head_conv_3").bias,
        checkpoint["model1"]["last_conv3.bias"],
    )


def test_shape_mismatch_names_the_key(checkpoint):
    state = dict(checkpoint["model2"])
    prefix = "model.3."
    part = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    with pytest.raises(WeightMappingError, match=r"key 'last_conv1.weight' of shape \(16, 8, 5, 5\)"):
        load_icnn_state_dict(ICNN(2), part)  # a mouth (4-class) model into a 2-class ICNN


def test_missing_and_unexpected_keys_are_errors(checkpoint):
    state = dict(checkpoint["model1"])
    del state["input_bnm.2.running_var"]
    with pytest.raises(WeightMappingError, match="'input_bnm.2.running_var' is missing"):
        load_icnn_state_dict(ICNN(9), state)
    state = dict(checkpoint["model1"], **{"extra_head.weight": np.zeros(3, np.float32)})
    with pytest.raises(WeightMappingError, match="extra_head.weight"):
        load_icnn_state_dict(ICNN(9), state)


def test_checkpoint_without_known_parts_is_refused():
    with pytest.raises(WeightMappingError, match="holds none of"):
        load_stn_icnn_checkpoint(STNiCNN(localizer="fcn"), {"state_dict": {}})


def test_resnet_weights_do_not_fit_the_fcn_localizer(checkpoint):
    with pytest.raises(WeightMappingError, match="localize_net"):
        load_stn_icnn_checkpoint(STNiCNN(localizer="fcn"), {"select_net": checkpoint["select_net"]})


def test_vgg9_has_no_released_weights(checkpoint):
    with pytest.raises(WeightMappingError, match="released no weights for a VGG9Localizer"):
        load_stn_icnn_checkpoint(STNiCNN(localizer="vgg9"), {"select_net": checkpoint["select_net"]})
