"""Build the real-photo evaluation set: public test photos, labels drawn from face landmarks.

Real photographs are for evaluation only; nothing here is ever trained on.
The photos are ones that packages on PyPI ship as test and sample images
(`face_recognition`'s and `insightface`'s source archives, fetched with
`pip download`) and the two public-domain portraits in `../shared/faces`.
MediaPipe's face mesh (`mediapipe==0.10.14`, whose wheel carries its models)
finds every face and its 478 landmarks; the outlines of the brows, eyes, nose
and lips are filled into a label map with LaPa's ids (`labels.LAPA_CLASS_NAMES`:
2/3 eyebrows, 4/5 eyes, 6 nose, 7 upper lip, 8 inner mouth, 9 lower lip; the
part on the image's left is "left", as in the synthetic set; skin and hair
are not drawn and stay 0).

Each face becomes one square crop of the photo (2.2 times the landmarks'
extent, centred on them, padded with black where it leaves the photo), written
in LaPa's layout without landmark files:

    <out>/test/images/<photo>_<face>.jpg
    <out>/test/labels/<photo>_<face>.png            the attention mesh's labels
    <out>/second_model/labels/<photo>_<face>.png    the plain mesh's labels

The second set of labels comes from MediaPipe's other face-mesh network (no
attention, 468 points): IoU between the two per part is the ceiling of what
such landmark-drawn labels can tell apart (`benchmarks/real_photo_iou.py`).

MediaPipe 0.10.14 needs protobuf 4, TensorFlow 2.21 protobuf 5, so this script
runs in a venv of its own and imports nothing from the package:

    python3 -m venv .mpvenv && .mpvenv/bin/pip install mediapipe==0.10.14
    .mpvenv/bin/python examples/make_real_face_set.py --out data/real_faces
"""

import argparse
import subprocess
import sys
import tarfile
from pathlib import Path

import cv2
import numpy as np

SOURCE_ARCHIVES = {
    "face_recognition==1.3.0": (
        "tests/test_images/obama.jpg",
        "tests/test_images/obama2.jpg",
        "tests/test_images/obama3.jpg",
        "tests/test_images/biden.jpg",
    ),
    "insightface==2.1": ("insightface/data/images/t1.jpg", "insightface/data/images/Tom_Hanks_54745.png"),
}
"""Source archives on PyPI and the face photos inside them (masked and partial faces left out)."""

SHARED_FACES = Path(__file__).resolve().parents[2] / "shared" / "faces"

LEFT_EYEBROW, RIGHT_EYEBROW, LEFT_EYE, RIGHT_EYE, NOSE, UPPER_LIP, INNER_MOUTH, LOWER_LIP = range(2, 10)
CROP_SCALE = 2.2
MIN_FACE_PX = 40
MESH_INPUT_PX = 384
DETECTION_SCALES = (1.0, 0.5)


def fetch_photos(cache):
    """Photos from the source archives (downloaded once into `cache`) and `../shared/faces`."""
    photos = []
    for requirement, members in SOURCE_ARCHIVES.items():
        name = requirement.split("==")[0]
        archives = sorted(cache.glob(f"{name}-*.tar.gz"))
        if not archives:
            download = ["pip", "download", "--no-deps", "--no-binary", ":all:", "-d", str(cache), requirement]
            subprocess.run([sys.executable, "-m", *download], check=True)
            archives = sorted(cache.glob(f"{name}-*.tar.gz"))
        with tarfile.open(archives[-1]) as archive:
            top = archive.getnames()[0].split("/")[0]
            for member in members:
                data = archive.extractfile(f"{top}/{member}").read()
                image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
                photos.append((f"{name}_{Path(member).stem}", image))
    for path in sorted(SHARED_FACES.glob("*")):
        photos.append((path.stem, cv2.imread(str(path), cv2.IMREAD_COLOR)))
    return photos


