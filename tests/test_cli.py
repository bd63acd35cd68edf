"""The keras-stn-icnn command line."""

import numpy as np
from PIL import Image

from keras_stn_icnn.cli import main


def test_synthesize_writes_the_set_and_a_contact_sheet(tmp_path, capsys):
    sheet = tmp_path / "sheet.png"
    status = main(["synthesize", str(tmp_path / "set"), "--num-train", "2", "--num-val", "1", "--num-test", "1",
                   "--contact-sheet", str(sheet), "--sheet-columns", "2", "--sheet-count", "2"])
    assert status == 0
    assert len(list((tmp_path / "set" / "images").glob("*.jpg"))) == 4
    picture = np.asarray(Image.open(sheet))
    assert picture.shape == (192, 2 * 2 * 192, 3)
    assert picture.std() > 10  # faces, not a blank page
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary leftovers


def test_synthesize_refuses_a_foreign_folder(tmp_path, capsys):
    (tmp_path / "mine.txt").write_text("keep me")
    status = main(["synthesize", str(tmp_path), "--num-train", "1"])
    assert status == 2
    assert "not empty" in capsys.readouterr().err
    assert (tmp_path / "mine.txt").read_text() == "keep me"
