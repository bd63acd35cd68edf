"""Presets: save_to_preset / from_preset round trips, lookup by name, checks of what is loaded, shipped presets."""

import importlib.util
import json
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_stn_icnn.choices import DEFAULT_PRESET
from keras_stn_icnn.data.synthetic import render_face
from keras_stn_icnn.inference import FaceParser
from keras_stn_icnn.labels import STN_ICNN_CLASS_NAMES, label_mapping
from keras_stn_icnn.metrics import confusion_matrix, f1_scores
from keras_stn_icnn.models import ICNNParser, STNiCNN, list_presets, load_preset
from keras_stn_icnn.models.loading import load_parser
from keras_stn_icnn.models.presets import METADATA_FILE, PRESETS_ENVIRONMENT_VARIABLE, WEIGHTS_FILE, preset_folders

REPOSITORY_PRESETS = Path(__file__).resolve().parents[1] / "savedmodels"
REQUIRED_METADATA = ("model_class", "class_names", "training_data", "recipe", "command", "scores", "package_version")
PRESET_BUDGET_BYTES = 150 * 1024 * 1024


@pytest.fixture(scope="module")
def model():
    """A small zoo parser: the preset machinery is the same for every zoo class (the shipped STN-iCNN is below)."""
    keras.utils.set_random_seed(3)
    return ICNNParser(STN_ICNN_CLASS_NAMES, input_size=64, filters=(4, 4, 4, 4), canvas_size=256)


@pytest.fixture(scope="module")
def saved(model, tmp_path_factory):
    return model.save_to_preset(tmp_path_factory.mktemp("presets") / "tiny", metadata={"training_data": "none"})


@pytest.fixture()
def preset_copy(saved, tmp_path):
    """A copy of the saved preset a test may break."""
    return Path(shutil.copytree(saved, tmp_path / "copy"))


def face(seed=11, side=256):
    image = render_face(seed)[0]
    return image[:side, :side]


def test_round_trip_keeps_the_labels_and_writes_a_servable_savedmodel(model, saved):
    assert sorted(p.name for p in saved.iterdir()) == ["1", "config.json", METADATA_FILE, WEIGHTS_FILE]
    metadata = json.loads((saved / METADATA_FILE).read_text())
    assert metadata["model_class"] == "ICNNParser"
    assert metadata["class_names"] == list(STN_ICNN_CLASS_NAMES)
    assert metadata["training_data"] == "none"
    assert len(metadata["weights_sha256"]) == 64
    image = face()
    expected = model.parse(image)
    loaded = ICNNParser.from_preset(saved)
    assert (loaded.parse(image) == expected).all()
    batch = image[np.newaxis].astype(np.float32)
    np.testing.assert_array_equal(loaded(batch)["probabilities"], model(batch)["probabilities"])  # the same weights
    served = load_parser(saved / "1")
    assert served.kind == "saved_model"
    assert (served(image) == expected).all()


def test_a_preset_is_found_by_name_in_the_environments_folders(saved, monkeypatch):
    monkeypatch.setenv(PRESETS_ENVIRONMENT_VARIABLE, str(saved.parent))
    assert preset_folders()[0] == saved.parent
    assert list_presets()["tiny"]["model_class"] == "ICNNParser"
    loaded = load_parser("tiny")
    assert loaded.kind == "preset"
    assert loaded.zoo_name == "icnn"


def test_another_class_and_an_unknown_name_are_refused(saved):
    with pytest.raises(TypeError, match="holds a model of class ICNNParser, not STNiCNN"):
        STNiCNN.from_preset(saved)
    with pytest.raises(FileNotFoundError, match="no preset 'no_such_preset'"):
        load_preset("no_such_preset")


