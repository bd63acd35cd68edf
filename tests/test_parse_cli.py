"""`keras-stn-icnn parse`: photos, folders and videos in, label PNGs, overlays and JSON out."""

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from scenes import detectable_faces, scene

from keras_stn_icnn.choices import DEFAULT_PRESET
from keras_stn_icnn.cli import main
from keras_stn_icnn.data.synthetic import render_face
from keras_stn_icnn.export.validation import MIN_LABEL_AGREEMENT
from keras_stn_icnn.inference import (
    FaceParser,
    InputItem,
    UnreadableInputError,
    collect_inputs,
    parse_inputs,
    read_photo,
    read_video,
)

FACES_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "faces"


def _files(root):
    return {p.relative_to(root) for p in Path(root).rglob("*") if p.is_file()}


def _write_video(path, frames, fps=10):
    height, width = frames[0].shape[:2]
    video = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    for frame in frames:
        video.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    video.release()


@pytest.fixture(scope="module")
def one_face_scene():
    from keras_stn_icnn.inference import MTCNNDetector

    faces = detectable_faces(MTCNNDetector())
    return scene({1: faces[1]})[0]


def test_parse_writes_every_output_inside_outdir_and_skips_what_it_cannot_read(
    tmp_path, capsys, reference_checkpoint_path, one_face_scene
):
    astronaut = FACES_DIR / "astronaut.png"
    if not astronaut.exists():
        pytest.skip(f"{astronaut} is not available")
    photos = tmp_path / "inputs" / "photos"
    (photos / "nested").mkdir(parents=True)
    shutil.copy(astronaut, photos / "astronaut.png")
    Image.fromarray(one_face_scene).save(photos / "nested" / "scene.jpg", quality=95)
    (photos / "broken.jpg").write_bytes(b"this is not a JPEG")
    (photos / "notes.txt").write_text("not a picture: ignored")
    clip = tmp_path / "inputs" / "clip.avi"
    _write_video(clip, [one_face_scene] * 4)
    before = _files(tmp_path)
    out = tmp_path / "out"

    status = main(
        [
            "parse",
            str(photos),
            str(clip),
            "-o",
            str(out),
            "--model",
            str(reference_checkpoint_path),
            "--json",
            "--figure",
            "--every",
            "2",
            "--no-progress",
        ]
    )
    captured = capsys.readouterr()

    assert status == 1  # one input was skipped
    assert "broken.jpg" in captured.err and "cannot read" in captured.err
    assert "2 photos and 2 video frames parsed, 4 faces, 1 inputs skipped" in captured.out
    assert {p for p in _files(tmp_path) if p.parts[0] != "out"} == before  # nothing written elsewhere
    assert _files(out) == {
        Path(name)
        for name in (
            "photos/astronaut.labels.png",
            "photos/astronaut.overlay.png",
            "photos/astronaut.figure.png",
            "photos/astronaut.json",
            "photos/nested/scene.labels.png",
            "photos/nested/scene.overlay.png",
            "photos/nested/scene.figure.png",
            "photos/nested/scene.json",
            "clip/frame_000000.labels.png",
            "clip/frame_000002.labels.png",
            "clip.overlay.mp4",
            "clip.json",
        )
    }

    photo = read_photo(astronaut)
    labels = np.asarray(Image.open(out / "photos/astronaut.labels.png"))
    assert labels.shape == photo.shape[:2] and labels.dtype == np.uint8 and labels.max() <= 8
    assert read_photo(out / "photos/astronaut.overlay.png").shape == photo.shape
    assert read_photo(out / "photos/astronaut.figure.png").shape == (512, 3 * 512 + 16, 3)
    record = json.loads((out / "photos/astronaut.json").read_text())
    assert record["height"] == 512 and record["width"] == 512 and len(record["faces"]) == 1
    face = record["faces"][0]
    assert face["confidence"] > 0.95 and len(face["box"]) == 4 and len(face["crop"]) == 3
    assert sum(face["pixel_counts"].values()) == int((labels > 0).sum())
    assert list(face["pixel_counts"]) == record["class_names"][1:]

    video = json.loads((out / "clip.json").read_text())
    assert [frame["frame"] for frame in video["frames"]] == [0, 2]
    assert all(len(frame["faces"]) == 1 for frame in video["frames"])
    frames = list(read_video(out / "clip.overlay.mp4"))
    assert len(frames) == 2 and frames[0][1].shape == one_face_scene.shape


def test_parse_without_detection_takes_each_picture_as_one_face(tmp_path, capsys, reference_checkpoint_path):
    from keras_stn_icnn.data.synthetic import render_face

    face = render_face(7)[0]
    Image.fromarray(face).save(tmp_path / "face.png")
    status = main(
        [
            "parse",
            str(tmp_path / "face.png"),
            "-o",
            str(tmp_path / "out"),
            "--model",
            str(reference_checkpoint_path),
            "--no-detect",
            "--json",
            "--no-progress",
        ]
    )
    assert status == 0, capsys.readouterr().err
    record = json.loads((tmp_path / "out" / "face.json").read_text())
    assert record["faces"][0]["box"] == [0, 0, face.shape[1], face.shape[0]]
    assert np.asarray(Image.open(tmp_path / "out" / "face.labels.png")).shape == face.shape[:2]


