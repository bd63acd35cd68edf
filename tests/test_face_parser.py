"""FaceParser on whole photographs: framing, pasting, detection on real and composited scenes."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from scenes import detectable_faces, inside, scene

from keras_stn_icnn.data.synthetic import PHOTO_SIZE, render_face
from keras_stn_icnn.inference import (
    HELEN_FRAMING,
    CropRegion,
    FaceBox,
    FaceParser,
    Framing,
    MTCNNDetector,
    extract_crop,
    measure_framing,
    read_photo,
)
from keras_stn_icnn.inference.detection import _SkipWhenNoCandidates

FACES_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "faces"
UNIT_FRAMING = Framing(2.0, (0.0, 0.0), (8, 64))


def disc_parser(crop):
    """Labels the central disc of every crop as nose (5): a parser whose output is known."""
    side = crop.shape[0]
    rows, columns = np.mgrid[:side, : crop.shape[1]]
    center = (side - 1) / 2.0
    return np.where((rows - center) ** 2 + (columns - center) ** 2 <= (side / 4) ** 2, 5, 0).astype(np.uint8)


class FixedDetector:
    def __init__(self, faces):
        self.faces = faces

    def __call__(self, image):
        return list(self.faces)


def test_crop_region_follows_the_framing():
    framing = Framing(2.0, (0.25, -0.5), (8, 64))
    region = framing.crop_region(FaceBox(10, 20, 30, 40))  # centre (25, 40), height 40
    assert region == CropRegion(left=25 + 10 - 40, top=40 - 20 - 40, side=80)
    assert framing.model_side(80) == 64 and framing.model_side(3) == 8 and framing.model_side(30) == 30
    with pytest.raises(TypeError, match="FaceBox"):
        framing.crop_region((10, 20, 30, 40))


@pytest.mark.parametrize(
    "arguments, message",
    [
        ((0.0, (0, 0), (8, 64)), "side_per_box_height"),
        ((2.0, (0, float("nan")), (8, 64)), "center_offset"),
        ((2.0, (0, 0), (64, 8)), "side_range"),
    ],
)
def test_framing_rejects_bad_numbers(arguments, message):
    with pytest.raises(ValueError, match=message):
        Framing(*arguments)


def test_face_box_rejects_bad_boxes():
    with pytest.raises(ValueError, match="positive width"):
        FaceBox(0, 0, 0, 10)
    with pytest.raises(ValueError, match="confidence"):
        FaceBox(0, 0, 10, 10, confidence=1.5)


def test_extract_crop_pads_with_zeros_outside_the_photo():
    image = np.arange(5 * 6 * 3, dtype=np.uint8).reshape(5, 6, 3)
    crop = extract_crop(image, CropRegion(-2, 3, 4), 4)
    expected = np.zeros((4, 4, 3), np.uint8)
    expected[:2, 2:] = image[3:5, 0:2]
    np.testing.assert_array_equal(crop, expected)
    assert extract_crop(image, CropRegion(0, 0, 4), 8).shape == (8, 8, 3)


def test_labels_are_pasted_only_inside_each_face_crop():
    photo = np.zeros((60, 100, 3), np.uint8)
    faces = [FaceBox(10, 10, 10, 10, 0.99), FaceBox(70, 40, 10, 20, 0.95)]
    result = FaceParser(disc_parser, detector=FixedDetector(faces), framing=UNIT_FRAMING)(photo)
    assert result.labels.shape == (60, 100)
    regions = [face.crop for face in result.faces]
    assert regions == [CropRegion(5, 5, 20), CropRegion(55, 30, 40)]
    expected = np.zeros((60, 100), np.uint8)
    for region in regions:
        top, bottom, left, right = region.clipped(photo.shape)
        expected[top:bottom, left:right] = disc_parser(np.zeros((region.side, region.side, 3), np.uint8))[
            top - region.top : bottom - region.top, left - region.left : right - region.left
        ]
    np.testing.assert_array_equal(result.labels, expected)
    for index, face in enumerate(result.faces):
        assert face.pixel_counts["nose"] == int((result.face_index == index).sum()) > 0
        assert set(face.pixel_counts) == set(result.class_names[1:])
    assert ((result.labels > 0) == (result.face_index >= 0)).all()


def test_overlapping_faces_give_each_pixel_to_the_nearest_crop_centre():
    photo = np.zeros((40, 54, 3), np.uint8)
    faces = [FaceBox(10, 10, 20, 20), FaceBox(24, 10, 20, 20)]  # crops 0-39 and 14-53, the photo's width
    result = FaceParser(lambda crop: np.full(crop.shape[:2], 5, np.uint8), FixedDetector(faces), UNIT_FRAMING)(photo)
    centres = [face.crop.left + (face.crop.side - 1) / 2 for face in result.faces]
    columns = np.arange(54)
    nearer_second = np.abs(columns - centres[1]) < np.abs(columns - centres[0])
    row = result.face_index[20]
    assert (row[nearer_second] == 1).all() and (row[~nearer_second] == 0).all()
    assert sum(face.pixel_counts["nose"] for face in result.faces) == 40 * 54


def test_a_photo_without_faces_gives_an_empty_label_map():
    result = FaceParser(disc_parser, FixedDetector([]), UNIT_FRAMING)(np.zeros((30, 40, 3), np.uint8))
    assert result.faces == [] and result.labels.shape == (30, 40) and not result.labels.any()
    assert result.to_json()["faces"] == []


def test_detect_false_parses_the_whole_picture_within_the_training_sizes():
    seen = []

    def recording_parser(crop):
        seen.append(crop.shape)
        return np.ones(crop.shape[:2], np.uint8)

    face_parser = FaceParser(recording_parser, detector=None, framing=UNIT_FRAMING)
    result = face_parser(np.zeros((100, 50, 3), np.uint8), detect=False)
    assert seen == [(64, 32, 3)]  # longer side 100 brought down to the range's 64
    assert result.labels.shape == (100, 50) and (result.labels == 1).all()
    assert result.faces[0].box.box == (0, 0, 50, 100)
    with pytest.raises(ValueError, match="no detector"):
        face_parser(np.zeros((10, 10, 3), np.uint8))


def test_face_parser_names_bad_inputs_and_bad_parsers():
    photo = np.zeros((40, 40, 3), np.uint8)
    one_face = FixedDetector([FaceBox(10, 10, 10, 10)])
    with pytest.raises(TypeError, match="the photo: expected a uint8 \\[H, W, 3\\] array, got dtype float32"):
        FaceParser(disc_parser, one_face, UNIT_FRAMING)(photo.astype(np.float32))
    with pytest.raises(ValueError, match="empty"):
        FaceParser(disc_parser, one_face, UNIT_FRAMING)(np.zeros((0, 4, 3), np.uint8))
    with pytest.raises(TypeError, match="FaceBox"):
        FaceParser(disc_parser, lambda image: [(1, 2, 3, 4)], UNIT_FRAMING)(photo)
    with pytest.raises(ValueError, match="shape"):
        FaceParser(lambda crop: np.zeros((3, 3), np.uint8), one_face, UNIT_FRAMING)(photo)
    with pytest.raises(ValueError, match="id 12"):
        FaceParser(lambda crop: np.full(crop.shape[:2], 12, np.uint8), one_face, UNIT_FRAMING)(photo)
    with pytest.raises(TypeError, match="parse"):
        FaceParser("model.keras")
    with pytest.raises(TypeError, match="detector"):
        FaceParser(disc_parser, detector="yolo")


# --- MTCNN on real photographs and on synthetic faces composited into scenes ---------------------


@pytest.fixture(scope="module")
def detector():
    return MTCNNDetector()


@pytest.fixture(scope="module")
def faces_by_slot(detector):
    return detectable_faces(detector)


@pytest.mark.parametrize("count", [0, 1, 3])
def test_composited_scenes_give_one_parsed_face_per_face(count, detector, faces_by_slot, converted_model):
    slots = {0: [], 1: [1], 3: [0, 1, 2]}[count]
    photo, rectangles = scene({slot: faces_by_slot[slot] for slot in slots})
    result = FaceParser(converted_model, detector=detector)(photo)
    assert result.labels.shape == photo.shape[:2]
    assert len(result.faces) == count
    # every detected face sits on a different pasted face
    owners = [next(s for s, r in rectangles.items() if inside(face.box.center, r)) for face in result.faces]
    assert sorted(owners) == slots
    # labels only inside the faces' crops, each labelled pixel inside the crop of the face it belongs to
    assert ((result.labels > 0) == (result.face_index >= 0)).all()
    for index, face in enumerate(result.faces):
        top, bottom, left, right = face.crop.clipped(photo.shape)
        outside = np.ones(photo.shape[:2], bool)
        outside[top:bottom, left:right] = False
        assert not (outside & (result.face_index == index)).any()
        assert sum(face.pixel_counts.values()) == int((result.face_index == index).sum()) > 0
    if count == 0:
        assert not result.labels.any()


@pytest.mark.parametrize("name", ["astronaut.png", "grace_hopper.jpg"])
def test_the_shared_photographs_hold_one_face_each(name, detector, converted_model):
    path = FACES_DIR / name
    if not path.exists():
        pytest.skip(f"{path} is not available")
    photo = read_photo(path)
    result = FaceParser(converted_model, detector=detector)(photo)
    assert len(result.faces) == 1 and result.faces[0].box.confidence > 0.95
    assert result.labels.shape == photo.shape[:2]
    face = result.faces[0]
    assert set(face.box.keypoints) == {"left_eye", "right_eye", "nose", "mouth_left", "mouth_right"}
    for x, y in face.box.keypoints.values():  # the key points lie inside the box
        assert inside((x, y), face.box.box)
    top, bottom, left, right = face.crop.clipped(photo.shape)
    in_crop = np.zeros(photo.shape[:2], bool)
    in_crop[top:bottom, left:right] = True
    assert result.labels[~in_crop].max(initial=0) == 0 and result.labels[in_crop].any()


def test_helen_framing_is_what_the_synthetic_faces_measure(detector):
    """HELEN_FRAMING was measured on render_face(0..399); 40 other faces of the generator agree.

    Per face, the ratio and both offsets spread with a standard deviation of about 0.3, so the median of
    the ~20 faces MTCNN finds here has a standard error of about 1.25 * 0.3 / sqrt(20) = 0.08; the
    tolerances are three of those.
    """
    images = (render_face(seed)[0] for seed in range(1000, 1040))
    framing, count = measure_framing(detector, images, (PHOTO_SIZE, PHOTO_SIZE))
    assert count >= 15
    assert framing.side_per_box_height == pytest.approx(HELEN_FRAMING.side_per_box_height, abs=0.25)
    assert framing.center_offset == pytest.approx(HELEN_FRAMING.center_offset, abs=0.25)
    assert framing.side_range == HELEN_FRAMING.side_range


def test_mtcnn_finds_no_face_in_a_photo_without_one_and_tensorflow_logs_nothing():
    """MTCNN used to run RNet on the empty set of boxes PNet left on such a photo and take the error for "no face".

    TensorFlow logged that error ("Local rendezvous is aborting with status: INVALID_ARGUMENT ...") as a
    warning, so it is looked for in a process with TensorFlow's whole log on.
    """
    check = textwrap.dedent("""
        import numpy as np
        from keras_stn_icnn.inference import MTCNNDetector

        detector = MTCNNDetector()
        print(detector(np.full((300, 400, 3), 128, np.uint8)))
        print(detector(np.random.default_rng(0).integers(0, 256, (400, 300, 3)).astype(np.uint8)))
    """)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]), TF_CPP_MIN_LOG_LEVEL="0")
    run = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, env=env, timeout=300)
    assert run.stdout.splitlines() == ["[]", "[]"], run.stderr
    assert "rendezvous" not in run.stderr.lower(), run.stderr


def test_an_mtcnn_refining_stage_runs_only_on_candidates():
    calls = []
    stage = _SkipWhenNoCandidates(lambda **arguments: calls.append(arguments) or "refined")
    none_left = np.empty((0, 6))
    assert stage(bboxes_batch=none_left, images_normalized="images") is none_left and calls == []
    candidates = np.ones((2, 6))
    assert stage(bboxes_batch=candidates, images_normalized="images") == "refined"
    assert calls == [{"bboxes_batch": candidates, "images_normalized": "images"}]
