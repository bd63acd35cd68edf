"""Training single-pass zoo parsers: the working-size pipeline, the trainer, time budgets, two replicas,
the comparison."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from fake_datasets import write_helen
from zoo_checks import TINY_ZOO_ARGUMENTS

from keras_stn_icnn.benchmarking.zoo_comparison import compare_zoo, format_comparison, measure_row
from keras_stn_icnn.data import HelenReader
from keras_stn_icnn.data.pipeline import single_pass_training_pipeline
from keras_stn_icnn.data.pipeline import single_pass_training_pipeline as training_batches
from keras_stn_icnn.evaluation import evaluate_parser
from keras_stn_icnn.labels import STN_ICNN_CLASS_NAMES, label_mapping
from keras_stn_icnn.metrics import PAPER_F1_GROUPS
from keras_stn_icnn.models.icnn import ICNNParser
from keras_stn_icnn.models.zoo import ZOO, build_zoo_model, zoo_name_of, zoo_names
from keras_stn_icnn.ops import resize
from keras_stn_icnn.train import HELEN_RECIPE, StageTrainer
from keras_stn_icnn.train.callbacks import (
    BatchNormStatistics,
    BudgetedLearningRate,
    TimeBudget,
    batch_norm_layers,
    recompute_batch_norm_statistics,
)
from keras_stn_icnn.train.single_pass_trainer import (
    SinglePassSchedule,
    SinglePassTrainer,
    build_single_pass,
    held_out_label_maps,
    train_single_pass,
)

ROOT = Path(__file__).resolve().parents[1]
SPLITS = {"exemplars.txt": list("abcd"), "tuning.txt": ["e"], "testing.txt": ["f", "g"]}


@pytest.fixture(scope="module")
def reader(tmp_path_factory):
    root = tmp_path_factory.mktemp("helen")
    write_helen(root, SPLITS, shape=(40, 30))
    return HelenReader(root, schema="stn_icnn")


def small_parser():
    return ICNNParser(class_names=STN_ICNN_CLASS_NAMES, input_size=32, filters=(4, 4, 4, 4))


@pytest.fixture
def small_zoo(monkeypatch):
    """The zoo's single-pass entries at their small widths (`zoo_checks.TINY_ZOO_ARGUMENTS`; the comparison sets the
    working size): what the comparison records of a model does not depend on its width."""
    for name, arguments in TINY_ZOO_ARGUMENTS.items():
        widths = {key: value for key, value in arguments.items() if key != "input_size"}
        monkeypatch.setitem(ZOO, name, dataclasses.replace(ZOO[name], arguments={**ZOO[name].arguments, **widths}))


def small_comparison(reader, run_dir, names, batch_size=2, **arguments):
    """`compare_zoo` of single-pass models at 32 px for one second each, quietly."""
    return compare_zoo(
        reader.dataset("train"),
        reader.dataset("test"),
        run_dir,
        seconds=1.0,
        single_pass=names,
        two_stage=False,
        input_size=32,
        batch_size=batch_size,
        verbose=0,
        progress=None,
        **arguments,
    )


def compared_model(run_dir, name, **arguments):
    """A zoo model at 32 px with the final weights `compare_zoo` trained into `run_dir`."""
    model = build_zoo_model(name, input_size=32, **arguments)
    model.load_weights(str(run_dir / name / "final.weights.h5"))
    return model


def test_pipeline_gives_views_at_the_working_size(reader):
    batches = single_pass_training_pipeline(reader.dataset("train"), batch_size=2, input_size=32, augmentation=None)
    assert batches.steps_per_epoch == 2 and batches.num_examples == 4
    images, labels = next(iter(batches.dataset))
    assert images.shape == (2, 32, 32, 3) and images.dtype == tf.float32
    assert labels.shape == (2, 32, 32) and labels.dtype == tf.uint8
    # Each label is a nearest-neighbour resize of one of the training labels.
    originals = [
        resize.resize_nearest(example["label"][None, ..., None], (32, 32))[0, ..., 0].numpy()
        for example in reader.dataset("train")
    ]
    assert any(np.array_equal(labels[0].numpy(), original) for original in originals)


def test_pipeline_epochs_resume_with_the_same_views(reader):
    kwargs = dict(batch_size=2, input_size=16, copies=2, seed=3)
    full = list(single_pass_training_pipeline(reader.dataset("train"), epochs=2, **kwargs).dataset)
    resumed = list(single_pass_training_pipeline(reader.dataset("train"), epochs=2, first_epoch=1, **kwargs).dataset)
    steps = len(full) // 2
    assert len(resumed) == steps
    for (a_images, a_labels), (b_images, b_labels) in zip(full[steps:], resumed):
        np.testing.assert_array_equal(a_images, b_images)
        np.testing.assert_array_equal(a_labels, b_labels)


def test_time_budget_stops_fit_after_the_batch_that_spends_it():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    budget = TimeBudget(1e-9)
    history = model.fit(np.zeros((8, 2)), np.zeros((8, 1)), batch_size=2, epochs=50, callbacks=[budget], verbose=0)
    assert budget.exhausted and len(history.history["loss"]) == 1
    with pytest.raises(ValueError, match="seconds"):
        TimeBudget(0)


def test_budgeted_learning_rate_follows_the_steps_or_the_time_whichever_is_further():
    schedule = keras.optimizers.schedules.CosineDecay(1e-2, decay_steps=100)
    budgeted = BudgetedLearningRate(schedule, total_steps=100, seconds=60)
    # cos(pi * position / 100) halfway: half the budget spent outruns step 10; step 80 outruns a quarter.
    assert budgeted.rate_at(step=10, elapsed=30) == pytest.approx(5e-3)
    assert budgeted.rate_at(step=80, elapsed=15) == pytest.approx(5e-3 * (1 + np.cos(0.8 * np.pi)))
    assert budgeted.rate_at(step=10, elapsed=90) == 0.0  # past the budget: the schedule's end, not beyond
    with pytest.raises(ValueError, match="seconds"):
        BudgetedLearningRate(schedule, total_steps=100, seconds=0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(schedule), loss="mse")
    with pytest.raises(ValueError, match="float learning rate"):
        model.fit(np.zeros((4, 2)), np.zeros((4, 1)), callbacks=[budgeted], verbose=0)


def test_a_budgeted_single_pass_run_anneals_to_zero_when_its_budget_ends_it_first(reader, tmp_path):
    schedule = SinglePassSchedule(
        epochs=50, batch_size=2, learning_rate=1e-2, copies=1, augmentation=None, time_budget_seconds=1e-9
    )
    trainer = SinglePassTrainer(tmp_path / "run", small_parser, schedule, verbose=0)
    trainer.train(reader.dataset("train"))
    # The budget is spent before the first batch, so that batch already runs at the cosine's end (rate 0),
    # where a schedule sized by the 50 epochs alone would still be warming up.
    assert len(trainer.history["loss"]) == 1
    assert trainer.model.optimizer.learning_rate.numpy() == 0.0


def batch_norm_model():
    model = keras.Sequential(
        [keras.Input((2,)), keras.layers.BatchNormalization(name="a"), keras.layers.BatchNormalization(name="b")]
    )
    model.get_layer("b").trainable = False
    return model


def test_batch_norm_statistics_become_the_mean_over_batches_and_frozen_layers_keep_theirs():
    model = batch_norm_model()
    batches = [np.array([[1.0, 2.0], [3.0, 6.0]], np.float32), np.array([[5.0, 0.0], [7.0, 2.0]], np.float32)]
    assert recompute_batch_norm_statistics(model, [(x, None) for x in batches * 2], num_batches=2) == 2
    a, b = model.get_layer("a"), model.get_layer("b")
    np.testing.assert_allclose(a.moving_mean.numpy(), [4.0, 2.5])  # the mean of the batch means (2, 4) and (6, 1)
    np.testing.assert_allclose(a.moving_variance.numpy(), [1.0, 2.5])  # of the batch variances (1, 4) and (1, 1)
    np.testing.assert_array_equal(b.moving_mean.numpy(), [0.0, 0.0])  # frozen: untouched
    assert a.momentum == 0.99  # put back


def test_batch_norm_statistics_are_kept_when_there_is_nothing_to_recompute_them_from():
    model = batch_norm_model()
    model.get_layer("a").moving_mean.assign([3.0, 3.0])
    with pytest.raises(ValueError, match="no batches"):
        recompute_batch_norm_statistics(model, [])
    np.testing.assert_array_equal(model.get_layer("a").moving_mean.numpy(), [3.0, 3.0])
    with pytest.raises(ValueError, match="num_batches"):
        BatchNormStatistics([], num_batches=0)


def test_batch_norm_statistics_callback_recomputes_them_when_fit_ends():
    model = batch_norm_model()
    model.compile(optimizer="sgd", loss="mse")
    x = np.array([[1.0, 2.0], [3.0, 6.0]], np.float32)
    model.fit(x, x, batch_size=2, epochs=3, verbose=0, callbacks=[BatchNormStatistics([x])])
    np.testing.assert_allclose(model.get_layer("a").moving_mean.numpy(), [2.0, 4.0])  # not a moving average of 3


@pytest.mark.parametrize("precise", [True, False])
def test_single_pass_trainer_saves_batch_norm_statistics_recomputed_from_the_final_weights(reader, tmp_path, precise):
    schedule = SinglePassSchedule(
        epochs=1, batch_size=2, learning_rate=1e-2, copies=1, augmentation=None, precise_batch_norm=precise
    )
    model = SinglePassTrainer(tmp_path / "run", small_parser, schedule, verbose=0).train(reader.dataset("train"))
    norms = batch_norm_layers(model)
    saved = [layer.moving_mean.numpy() for layer in norms]
    batches = training_batches(reader.dataset("train"), batch_size=2, input_size=32, augmentation=None, copies=1)
    recompute_batch_norm_statistics(model, batches.dataset)  # the same batches, the same weights
    same = all(np.allclose(old, layer.moving_mean.numpy(), atol=1e-5) for old, layer in zip(saved, norms))
    assert norms and same is precise


def test_single_pass_trainer_trains_saves_and_finds_a_finished_run(reader, tmp_path):
    schedule = SinglePassSchedule(epochs=2, batch_size=2, learning_rate=1e-2, copies=1, augmentation=None)
    trainer = SinglePassTrainer(tmp_path / "run", small_parser, schedule, verbose=0)
    before = [np.array(w) for w in trainer.model.trainable_weights]
    model = trainer.train(reader.dataset("train"))
    assert len(trainer.history["loss"]) == 2 and trainer.training_seconds > 0
    assert any(not np.array_equal(np.array(w), old) for w, old in zip(model.trainable_weights, before))
    assert (tmp_path / "run" / "final.weights.h5").is_file()
    assert (tmp_path / "run" / "metrics.csv").read_text().count("\n") == 3  # header + 2 epochs
    again = SinglePassTrainer(tmp_path / "run", small_parser, schedule, verbose=0)
    assert again.is_done
    loaded = again.train(reader.dataset("train"))
    for trained, restored in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(np.array(trained), np.array(restored))


@pytest.mark.parametrize(
    "field, value", [("epochs", 0), ("batch_size", 1.5), ("learning_rate", 0.0), ("time_budget_seconds", -1)]
)
def test_bad_schedules_are_refused(field, value):
    arguments = dict(epochs=1, batch_size=2, learning_rate=1e-3)
    arguments[field] = value
    with pytest.raises(ValueError, match=field):
        SinglePassSchedule(**arguments)


def test_stage_trainer_refuses_a_budget_for_an_unknown_stage(tmp_path):
    with pytest.raises(ValueError, match="unknown stage"):
        StageTrainer(tmp_path, HELEN_RECIPE, time_budget_seconds={"stage2": 10})


def test_zoo_registry_builds_every_single_pass_model_by_name():
    for name in zoo_names("single_pass"):
        assert isinstance(build_zoo_model(name, input_size=64), ZOO[name].model_class)
    with pytest.raises(ValueError, match="unknown zoo model 'unet'"):
        build_zoo_model("unet")


def test_comparison_rows_hold_the_evaluation_and_costs_of_the_model_trained_with_the_arguments_given(
    reader, tmp_path, small_zoo
):
    widths = {"filters": (4, 4, 4, 8)}  # not the small entry's (4, 4, 4, 4)
    rows = small_comparison(reader, tmp_path, ("icnn",), batch_size=4, model_arguments=widths)
    (row,) = rows
    assert row.name == "icnn" and row.training_seconds > 0
    model = compared_model(tmp_path, "icnn", class_names=STN_ICNN_CLASS_NAMES, **widths)
    expected = evaluate_parser(model.parse, reader.dataset("test"), progress=False)
    assert row.evaluation.scores == expected.scores
    assert row.parameters == model.count_params()
    assert row.gflop_per_face > 0 and row.milliseconds_per_face > 0
    with pytest.raises(ValueError):  # the weights of the entry's own widths are not these
        compared_model(tmp_path, "icnn", class_names=STN_ICNN_CLASS_NAMES)
    table = format_comparison(rows)
    header, rule, line = table.splitlines()
    assert header.split(" | ")[2 : 2 + len(PAPER_F1_GROUPS)] == list(PAPER_F1_GROUPS)
    assert line.startswith("| icnn |") and f"{row.evaluation.scores['overall']:.3f}" in line


def test_build_single_pass_refuses_arguments_that_are_its_own_or_not_a_dict():
    with pytest.raises(ValueError, match=r"arguments must not set \['input_size'\]: they are build_single_pass's own"):
        build_single_pass("icnn", 32, arguments={"input_size": 64})
    with pytest.raises(ValueError, match=r"arguments must be a dict or None, got \['filters'\]"):
        build_single_pass("icnn", 32, arguments=["filters"])


def test_held_out_label_maps_are_the_resized_validation_labels(reader):
    maps = held_out_label_maps(reader.dataset("val"), 16)
    (example,) = list(reader.dataset("val"))
    expected = resize.resize_nearest(example["label"][None, ..., None], (16, 16))[0, ..., 0].numpy()
    assert maps.shape == (1, 16, 16) and maps.dtype == np.uint8
    np.testing.assert_array_equal(maps[0], expected)
    with pytest.raises(ValueError, match="no faces"):
        held_out_label_maps(reader.dataset("val").take(0), 16)


def test_red_net_trains_with_its_prior_filled_from_the_held_out_maps(reader, tmp_path):
    # RED-Net averages 5 exemplars; the fake set has 5 faces in all. Its CPU variant is the same class and prior
    # at a quarter of the width (the paper's 44.6M parameters would only add minutes).
    prior_maps = held_out_label_maps(reader.dataset("val").concatenate(reader.dataset("train")), 32)
    model, _ = train_single_pass(
        "red_net_cpu",
        reader.dataset("train"),
        tmp_path,
        60.0,
        input_size=32,
        batch_size=2,
        epochs=1,
        prior_label_maps=prior_maps,
        verbose=0,
    )
    prior = model.get_layer("adaptive_prior")
    assert prior.is_fitted
    np.testing.assert_array_equal(np.asarray(prior.bank_label_maps)[:5], prior_maps)


def test_comparison_scores_a_model_with_a_prior_as_trained_and_with_the_prior(reader, tmp_path, small_zoo):
    # The paper's "Ours" and "Ours-p" from one training; 5 held-out maps fill the small exemplar bank.
    held_out = reader.dataset("val").concatenate(reader.dataset("train"))
    rows = small_comparison(reader, tmp_path, ("red_net_cpu",), prior_dataset=held_out)
    assert [row.name for row in rows] == ["red_net_cpu", "red_net_cpu + prior"]
    model = compared_model(tmp_path, "red_net_cpu", class_names=STN_ICNN_CLASS_NAMES)
    assert not model.get_layer("adaptive_prior").is_fitted, "the model trained with its prior"
    assert rows[0].evaluation.scores == evaluate_parser(model.parse, reader.dataset("test"), progress=False).scores
    model.fit_prior(held_out_label_maps(held_out, 32))
    assert rows[1].evaluation.scores == evaluate_parser(model.parse, reader.dataset("test"), progress=False).scores


def test_comparison_trains_a_helen_model_on_helen_labels_and_scores_it_in_stn_icnn_ids(reader, tmp_path, small_zoo):
    helen_train = HelenReader(reader.root, schema="helen").dataset("train")
    with pytest.raises(ValueError, match="other_train_datasets"):
        small_comparison(reader, tmp_path, ("rnn_g_two_stage",))
    (row,) = small_comparison(reader, tmp_path, ("rnn_g_two_stage",), other_train_datasets={"helen": helen_train})
    model = compared_model(tmp_path, "rnn_g_two_stage")
    to_stn_icnn = label_mapping("helen", "stn_icnn")
    expected = evaluate_parser(lambda image: to_stn_icnn[model.parse(image)], reader.dataset("test"), progress=False)
    assert row.name == "rnn_g_two_stage" and row.evaluation.scores == expected.scores


def test_measure_row_counts_parameters(reader):
    model = small_parser()
    row = measure_row("tiny", model, 1.0, reader.dataset("test"), repeats=1)
    assert row.parameters == model.count_params()
    assert set(row.evaluation.scores) == set(PAPER_F1_GROUPS)


def test_two_stage_budget_shares_add_up():
    from keras_stn_icnn.benchmarking.zoo_comparison import TWO_STAGE_SHARES

    assert sum(TWO_STAGE_SHARES.values()) == pytest.approx(1.0)
    assert all(share > 0 for share in TWO_STAGE_SHARES.values())


def test_every_zoo_model_takes_the_same_step_on_two_replicas_as_on_one(tmp_path):
    """MirroredStrategy over two logical CPU devices: one SGD step equals the single-device step.

    A loss summed instead of averaged over replicas would double the step; BatchNorm over each
    replica's half batch would move the weights differently. Both show as a difference of the
    order of the step itself.
    """
    script = Path(__file__).with_name("zoo_mirrored_script.py")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]), TF_CPP_MIN_LOG_LEVEL="2")
    subprocess.run([sys.executable, str(script), str(tmp_path / "report.json")], env=env, check=True, timeout=600)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report.pop("replicas") == 2
    assert sorted(report) == sorted(zoo_names("single_pass"))
    for name, result in report.items():
        assert result["step"] > 1e-3, name
        assert result["difference"] <= 1e-5 * max(1.0, result["step"]), (name, result)


def test_zoo_registry_names_every_model_class_and_kind():
    assert zoo_names() == zoo_names("stages") + zoo_names("single_pass")
    for name, entry in ZOO.items():
        assert entry.name == name and entry.description
    with pytest.raises(ValueError, match="training must be one of"):
        zoo_names("end_to_end")
    assert zoo_name_of(build_zoo_model("icnn", input_size=32)) == "icnn"
    assert zoo_name_of(build_zoo_model("bass_cpu", input_size=32)) == "bass_cpu"
    assert zoo_name_of(build_zoo_model("bass", input_size=32, depths=(1, 1, 1, 1), base_filters=4)) == "bass"
    assert zoo_name_of(keras.Sequential()) is None
