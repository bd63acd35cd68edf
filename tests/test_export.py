"""Exports: `keras-stn-icnn export` to SavedModel, LiteRT and ONNX, each run in its own runtime.

The exports are made once per session from the authors'-format reference
checkpoint, by the command line (conftest.py's `cli_exports`), and then checked independently of the
exporter's own validation: the SavedModel with `saved_model_cli run` (the
session loader TF Serving uses), LiteRT with the `ai-edge-litert`
interpreter, ONNX with onnxruntime, on a real photograph.
"""

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from PIL import Image

from keras_stn_icnn import cli
from keras_stn_icnn.export import (
    ExportValidationError,
    KerasRunner,
    LiteRTRunner,
    OnnxRunner,
    export_model,
    validation,
    write_models_config,
)
from keras_stn_icnn.export.serving_config import GENERATED_MARKER
from keras_stn_icnn.export.signatures import PADDING_LABEL

FACES_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "faces"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def photo():
    path = FACES_DIR / "grace_hopper.jpg"
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.fixture(scope="module")
def exports(cli_exports):
    return cli_exports


@pytest.fixture(scope="module")
def keras_outputs(converted_model, photo):
    return KerasRunner(converted_model)(photo[np.newaxis])


def _agreement(actual, expected):
    assert actual.shape == expected.shape
    return float(np.mean(actual == expected))


def test_export_command_writes_every_format_and_prints_its_parity(exports):
    out, status, printed = exports
    assert status == 0, printed
    expected = {
        "saved_model": out / "stn_icnn" / "1",
        "tflite": out / "stn_icnn.tflite",
        "tflite_dynamic_range": out / "stn_icnn_dynamic_range.tflite",
        "tflite_float16": out / "stn_icnn_float16.tflite",
        "onnx": out / "stn_icnn.onnx",
    }
    for kind, path in expected.items():
        assert path.exists(), kind
        row = next(line for line in printed.splitlines() if line.startswith(kind + " "))
        agreement = float(row.split("%")[0].split()[-1]) / 100
        assert agreement >= validation.MIN_LABEL_AGREEMENT[kind], row
    assert "all 5 exports agree" in printed
    # Nothing half-written is left behind.
    assert not [p for p in out.rglob("*") if p.name.startswith(".partial")]


def _saved_model_cli(saved_model, signature, inputs_npy, outdir):
    command = [
        str(Path(sys.executable).with_name("saved_model_cli")),
        "run",
        "--dir",
        str(saved_model),
        "--tag_set",
        "serve",
        "--signature_def",
        signature,
        "--inputs",
        inputs_npy,
        "--outdir",
        str(outdir),
        "--overwrite",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return {path.stem: np.load(path) for path in Path(outdir).glob("*.npy")}


def test_session_loader_serves_uint8_images_like_keras(exports, photo, keras_outputs, tmp_path):
    out, _, _ = exports
    np.save(tmp_path / "images.npy", photo[np.newaxis])
    outputs = _saved_model_cli(
        out / "stn_icnn" / "1", "serving_default", f"images={tmp_path / 'images.npy'}", tmp_path / "out"
    )
    assert outputs["labels"].dtype == np.uint8
    assert _agreement(outputs["labels"], keras_outputs["labels"]) >= 0.999
    np.testing.assert_allclose(outputs["probabilities"], keras_outputs["probabilities"], atol=1e-5)


def test_session_loader_serves_encoded_photos_of_different_sizes(exports, photo, converted_model, tmp_path):
    out, _, _ = exports
    small = photo[100:400, 50:450]
    files = []
    for image in (photo, small):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG")  # lossless: decoding gives the same pixels
        files.append(buffer.getvalue())
    np.save(tmp_path / "encoded.npy", np.array(files, dtype=object), allow_pickle=True)
    outputs = _saved_model_cli(
        out / "stn_icnn" / "1", "serve_bytes", f"encoded={tmp_path / 'encoded.npy'}", tmp_path / "out"
    )
    np.testing.assert_array_equal(outputs["image_size"], [[600, 512], [300, 400]])
    assert outputs["labels"].shape == (2, 600, 512)
    runner = KerasRunner(converted_model)
    for index, image in enumerate((photo, small)):
        height, width = image.shape[:2]
        expected = runner(image[np.newaxis])["labels"][0]
        assert _agreement(outputs["labels"][index, :height, :width], expected) >= 0.999
    assert np.all(outputs["labels"][1, 300:, :] == PADDING_LABEL)
    assert np.all(outputs["labels"][1, :, 400:] == PADDING_LABEL)
    assert np.all(outputs["probabilities"][1, 300:] == 0)


def test_litert_files_use_builtin_ops_only_and_match_keras(exports, photo, keras_outputs):
    out, _, _ = exports
    figures = {}
    for name, bar in (("stn_icnn", 0.999), ("stn_icnn_dynamic_range", 0.95), ("stn_icnn_float16", 0.95)):
        runner = LiteRTRunner(out / f"{name}.tflite", canvas_size=1024, num_threads=2)
        ops = runner.op_names()
        assert not [op for op in ops if op.startswith("Flex") or op == "CUSTOM"], ops
        labels = runner(photo[np.newaxis])["labels"]
        figures[name] = _agreement(labels, keras_outputs["labels"])
        assert figures[name] >= bar, (name, figures[name])
    print("LiteRT label agreement on the photo:", figures)


def test_onnx_graph_matches_keras(exports, photo, keras_outputs):
    import onnx

    out, _, _ = exports
    graph = onnx.load(str(out / "stn_icnn.onnx"))
    assert [i.name for i in graph.graph.input] == ["images"]
    assert {node.domain for node in graph.graph.node} <= {""}  # standard ONNX ops only
    outputs = OnnxRunner(out / "stn_icnn.onnx", canvas_size=1024, num_threads=2)(photo[np.newaxis])
    assert _agreement(outputs["labels"], keras_outputs["labels"]) >= 0.999
    np.testing.assert_allclose(outputs["probabilities"], keras_outputs["probabilities"], atol=1e-4)


def test_images_larger_than_the_canvas_are_refused_by_every_runtime(exports):
    out, _, _ = exports
    too_tall = np.zeros((1, 1100, 40, 3), np.uint8)
    signature = tf.saved_model.load(str(out / "stn_icnn" / "1")).signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="1024x1024 canvas"):
        signature(images=tf.constant(too_tall))
    for runner in (
        LiteRTRunner(out / "stn_icnn.tflite", canvas_size=1024),
        OnnxRunner(out / "stn_icnn.onnx", canvas_size=1024),
    ):
        with pytest.raises(ValueError, match="1100x40 is larger than the model's 1024x1024 canvas"):
            runner(too_tall)
    with pytest.raises(tf.errors.InvalidArgumentError, match="empty"):
        signature(images=tf.zeros([1, 0, 10, 3], tf.uint8))


