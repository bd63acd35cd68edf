"""Assembling per-part probability maps into one face map."""

import tensorflow as tf


def assemble_part_probabilities(backgrounds, foregrounds):
    """Combines pasted part maps into one probability map, as the reference does.

    Each part contributes its own background map (1 outside its window) and its
    foreground channels (0 outside its window). The face background is the
    product of every part's background; the foreground channels follow in part
    order.

    Args:
        backgrounds: float tensor `[B, N, H, W]`, each part's background
            probability on the frame.
        foregrounds: list of float tensors `[B, H, W, k_i]`, each part's
            foreground probabilities, in part order.

    Returns:
        Tensor `[B, H, W, 1 + sum(k_i)]`: channel 0 the background, then every
        part's foreground channels.

    Example:
    >>> bg = tf.ones([1, 2, 4, 4])
    >>> fg = [tf.zeros([1, 4, 4, 1]), tf.zeros([1, 4, 4, 3])]
    >>> assemble_part_probabilities(bg, fg).shape
    TensorShape([1, 4, 4, 5])
    """
    background = tf.expand_dims(tf.reduce_prod(backgrounds, axis=1), -1)
    return tf.concat([background, *foregrounds], axis=-1)
