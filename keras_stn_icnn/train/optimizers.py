"""The paper's learning-rate schedules, and Adam with one learning rate per group of variables.

End-to-end training gives the stage-1 iCNN, the localizer and the part
models their own learning rates (Lr1, Lr2, Lr3). `GroupedAdam` is one Adam
(the package's, `keras_stn_icnn.optimizers.Adam`) whose update of each
variable is scaled by its group's rate, so the three groups share one
optimizer, one step counter, one schedule and one checkpoint, and it works
unchanged under `tf.distribute` and `fit`.
"""

import keras

from keras_stn_icnn.optimizers import ADAM_EPSILON, Adam


def halving_schedule(learning_rate, steps_per_epoch, every_epochs=5):
    """The paper's schedule: `learning_rate`, halved every `every_epochs` epochs.

    Args:
        learning_rate: float, the initial rate.
        steps_per_epoch: int, optimizer steps in one epoch.
        every_epochs: int, the halving period.

    Returns:
        A `keras.optimizers.schedules.ExponentialDecay` (staircase).

    Example:
    >>> schedule = halving_schedule(0.01, steps_per_epoch=10, every_epochs=5)
    >>> [round(float(schedule(step)), 6) for step in (0, 49, 50, 100)]
    [0.01, 0.01, 0.005, 0.0025]
    """
    if int(steps_per_epoch) < 1 or int(every_epochs) < 1:
        raise ValueError(
            f"steps_per_epoch and every_epochs must be positive, got {steps_per_epoch!r} and {every_epochs!r}"
        )
    return keras.optimizers.schedules.ExponentialDecay(
        float(learning_rate), decay_steps=int(steps_per_epoch) * int(every_epochs), decay_rate=0.5, staircase=True
    )


WARMUP_FRACTION = 0.1
"""Share of a stage's steps over which `warmup_cosine_schedule` ramps the rate up."""


def warmup_cosine_schedule(learning_rate, total_steps, warmup_fraction=WARMUP_FRACTION):
    """A linear warm-up from a tenth of `learning_rate`, then a cosine decay to zero at `total_steps`.

    Tied to the stage's steps rather than to epochs, so the rate follows the
    images seen whatever the size of the training set. The warm-up keeps the
    first Adam steps small: with the log-prior bias, an iCNN started at a
    fifth of the rate or warmed up leaves the all-background answer sooner
    and more steadily than one started at full rate (`docs/stage1_ablation.md`).

    Args:
        learning_rate: float, the peak rate.
        total_steps: int, optimizer steps of the whole stage.
        warmup_fraction: float in [0, 1), the share of the steps spent warming up.

    Returns:
        A `keras.optimizers.schedules.CosineDecay`.

    Example:
    >>> schedule = warmup_cosine_schedule(0.01, total_steps=100)
    >>> [round(float(schedule(step)), 4) for step in (0, 10, 55, 100)]
    [0.001, 0.01, 0.005, 0.0]
    """
    total_steps = int(total_steps)
    if total_steps < 1:
        raise ValueError(f"total_steps must be a positive int, got {total_steps!r}")
    if not 0.0 <= float(warmup_fraction) < 1.0:
        raise ValueError(f"warmup_fraction must be in [0, 1), got {warmup_fraction!r}")
    warmup_steps = int(round(total_steps * float(warmup_fraction)))
    if not warmup_steps:
        return keras.optimizers.schedules.CosineDecay(float(learning_rate), decay_steps=total_steps)
    return keras.optimizers.schedules.CosineDecay(
        float(learning_rate) / 10.0,
        decay_steps=max(total_steps - warmup_steps, 1),
        warmup_target=float(learning_rate),
        warmup_steps=warmup_steps,
    )


@keras.saving.register_keras_serializable(package="keras_stn_icnn")
class GroupedAdam(Adam):
    """Adam with one learning rate per named group of variables.

    The optimizer's `learning_rate` (a float or a schedule) is a common
    factor; variable `v` of group `g` moves with `learning_rate *
    group_learning_rates[g]`. With `learning_rate=halving_schedule(1.0, ...)`
    every group follows the paper's schedule from its own initial rate.
    Groups are bound to variables with `assign_groups` before the first step;
    a trainable variable outside every group is an error, not a silent
    default rate.

    Args:
        group_learning_rates: dict group name -> float.
        learning_rate: float or schedule, the common factor. Defaults to 1.
        epsilon: float. Defaults to PyTorch's 1e-8.
        **kwargs: further `keras.optimizers.Adam` arguments.

    Example:
    >>> optimizer = GroupedAdam({"stage1": 1e-4, "parts": 1e-2})
    >>> stage1, parts = keras.Variable([1.0]), keras.Variable([1.0])
    >>> optimizer.assign_groups({"stage1": [stage1], "parts": [parts]})
    >>> optimizer.apply([keras.ops.ones([1]), keras.ops.ones([1])], [stage1, parts])
    >>> [round(1.0 - float(v[0]), 6) for v in (stage1, parts)]  # Adam's first step is the rate
    [0.0001, 0.01]
    """

    def __init__(self, group_learning_rates, learning_rate=1.0, epsilon=ADAM_EPSILON, **kwargs):
        super().__init__(learning_rate=learning_rate, epsilon=epsilon, **kwargs)
        if not group_learning_rates:
            raise ValueError("group_learning_rates must name at least one group")
        for group, rate in group_learning_rates.items():
            if not isinstance(rate, (int, float)) or isinstance(rate, bool) or rate < 0:
                raise ValueError(f"learning rate of group {group!r} must be a non-negative float, got {rate!r}")
        self.group_learning_rates = {str(k): float(v) for k, v in group_learning_rates.items()}
        self._factors = {}

    def assign_groups(self, variables_by_group):
        """Binds variables to groups.

        Args:
            variables_by_group: dict group name -> list of variables.

        Raises:
            ValueError: an unknown group, or a variable in two groups.
        """
        for group, variables in variables_by_group.items():
            if group not in self.group_learning_rates:
                raise ValueError(f"unknown group {group!r}; the groups are {sorted(self.group_learning_rates)}")
            for variable in variables:
                key = self._var_key(variable)
                if key in self._factors:
                    raise ValueError(f"variable {variable.path} is in two groups")
                self._factors[key] = self.group_learning_rates[group]

    def build(self, var_list):
        missing = [v.path for v in var_list if self._var_key(v) not in self._factors]
        if missing:
            raise ValueError(
                f"{len(missing)} trainable variables belong to no learning-rate group "
                f"(first: {missing[0]}); call assign_groups with every trainable variable"
            )
        super().build(var_list)

    def learning_rate_factor(self, variable):
        """The learning rate of `variable`'s group."""
        return self._factors[self._var_key(variable)]

    def get_config(self):
        config = super().get_config()
        config["group_learning_rates"] = dict(self.group_learning_rates)
        return config
