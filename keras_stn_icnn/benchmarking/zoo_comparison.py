"""Every zoo model trained on the same synthetic split for the same time, then scored side by side.

Each model gets the same wall-clock training budget on this machine, the
same training faces without augmentation (the synthetic recipe's choice: the
generator already varies pose, lighting, blur and noise), and the same test
faces:

- a single-pass parser (`models.zoo.zoo_names("single_pass")`) trains in one
  stage (`SinglePassTrainer`, its default rate, class priors, warm-up and
  cosine decay) until its budget is spent, the warm-up and the decay following
  the clock to the budget's end (`train.callbacks.BudgetedLearningRate`, over
  `MAX_EPOCHS` epochs, more than any model reaches). One with an exemplar
  prior (RED-Net's `fit_prior`) trains without it and is scored twice, as its
  paper's Table 1 reports it: as trained (the decoder alone, the paper's
  "Ours") and with the prior filled from held-out faces, as the paper fills
  it from the validation set (row `"<name> + prior"`, "Ours-p");
- STN-iCNN trains its four stages (`StageTrainer`, the main job's
  `SYNTHETIC_RECIPE`), the budget split between them as the main job's own
  run splits its time (`TWO_STAGE_SHARES`). The iCNN baseline and STN-iCNN*
  (after pre-training) are the same run stopped earlier, scored before the
  end-to-end stage, so their budget is the part of it they used.

For every model the comparison reports the paper's F1 groups on the test
faces, the parameters, the FLOPs of one 512x512 face counted from its graph,
and its median latency per face on this CPU.
"""

import dataclasses
import functools
import time

import keras
import numpy as np
import tensorflow as tf

from keras_stn_icnn.benchmarking.flops import count_flops
from keras_stn_icnn.benchmarking.timing import time_in_turns, time_per_item
from keras_stn_icnn.evaluation import evaluate_parser, in_stn_icnn_ids
from keras_stn_icnn.metrics import PAPER_F1_GROUPS
from keras_stn_icnn.models.zoo import zoo_entry, zoo_names
from keras_stn_icnn.train import SYNTHETIC_RECIPE, StageTrainer
from keras_stn_icnn.train.single_pass_trainer import (
    MAX_EPOCHS,
    build_single_pass,
    held_out_label_maps,
    train_single_pass,
)

TWO_STAGE_SHARES = {"stage1": 0.50, "localizer": 0.10, "parts": 0.18, "joint": 0.22}
"""Share of a two-stage run's budget per stage: the main job's measured stage times
(stage 1 387 s, localizer 77 s, parts 138 s, end to end 174 s of 776 s, rounded)."""

COST_FACE_SIZE = 512
"""Side of the face the FLOPs and latency are measured on (HELEN's faces are about this size)."""


@dataclasses.dataclass(frozen=True)
class ComparisonRow:
    """One zoo model's line of the comparison.

    Args:
        name: str, the model's name in the table.
        training_seconds: float, the wall time it trained.
        evaluation: `evaluation.EvaluationResult` on the test faces.
        parameters: int.
        gflop_per_face: float, FLOPs of one 512x512 face / 1e9.
        milliseconds_per_face: float, median latency of `parse` on one face.
    """

    name: str
    training_seconds: float
    evaluation: object
    parameters: int
    gflop_per_face: float
    milliseconds_per_face: float


def training_step(name, input_size, batch_size):
    """One training step of a throwaway single-pass zoo model, on one fixed batch of random faces.

    Args:
        name: str, a single-pass model of `models.zoo.ZOO`.
        input_size: int, the working size.
        batch_size: int.

    Returns:
        A callable taking no arguments that runs `train_on_batch` once and
        returns its logs, a dict of the loss and the F1 the parser logs (its
        first call traces and compiles the step).

    Example:
    >>> logs = training_step("rnn_g", 32, 2)()
    >>> sorted(logs), logs["loss"] > 0
    (['loss', 'mean_class_f1', 'overall_f1'], True)
    """
    model = build_single_pass(name, input_size)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (batch_size, input_size, input_size, 3)).astype(np.float32)
    labels = rng.integers(0, model.num_classes, (batch_size, input_size, input_size)).astype(np.uint8)
    model.compile()
    return functools.partial(model.train_on_batch, images, labels, return_dict=True)


def time_training_steps(name, contexts, input_size=256, batch_size=8, repeats=5):
    """Times a single-pass zoo model's training step under several settings, side by side.

    Each setting's model is built from the same seed (`training_step`); each
    is traced inside its context, and the settings are timed in turns
    (`timing.time_in_turns`), so that the ratio of two medians compares the
    settings on the same machine load.

    Args:
        name: str, a single-pass model of `models.zoo.ZOO`.
        contexts: dict, setting name -> callable returning the context
            manager its step is traced in (`contextlib.nullcontext` for the
            package as it is).
        input_size: int, the working size.
        batch_size: int.
        repeats: int, timed steps of each setting.

    Returns:
        dict, setting name -> `timing.Timing` of one step.

    Example:
    >>> import contextlib
    >>> timings = time_training_steps("rnn_g", {"as it is": contextlib.nullcontext}, 32, 2, repeats=1)
    >>> len(timings["as it is"].seconds)
    1
    """
    steps = {}
    for setting in contexts:
        keras.utils.set_random_seed(0)
        steps[setting] = training_step(name, input_size, batch_size)
    return time_in_turns(steps, repeats, contexts)


