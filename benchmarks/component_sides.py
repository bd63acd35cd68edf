"""How large RNN-G's component crops must be, in eye distances: `ops.facial_components.COMPONENT_SIDES`.

For each of `COMPONENTS` on each ground-truth label map of the synthetic training faces: the height of the
smallest box of the crop's aspect ratio, centred on the component's centroid, that holds all its pixels,
divided by the distance between the centroids of the left and the right eye. Prints the median and the
90th and 99th percentiles per component; `COMPONENT_SIDES` is the 90th, rounded, the same for both eyes (one
network labels both; the crop rule adds its margin on top). Faces without both eyes or without the component
are left out.

Usage:
    python benchmarks/component_sides.py [--synthetic-dir data/synthetic_helen_2000] [--num 400]
"""

import argparse

import numpy as np

from keras_stn_icnn.data.helen import HelenReader
from keras_stn_icnn.data.synthetic import generate_synthetic_helen
from keras_stn_icnn.labels import HELEN_CLASS_NAMES
from keras_stn_icnn.ops.facial_components import COMPONENT_SIDES, COMPONENTS


def needed_sides(label_map):
    """`[len(COMPONENTS)]` box heights in eye distances (NaN for an absent component), or None without both eyes."""
    eyes = [np.argwhere(label_map == HELEN_CLASS_NAMES.index(name)) for name in ("left_eye", "right_eye")]
    if any(len(pixels) == 0 for pixels in eyes):
        return None
    eye_distance = np.linalg.norm(eyes[0].mean(0) - eyes[1].mean(0))
    sides = []
    for component in COMPONENTS:
        ids = [HELEN_CLASS_NAMES.index(name) for name in component.classes]
        pixels = np.argwhere(np.isin(label_map, ids)).astype(np.float64)
        if len(pixels) == 0:
            sides.append(np.nan)
            continue
        half_height, half_width = np.abs(pixels - pixels.mean(0)).max(0) + 0.5  # to the pixels' outer edges
        aspect = component.input_size[0] / component.input_size[1]
        sides.append(2.0 * max(half_height, half_width * aspect) / eye_distance)
    return sides


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic-dir", default="data/synthetic_helen_2000", help="the training set's folder")
    parser.add_argument("--num", type=int, default=400, help="training faces measured")
    args = parser.parse_args()
    # The zoo comparison's set (the main job's generator and seed, 2,000 training faces).
    root = generate_synthetic_helen(args.synthetic_dir, num_train=2000, num_val=20, num_test=100, seed=0)
    sides = []
    for example in HelenReader(root, schema="helen").dataset("train").take(args.num):
        measured = needed_sides(example["label"].numpy())
        if measured is not None:
            sides.append(measured)
    sides = np.array(sides)
    print(f"{len(sides)} faces with both eyes; box height in eye distances (median, 90th, 99th percentile):")
    for index, component in enumerate(COMPONENTS):
        median, p90, p99 = np.nanpercentile(sides[:, index], [50, 90, 99])
        print(f"  {component.name:9s} {median:.2f} {p90:.2f} {p99:.2f}   COMPONENT_SIDES: {COMPONENT_SIDES[index]}")


if __name__ == "__main__":
    main()
