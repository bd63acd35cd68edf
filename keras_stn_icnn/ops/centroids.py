"""Centroids of label maps and STN-iCNN's part centres, with a rule for missing parts.

The authors' code finds a part's centre as the probability-weighted mean
position of its label channel after adding 1e-10 to every pixel, so a part
that is absent lands silently at the image centre, and the mouth centre (the
mean of the upper-lip, inner-mouth and lower-lip centres) is pulled towards
the image centre whenever the mouth is closed. `part_centres` instead uses
only the classes that are present and fills a missing part by this rule:

1. The mouth is the mean centre of those of its classes that are present
   (a closed mouth is the mean of the two lips).
2. A missing eyebrow or eye is placed from its mirror partner: the partner's
   centre plus the left-right offset of the other pair (a missing left
   eyebrow = right eyebrow + (left eye - right eye)), when the partner and
   both members of the other pair are present.
3. Any other missing part is placed at the centroid of all inner-face
   pixels (the classes of all six parts).
4. With no inner-face pixel at all, every part is placed at the frame centre.

Every filled part is reported as not present, so a loss can leave it out.
"""

import tensorflow as tf

STN_ICNN_PART_CLASSES = ((1,), (2,), (3,), (4,), (5,), (6, 7, 8))
"""Channels of each STN-iCNN part in a 9-channel map: eyebrow1, eyebrow2, eye1, eye2, nose, mouth."""

MIRRORED_PARTS = {0: (1, 2, 3), 1: (0, 3, 2), 2: (3, 0, 1), 3: (2, 1, 0)}
"""Rule 2: `part: (partner, reference, reference partner)`; brows are placed from the eyes, eyes from the brows."""


def _frame_centre(height, width):
    return tf.stack([(tf.cast(height, tf.float32) - 1.0) / 2.0, (tf.cast(width, tf.float32) - 1.0) / 2.0])


def _divide_or_centre(sums, mass, centre):
    has_mass = mass > 0.0
    safe_mass = tf.where(has_mass, mass, 1.0)
    return tf.where(has_mass[..., tf.newaxis], sums / safe_mass[..., tf.newaxis], centre)


def class_centroids(probabilities):
    """Mass and probability-weighted mean position of every channel.

    Args:
        probabilities: float tensor `[..., H, W, C]` (one-hot labels or
            soft probabilities; any non-negative weights).

    Returns:
        `(centroids, mass)`: float32 `[..., C, 2]` of `(y, x)` pixel
        coordinates and float32 `[..., C]` total weight. The centroid of a
        channel of zero mass is the frame centre.

    Example:
    >>> one_hot = tf.one_hot([[0, 1], [0, 1]], 2)
    >>> class_centroids(one_hot)[0].numpy()[1].tolist()
    [0.5, 1.0]
    """
    probabilities = tf.cast(probabilities, tf.float32)
    shape = tf.shape(probabilities)
    rows = tf.range(shape[-3], dtype=tf.float32)
    cols = tf.range(shape[-2], dtype=tf.float32)
    row_mass = tf.reduce_sum(probabilities, axis=-2)  # [..., H, C]
    col_mass = tf.reduce_sum(probabilities, axis=-3)  # [..., W, C]
    mass = tf.reduce_sum(row_mass, axis=-2)
    sums = tf.stack(
        [
            tf.reduce_sum(row_mass * rows[:, tf.newaxis], axis=-2),
            tf.reduce_sum(col_mass * cols[:, tf.newaxis], axis=-2),
        ],
        axis=-1,
    )
    return _divide_or_centre(sums, mass, _frame_centre(shape[-3], shape[-2])), mass


def densest_window_masks(weights, size):
    """For each channel, 1 inside the `size` x `size` square that holds most of its weight, 0 elsewhere.

    The square is centred on the cell where a box sum of the channel peaks
    (zeros beyond the map's edges; the first such cell on ties). The masks
    carry no gradient.

    Args:
        weights: float tensor `[B, H, W, C]` of non-negative weights.
        size: odd int, the side of the square in cells.

    Returns:
        float32 tensor `[B, H, W, C]` of 0 and 1.

    Example:
    >>> weights = np.zeros([1, 1, 9, 1], np.float32)
    >>> weights[0, 0, [0, 5, 6, 7], 0] = [0.5, 0.2, 0.3, 0.2]  # a spike, and a wider blob of more weight
    >>> densest_window_masks(weights, 3)[0, 0, :, 0].numpy().tolist()
    [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0]
    """
    if int(size) % 2 != 1:
        raise ValueError(f"the square's side must be odd, got {size!r}")
    half = int(size) // 2
    weights = tf.stop_gradient(tf.cast(weights, tf.float32))
    shape = tf.shape(weights)
    padded = tf.pad(weights, [[0, 0], [half, half], [half, half], [0, 0]])
    box_sums = tf.nn.avg_pool2d(padded, int(size), 1, "VALID")  # [B, H, W, C], each cell's square
    flat = tf.reshape(tf.transpose(box_sums, [0, 3, 1, 2]), [shape[0], shape[3], shape[1] * shape[2]])
    peak = tf.argmax(flat, axis=-1, output_type=tf.int32)  # [B, C]
    peak_rows, peak_cols = peak // shape[2], peak % shape[2]
    near_rows = tf.abs(tf.range(shape[1])[tf.newaxis, :, tf.newaxis] - peak_rows[:, tf.newaxis, :]) <= half
    near_cols = tf.abs(tf.range(shape[2])[tf.newaxis, :, tf.newaxis] - peak_cols[:, tf.newaxis, :]) <= half
    return tf.cast(near_rows[:, :, tf.newaxis, :] & near_cols[:, tf.newaxis, :, :], tf.float32)


