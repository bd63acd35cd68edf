"""Recipes (Table 1), their command-line overrides, the schedule, GroupedAdam and batch rules."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_stn_icnn.jobs import build_argument_parser, recipe_from_arguments
from keras_stn_icnn.train import CELEBAMASK_HQ_RECIPE, HELEN_RECIPE, RECIPES, JointSettings, StageSettings
from keras_stn_icnn.train.optimizers import GroupedAdam, halving_schedule
from keras_stn_icnn.train.strategy import check_global_batch_size, cluster_spec_from_environment


def test_helen_and_celebamask_recipes_are_table_1():
    # Table 1 of the paper (HELEN: one GPU; CelebAMask-HQ: four GPUs of 16).
    assert (HELEN_RECIPE.stage1.learning_rate, HELEN_RECIPE.localizer.learning_rate) == (0.0023, 0.0017)
    assert HELEN_RECIPE.joint == JointSettings(25, 32, 1e-4, 1e-4, 1e-2)
    assert {HELEN_RECIPE.stage1.batch_size, HELEN_RECIPE.stage1.epochs} == {32, 25}
    assert CELEBAMASK_HQ_RECIPE.joint == JointSettings(25, 64, 1e-6, 1e-6, 1e-3)
    assert CELEBAMASK_HQ_RECIPE.window == 127 and CELEBAMASK_HQ_RECIPE.stage1.learning_rate == 1e-3
    assert HELEN_RECIPE.halve_every_epochs == 5 and HELEN_RECIPE.copies == 5
    assert not HELEN_RECIPE.freeze_stage1_and_localizer


def test_paper_recipes_differ_from_ours_only_in_the_start():
    for name in ("helen", "celebamask_hq"):
        paper, ours = RECIPES[f"{name}_paper"], RECIPES[name]
        assert (paper.schedule, paper.prior_output_bias) == ("halving", False)
        assert (ours.schedule, ours.prior_output_bias) == ("warmup_cosine", True)
        assert ours.replace(name=paper.name, schedule="halving", prior_output_bias=False) == paper


@pytest.mark.parametrize(
    "bad",
    [
        dict(epochs=0, batch_size=8, learning_rate=0.1),
        dict(epochs=1, batch_size=2.5, learning_rate=0.1),
        dict(epochs=1, batch_size=8, learning_rate=0.0),
        dict(epochs=1, batch_size=8, learning_rate=3.0),
    ],
)
def test_bad_stage_settings_are_refused_by_name(bad):
    with pytest.raises(ValueError, match="epochs|batch_size|learning_rate"):
        StageSettings(**bad)


def test_recipe_checks_window_and_copies():
    with pytest.raises(ValueError, match="window"):
        HELEN_RECIPE.replace(window=80)
    with pytest.raises(ValueError, match="copies"):
        HELEN_RECIPE.replace(copies=6)


def test_every_recipe_value_can_be_overridden_from_the_command_line():
    args = build_argument_parser("helen").parse_args(
        [
            "--data-dir",
            "helen",
            "--stage1-epochs",
            "3",
            "--localizer-lr",
            "0.01",
            "--parts-batch-size",
            "8",
            "--joint-epochs",
            "2",
            "--lr1",
            "0.5",
            "--lr3",
            "0.25",
            "--halve-every",
            "1",
            "--copies",
            "1",
            "--window",
            "127",
            "--no-augmentation",
            "--recentre-crops",
            "--frozen-end-to-end",
        ]
    )
    recipe = recipe_from_arguments(args, "helen")
    assert recipe.stage1 == StageSettings(3, 32, 0.0023)
    assert recipe.localizer.learning_rate == 0.01 and recipe.parts.batch_size == 8
    assert recipe.joint == JointSettings(2, 32, 0.5, 1e-4, 0.25)
    assert (recipe.halve_every_epochs, recipe.copies, recipe.window) == (1, 1, 127)
    assert recipe.augmentation is None and recipe.freeze_stage1_and_localizer and recipe.recentre_crops
    # Untouched arguments keep the recipe's values.
    assert recipe_from_arguments(build_argument_parser("helen").parse_args([]), "helen") == HELEN_RECIPE


def test_learning_rate_is_halved_every_five_epochs():
    schedule = halving_schedule(0.0023, steps_per_epoch=7, every_epochs=5)
    rates = [float(schedule(epoch * 7)) for epoch in range(16)]
    expected = [0.0023 * 0.5 ** (epoch // 5) for epoch in range(16)]
    np.testing.assert_allclose(rates, expected, rtol=1e-6)


def test_grouped_adam_moves_each_group_at_its_own_rate():
    groups = {"stage1": 1e-4, "localizer": 1e-3, "parts": 1e-2}
    optimizer = GroupedAdam(groups)
    variables = {name: keras.Variable(np.zeros(3, np.float32)) for name in groups}
    optimizer.assign_groups({name: [v] for name, v in variables.items()})
    gradient = keras.ops.convert_to_tensor(np.array([1.0, -2.0, 0.5], np.float32))
    optimizer.apply([gradient] * 3, list(variables.values()))
    for name, rate in groups.items():
        # Adam's first step moves every entry by the learning rate against the gradient's sign.
        np.testing.assert_allclose(variables[name].numpy(), -rate * np.sign(gradient.numpy()), rtol=1e-4)
    config = optimizer.get_config()
    assert config["group_learning_rates"] == groups and config["epsilon"] == 1e-8


def test_grouped_adam_refuses_a_variable_without_a_group():
    optimizer = GroupedAdam({"parts": 1e-2})
    grouped, stray = keras.Variable([0.0]), keras.Variable([0.0], name="stray")
    optimizer.assign_groups({"parts": [grouped]})
    with pytest.raises(ValueError, match="no learning-rate group.*stray"):
        optimizer.build([grouped, stray])
    with pytest.raises(ValueError, match="unknown group 'stage1'"):
        optimizer.assign_groups({"stage1": [stray]})


def test_global_batch_must_split_over_replicas():
    strategy = tf.distribute.get_strategy()  # one replica
    assert check_global_batch_size(6, strategy) == 6

    class TwoReplicas:
        num_replicas_in_sync = 2

    assert check_global_batch_size(8, TwoReplicas()) == 4
    with pytest.raises(ValueError, match="global batch size 7 does not split evenly over 2 replicas"):
        check_global_batch_size(7, TwoReplicas())


def test_tf_config_is_read_and_checked(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["localhost:1"]}, "task": {"type": "worker", "index": 0}}')
    assert cluster_spec_from_environment() is None  # one task: plain MirroredStrategy
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["localhost:1", "localhost:2"]}}')
    with pytest.raises(ValueError, match="no task"):
        cluster_spec_from_environment()
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        cluster_spec_from_environment()
