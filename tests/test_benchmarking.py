"""The benchmark's parts measure what they say, and `keras-stn-icnn benchmark` runs end to end."""

import contextlib
import io
import itertools
import os
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from fake_datasets import write_helen

from keras_stn_icnn import ICNNBaseline, STNiCNN, cli
from keras_stn_icnn.benchmarking import (
    STAGES,
    AuthorsPipeline,
    PeakMemory,
    ReferenceUnavailable,
    Timing,
    count_flops,
    measure_training,
    random_stage_batch,
    stage_functions,
    time_in_turns,
    time_per_item,
)
from keras_stn_icnn.choices import STN_ICNN_STAGES
from keras_stn_icnn.data import HelenReader
from keras_stn_icnn.data.pipeline import stn_icnn_training_pipeline


def test_time_per_item_times_only_the_calls_after_the_warm_up():
    ticks = itertools.count()  # every clock reading advances one second
    calls = []
    timing = time_per_item(lambda: calls.append(next(ticks)), items=4, repeats=3, warmup=2, clock=lambda: next(ticks))
    assert len(calls) == 5
    # Each timed call reads the clock, runs (one tick), reads it again: 2 s per call, 4 items.
    assert timing.seconds == (0.5, 0.5, 0.5)
    assert (timing.median, timing.minimum, timing.maximum) == (0.5, 0.5, 0.5)
    assert Timing((0.1, 0.3, 0.2)).milliseconds() == "200.0 (100.0-300.0)"


@pytest.mark.parametrize("argument", [{"repeats": 0}, {"warmup": -1}, {"items": 0}])
def test_time_per_item_refuses_bad_counts(argument):
    with pytest.raises(ValueError, match=next(iter(argument))):
        time_per_item(lambda: None, **argument)


def test_time_in_turns_alternates_the_settings_after_one_untimed_call_each_in_its_context():
    calls = []
    inside = []

    @contextlib.contextmanager
    def marked():
        inside.append(True)
        yield
        inside.pop()

    steps = {name: (lambda name=name: calls.append((name, bool(inside)))) for name in ("old", "new")}
    timings = time_in_turns(steps, repeats=2, contexts={"old": marked})
    # One untimed call each (the first inside its context), then the two timed in turns.
    assert calls == [("old", True), ("new", False), ("old", False), ("new", False), ("old", False), ("new", False)]
    assert {name: len(timing.seconds) for name, timing in timings.items()} == {"old": 2, "new": 2}
    with pytest.raises(ValueError, match=r"\['other'\]"):
        time_in_turns(steps, contexts={"other": marked})


def test_flops_of_convolutions_and_matrix_products_follow_their_formulas():
    inputs = keras.Input((16, 12, 4), batch_size=2)
    x = keras.layers.Conv2D(8, 3, padding="same")(inputs)  # 2 * (2*16*12*8) * (3*3*4)
    x = keras.layers.Conv2D(6, 5, strides=2, padding="valid")(x)  # 2 * (2*6*4*6) * (5*5*8)
    x = keras.layers.Conv2DTranspose(5, 2, strides=2)(x)  # 2 * (2*6*4*6) * (2*2*5), per input position
    x = keras.layers.DepthwiseConv2D(3, padding="same")(x)  # 2 * (2*12*8*5) * (3*3)
    x = keras.layers.Dense(7)(keras.layers.Flatten()(x))  # 2 * (2*7) * (12*8*5)
    model = keras.Model(inputs, x, name="tiny")
    expected = (
        2 * (2 * 16 * 12 * 8) * (3 * 3 * 4)
        + 2 * (2 * 6 * 4 * 6) * (5 * 5 * 8)
        + 2 * (2 * 6 * 4 * 6) * (2 * 2 * 5)
        + 2 * (2 * 12 * 8 * 5) * (3 * 3)
        + 2 * (2 * 7) * (12 * 8 * 5)
    )
    count = count_flops(lambda x: model(x), [tf.TensorSpec([2, 16, 12, 4])])
    assert count.total == expected
    assert sum(count.by_layer.values()) == expected


def test_flops_need_a_fully_defined_shape():
    conv = keras.layers.Conv2D(4, 3)
    with pytest.raises(ValueError, match="not fully known"):
        count_flops(conv, [tf.TensorSpec([None, 8, 8, 3])])


def test_stn_icnn_flops_match_the_count_made_on_the_authors_modules():
    # ../shared/docs/REFERENCE_SPEC.md counts the authors' PyTorch modules (convolutions and linear
    # layers): stage-1 iCNN at 128x128 2.69 GFLOP, ResNet-18 localizer 1.34, six 81x81 part iCNNs 5.54.
    model = STNiCNN()
    count = count_flops(lambda x: model(x, training=False)["labels"], [tf.TensorSpec([1, 512, 512, 3])])
    by_layer = {name: flops / 1e9 for name, flops in count.by_layer.items()}
    assert by_layer["stage1"] == pytest.approx(2.69, abs=0.005)
    assert by_layer["localizer"] == pytest.approx(1.34, abs=0.005)
    parts = sum(by_layer[name] for name in ("eyebrow_model", "eye_model", "nose_model", "mouth_model"))
    assert parts == pytest.approx(5.54, abs=0.005)
    assert count.gflop == pytest.approx(9.57, abs=0.005)
    # The cost per face does not depend on the photo's size: only the crops reach the part models.
    larger = count_flops(lambda x: model(x, training=False)["labels"], [tf.TensorSpec([1, 700, 600, 3])])
    assert larger.total == count.total


