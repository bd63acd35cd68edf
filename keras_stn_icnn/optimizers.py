"""Adam, bit for bit Keras', with a smaller traced step.

Keras' `Adam` computes its step size once for every variable it updates;
`Adam` here computes it once a step. The models' `compile()` and the
trainers use it; `train.optimizers.GroupedAdam` builds on it.
"""

import keras
import tensorflow as tf

ADAM_EPSILON = 1e-8
"""PyTorch's Adam epsilon (Keras defaults to 1e-7)."""


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class Adam(keras.optimizers.Adam):
    """`keras.optimizers.Adam` that computes its step size once a training step.

    Keras' `Adam.update_step` computes the step size `learning_rate *
    sqrt(1 - beta_2^t) / (1 - beta_1^t)` for every variable: some seventeen ops
    a variable in a traced training step (an STN-iCNN stage has 132 to 722
    variables), all of the same value. This computes it once per traced step
    and learning rate, with the same ops, and updates each variable as Keras
    does, so the weights after any number of steps are Keras' bit for bit
    (`tests/test_train_recipes.py`); only the step's graph is smaller, and
    quicker to trace. Every argument is Keras'.

    Args:
        **kwargs: the arguments of `keras.optimizers.Adam`.

    Example:
    >>> optimizer = Adam(0.1)
    >>> variable = keras.Variable([1.0])
    >>> optimizer.apply([keras.ops.ones([1])], [variable])
    >>> round(float(variable[0]), 4)  # Adam's first step is the rate
    0.9
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._step_sizes = {}

    def apply(self, grads, trainable_variables=None):
        self._step_sizes = {}  # step sizes are shared within one step's graph, never across steps
        try:
            return super().apply(grads, trainable_variables)
        finally:
            self._step_sizes = {}

    def learning_rate_factor(self, variable):
        """The factor of the learning rate for `variable`: None (no factor) here, its group's in `GroupedAdam`."""
        return None

    def _step_size(self, learning_rate, variable):
        factor = self.learning_rate_factor(variable)
        key = (id(learning_rate), factor, variable.dtype)
        cached = self._step_sizes.get(key)
        if cached is not None and cached[0] is learning_rate:
            return cached[1]
        rate = keras.ops.cast(learning_rate, variable.dtype)
        if factor is not None:
            rate = rate * keras.ops.cast(factor, variable.dtype)
        local_step = keras.ops.cast(self.iterations + 1, variable.dtype)
        beta_1_power = keras.ops.power(keras.ops.cast(self.beta_1, variable.dtype), local_step)
        beta_2_power = keras.ops.power(keras.ops.cast(self.beta_2, variable.dtype), local_step)
        step_size = rate * keras.ops.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        if not tf.executing_eagerly():  # eagerly nothing is traced, and a variable rate may change between calls
            # The rate is kept beside its step size so that its id, the key, cannot pass to another object.
            self._step_sizes[key] = (learning_rate, step_size)
        return step_size

    def update_step(self, gradient, variable, learning_rate):
        step_size = self._step_size(learning_rate, variable)
        gradient = keras.ops.cast(gradient, variable.dtype)
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        self.assign_add(m, keras.ops.multiply(keras.ops.subtract(gradient, m), 1 - self.beta_1))
        self.assign_add(v, keras.ops.multiply(keras.ops.subtract(keras.ops.square(gradient), v), 1 - self.beta_2))
        if self.amsgrad:
            v_hat = self._velocity_hats[self._get_variable_index(variable)]
            self.assign(v_hat, keras.ops.maximum(v_hat, v))
            v = v_hat
        self.assign_sub(
            variable, keras.ops.divide(keras.ops.multiply(m, step_size), keras.ops.add(keras.ops.sqrt(v), self.epsilon))
        )