def label_centroids(label, num_classes):
    """`class_centroids` of a hard label map, without building its one-hot form.

    Args:
        label: integer tensor `[H, W]` of ids below `num_classes`.
        num_classes: int.

    Returns:
        `(centroids, mass)`: float32 `[C, 2]` and float32 `[C]` pixel counts.

    Example:
    >>> label_centroids(tf.constant([[0, 1], [0, 1]]), 2)[0].numpy()[1].tolist()
    [0.5, 1.0]
    """
    label = tf.cast(label, tf.int32)
    height, width = tf.shape(label)[0], tf.shape(label)[1]
    # Per-row and per-column class counts by one bincount each: no one-hot map,
    # and exact integer counts, so the sums do not drift on large images.
    row_ids = label + num_classes * tf.range(height)[:, tf.newaxis]
    col_ids = label + num_classes * tf.range(width)[tf.newaxis, :]
    row_counts = tf.reshape(
        tf.math.bincount(row_ids, minlength=height * num_classes, dtype=tf.int64), [height, num_classes]
    )
    col_counts = tf.reshape(
        tf.math.bincount(col_ids, minlength=width * num_classes, dtype=tf.int64), [width, num_classes]
    )
    rows = tf.range(tf.cast(height, tf.int64))[:, tf.newaxis]
    cols = tf.range(tf.cast(width, tf.int64))[:, tf.newaxis]
    sums = tf.cast(
        tf.stack([tf.reduce_sum(row_counts * rows, axis=0), tf.reduce_sum(col_counts * cols, axis=0)], axis=-1),
        tf.float64,
    )
    mass = tf.cast(tf.reduce_sum(row_counts, axis=0), tf.float64)
    centroids = _divide_or_centre(sums, mass, tf.cast(_frame_centre(height, width), tf.float64))
    return tf.cast(centroids, tf.float32), tf.cast(mass, tf.float32)


def part_centres(centroids, mass, frame_size, part_classes=STN_ICNN_PART_CLASSES, min_mass=1.0):
    """Centres of STN-iCNN's six parts, filling missing parts by the module's rule.

    Args:
        centroids: float tensor `[..., C, 2]` of class centroids, from
            `class_centroids` or `label_centroids` (9-class STN-iCNN layout).
        mass: float tensor `[..., C]`, the classes' masses.
        frame_size: `(height, width)` of the map, for rule 4.
        part_classes: the channels of each part (default: STN-iCNN's six).
            Rule 2 applies to parts 0-3 (left/right eyebrow, left/right eye).
        min_mass: a class is present when its mass (pixels, or summed
            probability) is at least this.

    Returns:
        `(centres, present)`: float32 `[..., P, 2]` `(y, x)` pixel centres
        and bool `[..., P]`, False where a part was filled in by the rule.

    Example:
    >>> label = tf.zeros([101, 101], tf.int32)  # no face at all
    >>> centres, present = part_centres(*label_centroids(label, 9), (101, 101))
    >>> centres.numpy()[0].tolist(), bool(present.numpy().any())
    ([50.0, 50.0], False)
    """
    class_present = mass >= min_mass
    centres, present = [], []
    for classes in part_classes:
        member = tf.stack([class_present[..., c] for c in classes], axis=-1)
        weight = tf.cast(member, tf.float32)[..., tf.newaxis]
        positions = tf.stack([centroids[..., c, :] for c in classes], axis=-2)
        count = tf.reduce_sum(weight, axis=-2)
        centres.append(tf.reduce_sum(positions * weight, axis=-2) / tf.maximum(count, 1.0))
        present.append(tf.reduce_any(member, axis=-1))
    centres = tf.stack(centres, axis=-2)
    present = tf.stack(present, axis=-1)

    inner = sorted({c for classes in part_classes for c in classes})
    inner_mass = tf.gather(mass, inner, axis=-1)
    inner_sums = tf.reduce_sum(tf.gather(centroids, inner, axis=-2) * inner_mass[..., tf.newaxis], axis=-2)
    fallback = _divide_or_centre(
        inner_sums, tf.reduce_sum(inner_mass, axis=-1), _frame_centre(frame_size[0], frame_size[1])
    )

    filled = []
    for part, centre in enumerate(tf.unstack(centres, axis=-2)):
        candidate = fallback
        if part in MIRRORED_PARTS:
            partner, reference, reference_partner = MIRRORED_PARTS[part]
            usable = present[..., partner] & present[..., reference] & present[..., reference_partner]
            mirrored = centres[..., partner, :] + centres[..., reference, :] - centres[..., reference_partner, :]
            candidate = tf.where(usable[..., tf.newaxis], mirrored, fallback)
        # expand_dims, not present[..., part, tf.newaxis]: TF 2.21's graph optimiser drops that new axis in
        # batched graphs, and the select then fails with "condition [B], then [B,2]".
        filled.append(tf.where(tf.expand_dims(present[..., part], -1), centre, candidate))
    return tf.stack(filled, axis=-2), present
