"""Overlays and contact sheets."""

import numpy as np
import pytest

from keras_stn_icnn.labels import STN_ICNN_PALETTE
from keras_stn_icnn.visualize import colorize, contact_sheet, overlay


def test_overlay_blends_foreground_and_keeps_background():
    image = np.full((2, 3, 3), 100, np.uint8)
    labels = np.array([[0, 1, 5], [0, 0, 8]])
    out = overlay(image, labels, alpha=0.5)
    np.testing.assert_array_equal(out[labels == 0], image[labels == 0])
    expected = np.round(0.5 * 100 + 0.5 * np.asarray(STN_ICNN_PALETTE[5], float))
    np.testing.assert_array_equal(out[0, 2], expected)
    np.testing.assert_array_equal(colorize(labels)[1, 2], STN_ICNN_PALETTE[8])


def test_overlay_rejects_bad_input():
    with pytest.raises(ValueError, match="do not match"):
        overlay(np.zeros((2, 2, 3), np.uint8), np.zeros((3, 2), int))
    with pytest.raises(ValueError, match="outside 0-8"):
        overlay(np.zeros((2, 2, 3), np.uint8), np.full((2, 2), 9))
    with pytest.raises(ValueError, match="uint8"):
        overlay(np.zeros((2, 2, 3), np.float32), np.zeros((2, 2), int))


def test_contact_sheet_places_each_pair_in_its_cell():
    images = [np.full((40, 80, 3), value, np.uint8) for value in (10, 20, 30)]
    labels = [np.ones((40, 80), int)] * 3
    sheet = contact_sheet(images, labels, columns=2, cell_size=20)
    assert sheet.shape == (40, 80, 3)
    assert (sheet[10, 10] == 10).all() and (sheet[30, 10] == 30).all()  # the third image starts row two
    assert (sheet[30, 50] == 255).all()  # empty cell stays white
    with pytest.raises(ValueError, match="as many label maps"):
        contact_sheet(images, labels[:2])
