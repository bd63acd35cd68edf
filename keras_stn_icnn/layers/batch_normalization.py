"""Batch normalisation that trains through TensorFlow's fused kernel.

Keras 3's `BatchNormalization` computes a training batch's moments and the
normalisation with separate element-wise ops, and its gradient walks back
through each of them. On a CPU, at the 256 px working size and the few
channels of the zoo's CPU variants, those passes over memory cost more than
the convolutions: forward and backward over `[8, 256, 256, 4]` took 22.6 ms
against 5.6 ms for TensorFlow's fused kernel (`FusedBatchNormV3`) and 14.3 ms
for the 3x3 convolution before it, and a `red_net_cpu` training step 1.26 s
against 0.90 s (`benchmarks/batch_norm_speed.py` prints the figures).
This module's `BatchNormalization` is Keras's layer with the same weights,
arguments and results (to float rounding), that normalises a training batch
with the fused kernel; inference, and every case the kernel does not cover,
stays on Keras's own path, so exported graphs are unchanged. It keeps Keras's
class name on purpose: Keras keys a layer's weights in `.weights.h5` and
`.keras` files by its class name, so weight files written with Keras's layer
(the presets, a user's checkpoints, `keras.applications` weights) load into
it, and its files load into Keras's.
"""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class BatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` whose training step runs TensorFlow's fused kernel.

    In training, on a 4-D channels-last input, the batch is normalised by
    `FusedBatchNormV3` and the moving averages take the batch's mean and
    (biased) variance, as Keras's layer does. Keras's own computation is used
    at inference, for masks, batch renormalisation, `synchronized=True`
    (cross-replica moments, see `train.strategy`), other axes and other ranks.
    Every argument is Keras's.

    Args:
        **kwargs: the arguments of `keras.layers.BatchNormalization`.

    Call arguments:
        inputs: float tensor.
        training: bool, batch statistics or moving averages.
        mask: optional bool tensor of one rank less than `inputs`.

    Returns:
        float tensor of `inputs`' shape.

    Example:
    >>> norm = BatchNormalization(momentum=0.0)
    >>> outputs = norm(keras.ops.convert_to_tensor([[[[1.0], [3.0]]]]), training=True)
    >>> outputs.numpy().ravel().round(3).tolist(), norm.moving_mean.numpy().tolist()
    ([-1.0, 1.0], [2.0])
    """

    def _uses_fused_kernel(self, inputs, training, mask):
        rank = len(inputs.shape)
        return (
            bool(training)
            and self.trainable
            and mask is None
            and not self.renorm
            and not self.synchronized
            and rank == 4
            and self.axis in (-1, rank - 1)
        )

    def call(self, inputs, training=None, mask=None):
        if not self._uses_fused_kernel(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        inputs = keras.ops.cast(inputs, "float32")
        channels = inputs.shape[-1]
        gamma = self.gamma if self.scale else tf.ones([channels])
        beta = self.beta if self.center else tf.zeros([channels])
        outputs, mean, corrected_variance, *_ = tf.raw_ops.FusedBatchNormV3(
            x=inputs,
            scale=keras.ops.cast(gamma, "float32"),
            offset=keras.ops.cast(beta, "float32"),
            mean=tf.constant([], "float32"),
            variance=tf.constant([], "float32"),
            epsilon=self.epsilon,
            data_format="NHWC",
            is_training=True,
        )
        # The kernel returns the variance with Bessel's correction; Keras's moving average takes the biased one.
        count = keras.ops.cast(keras.ops.size(inputs) // channels, "float32")
        variance = keras.ops.where(count > 1.0, corrected_variance * (count - 1.0) / count, 0.0)
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return keras.ops.cast(outputs, self.compute_dtype)
