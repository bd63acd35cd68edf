"""RNN-G's spatially variant linear recurrence over a 2-D map (Liu et al., BMVC 2017, §3.1-3.2).

Along one direction, every row (or column) of a map `[B, H, W, C]` is a 1-D
sequence, and the hidden state at step `i` is, by Eq. (3) with the identity
activation,

    h_i = x_i + g_i * (w h_{i-1} + b),        h_{-1} = 0,

where `x_i` is the input, `g_i` the gate (element-wise), `w` a `C x C`
recurrent matrix and `b` a bias `[C]`. The four directions ("left_to_right",
"right_to_left", "top_to_bottom", "bottom_to_top", `DIRECTIONS`) run in
parallel on the same input and are merged by a node-wise max (§3.1).

The scan processes one whole column (left/right) or row (top/bottom) of
every image at once: a `tf.while_loop` whose trip count is the map's width or
height, writing each step into a preallocated `[L, ...]` buffer with
`tf.tensor_scatter_nd_update`. That form converts to LiteRT with builtin ops
(`WHILE`); `tf.scan` does not, because its `TensorList` has a dynamic batch in
its element shape and the converter refuses it without Flex ops. The
directions that share a scan length (all four on a square map) run in one
loop, stacked along a direction axis, with one batched matmul per step.
"""

import tensorflow as tf

from keras_stn_icnn.checks import check_choice

DIRECTIONS = ("left_to_right", "right_to_left", "top_to_bottom", "bottom_to_top")
"""Scan directions, in the order of the stacked weights of `spatial_rnn_4way`."""

_HORIZONTAL = ("left_to_right", "right_to_left")


def _check_maps(x, g):
    if x.shape.rank != 4:
        raise ValueError(f"x must be [B, H, W, C], got shape {x.shape}")
    if g.shape.rank != 4:
        raise ValueError(f"g must be [B, H, W, C] like x, got shape {g.shape}")
    if not x.shape.is_compatible_with(g.shape):
        raise ValueError(f"x and g must have the same shape, got {x.shape} and {g.shape}")


def _to_sequences(maps, direction):
    """`[B, H, W, C]` -> `[L, B, M, C]` with the scan axis first, in scan order."""
    if direction == "right_to_left":
        maps = tf.reverse(maps, axis=[2])
    elif direction == "bottom_to_top":
        maps = tf.reverse(maps, axis=[1])
    permutation = [2, 0, 1, 3] if direction in _HORIZONTAL else [1, 0, 2, 3]
    return tf.transpose(maps, permutation)


def _from_sequences(sequences, direction):
    """The inverse of `_to_sequences`."""
    permutation = [1, 2, 0, 3] if direction in _HORIZONTAL else [1, 0, 2, 3]
    maps = tf.transpose(sequences, permutation)
    if direction == "right_to_left":
        maps = tf.reverse(maps, axis=[2])
    elif direction == "bottom_to_top":
        maps = tf.reverse(maps, axis=[1])
    return maps


def _scan(xs, gs, w, b):
    """The recurrence over axis 0 of `xs`, `gs` `[L, D, B, M, C]`, weights `[D, C, C]`, `[D, C]`."""
    length = tf.shape(xs)[0]
    state_shape = tf.shape(xs)[1:]
    bias = b[:, tf.newaxis, tf.newaxis, :]

    def step(i, state, outputs):
        flat_state = tf.reshape(state, [state_shape[0], -1, state_shape[-1]])  # [D, B*M, C]
        propagated = tf.reshape(tf.matmul(flat_state, w, transpose_b=True), state_shape)
        state = xs[i] + gs[i] * (propagated + bias)
        return i + 1, state, tf.tensor_scatter_nd_update(outputs, [[i]], state[tf.newaxis])

    _, _, outputs = tf.while_loop(
        lambda i, state, outputs: i < length,
        step,
        (tf.constant(0), tf.zeros_like(xs[0]), tf.zeros_like(xs)),
    )
    return outputs


