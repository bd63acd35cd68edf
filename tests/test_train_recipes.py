"""Recipes (Table 1), their command-line overrides, the schedule, Adam, GroupedAdam and batch rules."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_stn_icnn.jobs import build_argument_parser, recipe_from_arguments
from keras_stn_icnn.optimizers import Adam
from keras_stn_icnn.train import CELEBAMASK_HQ_RECIPE, HELEN_RECIPE, RECIPES, JointSettings, StageSettings
from keras_stn_icnn.train.optimizers import GroupedAdam, halving_schedule, warmup_cosine_schedule
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


def traced_adam_steps(optimizer, steps=4, variables=12, seed=0):
    """The variables after `steps` traced steps of `optimizer` on fixed random gradients, and the step's op count."""
    rng = np.random.default_rng(seed)
    weights = [keras.Variable(rng.normal(size=(3, 2)).astype(np.float32)) for _ in range(variables)]
    gradients = [[rng.normal(size=(3, 2)).astype(np.float32) for _ in weights] for _ in range(steps)]
    step = tf.function(lambda grads: optimizer.apply(grads, weights))
    for grads in gradients:
        step([tf.constant(g) for g in grads])
    operations = len(step.get_concrete_function([tf.TensorSpec((3, 2))] * variables).graph.get_operations())
    return [w.numpy() for w in weights], operations


@pytest.mark.parametrize(
    "arguments",
    [dict(learning_rate=0.01), dict(learning_rate=warmup_cosine_schedule(0.01, 8)), dict(amsgrad=True, epsilon=1e-8)],
)
def test_adam_steps_as_keras_adam_bit_for_bit_with_a_smaller_graph(arguments):
    ours, our_operations = traced_adam_steps(Adam(**arguments))
    keras_weights, keras_operations = traced_adam_steps(keras.optimizers.Adam(**arguments))
    for a, b in zip(ours, keras_weights):
        np.testing.assert_array_equal(a, b)
    # Keras computes the step size for each of the 12 variables; Adam once.
    assert our_operations < keras_operations - 12 * 5, (our_operations, keras_operations)


def test_grouped_adam_steps_each_group_as_keras_adam_at_its_rate_bit_for_bit():
    groups = {"stage1": 1e-4, "parts": 1e-2}
    optimizer = GroupedAdam(groups)
    rng = np.random.default_rng(1)
    weights = {name: [keras.Variable(rng.normal(size=(4,)).astype(np.float32)) for _ in range(3)] for name in groups}
    optimizer.assign_groups(weights)
    alone = {name: [keras.Variable(w.numpy()) for w in weights[name]] for name in groups}
    alone_optimizers = {name: keras.optimizers.Adam(rate, epsilon=1e-8) for name, rate in groups.items()}
    grouped_step = tf.function(lambda grads: optimizer.apply(grads, sum(weights.values(), [])))
    alone_steps = {
        name: tf.function(lambda grads, name=name: alone_optimizers[name].apply(grads, alone[name])) for name in groups
    }
    for _ in range(3):
        gradients = {name: [tf.constant(rng.normal(size=(4,)).astype(np.float32)) for _ in range(3)] for name in groups}
        grouped_step(sum(gradients.values(), []))
        for name in groups:
            alone_steps[name](gradients[name])
    for name in groups:
        for a, b in zip(weights[name], alone[name]):
            np.testing.assert_array_equal(a.numpy(), b.numpy())


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
