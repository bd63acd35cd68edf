"""Output biases set to the log class priors, so training starts from the answer chance gives.

A face parser's classes are far from balanced: on the synthetic faces at
128x128 the eight part classes cover about 1% of the pixels. With the last
layer's bias at zero the first prediction is uniform (loss ln 9 = 2.2), and
the first thing the network learns is to say "background" everywhere. Adam
moves a bias by about one learning rate a step, so the background margin of
ln(0.99 / 0.0013) = 6.6 is out of the bias's reach for thousands of steps and
has to be carried by the weights; measured, a from-scratch stage-1 iCNN then
answers background everywhere for the first 300 steps or more, whatever the
initialisation, learning rate, batch size or number of faces
(`docs/stage1_ablation.md`). Starting the bias at the log priors makes the
first prediction the class frequencies (loss at the label entropy, 0.08), and
the same iCNN leaves the all-background answer within 100-250 steps.
"""

import numpy as np

PRIOR_FLOOR = 1e-4
"""Frequencies below this (a class absent from the sample) are raised to it before the log."""


def label_frequencies(label_batches, num_classes):
    """Pixel frequency of every class over some batches of label maps.

    Args:
        label_batches: iterable of integer arrays (or tensors) of class ids,
            any shape.
        num_classes: int, the number of classes.

    Returns:
        float64 numpy array `[num_classes]` summing to 1.

    Raises:
        ValueError: no labels, or an id outside `[0, num_classes)`.

    Example:
    >>> label_frequencies([np.array([[0, 0, 0, 1]])], 3).tolist()
    [0.75, 0.25, 0.0]
    """
    counts = np.zeros(int(num_classes), np.int64)
    for labels in label_batches:
        labels = np.asarray(labels).ravel()
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(f"label ids must be in [0, {num_classes}), got {labels.min()}..{labels.max()}")
        counts += np.bincount(labels, minlength=num_classes)
    if counts.sum() == 0:
        raise ValueError("label_frequencies needs at least one labelled pixel")
    return counts / counts.sum()


def set_prior_bias(layer, frequencies):
    """Sets a logits layer's bias to the log of the class frequencies.

    Args:
        layer: a built Keras layer with a `bias` of shape `[num_classes]`
            (the last convolution of a parser).
        frequencies: array-like `[num_classes]`, the class frequencies
            (`label_frequencies`); zeros are raised to `PRIOR_FLOOR`.

    Raises:
        ValueError: the layer has no bias, or its size is not the number of
            frequencies.

    Example:
    >>> head = keras.layers.Conv2D(2, 1)
    >>> head.build((None, 4, 4, 3))
    >>> set_prior_bias(head, [0.9, 0.1])
    >>> [round(float(b), 3) for b in head.bias.numpy()]
    [-0.105, -2.303]
    """
    frequencies = np.asarray(frequencies, np.float64)
    bias = getattr(layer, "bias", None)
    if bias is None:
        raise ValueError(f"layer {layer.name!r} has no bias to set")
    if tuple(bias.shape) != frequencies.shape:
        raise ValueError(
            f"layer {layer.name!r} has a bias of shape {tuple(bias.shape)}, "
            f"but {frequencies.shape[0]} class frequencies were given"
        )
    bias.assign(np.log(np.maximum(frequencies, PRIOR_FLOOR)).astype(bias.dtype))