def test_parse_refuses_bad_arguments_before_loading_anything(tmp_path, capsys):
    (tmp_path / "a.txt").write_text("x")
    assert main(["parse", str(tmp_path / "missing.jpg"), "-o", str(tmp_path / "o"), "--model", "m.keras"]) == 2
    assert "missing.jpg does not exist" in capsys.readouterr().err
    assert main(["parse", str(tmp_path / "a.txt"), "-o", str(tmp_path / "o"), "--model", "m.keras"]) == 2
    assert "neither a photo" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["parse", str(empty), "-o", str(tmp_path / "o"), "--model", "m.keras"]) == 2
    assert "no photo or video" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_collect_inputs_finds_folders_recursively_and_refuses_clashing_outputs(tmp_path):
    (tmp_path / "set" / "b").mkdir(parents=True)
    for name in ("set/a.jpg", "set/b/c.PNG", "set/b/d.mp4", "set/readme.md", "x.jpg", "y/x.jpg"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    items = collect_inputs([tmp_path / "set", tmp_path / "x.jpg"])
    assert [(item.kind, str(item.output_stem)) for item in items] == [
        ("photo", "set/a"),
        ("photo", "set/b/c"),
        ("video", "set/b/d"),
        ("photo", "x"),
    ]
    with pytest.raises(ValueError, match="would write the same outputs"):
        collect_inputs([tmp_path / "x.jpg", tmp_path / "y" / "x.jpg"])


@pytest.mark.parametrize("name, mode", [("grey16.png", "I;16"), ("grey16.tif", "I")])
def test_a_16_bit_greyscale_picture_keeps_its_brightness(tmp_path, name, mode):
    """Pillow's own RGB conversion clips 16-bit values at 255: a face came out as a white picture."""
    from PIL import Image

    grey16 = np.array([[0, 257, 32896], [65535, 12850, 51400]], np.uint16)  # 8-bit 0, 1, 128, 255, 50, 200
    picture = Image.fromarray(grey16) if mode == "I;16" else Image.fromarray(grey16.astype(np.int32), "I")
    picture.save(tmp_path / name)
    assert Image.open(tmp_path / name).mode == mode
    photo = read_photo(tmp_path / name)
    assert photo.dtype == np.uint8 and photo.shape == (2, 3, 3)
    np.testing.assert_array_equal(photo[..., 0], [[0, 1, 128], [255, 50, 200]])
    np.testing.assert_array_equal(photo[..., 0], photo[..., 2])


def test_unreadable_photos_and_videos_are_named(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG but not really")
    (tmp_path / "bad.mp4").write_bytes(b"not a video")
    with pytest.raises(UnreadableInputError, match="bad.png"):
        read_photo(tmp_path / "bad.png")
    with pytest.raises(UnreadableInputError, match="bad.mp4"):
        list(read_video(tmp_path / "bad.mp4"))
    with pytest.raises(ValueError, match="every"):
        list(read_video(tmp_path / "bad.mp4", every=0))


def test_outputs_never_replace_an_input(tmp_path):
    photo = tmp_path / "a.labels.png"
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(photo)
    original = photo.read_bytes()
    # an input whose output stem is "a" would write a.labels.png over the input itself
    items = [InputItem(photo, "photo", Path("a"))]
    face_parser = FaceParser(lambda crop: np.zeros(crop.shape[:2], np.uint8), detector=None)
    with pytest.raises(ValueError, match="is one of the inputs"):
        parse_inputs(face_parser, items, tmp_path, detect=False, progress=False)
    assert photo.read_bytes() == original


def test_the_parse_photo_example_writes_labels_overlay_and_figure(
    tmp_path, monkeypatch, capsys, reference_checkpoint_path
):
    import runpy

    image = FACES_DIR / "grace_hopper.jpg"
    if not image.exists():
        pytest.skip(f"{image} is not available")
    script = Path(__file__).resolve().parents[1] / "examples" / "parse_photo.py"
    monkeypatch.setattr(
        "sys.argv",
        [
            "parse_photo.py",
            "--model",
            str(reference_checkpoint_path),
            "--image",
            str(image),
            "--output-dir",
            str(tmp_path),
        ],
    )
    runpy.run_path(str(script), run_name="__main__")
    assert "grace_hopper.jpg (512x600): 1 faces" in capsys.readouterr().out
    assert _files(tmp_path) == {
        Path("grace_hopper_labels.png"),
        Path("grace_hopper_overlay.png"),
        Path("grace_hopper_figure.png"),
    }
    assert np.asarray(Image.open(tmp_path / "grace_hopper_labels.png")).shape == (600, 512)


def test_parse_reads_a_saved_model_and_labels_as_the_keras_model(tmp_path, capsys, cli_exports, converted_model):
    astronaut = FACES_DIR / "astronaut.png"
    if not astronaut.exists():
        pytest.skip(f"{astronaut} is not available")
    exports, status, printed = cli_exports  # the SavedModel of the reference checkpoint
    assert status == 0, printed
    saved_model = exports / "stn_icnn" / "1"
    assert main(["parse", str(astronaut), "-o", str(tmp_path), "--model", str(saved_model), "--no-progress"]) == 0
    assert "(saved_model)" in capsys.readouterr().out
    labels = np.asarray(Image.open(tmp_path / "astronaut.labels.png"))
    expected = FaceParser(converted_model)(read_photo(astronaut)).labels
    assert labels.any() and labels.shape == expected.shape
    # The same graph in another runtime: the export's own bar for a SavedModel.
    assert np.mean(labels == expected) >= MIN_LABEL_AGREEMENT["saved_model"]


def test_parse_without_a_model_uses_the_default_preset(tmp_path, capsys):
    photo = tmp_path / "in" / "face.png"
    photo.parent.mkdir()
    Image.fromarray(render_face(1001)[0]).save(photo)  # a synthetic face MTCNN finds
    assert main(["parse", str(photo), "-o", str(tmp_path / "out"), "--no-progress"]) == 0
    assert f"with {DEFAULT_PRESET} (preset)" in capsys.readouterr().out
    labels = np.asarray(Image.open(tmp_path / "out" / "face.labels.png"))
    assert labels.any()
    np.testing.assert_array_equal(labels, FaceParser()(read_photo(photo)).labels)
