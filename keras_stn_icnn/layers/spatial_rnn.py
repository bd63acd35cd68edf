"""RNN-G's spatially variant RNN as a Keras layer, and the bound on its recurrent matrices."""

import keras
import tensorflow as tf

from keras_stn_icnn.ops.spatial_rnn import DIRECTIONS, spatial_rnn_4way


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class MaxSpectralNorm(keras.constraints.Constraint):
    """Scales a matrix down so that its spectral norm is at most `max_value`.

    `w` becomes `w / max(1, sigma_max(w) / max_value)`, with `sigma_max` the
    largest singular value: a matrix already within the bound is left as it
    is. With `max_value=1`, `||w h|| <= ||h||` for every `h`, which is the
    stability condition of RNN-G's linear recurrence (§3.2: "the norm of
    w_h ... normalized to be within one during parameter update"). The
    spectral norm, unlike the Frobenius norm, lets the identity through, so
    every channel can still propagate at full strength.

    Args:
        max_value: float > 0, the largest allowed spectral norm. Defaults to 1.

    Example:
    >>> w = MaxSpectralNorm()(tf.constant([[3.0, 0.0], [0.0, 0.5]]))
    >>> w.numpy().tolist()
    [[1.0, 0.0], [0.0, 0.1666666716337204]]
    """

    def __init__(self, max_value=1.0):
        self.max_value = float(max_value)
        if not self.max_value > 0:
            raise ValueError(f"max_value must be positive, got {max_value!r}")

    def __call__(self, w):
        w = tf.convert_to_tensor(w)
        largest = tf.linalg.svd(w, compute_uv=False)[..., 0]
        return w / tf.maximum(1.0, largest / self.max_value)

    def get_config(self):
        return {"max_value": self.max_value}


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class SpatialRNN(keras.layers.Layer):
    """Four gated linear recurrences (one per direction) merged by a node-wise max.

    RNN-G's spatially variant RNN (Liu et al., BMVC 2017, §3.1-3.2, Eq. 3):
    along each direction of `ops.spatial_rnn.DIRECTIONS`,
    `h_i = x_i + g_i * (w h_{i-1} + b)` with the identity activation, and the
    output takes at each pixel and channel the largest of the four `h`.

    The stability bounds of §3.2 are enforced as follows:

    - `|g| <= 1`: the layer takes the gate *pre-activations* and applies
      `tanh`, so `g` lies in (-1, 1) and every gate value has a gradient
      (clipping would leave none outside the range).
    - `||w|| <= 1`: every recurrent matrix has the `MaxSpectralNorm(1)` Keras
      constraint, which the optimizer applies after each update.

    Weights, per direction `d` in `DIRECTIONS`: `"{d}_kernel"` `[C, C]` (the
    paper's square matrix `w_h`) and `"{d}_bias"` `[C]`.

    Args:
        kernel_initializer: initializer of the recurrent matrices. Defaults to
            `"identity"` (each channel propagates itself).
        bias_initializer: initializer of the biases. Defaults to `"zeros"`.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        inputs: float tensor `[B, H, W, C]`, the label representation `X`.
        gates: float tensor `[B, H, W, C]`, the gate representation `G`
            before the `tanh`.

    Returns:
        float tensor `[B, H, W, C]`.

    Example:
    >>> layer = SpatialRNN()
    >>> layer(keras.ops.ones([2, 16, 16, 8]), keras.ops.zeros([2, 16, 16, 8])).shape
    TensorShape([2, 16, 16, 8])
    """

    def __init__(self, kernel_initializer="identity", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, inputs_shape, gates_shape):
        channels = inputs_shape[-1]
        if len(inputs_shape) != 4 or channels is None:
            raise ValueError(f"inputs must be [B, H, W, C] with known C, got {tuple(inputs_shape)}")
        if len(gates_shape) != 4 or gates_shape[-1] != channels:
            raise ValueError(f"gates must be [B, H, W, {channels}] like inputs, got {tuple(gates_shape)}")
        self.kernels = [
            self.add_weight(
                shape=(channels, channels),
                initializer=self.kernel_initializer,
                constraint=MaxSpectralNorm(1.0),
                name=f"{direction}_kernel",
            )
            for direction in DIRECTIONS
        ]
        self.biases = [
            self.add_weight(shape=(channels,), initializer=self.bias_initializer, name=f"{direction}_bias")
            for direction in DIRECTIONS
        ]

    def call(self, inputs, gates):
        return spatial_rnn_4way(
            inputs,
            tf.tanh(gates),
            tf.stack([tf.convert_to_tensor(k) for k in self.kernels]),
            tf.stack([tf.convert_to_tensor(b) for b in self.biases]),
        )

    def compute_output_shape(self, inputs_shape, gates_shape):
        return tuple(inputs_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