def step_ratio_table(models, contexts, input_size=256, batch_size=8, repeats=5):
    """A Markdown table of zoo models' training steps under two settings, side by side, and their ratio.

    Each model is timed with `time_training_steps`; a row gives each
    setting's milliseconds, median (min-max), and the first setting's median
    over the second's. Rows are printed as they are measured.

    Args:
        models: sequence of str, single-pass models of `models.zoo.ZOO`.
        contexts: dict of two settings, name -> callable returning the
            context manager its step is traced in; the names head the columns.
        input_size: int, the working size.
        batch_size: int.
        repeats: int >= 1, timed steps of each setting.

    Returns:
        str, the table.

    Raises:
        ValueError naming the value when there are not two settings or
        `repeats` is below 1.

    Example:
    >>> import contextlib
    >>> table = step_ratio_table(["rnn_g"], {"a": contextlib.nullcontext, "b": contextlib.nullcontext}, 32, 2, 1)
    | train_on_batch, batch 2, 32 px | a, ms | b, ms | ratio |
    |---|---|---|---|
    | rnn_g | ... | ... | ... |
    """
    if len(contexts) != 2:
        raise ValueError(f"step_ratio_table compares two settings, got {list(contexts)}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be an int >= 1, got {repeats!r}")
    first, second = contexts
    lines = [
        f"| train_on_batch, batch {batch_size}, {input_size} px | {first}, ms | {second}, ms | ratio |",
        "|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    for name in models:
        timings = time_training_steps(name, contexts, input_size, batch_size, repeats)
        ratio = timings[first].median / timings[second].median
        lines.append(f"| {name} | {timings[first].milliseconds()} | {timings[second].milliseconds()} | {ratio:.2f} |")
        print(lines[-1], flush=True)
    return "\n".join(lines)


def measure_row(name, model, training_seconds, test_dataset, repeats=5, label_schema="stn_icnn"):
    """Scores and costs one trained parser.

    Args:
        name: str.
        model: a parser with `parse` and a dict output with `"labels"`.
        training_seconds: float.
        test_dataset: `tf.data.Dataset` of `{"image", "label"}` (STN-iCNN ids).
        repeats: int, timed calls for the latency.
        label_schema: str, the `labels.SCHEMAS` name of the model's classes;
            its labels are mapped to STN-iCNN's before scoring.

    Returns:
        A `ComparisonRow`.

    Example:
    >>> row = measure_row("iCNN", model, 240.0, reader.dataset("test"))  # doctest: +SKIP
    """
    evaluation = evaluate_parser(in_stn_icnn_ids(model.parse, label_schema), test_dataset, progress=False)
    face = np.zeros((COST_FACE_SIZE, COST_FACE_SIZE, 3), np.uint8)
    flops = count_flops(
        lambda images: model(images, training=False)["labels"],
        [tf.TensorSpec([1, COST_FACE_SIZE, COST_FACE_SIZE, 3], tf.float32)],
    )
    latency = time_per_item(lambda: model.parse(face), repeats=repeats)
    return ComparisonRow(
        name, float(training_seconds), evaluation, int(model.count_params()), flops.gflop, latency.median * 1e3
    )


def compare_zoo(
    train_dataset,
    test_dataset,
    run_dir,
    seconds,
    *,
    prior_dataset=None,
    other_train_datasets=None,
    single_pass=None,
    two_stage=True,
    input_size=256,
    batch_size=8,
    model_arguments=None,
    seed=0,
    verbose="auto",
    progress=print,
):
    """Trains every zoo model for `seconds` and measures it.

    Args:
        train_dataset: `tf.data.Dataset` of `{"image", "label"}` (STN-iCNN ids), the training faces.
        test_dataset: the same for the test faces.
        run_dir: path-like; each model trains in `<run_dir>/<name>/`.
        seconds: float, every model's training budget.
        prior_dataset: `tf.data.Dataset` of held-out `{"image", "label"}`
            faces (the validation split) whose label maps fill the exemplar
            prior of the models that have one, after training, for a second
            row; or None for one row each.
        other_train_datasets: dict, `labels.SCHEMAS` name -> the training
            faces of `train_dataset` labelled in that schema's classes, for
            the models that label other classes than STN-iCNN's (their
            entry's `label_schema`, e.g. `"helen"` for RNN-G's two-stage
            parser). They train on those labels and are scored in STN-iCNN's.
        single_pass: names of single-pass zoo models to train, or None for
            all of them but those whose classes `other_train_datasets`
            lacks.
        two_stage: bool, also train STN-iCNN (giving the iCNN baseline,
            STN-iCNN* and STN-iCNN rows).
        input_size: int, the single-pass parsers' working size.
        batch_size: int, the single-pass parsers' batch size.
        model_arguments: dict or None, constructor arguments that replace
            the zoo entries' in every single-pass parser (a probe of one
            setting; `train.single_pass_trainer.build_single_pass`).
        seed: int.
        verbose: Keras `fit` verbosity.
        progress: callable taking a line of text, or None.

    Returns:
        list of `ComparisonRow`.

    Example:
    >>> rows = compare_zoo(reader.dataset("train"), test.dataset("test"), "runs/zoo", 240)  # doctest: +SKIP
    >>> print(format_comparison(rows))  # doctest: +SKIP
    """
    report = progress or (lambda line: None)
    train_datasets = {**(other_train_datasets or {}), "stn_icnn": train_dataset}
    if single_pass is None:
        names = tuple(name for name in zoo_names("single_pass") if zoo_entry(name).label_schema in train_datasets)
    else:
        names = tuple(single_pass)
    schemas = {name: zoo_entry(name).label_schema for name in names}
    missing = {name: schema for name, schema in schemas.items() if schema not in train_datasets}
    if missing:
        raise ValueError(
            f"{sorted(missing)} label other classes than STN-iCNN's ({missing}); "
            f"pass their training faces in those classes as other_train_datasets"
        )
    rows = []
    prior_label_maps = None if prior_dataset is None else held_out_label_maps(prior_dataset, input_size)
    if two_stage:
        rows += _train_two_stage(train_dataset, test_dataset, f"{run_dir}/stn_icnn", seconds, seed, verbose, report)
    for name in names:
        report(f"[zoo] training {name} for {seconds:.0f} s")
        schema = schemas[name]
        model, trained = train_single_pass(
            name,
            train_datasets[schema],
            f"{run_dir}/{name}",
            seconds,
            input_size=input_size,
            batch_size=batch_size,
            epochs=MAX_EPOCHS,
            augmentation=None,
            arguments=model_arguments,
            seed=seed,
            verbose=verbose,
        )
        rows.append(measure_row(name, model, trained, test_dataset, label_schema=schema))
        if prior_label_maps is not None and hasattr(model, "fit_prior"):
            model.fit_prior(prior_label_maps)
            rows.append(measure_row(f"{name} + prior", model, trained, test_dataset, label_schema=schema))
    return rows


def _train_two_stage(train_dataset, test_dataset, run_dir, seconds, seed, verbose, report):
    trainer = StageTrainer(
        run_dir,
        SYNTHETIC_RECIPE,
        seed=seed,
        verbose=verbose,
        time_budget_seconds={stage: seconds * share for stage, share in TWO_STAGE_SHARES.items()},
    )
    entry = zoo_entry("stn_icnn")
    spent = {}
    rows = []
    for stage in entry.stages:
        report(f"[zoo] STN-iCNN stage {stage} for at most {seconds * TWO_STAGE_SHARES[stage]:.0f} s")
        start = time.perf_counter()
        trainer.run_stage(stage, train_dataset)
        spent[stage] = time.perf_counter() - start
        for result in entry.results_after(stage):
            model = result.from_parser(trainer.parser)
            rows.append(measure_row(result.name, model, _training_seconds(model, spent), test_dataset))
    rows.append(measure_row("stn_icnn", trainer.parser, sum(spent.values()), test_dataset))
    return rows


def _training_seconds(model, spent):
    """Seconds spent on the stages whose weights `model` has (the baseline has no localizer)."""
    present = {layer.name for layer in model.layers}
    return sum(seconds for stage, seconds in spent.items() if stage != "localizer" or "localizer" in present)


def format_comparison(rows):
    """The comparison as a Markdown table: F1 per paper group, parameters, GFLOP and ms per face.

    Args:
        rows: list of `ComparisonRow`.

    Returns:
        str.

    Example:
    >>> print(format_comparison(rows))  # doctest: +SKIP
    """
    groups = list(PAPER_F1_GROUPS)
    header = ["model", "train min", *groups, "params (M)", "GFLOP/face", "ms/face"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        scores = [f"{row.evaluation.scores[group]:.3f}" for group in groups]
        lines.append(
            "| "
            + " | ".join(
                [
                    row.name,
                    f"{row.training_seconds / 60:.1f}",
                    *scores,
                    f"{row.parameters / 1e6:.2f}",
                    f"{row.gflop_per_face:.2f}",
                    f"{row.milliseconds_per_face:.0f}",
                ]
            )
            + " |"
        )
    return "\n".join(lines)