def _recurrences(x, g, w, b, directions):
    """The recurrence in each of `directions` (all with the same scan length) in one loop.

    Returns a list of `[B, H, W, C]` maps, one per direction.
    """
    xs = tf.stack([_to_sequences(x, d) for d in directions], axis=1)
    gs = tf.stack([_to_sequences(g, d) for d in directions], axis=1)
    hs = _scan(xs, gs, tf.cast(w, x.dtype), tf.cast(b, x.dtype))
    return [_from_sequences(hs[:, k], d) for k, d in enumerate(directions)]


def gated_linear_recurrence(x, g, w, b, direction):
    """RNN-G's Eq. (3) along one direction: `h_i = x_i + g_i * (w h_{i-1} + b)`.

    Every row (for `"left_to_right"`/`"right_to_left"`) or column (for
    `"top_to_bottom"`/`"bottom_to_top"`) is an independent sequence; one loop
    step advances all of them by one pixel. The state before the first pixel
    is zero, so the first pixel gets `x + g * b`.

    Args:
        x: float tensor `[B, H, W, C]`, the input `X`.
        g: float tensor `[B, H, W, C]`, the gate `G` (used as given; bound it
            to `|g| <= 1` beforehand for a stable recurrence).
        w: float tensor `[C, C]`, the recurrent matrix (`w h` is
            `sum_d w[c, d] h[d]`).
        b: float tensor `[C]`, the bias.
        direction: str, one of `DIRECTIONS`.

    Returns:
        Tensor `[B, H, W, C]`, the hidden states `h`.

    Example:
    >>> x = tf.ones([1, 1, 3, 1])
    >>> h = gated_linear_recurrence(x, 0.5 * x, tf.eye(1), tf.zeros([1]), "left_to_right")
    >>> h[0, 0, :, 0].numpy().tolist()
    [1.0, 1.5, 1.75]
    """
    check_choice(direction, DIRECTIONS, "direction")
    x, g = tf.convert_to_tensor(x), tf.convert_to_tensor(g)
    _check_maps(x, g)
    w, b = tf.convert_to_tensor(w), tf.convert_to_tensor(b)
    if w.shape.rank != 2 or b.shape.rank != 1:
        raise ValueError(f"w must be [C, C] and b [C], got shapes {w.shape} and {b.shape}")
    return _recurrences(x, g, w[tf.newaxis], b[tf.newaxis], (direction,))[0]


def spatial_rnn_4way(x, g, w, b):
    """The four directional recurrences run in parallel and merged by a node-wise max (§3.1).

    Args:
        x: float tensor `[B, H, W, C]`, the input `X` shared by all directions.
        g: float tensor `[B, H, W, C]`, the gate `G` shared by all directions.
        w: float tensor `[4, C, C]`, one recurrent matrix per direction, in
            `DIRECTIONS` order.
        b: float tensor `[4, C]`, one bias per direction.

    Returns:
        Tensor `[B, H, W, C]`: at every pixel and channel, the largest of the
        four directions' hidden states.

    Example:
    >>> x = tf.reshape(tf.range(4.0), [1, 2, 2, 1])
    >>> h = spatial_rnn_4way(x, tf.zeros_like(x), tf.zeros([4, 1, 1]), tf.zeros([4, 1]))
    >>> bool(tf.reduce_all(h == x))  # closed gates: nothing propagates
    True
    """
    x, g = tf.convert_to_tensor(x), tf.convert_to_tensor(g)
    _check_maps(x, g)
    w, b = tf.convert_to_tensor(w), tf.convert_to_tensor(b)
    if w.shape.rank != 3 or w.shape[0] != len(DIRECTIONS) or b.shape.rank != 2 or b.shape[0] != 4:
        raise ValueError(f"w must be [4, C, C] and b [4, C], got shapes {w.shape} and {b.shape}")
    height, width = x.shape[1], x.shape[2]
    if height is not None and height == width:
        hidden = _recurrences(x, g, w, b, DIRECTIONS)
    else:
        hidden = _recurrences(x, g, w[:2], b[:2], DIRECTIONS[:2]) + _recurrences(x, g, w[2:], b[2:], DIRECTIONS[2:])
    return tf.reduce_max(tf.stack(hidden, axis=0), axis=0)
