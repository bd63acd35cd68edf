"""RED-Net's adaptive prior (Guo et al., AAAI 2018, "Adaptive prior", Eq. 5-8).

The prior of a face is the average ground-truth label map of the `N`
exemplars whose five facial key points (two eye centres, nose tip, two mouth
corners) lie closest to the face's own in a PCA subspace (Eq. 5, following
Liu et al. 2015). It is scaled per pixel by the normalised entropy of the
decoder's prediction (Eq. 6-7) and added to that prediction before the final
normalisation (Eq. 8):

    As = H(P_net) / log(C)                          (Eq. 6)
    P_final = N(P_net + As * Pr)                    (Eq. 7, 8)

with `N` dividing by the sum over classes, so `P_final` is a distribution.

Key points are read from a label map by one rule, used both for the exemplar
bank (ground-truth labels) and for the face being parsed (the decoder's own
argmax; the paper takes them from a landmark detector instead):

- eye centres: centroids of the `left_eye` and `right_eye` pixels;
- nose tip: centroid of the `nose` pixels (the nose class has no marked tip);
- mouth corners: the leftmost and rightmost columns holding a mouth pixel
  (`upper_lip`, `inner_mouth` or `lower_lip`), at the mean row of the mouth
  pixels in that column.

Coordinates are `(y, x)` divided by `(height - 1, width - 1)`, so they lie in
[0, 1] at any size. A key point whose classes have no pixel is reported as
absent; `fill_missing_key_points` replaces it by the exemplars' mean position
of that point (the PCA mean), so it does not pull the search either way.
"""

import collections
import math

import tensorflow as tf

from keras_stn_icnn.ops import resize

KEY_POINT_NAMES = ("left_eye", "right_eye", "nose_tip", "mouth_left", "mouth_right")
"""The five key points, in the order of every `[..., 5, 2]` tensor here."""

KEY_POINT_CLASS_NAMES = (("left_eye",), ("right_eye",), ("nose",), ("upper_lip", "inner_mouth", "lower_lip"))
"""Class names of the eyes, the nose and the mouth (whose two extreme columns give both corners)."""

ExemplarBank = collections.namedtuple("ExemplarBank", ["label_maps", "projections", "key_point_mean", "pca_basis"])
"""The exemplars of the adaptive prior.

Attributes:
    label_maps: int32 `[M, size, size]`, their ground-truth labels at the
        working size.
    projections: float32 `[M, K]`, their key points in the PCA subspace.
    key_point_mean: float32 `[10]`, the mean flattened key points.
    pca_basis: float32 `[10, K]`, orthonormal principal directions, the
        largest variance first.
"""


def key_point_class_ids(class_names):
    """The class ids of the eyes, nose and mouth in a list of class names.

    Args:
        class_names: sequence of str, holding HELEN's `left_eye`, `right_eye`,
            `nose`, `upper_lip`, `inner_mouth` and `lower_lip`.

    Returns:
        tuple of four tuples of int: left eye, right eye, nose, mouth ids.

    Raises:
        ValueError naming the missing class.

    Example:
    >>> key_point_class_ids(("background", "left_eye", "right_eye", "nose",
    ...                      "upper_lip", "inner_mouth", "lower_lip"))
    ((1,), (2,), (3,), (4, 5, 6))
    """
    names = tuple(class_names)
    ids = []
    for group in KEY_POINT_CLASS_NAMES:
        missing = [name for name in group if name not in names]
        if missing:
            raise ValueError(
                f"the adaptive prior needs the classes {missing} for its key points; class_names is {names!r}"
            )
        ids.append(tuple(names.index(name) for name in group))
    return tuple(ids)


def _class_mask(label_maps, ids):
    is_member = tf.stack([tf.equal(label_maps, i) for i in ids], axis=-1)
    return tf.cast(tf.reduce_any(is_member, axis=-1), tf.float32)


def _safe_divide(numerator, denominator):
    return numerator / tf.maximum(denominator, 1.0)


