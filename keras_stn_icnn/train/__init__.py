"""Training: the paper's recipes, the stages as data, the trainers, optimizers, strategy and callbacks."""

from keras_stn_icnn.choices import STN_ICNN_STAGES
from keras_stn_icnn.train.recipes import (
    CELEBAMASK_HQ_RECIPE,
    HELEN_RECIPE,
    RECIPES,
    SYNTHETIC_RECIPE,
    JointSettings,
    Recipe,
    StageSettings,
)
from keras_stn_icnn.train.single_pass_trainer import SinglePassSchedule, SinglePassTrainer
from keras_stn_icnn.train.stages import STAGES, Stage
from keras_stn_icnn.train.trainer import StageTrainer

__all__ = [
    "CELEBAMASK_HQ_RECIPE",
    "HELEN_RECIPE",
    "RECIPES",
    "STAGES",
    "STN_ICNN_STAGES",
    "SYNTHETIC_RECIPE",
    "SinglePassSchedule",
    "SinglePassTrainer",
    "JointSettings",
    "Recipe",
    "Stage",
    "StageSettings",
    "StageTrainer",
]
