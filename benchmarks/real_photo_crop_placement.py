"""What STN-iCNN loses on real faces to where it places its crops: its own, key-point and label crops.

Every face of the real-photo set (`examples/make_real_face_set.py`) is framed
as `FaceParser` frames it (MTCNN box -> the 512-px crop the model was trained
on), and parsed with the same part models from four sets of crop centres:

1. `own crops`: the model's stage 1 and localizer, as it runs;
2. `key-point crops`: MTCNN's five key points and a placement rule calibrated
   on synthetic faces only: each part centre (from the labels, STN-iCNN's part
   rule) in the key points' face frame (origin the eyes' midpoint, x along the
   eye line, unit the eye distance), median over the synthetic faces MTCNN finds;
3. `key points, model's brows`: the same, but the brows where the model puts them;
4. `label crops`: the centres of the landmark-drawn labels, the ceiling of any
   placement for these part models.

Part IoU (`metrics.PART_IOU_GROUPS`) is counted in that 512-px frame, and the
mean key-point centre error per part is printed.

Usage:
    python benchmarks/real_photo_crop_placement.py runs/train_helen/stn_icnn.keras \
        [--data data/real_faces --calibration-faces 120]
"""

import argparse

import keras
import numpy as np
import tensorflow as tf
from crop_placement import at_given_theta

from keras_stn_icnn import FaceParser
from keras_stn_icnn.data import LapaReader
from keras_stn_icnn.data.synthetic import render_face
from keras_stn_icnn.inference.framing import extract_crop, resize_labels
from keras_stn_icnn.labels import STN_ICNN_PART_NAMES, label_mapping
from keras_stn_icnn.metrics import PART_IOU_GROUPS, confusion_matrix, iou_scores
from keras_stn_icnn.ops import crop_centres, frame_offset, theta_from_centres
from keras_stn_icnn.ops.centroids import label_centroids, part_centres

KEYPOINTS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
BROWS = [STN_ICNN_PART_NAMES.index("eyebrow1"), STN_ICNN_PART_NAMES.index("eyebrow2")]
CALIBRATION_FIRST_SEED = 5000  # synthetic faces, none of them in any set the models trained on


def framed(face_parser, image, label):
    """The model's input crop of the photo's first face, its labels there and MTCNN's key points `(x, y)` there."""
    faces = face_parser(image).faces
    if not faces:
        return None
    face = faces[0]
    region, side = face.crop, face_parser.framing.model_side(face.crop.side)
    crop = extract_crop(image, region, side)
    whole = extract_crop(np.repeat(label[..., np.newaxis], 3, axis=-1), region, region.side)[..., 0]
    scale = side / region.side
    keypoints = np.array([face.box.keypoints[name] for name in KEYPOINTS], np.float32)
    return crop, resize_labels(whole, side), (keypoints - [region.left, region.top]) * scale


def label_centres(label):
    """`[6, 2]` `(y, x)` part centres of a label map (STN-iCNN ids), by STN-iCNN's part rule."""
    centroids, mass = label_centroids(tf.constant(label), 9)
    return part_centres(centroids, mass, label.shape)[0].numpy()


def eye_frame(keypoints):
    """Origin (the eyes' midpoint), unit axes and unit length of the key points' face frame."""
    left, right = sorted(keypoints[:2], key=lambda point: point[0])
    x_axis = (right - left) / np.linalg.norm(right - left)
    return (left + right) / 2, x_axis, np.array([-x_axis[1], x_axis[0]]), np.linalg.norm(right - left)


def calibrate(face_parser, num_faces):
    """Median part centres in the key points' frame over the synthetic faces MTCNN finds; and how many it found."""
    to_stn_icnn = label_mapping("helen", "stn_icnn")
    offsets = []
    for seed in range(CALIBRATION_FIRST_SEED, CALIBRATION_FIRST_SEED + num_faces):
        image, label = render_face(seed)
        found = framed(face_parser, image, to_stn_icnn[label])
        if found is None:
            continue
        _, framed_label, keypoints = found
        origin, x_axis, y_axis, unit = eye_frame(keypoints)
        centres = label_centres(framed_label)[:, ::-1] - origin
        offsets.append(np.stack([centres @ x_axis, centres @ y_axis], axis=-1) / unit)
    return np.median(offsets, axis=0), len(offsets)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a .keras STNiCNN")
    parser.add_argument("--data", default="data/real_faces", help="the real-photo set")
    parser.add_argument("--calibration-faces", type=int, default=120, help="synthetic faces to calibrate on")
    args = parser.parse_args()

    model = keras.saving.load_model(args.model)
    given = at_given_theta(model)
    face_parser = FaceParser(lambda image: np.zeros(image.shape[:2], np.uint8))
    rule, found = calibrate(face_parser, args.calibration_faces)
    print(f"placement rule from {found} of {args.calibration_faces} synthetic faces (MTCNN missed the rest)")

    rows = ("own crops", "key-point crops", "key points, model's brows", "label crops")
    confusions = {row: np.zeros((9, 9), np.int64) for row in rows}
    errors = []
    canvas = (model.canvas_size, model.canvas_size)
    for example in LapaReader(args.data, schema="stn_icnn", landmarks=False).dataset("test"):
        found = framed(face_parser, example["image"].numpy(), example["label"].numpy())
        if found is None:
            raise SystemExit("MTCNN missed a face of the real-photo set; this comparison needs them all")
        crop, label, keypoints = found
        offset = np.array(frame_offset(crop.shape[:2], canvas), np.float32)  # (top, left) of the crop on the canvas

        def theta(centres, offset=offset):
            """Thetas of `(y, x)` centres in the crop, floored to whole canvas pixels as the models' are."""
            return theta_from_centres(np.floor(centres + offset)[np.newaxis], model.window, canvas)

        origin, x_axis, y_axis, unit = eye_frame(keypoints)
        keypoint_centres = (origin + unit * (rule[:, :1] * x_axis + rule[:, 1:] * y_axis))[:, ::-1]
        batch = tf.constant(crop[np.newaxis], tf.float32)
        outputs = model(batch)
        own_centres = crop_centres(outputs["theta"][0], canvas).numpy() - offset
        mixed = keypoint_centres.copy()
        mixed[BROWS] = own_centres[BROWS]
        truth = label_centres(label)
        predictions = {
            "own crops": outputs["labels"][0],
            "key-point crops": given([batch, theta(keypoint_centres)])[0],
            "key points, model's brows": given([batch, theta(mixed)])[0],
            "label crops": given([batch, theta(truth)])[0],
        }
        for row, labels in predictions.items():
            confusions[row] += confusion_matrix(label, np.asarray(labels), 9)
        errors.append(np.linalg.norm(keypoint_centres - truth, axis=1))

    groups = (*PART_IOU_GROUPS, "mean")
    print(f"{'':<27}" + "".join(f"{group:>13}" for group in groups))
    for row, confusion in confusions.items():
        scores = iou_scores(confusion)
        print(f"{row:<27}" + "".join(f"{scores[group]:>13.3f}" for group in groups))
    print(
        "key-point centre error, px: "
        + ", ".join(f"{n} {e:.1f}" for n, e in zip(STN_ICNN_PART_NAMES, np.mean(errors, 0)))
    )


if __name__ == "__main__":
    main()