def facial_key_points(label_maps, class_ids):
    """The five key points of label maps by the module's rule.

    Args:
        label_maps: integer tensor `[B, H, W]` (H, W > 1).
        class_ids: `key_point_class_ids(...)`: left eye, right eye, nose and
            mouth ids.

    Returns:
        `(points, present)`: float32 `[B, 5, 2]` normalised `(y, x)` in
        `KEY_POINT_NAMES` order (0 where absent) and bool `[B, 5]`.

    Example:
    >>> label = tf.constant([[[0, 1, 0, 2, 0],
    ...                       [0, 0, 3, 0, 0],
    ...                       [0, 4, 4, 4, 0],
    ...                       [0, 0, 0, 0, 0],
    ...                       [0, 0, 0, 0, 0]]])
    >>> points, present = facial_key_points(label, ((1,), (2,), (3,), (4,)))
    >>> (points.numpy()[0] * 4).tolist()
    [[0.0, 1.0], [0.0, 3.0], [1.0, 2.0], [2.0, 1.0], [2.0, 3.0]]
    """
    label_maps = tf.cast(label_maps, tf.int32)
    height, width = tf.shape(label_maps)[1], tf.shape(label_maps)[2]
    rows = tf.cast(tf.range(height), tf.float32)[:, tf.newaxis]  # [H, 1]
    cols = tf.cast(tf.range(width), tf.float32)[tf.newaxis, :]  # [1, W]
    scale = tf.stack([tf.cast(height - 1, tf.float32), tf.cast(width - 1, tf.float32)])

    points, present = [], []
    for ids in class_ids[:3]:
        mask = _class_mask(label_maps, ids)
        mass = tf.reduce_sum(mask, axis=[1, 2])
        centre = tf.stack(
            [
                _safe_divide(tf.reduce_sum(mask * rows, axis=[1, 2]), mass),
                _safe_divide(tf.reduce_sum(mask * cols, axis=[1, 2]), mass),
            ],
            axis=-1,
        )
        points.append(centre)
        present.append(mass > 0.0)

    mouth = _class_mask(label_maps, class_ids[3])
    column_has_mouth = tf.reduce_max(mouth, axis=1) > 0.0  # [B, W]
    column_index = tf.broadcast_to(cols, tf.shape(column_has_mouth))
    leftmost = tf.reduce_min(tf.where(column_has_mouth, column_index, tf.cast(width, tf.float32)), axis=1)
    rightmost = tf.reduce_max(tf.where(column_has_mouth, column_index, -1.0), axis=1)
    has_mouth = tf.reduce_any(column_has_mouth, axis=1)
    for column in (leftmost, rightmost):
        in_column = mouth * tf.cast(tf.equal(cols, column[:, tf.newaxis]), tf.float32)[:, tf.newaxis, :]
        row_sum = tf.reduce_sum(in_column * rows, axis=[1, 2])
        row = _safe_divide(row_sum, tf.reduce_sum(in_column, axis=[1, 2]))
        points.append(tf.where(has_mouth[:, tf.newaxis], tf.stack([row, column], axis=-1), 0.0))
        present.append(has_mouth)
    return tf.stack(points, axis=1) / scale, tf.stack(present, axis=1)


def fill_missing_key_points(points, present, mean_points):
    """Absent key points replaced by the mean position of that point.

    Args:
        points: float tensor `[B, 5, 2]`.
        present: bool tensor `[B, 5]`.
        mean_points: float tensor `[5, 2]` (or `[10]`), e.g. the PCA mean.

    Returns:
        float32 `[B, 5, 2]`.

    Example:
    >>> fill_missing_key_points(tf.zeros([1, 5, 2]), tf.constant([[True] * 4 + [False]]),
    ...                         tf.ones([10])).numpy()[0, 3:].tolist()
    [[0.0, 0.0], [1.0, 1.0]]
    """
    mean_points = tf.reshape(tf.cast(mean_points, tf.float32), [1, 5, 2])
    return tf.where(present[..., tf.newaxis], tf.cast(points, tf.float32), mean_points)