def ordered_chains(edges):
    """The vertex sequences of an edge set's connected paths and cycles (cycles repeat no vertex)."""
    neighbours = {}
    for a, b in edges:
        neighbours.setdefault(a, []).append(b)
        neighbours.setdefault(b, []).append(a)
    chains, seen = [], set()
    starts = [v for v, n in neighbours.items() if len(n) == 1] + list(neighbours)
    for start in starts:
        if start in seen:
            continue
        chain = [start]
        seen.add(start)
        while True:
            following = [v for v in neighbours[chain[-1]] if v not in seen]
            if not following:
                break
            chain.append(following[0])
            seen.add(following[0])
        chains.append(chain)
    return chains


def split_cycle(cycle, points):
    """A closed outline cut at its leftmost and rightmost points into (upper, lower) paths, left to right."""
    xs = points[cycle, 0]
    left, right = int(np.argmin(xs)), int(np.argmax(xs))
    rotated = cycle[left:] + cycle[:left]
    cut = (right - left) % len(cycle)
    first = rotated[: cut + 1]
    second = [rotated[0]] + rotated[cut:][::-1]
    if points[first, 1].mean() > points[second, 1].mean():
        first, second = second, first
    return first, second


def brow_outline(edges, points):
    """The brow's polygon: its two landmark lines joined end to end."""
    lines = [chain if points[chain[0], 0] < points[chain[-1], 0] else chain[::-1] for chain in ordered_chains(edges)]
    return lines[0] + lines[1][::-1]


def draw_labels(points, size, connections):
    """LaPa ids of one face, filled from its landmark outlines.

    Args:
        points: float array `[N, 2]` of `(x, y)` pixel positions of the face mesh.
        size: `(height, width)` of the label map.
        connections: `mediapipe.python.solutions.face_mesh_connections`.

    Returns:
        uint8 array `[height, width]`.
    """
    label = np.zeros(size, np.uint8)

    def fill(polygon, value):
        cv2.fillPoly(label, [np.round(points[polygon] * 16).astype(np.int32)], int(value), cv2.LINE_8, shift=4)

    def fill_pair(outlines, left_id, right_id):
        left, right = sorted(outlines, key=lambda polygon: points[polygon, 0].mean())
        fill(left, left_id)
        fill(right, right_id)

    brows = (connections.FACEMESH_LEFT_EYEBROW, connections.FACEMESH_RIGHT_EYEBROW)
    fill_pair([brow_outline(edges, points) for edges in brows], LEFT_EYEBROW, RIGHT_EYEBROW)
    eyes = (connections.FACEMESH_LEFT_EYE, connections.FACEMESH_RIGHT_EYE)
    fill_pair([ordered_chains(edges)[0] for edges in eyes], LEFT_EYE, RIGHT_EYE)
    nose = sorted({v for edge in connections.FACEMESH_NOSE for v in edge})
    fill([nose[i] for i in cv2.convexHull(points[nose].astype(np.float32), returnPoints=False)[:, 0]], NOSE)
    outer, inner = sorted(ordered_chains(connections.FACEMESH_LIPS), key=lambda c: -np.ptp(points[c, 0]))
    outer_upper, _ = split_cycle(outer, points)
    inner_upper, _ = split_cycle(inner, points)
    fill(outer, LOWER_LIP)
    fill(outer_upper + inner_upper[::-1], UPPER_LIP)
    fill(inner, INNER_MOUTH)
    return label