def test_models_config_is_a_valid_tf_serving_config(exports):
    from tensorflow_serving.config import model_server_config_pb2

    out, _, _ = exports
    for path, names in ((out / "models.config", ["stn_icnn"]), (REPO / "savedmodels" / "models.config", None)):
        config = text_format.Parse(path.read_text(), model_server_config_pb2.ModelServerConfig())
        listed = [c.name for c in config.model_config_list.config]
        assert listed == (names or listed) and listed, path
        for entry in config.model_config_list.config:
            assert entry.base_path == f"/models/{entry.name}" and entry.model_platform == "tensorflow"
    # The repository's config (the loop's last) lists what the main job exports there, and the shipped preset.
    assert {"stn_icnn", "stn_icnn_synthetic"} <= set(listed)


def test_a_users_own_models_config_is_left_alone(tmp_path):
    (tmp_path / "stn_icnn" / "3").mkdir(parents=True)
    written = write_models_config(tmp_path)
    assert written.read_text().startswith(GENERATED_MARKER) and '"stn_icnn"' in written.read_text()
    mine = 'model_config_list { config { name: "mine" base_path: "/srv/mine" model_platform: "tensorflow" } }\n'
    written.write_text(mine)
    assert write_models_config(tmp_path) is None
    assert written.read_text() == mine


def test_export_refuses_what_it_cannot_do_with_a_clear_error(exports, tmp_path, capsys):
    out, _, _ = exports
    # Existing files are not replaced without --overwrite (and nothing is written).
    before = sorted(p.name for p in out.iterdir())
    assert cli.main(["export", "unused.keras", "--format", "onnx", "--out", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == before
    # A SavedModel is not a source to export from.
    assert cli.main(["export", str(out / "stn_icnn" / "1"), "--format", "onnx", "--out", str(tmp_path)]) == 2
    assert "export converts a .keras file" in capsys.readouterr().err
    # A .keras file that is not a parser.
    import keras

    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    plain.save(tmp_path / "plain.keras")
    assert cli.main(["export", str(tmp_path / "plain.keras"), "--out", str(tmp_path)]) == 2
    assert "no parse() method" in capsys.readouterr().err


def test_existing_files_need_overwrite_and_a_failed_check_leaves_nothing(
    tmp_path, monkeypatch, exports, converted_model
):
    model = converted_model
    images = [np.full((1, 96, 80, 3), 90, np.uint8)]
    # The conversion is the session's: this model converted by the export command (tf2onnx takes
    # ~40 s). Each export below still writes, checks in onnxruntime and renames (or refuses) its file.
    import onnx

    from keras_stn_icnn.export import onnx as onnx_export

    out, _, _ = exports
    monkeypatch.setattr(onnx_export, "onnx_model", lambda m, opset: onnx.load(str(out / "stn_icnn.onnx")))
    (tmp_path / "tiny.onnx").write_bytes(b"the user's file")
    with pytest.raises(FileExistsError, match="tiny.onnx"):
        export_model(model, tmp_path, ["onnx"], name="tiny", images=images)
    # An export that fails its check is not put in place, and the old file stays.
    with monkeypatch.context() as strict:
        strict.setitem(validation.MIN_LABEL_AGREEMENT, "onnx", 1.01)
        with pytest.raises(ExportValidationError, match="disagrees with the Keras model"):
            export_model(model, tmp_path, ["onnx"], name="tiny", images=images, overwrite=True)
    assert (tmp_path / "tiny.onnx").read_bytes() == b"the user's file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.onnx"]
    # With the normal bar it passes and replaces the file.
    [result] = export_model(model, tmp_path, ["onnx"], name="tiny", images=images, overwrite=True)
    assert result.parity.label_agreement >= 0.999 and result.size_bytes > 1000