def fit_key_point_pca(points, components):
    """Mean and principal directions of flattened key points.

    Args:
        points: float tensor `[M, 5, 2]` (no missing points), `M >= 1`.
        components: int in [1, 10], the subspace's dimension `K`.

    Returns:
        `(mean, basis)`: float32 `[10]` and float32 `[10, K]` with orthonormal
        columns, the largest-variance direction first.

    Example:
    >>> points = tf.constant([[[0.0, 0.0]] * 4 + [[0.0, x]] for x in (0.0, 1.0, 2.0)])
    >>> mean, basis = fit_key_point_pca(points, 1)
    >>> abs(float(basis[9, 0])), float(mean[9])
    (1.0, 1.0)
    """
    if isinstance(components, bool) or not 1 <= int(components) <= 10:
        raise ValueError(f"components must be an int in [1, 10], got {components!r}")
    flat = tf.reshape(tf.cast(points, tf.float64), [-1, 10])
    mean = tf.reduce_mean(flat, axis=0)
    centred = flat - mean
    covariance = tf.matmul(centred, centred, transpose_a=True) / tf.cast(tf.shape(flat)[0], tf.float64)
    _, vectors = tf.linalg.eigh(covariance)  # ascending eigenvalues
    basis = tf.reverse(vectors, axis=[1])[:, : int(components)]
    return tf.cast(mean, tf.float32), tf.cast(basis, tf.float32)


def project_key_points(points, mean, basis):
    """Key points `[B, 5, 2]` projected into the PCA subspace: `[B, K]`.

    Example:
    >>> project_key_points(tf.ones([1, 5, 2]), tf.zeros([10]), tf.eye(10)[:, :2]).numpy().tolist()
    [[1.0, 1.0]]
    """
    flat = tf.reshape(tf.cast(points, tf.float32), [-1, 10])
    return tf.matmul(flat - mean, basis)


def nearest_exemplars(projections, bank_projections, bank_valid, count):
    """Indices of the `count` exemplars closest in the PCA subspace (Euclidean).

    Args:
        projections: float tensor `[B, K]`, the faces to match.
        bank_projections: float tensor `[M, K]`.
        bank_valid: float tensor `[M]`, 1 for a filled exemplar slot, 0 for
            an empty one (never chosen while `count` filled slots exist).
        count: int, `N`.

    Returns:
        int32 `[B, count]`, nearest first; equal distances go to the lower
        index.

    Example:
    >>> nearest_exemplars(tf.constant([[0.9]]), tf.constant([[0.0], [1.0], [2.0]]),
    ...                   tf.ones([3]), 2).numpy().tolist()
    [[1, 0]]
    """
    difference = projections[:, tf.newaxis, :] - bank_projections[tf.newaxis, :, :]
    distance = tf.reduce_sum(tf.square(difference), axis=-1)  # [B, M]
    distance = tf.where(bank_valid[tf.newaxis, :] > 0.5, distance, 1e30)
    _, indices = tf.math.top_k(-distance, k=int(count))
    return tf.cast(indices, tf.int32)


def averaged_prior(bank_label_maps, indices, num_classes):
    """Eq. 5: the mean one-hot ground truth of the chosen exemplars.

    Args:
        bank_label_maps: integer tensor `[M, S, S]`.
        indices: int tensor `[B, N]`, from `nearest_exemplars`.
        num_classes: int, `C`.

    Returns:
        float32 `[B, S, S, C]`; every pixel sums to 1.

    Example:
    >>> bank = tf.constant([[[0]], [[1]], [[1]]])
    >>> averaged_prior(bank, tf.constant([[0, 1]]), 2).numpy().tolist()
    [[[[0.5, 0.5]]]]
    """
    chosen = tf.cast(tf.gather(bank_label_maps, indices), tf.int32)  # [B, N, S, S]
    return tf.reduce_mean(tf.one_hot(chosen, num_classes, dtype=tf.float32), axis=1)