def test_missing_and_corrupt_files_are_named(preset_copy):
    weights = preset_copy / WEIGHTS_FILE
    original = weights.read_bytes()
    weights.write_bytes(original[:-100] + bytes(100))
    with pytest.raises(ValueError, match=f"corrupt preset weights {weights}: SHA-256"):
        load_preset(preset_copy)
    metadata = json.loads((preset_copy / METADATA_FILE).read_text())
    del metadata["weights_sha256"]  # without the checksum, the weights file itself must still be checked
    (preset_copy / METADATA_FILE).write_text(json.dumps(metadata))
    weights.write_bytes(original[:1000])
    with pytest.raises(ValueError, match=f"corrupt preset weights {weights}"):
        load_preset(preset_copy)
    config = preset_copy / "config.json"
    config.write_text(json.dumps({"class_name": "NoSuchModel", "config": {}}))
    with pytest.raises(ValueError, match=f"corrupt preset config {config}"):
        load_preset(preset_copy)
    weights.unlink()
    with pytest.raises(FileNotFoundError, match=f"missing its {WEIGHTS_FILE}"):
        load_preset(preset_copy)
    (preset_copy / METADATA_FILE).write_text("{not json")
    with pytest.raises(ValueError, match=f"corrupt preset metadata {preset_copy / METADATA_FILE}"):
        load_preset(preset_copy)


def test_an_existing_preset_is_replaced_only_when_asked_and_other_folders_never(model, preset_copy, tmp_path):
    with pytest.raises(FileExistsError, match="pass overwrite=True"):
        model.save_to_preset(preset_copy)
    model.save_to_preset(preset_copy, metadata={"training_data": "again"}, overwrite=True)
    assert json.loads((preset_copy / METADATA_FILE).read_text())["training_data"] == "again"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".partial")]
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="is not a preset"):
        model.save_to_preset(precious, overwrite=True)
    assert (precious / "notes.txt").read_text() == "mine"


# The presets the repository ships ------------------------------------------------------------


def shipped_presets():
    return sorted(p.name for p in REPOSITORY_PRESETS.iterdir() if (p / METADATA_FILE).is_file())


def test_the_default_preset_ships_and_every_preset_says_what_it_is():
    assert DEFAULT_PRESET in shipped_presets()
    total = sum(f.stat().st_size for f in REPOSITORY_PRESETS.rglob("*") if f.is_file())
    assert total <= PRESET_BUDGET_BYTES, f"savedmodels/ holds {total / 2**20:.1f} MB, over the 150 MB budget"
    for name in shipped_presets():
        metadata = json.loads((REPOSITORY_PRESETS / name / METADATA_FILE).read_text())
        assert [key for key in REQUIRED_METADATA if key not in metadata] == [], name
        assert (REPOSITORY_PRESETS / name / "1" / "saved_model.pb").is_file(), name


def test_the_default_preset_parses_unseen_synthetic_faces_out_of_the_box():
    """`FaceParser()` with no model: the default preset, found with no network, labels faces it never saw."""
    face_parser = FaceParser(detector=None)
    assert face_parser.parser.kind == "preset"
    to_stn_icnn = label_mapping("helen", "stn_icnn")
    confusion = np.zeros((9, 9), np.int64)
    for seed in (424242, 424243, 424244, 424245):
        image, label = render_face(seed)
        confusion += confusion_matrix(to_stn_icnn[label], face_parser(image, detect=False).labels, 9)
    assert f1_scores(confusion)["overall"] > 0.8


def test_the_package_data_installs_every_shipped_preset_file():
    """`pip install` copies each preset file (setup.py's data_files) into the folder `preset_folders()` ends with."""
    spec = importlib.util.spec_from_file_location("setup_script", REPOSITORY_PRESETS.parent / "setup.py")
    setup_script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(setup_script)  # setup() itself runs only as __main__
    installed = {
        Path(target) / Path(source).name for target, sources in setup_script.preset_data_files() for source in sources
    }
    share = Path("share") / "keras_stn_icnn" / "presets"
    assert preset_folders()[-1].parts[-3:] == share.parts
    for name in shipped_presets():
        preset_files = [f for f in (REPOSITORY_PRESETS / name).rglob("*") if f.is_file()]
        files = {share / f.relative_to(REPOSITORY_PRESETS) for f in preset_files}
        assert files and files <= installed, name
