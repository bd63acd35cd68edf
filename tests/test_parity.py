"""Numerical parity with the authors' PyTorch STN-iCNN (../shared/parity).

Every stage is fed the reference's own input, so an error cannot hide behind
an earlier one; the end-to-end test then runs the whole model on the photos.
Tolerances are those of the fixture's README.
"""

import numpy as np
import pytest
import tensorflow as tf
from conftest import nhwc, relative_error

from keras_stn_icnn.convert import load_localizer_state_dict, read_pytorch_checkpoint
from keras_stn_icnn.labels import STN_ICNN_PART_NAMES
from keras_stn_icnn.models import FCNLocalizer


def test_stage1_logits(converted_model, pipeline_reference):
    logits = converted_model.get_layer("stage1")(nhwc(pipeline_reference["stage1_input"]), training=False)
    assert relative_error(logits, nhwc(pipeline_reference["stage1_logits"])) <= 1e-4


def test_resnet18_theta(converted_model, pipeline_reference):
    mask = tf.nn.softmax(nhwc(pipeline_reference["stage1_logits"]))
    theta = converted_model.get_layer("localizer")(mask, training=False)
    assert relative_error(theta, pipeline_reference["theta"]) <= 1e-4


def test_fcn_theta(custom_localizer_checkpoint_path, pipeline_reference):
    localizer = FCNLocalizer()
    state = read_pytorch_checkpoint(custom_localizer_checkpoint_path)["select_net"]
    load_localizer_state_dict(localizer, state)
    mask = tf.nn.softmax(nhwc(pipeline_reference["stage1_logits"]))
    theta = localizer(mask, training=False)
    assert relative_error(theta, pipeline_reference["theta_custom_localizer"]) <= 1e-4


@pytest.mark.parametrize("index", [0, 1, 2])
def test_crops_from_the_canvas(converted_model, pipeline_reference, index):
    image = pipeline_reference[f"image_{index}"].astype(np.float32) / 255.0
    theta = pipeline_reference["theta"][index : index + 1]
    crops = converted_model.get_layer("crop")(image[None], theta)[0]
    expected = nhwc(pipeline_reference["parts"][index])
    assert relative_error(crops, expected) <= 1e-4


def _part_logits(model, parts):
    """Runs the part models on the reference crops as the reference wires them."""
    crops = nhwc(parts)  # [B, 6, 81, 81, 3]
    models = {
        "eyebrow1": ("eyebrow_model", False),
        "eyebrow2": ("eyebrow_model", True),
        "eye1": ("eye_model", False),
        "eye2": ("eye_model", True),
        "nose": ("nose_model", False),
        "mouth": ("mouth_model", False),
    }
    logits = {}
    for index, part in enumerate(STN_ICNN_PART_NAMES):
        name, mirrored = models[part]
        crop = crops[:, index]
        if mirrored:
            logits[part] = np.flip(model.get_layer(name)(np.flip(crop, 2), training=False), 2)
        else:
            logits[part] = model.get_layer(name)(crop, training=False).numpy()
    return logits


def test_part_logits(converted_model, pipeline_reference):
    logits = _part_logits(converted_model, pipeline_reference["parts"])
    for part in STN_ICNN_PART_NAMES:
        expected = nhwc(pipeline_reference[f"stage2_logits_{part}"])
        assert relative_error(logits[part], expected) <= 1e-4, part


@pytest.mark.parametrize("index", [0, 1, 2])
def test_assembled_probabilities_at_reference_pixels(converted_model, pipeline_reference, index):
    """Paste-back + assembly from the reference's own part logits and theta."""
    image = pipeline_reference[f"image_{index}"]
    probabilities = [
        tf.nn.softmax(nhwc(pipeline_reference[f"stage2_logits_{part}"][index : index + 1]))
        for part in STN_ICNN_PART_NAMES
    ]
    theta = pipeline_reference["theta"][index : index + 1]
    assembled = converted_model.get_layer("assembly")(probabilities, theta, image[None])[0]
    left, top = pipeline_reference["canvas_padding"][index][:2]
    coords = pipeline_reference["final_prob_coords"] - [top, left]
    inside = (
        (coords[:, 0] >= 0) & (coords[:, 0] < image.shape[0]) & (coords[:, 1] >= 0) & (coords[:, 1] < image.shape[1])
    )
    assert inside.sum() > 2000
    ours = tf.gather_nd(assembled, coords[inside]).numpy()
    expected = pipeline_reference["final_prob_at_coords"][index].T[inside]
    assert relative_error(ours, expected) <= 1e-4


@pytest.mark.parametrize("index", [0, 1, 2])
def test_end_to_end_on_the_photographs(converted_model, pipeline_reference, index):
    image = pipeline_reference[f"image_{index}"]
    outputs = converted_model(image[None].astype(np.float32), training=False)
    height, width = image.shape[:2]
    left, top = pipeline_reference["canvas_padding"][index][:2]
    expected_labels = pipeline_reference["final_labels"][index][top : top + height, left : left + width]
    agreement = np.mean(outputs["labels"][0].numpy() == expected_labels)
    assert agreement >= 0.999
    assert len(np.unique(expected_labels)) >= 5  # the comparison covers several parts
    assert relative_error(outputs["stage1_logits"][0], nhwc(pipeline_reference["stage1_logits"][index])) <= 1e-4
    assert relative_error(outputs["theta"][0], pipeline_reference["theta"][index]) <= 1e-4
    for part in STN_ICNN_PART_NAMES:
        expected = nhwc(pipeline_reference[f"stage2_logits_{part}"][index])
        assert relative_error(outputs["part_logits"][part][0], expected) <= 1e-4, part
    labels = converted_model.parse(image)
    assert labels.dtype == np.uint8 and labels.shape == (height, width)
    assert np.mean(labels == expected_labels) >= 0.999