def normalized_entropy(probabilities):
    """Eq. 6: the entropy of each pixel's distribution divided by `log(C)`.

    Args:
        probabilities: float tensor `[..., C]`, `C >= 2`, each pixel summing to 1.

    Returns:
        float32 `[...]` in [0, 1]: 1 for the uniform distribution, 0 for a
        one-hot one.

    Example:
    >>> normalized_entropy(tf.constant([[0.25] * 4, [1.0, 0.0, 0.0, 0.0]])).numpy().tolist()
    [1.0, 0.0]
    """
    probabilities = tf.cast(probabilities, tf.float32)
    num_classes = probabilities.shape[-1]
    # p * log(max(p, tiny)) is p * log(p) for every float32 p > tiny and 0 for p = 0.
    entropy = tf.reduce_sum(probabilities * -tf.math.log(tf.maximum(probabilities, 1e-30)), axis=-1)
    return entropy / math.log(num_classes)


def combine_with_prior(net_probabilities, prior, scale):
    """Eq. 7-8: `P_final = N(P_net + As * Pr)`, `N` dividing by the class sum.

    Args:
        net_probabilities: float tensor `[..., C]`, the decoder's softmax.
        prior: float tensor `[..., C]`, from `averaged_prior`.
        scale: float tensor `[...]`, the adaptive scale `As` (Eq. 6).

    Returns:
        float32 `[..., C]`, summing to 1 per pixel.

    Example:
    >>> combine_with_prior(tf.constant([0.5, 0.5]), tf.constant([1.0, 0.0]),
    ...                    tf.constant(1.0)).numpy().tolist()
    [0.75, 0.25]
    """
    combined = net_probabilities + scale[..., tf.newaxis] * prior
    return combined / tf.reduce_sum(combined, axis=-1, keepdims=True)


def exemplar_bank_from_labels(label_maps, class_ids, size, pca_components):
    """Builds the exemplar bank from ground-truth label maps (eagerly).

    The maps are resized (nearest) to `size x size`, their key points read by
    the module's rule, each absent point filled with the mean of that point
    over the maps where it is present (the frame centre if it is present in
    none), and a PCA of the flattened points fitted.

    Args:
        label_maps: integer array or tensor `[M, H, W]`, `M >= 1`.
        class_ids: `key_point_class_ids(...)`.
        size: int, the working size.
        pca_components: int in [1, 10].

    Returns:
        an `ExemplarBank`.

    Example:
    >>> labels = np.zeros((3, 8, 8), np.uint8)
    >>> labels[:, 2, 2], labels[:, 2, 5], labels[:, 4, 3], labels[:, 6, 2:6] = 1, 2, 3, 4
    >>> bank = exemplar_bank_from_labels(labels, ((1,), (2,), (3,), (4,)), 8, 2)
    >>> bank.label_maps.shape, bank.projections.shape, bank.pca_basis.shape
    (TensorShape([3, 8, 8]), TensorShape([3, 2]), TensorShape([10, 2]))
    """
    label_maps = tf.convert_to_tensor(label_maps)
    if label_maps.shape.rank != 3 or label_maps.shape[0] == 0:
        raise ValueError(f"label_maps must be [M, H, W] with M >= 1, got shape {label_maps.shape}")
    if not label_maps.dtype.is_integer:
        raise ValueError(f"label_maps must hold integer class ids, got dtype {label_maps.dtype.name}")
    resized = resize.resize_nearest(tf.cast(label_maps, tf.int32)[..., tf.newaxis], (size, size))[..., 0]
    points, present = facial_key_points(resized, class_ids)
    weight = tf.cast(present, tf.float32)[..., tf.newaxis]
    count = tf.reduce_sum(weight, axis=0)
    mean_points = tf.where(count > 0.0, tf.reduce_sum(points * weight, axis=0) / tf.maximum(count, 1.0), 0.5)
    points = fill_missing_key_points(points, present, mean_points)
    mean, basis = fit_key_point_pca(points, pca_components)
    return ExemplarBank(resized, project_key_points(points, mean, basis), mean, basis)
