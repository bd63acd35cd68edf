"""Training recipes: the paper's Table 1 and a quick one for the synthetic set.

A recipe fixes, per stage, the epochs, the global batch size (split across
replicas) and the learning rates. Adam is used throughout and every learning
rate is halved every `halve_every_epochs` epochs (paper, "Optimization").

Table 1 gives no learning rate for the part models' pre-training ("-"); the
authors' code uses 0.0008 (HELEN), which `HELEN_RECIPE` takes, and
`CELEBAMASK_HQ_RECIPE` takes Table 1's pre-training rate of that dataset,
1e-3. Table 1 gives the global batch size: CelebAMask-HQ's 64 is 4 GPUs of 16.
"""

import dataclasses

from keras_stn_icnn.data.augment import PAPER_AUGMENTATION, AugmentationConfig


@dataclasses.dataclass(frozen=True)
class StageSettings:
    """Epochs, global batch size and learning rate of one pre-training stage.

    Args:
        epochs: int, at least 1.
        batch_size: int, the global batch size.
        learning_rate: float, Adam's initial learning rate.

    Example:
    >>> StageSettings(epochs=25, batch_size=32, learning_rate=0.0023).epochs
    25
    """

    epochs: int
    batch_size: int
    learning_rate: float

    def __post_init__(self):
        _check_positive_int("epochs", self.epochs)
        _check_positive_int("batch_size", self.batch_size)
        _check_learning_rate("learning_rate", self.learning_rate)


@dataclasses.dataclass(frozen=True)
class JointSettings:
    """Epochs, global batch size and the three learning rates of end-to-end training.

    Args:
        epochs: int, at least 1.
        batch_size: int, the global batch size.
        stage1_learning_rate: float, Lr1 (the rough-labelling iCNN).
        localizer_learning_rate: float, Lr2 (the localization network).
        parts_learning_rate: float, Lr3 (the part iCNNs).

    Example:
    >>> JointSettings(25, 32, 1e-4, 1e-4, 1e-2).parts_learning_rate
    0.01
    """

    epochs: int
    batch_size: int
    stage1_learning_rate: float
    localizer_learning_rate: float
    parts_learning_rate: float

    def __post_init__(self):
        _check_positive_int("epochs", self.epochs)
        _check_positive_int("batch_size", self.batch_size)
        for name in ("stage1_learning_rate", "localizer_learning_rate", "parts_learning_rate"):
            _check_learning_rate(name, getattr(self, name))


@dataclasses.dataclass(frozen=True)
class Recipe:
    """Everything the STN-iCNN training stages need besides the data.

    Args:
        name: str, for logs.
        stage1: StageSettings, stage-1 iCNN pre-training (cross-entropy).
        localizer: StageSettings, localizer pre-training on ground-truth
            theta (SmoothL1, stage 1 frozen).
        parts: StageSettings, part models on ground-truth crops (sum of the
            six cross-entropies).
        joint: JointSettings, end-to-end training through the crop.
        window: odd int, the part crop side (81 HELEN, 127 CelebAMask-HQ).
        halve_every_epochs: int, the learning rate schedule's period.
        copies: int, augmented copies per training image (1-5).
        augmentation: AugmentationConfig, or None for no augmentation.
        freeze_stage1_and_localizer: bool, the authors' released variant of
            the end-to-end stage: only the part models train.

    Example:
    >>> HELEN_RECIPE.joint.parts_learning_rate
    0.01
    >>> HELEN_RECIPE.replace(window=127).window
    127
    """

    name: str
    stage1: StageSettings
    localizer: StageSettings
    parts: StageSettings
    joint: JointSettings
    window: int = 81
    halve_every_epochs: int = 5
    copies: int = 5
    augmentation: AugmentationConfig = PAPER_AUGMENTATION
    freeze_stage1_and_localizer: bool = False

    def __post_init__(self):
        if int(self.window) % 2 != 1 or int(self.window) < 3:
            raise ValueError(f"window must be an odd int >= 3, got {self.window!r}")
        _check_positive_int("halve_every_epochs", self.halve_every_epochs)
        if not 1 <= int(self.copies) <= 5:
            raise ValueError(f"copies must be 1-5 (copy i gets i augmentation operations), got {self.copies!r}")

    def replace(self, **changes):
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def _check_learning_rate(name, value):
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 < float(value) < 1.0:
        raise ValueError(f"{name} must be a float in (0, 1), got {value!r}")


HELEN_RECIPE = Recipe(
    name="helen",
    stage1=StageSettings(epochs=25, batch_size=32, learning_rate=0.0023),
    localizer=StageSettings(epochs=25, batch_size=32, learning_rate=0.0017),
    parts=StageSettings(epochs=25, batch_size=32, learning_rate=0.0008),
    joint=JointSettings(25, 32, stage1_learning_rate=1e-4, localizer_learning_rate=1e-4, parts_learning_rate=1e-2),
)
"""The paper's Table 1 for HELEN (one GPU)."""

CELEBAMASK_HQ_RECIPE = Recipe(
    name="celebamask_hq",
    stage1=StageSettings(epochs=25, batch_size=64, learning_rate=1e-3),
    localizer=StageSettings(epochs=25, batch_size=64, learning_rate=1e-3),
    parts=StageSettings(epochs=25, batch_size=64, learning_rate=1e-3),
    joint=JointSettings(25, 64, stage1_learning_rate=1e-6, localizer_learning_rate=1e-6, parts_learning_rate=1e-3),
    window=127,
)
"""The paper's Table 1 for CelebAMask-HQ (four GPUs of 16)."""

RECIPES = {"helen": HELEN_RECIPE, "celebamask_hq": CELEBAMASK_HQ_RECIPE}
"""Recipes by name."""

SYNTHETIC_RECIPE = Recipe(
    name="synthetic",
    stage1=StageSettings(epochs=12, batch_size=4, learning_rate=0.002),
    localizer=StageSettings(epochs=3, batch_size=8, learning_rate=0.0017),
    parts=StageSettings(epochs=2, batch_size=8, learning_rate=0.0008),
    joint=JointSettings(1, 4, stage1_learning_rate=1e-5, localizer_learning_rate=1e-5, parts_learning_rate=1e-4),
    copies=2,
)
"""A short schedule for the built-in synthetic set, sized so the whole main job (data, four stages,
evaluation, export) fits in 20 minutes on a 2-core CPU. Most of the budget goes to stage 1, whose rough
mask every later stage depends on; small batches give it more steps in the same time, and copies=2 adds
one augmented copy of each face (one random operation) to the original. End to end, the rates are Table 1's
divided by 10 and 100 (1e-5 / 1e-5 / 1e-4): after so short a pre-training the localizer is still far off,
and at 1e-4 / 1e-4 / 1e-3 one epoch taught the part models to answer background everywhere (overall F1 0)."""

RECIPES["synthetic"] = SYNTHETIC_RECIPE
