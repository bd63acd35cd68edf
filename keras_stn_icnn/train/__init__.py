"""Training: the paper's recipes, stage graphs, optimizers, strategy and callbacks."""

from keras_stn_icnn.choices import ICNN_BASELINE_STAGES, STN_ICNN_STAGES
from keras_stn_icnn.train.recipes import (
    CELEBAMASK_HQ_RECIPE,
    HELEN_RECIPE,
    RECIPES,
    SYNTHETIC_RECIPE,
    JointSettings,
    Recipe,
    StageSettings,
)
from keras_stn_icnn.train.trainer import StageTrainer

__all__ = [
    "CELEBAMASK_HQ_RECIPE",
    "HELEN_RECIPE",
    "ICNN_BASELINE_STAGES",
    "RECIPES",
    "SYNTHETIC_RECIPE",
    "STN_ICNN_STAGES",
    "JointSettings",
    "Recipe",
    "StageSettings",
    "StageTrainer",
]