def face_meshes(image):
    """Both face meshes of every face in a BGR image: `[(attention [478, 2], plain [468, 2])]` in pixels.

    MediaPipe's full-range face detector finds the faces (`face_boxes`); each
    face's square (twice its box) is cut, scaled to `MESH_INPUT_PX` and given
    to both mesh networks, so the small faces of a group photo are treated like
    portraits.
    """
    import mediapipe as mp

    rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    networks = [
        mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=refine)
        for refine in (True, False)
    ]
    faces = []
    for centre, box_side in face_boxes(rgb):
        window, corner = square_window(rgb, centre, 2 * box_side)
        scale = MESH_INPUT_PX / window.shape[0]
        window = cv2.resize(window, (MESH_INPUT_PX, MESH_INPUT_PX), interpolation=cv2.INTER_AREA)
        meshes = []
        for network in networks:
            found = network.process(window).multi_face_landmarks
            if found:
                points = np.array([(p.x, p.y) for p in found[0].landmark], np.float32) * MESH_INPUT_PX
                meshes.append(points / scale + corner)
        if len(meshes) == 2:
            faces.append(tuple(meshes))
    for network in networks:
        network.close()
    return faces


def face_boxes(rgb):
    """`[((x, y) centre, side)]` of the faces MediaPipe's full-range detector finds at full and half size.

    The detector sees a 192x192 copy of the photo, so a group photo's faces are
    found better at half size and a portrait's at full size; boxes of one face
    found at both are merged (the more confident one is kept). Faces smaller
    than `MIN_FACE_PX` are left out.
    """
    import mediapipe as mp

    height, width = rgb.shape[:2]
    found = []  # (score, centre, side)
    for scale in DETECTION_SCALES:
        picture = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale != 1 else rgb
        with mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.6) as detector:
            detections = detector.process(picture).detections or []
        for detection in detections:
            box = detection.location_data.relative_bounding_box
            side = max(box.width * width, box.height * height)
            centre = np.array([(box.xmin + box.width / 2) * width, (box.ymin + box.height / 2) * height])
            if side >= MIN_FACE_PX:
                found.append((detection.score[0], centre, side))
    kept = []
    for _, centre, side in sorted(found, key=lambda face: -face[0]):
        if all(np.linalg.norm(centre - other) > 0.5 * max(side, other_side) for other, other_side in kept):
            kept.append((centre, side))
    return kept


def square_window(image, centre, side):
    """The `side`-pixel square of `image` centred on `centre` (x, y), black outside the image.

    Returns:
        (window, float32 `(x, y)` of its top-left corner in the image).
    """
    side = int(round(side))
    x0, y0 = np.round(np.asarray(centre) - side / 2).astype(int)
    padded = cv2.copyMakeBorder(image, side, side, side, side, cv2.BORDER_CONSTANT, value=0)
    return padded[y0 + side : y0 + 2 * side, x0 + side : x0 + 2 * side], np.array([x0, y0], np.float32)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="data/real_faces", help="folder to write (must not exist)")
    parser.add_argument("--cache", default="data/photo_sources", help="where the source archives are kept")
    args = parser.parse_args()
    from mediapipe.python.solutions import face_mesh_connections as connections

    out, cache = Path(args.out), Path(args.cache)
    if out.exists():
        raise SystemExit(f"--out {out} exists; remove it or name another folder")
    cache.mkdir(parents=True, exist_ok=True)
    for folder in ("test/images", "test/labels", "second_model/labels"):
        (out / folder).mkdir(parents=True)
    count = 0
    for name, photo in fetch_photos(cache):
        for index, (points, second) in enumerate(sorted(face_meshes(photo), key=lambda meshes: meshes[0][:, 0].min())):
            low, high = points.min(0), points.max(0)
            crop, corner = square_window(photo, (low + high) / 2, CROP_SCALE * (high - low).max())
            stem = f"{name}_{index}"
            cv2.imwrite(str(out / "test/images" / f"{stem}.jpg"), crop, [cv2.IMWRITE_JPEG_QUALITY, 95])
            for folder, mesh in (("test/labels", points), ("second_model/labels", second)):
                cv2.imwrite(str(out / folder / f"{stem}.png"), draw_labels(mesh - corner, crop.shape[:2], connections))
            count += 1
            print(f"{stem}: {crop.shape[1]}x{crop.shape[0]} px")
    print(f"{count} faces written to {out}")


if __name__ == "__main__":
    main()