def test_peak_memory_sees_an_allocation_inside_the_block():
    if not os.path.exists("/proc/self/clear_refs"):
        pytest.skip("the kernel's resettable high-water mark is Linux-only")
    with PeakMemory() as before:
        pass
    with PeakMemory() as during:
        block = np.ones((256, 2**20 // 8))  # 256 MiB, touched
        del block
    assert not during.since_start
    assert during.peak_mib >= before.peak_mib + 250
    assert during.added_mib >= 250


@pytest.mark.parametrize("model_class", [STNiCNN, ICNNBaseline])
def test_the_timed_steps_chained_are_the_whole_model(model_class):
    model = model_class()
    images = tf.constant(np.random.default_rng(0).integers(0, 256, (2, 300, 260, 3)).astype(np.float32))
    steps = stage_functions(model)
    assert tuple(steps) == STAGES
    patches, theta = steps["stage1_localizer_crop"](images)
    labels = steps["paste_back"](steps["part_models"](patches), theta, images)
    np.testing.assert_array_equal(labels.numpy(), model(images, training=False)["labels"].numpy())


@pytest.mark.parametrize("stage", STN_ICNN_STAGES)
def test_random_training_batches_look_like_the_pipelines(tmp_path, stage):
    write_helen(tmp_path, {"exemplars.txt": list("ab")}, shape=(60, 90))
    examples = HelenReader(tmp_path, schema="stn_icnn").dataset("train")
    pipeline = stn_icnn_training_pipeline(
        examples,
        batch_size=2,
        canvas_size=256,
        augmentation=None,
        copies=1,
        with_parts=stage == "parts",
        with_canvas=stage == "joint",
    )
    real = next(iter(pipeline.dataset))
    random = random_stage_batch(stage, 2, canvas_size=256, image_size=128)
    for key, value in random.items():
        assert (value.shape, value.dtype) == (real[key].shape, real[key].dtype), key


def test_training_throughput_times_the_trainers_stage_model():
    (result,) = measure_training(["stage1"], batch_size=2, repeats=2, warmup=1)
    assert (result.stage, result.batch_size, len(result.timing.seconds)) == ("stage1", 2, 2)
    assert result.images_per_second == pytest.approx(1 / result.timing.median)
    assert result.peak_mib > 0


def _run_cli(argv):
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = cli.main(argv)
    return status, stdout.getvalue(), stderr.getvalue()


def test_benchmark_command_prints_every_table_against_the_stored_reference():
    status, out, err = _run_cli(
        [
            "benchmark",
            "--runtimes",
            "keras",
            "--batch-sizes",
            "1,4",
            "--repeats",
            "1",
            "--training-stages",
            "none",
        ]
    )
    assert status == 0, err
    assert "float32 matmul rate:" in out
    assert "FLOPs per face" in out and "9.57 GFLOP" in out
    assert "stored figures, measured elsewhere" in out
    rows = [line for line in out.splitlines() if line.startswith("| keras |")]
    assert [row.split("|")[2].strip() for row in rows] == ["1", "4"]
    assert all("x faster" in row for row in rows)  # stored authors' figures at batch 1 and 4
    assert all(f"| {step} |" in out for step in STAGES)
    assert "Training throughput" not in out


def test_benchmark_command_times_the_exported_runtimes(cli_exports, reference_checkpoint_path):
    exports, status, _ = cli_exports
    assert status == 0
    status, out, err = _run_cli(
        [
            "benchmark",
            "--model",
            str(reference_checkpoint_path),
            "--exports",
            str(exports),
            "--runtimes",
            "saved_model,litert,litert_float16,onnx",
            "--batch-sizes",
            "1",
            "--repeats",
            "1",
            "--training-stages",
            "none",
        ]
    )
    assert status == 0, err
    for runtime in ("saved_model", "litert", "litert_float16", "onnx"):
        assert f"| {runtime} | 1 |" in out


def test_benchmark_command_refuses_bad_arguments_before_measuring():
    with pytest.raises(SystemExit):
        _run_cli(["benchmark", "--runtimes", "keras,tensorrt"])
    status, _, err = _run_cli(["benchmark", "--reference-dir", "somewhere", "--runtimes", "keras"])
    assert status == 2
    assert "--reference-checkpoint" in err


def test_without_torch_the_reference_says_so(tmp_path, monkeypatch, reference_checkpoint_path):
    monkeypatch.setitem(sys.modules, "torch", None)  # as if torch were not installed
    with pytest.raises(ReferenceUnavailable, match="PyTorch is not installed"):
        AuthorsPipeline(tmp_path, reference_checkpoint_path)


def test_the_reference_names_the_authors_files_it_lacks(tmp_path, reference_checkpoint_path):
    pytest.importorskip("torch")
    with pytest.raises(ReferenceUnavailable, match="icnnmodel.py, model.py, helper_funcs.py"):
        AuthorsPipeline(tmp_path, reference_checkpoint_path)


REFERENCE_DIR = os.environ.get("KERAS_STN_ICNN_REFERENCE_DIR")


@pytest.mark.skipif(not REFERENCE_DIR, reason="set KERAS_STN_ICNN_REFERENCE_DIR to a checkout of the authors' code")
def test_the_authors_pipeline_labels_as_the_converted_model(reference_checkpoint_path, pipeline_reference):
    pytest.importorskip("torch")
    reference = AuthorsPipeline(REFERENCE_DIR, reference_checkpoint_path)
    image = pipeline_reference["image_0"].astype(np.uint8)  # the 512x512 astronaut photo
    labels = reference.parse(image[np.newaxis])[0]
    ours = STNiCNN.from_pytorch_checkpoint(reference_checkpoint_path).parse(image)
    assert labels.shape == ours.shape == image.shape[:2]
    assert np.mean(labels == ours) >= 0.999
    step = reference.joint_training_step(2)
    assert np.isfinite(step())
