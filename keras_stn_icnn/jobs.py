"""The training job behind `keras-stn-icnn train`, `examples/train_helen.py` and `examples/train_celebamask.py`.

One job, for any zoo model (`models.zoo.ZOO`): pick the data (a real
dataset, or the built-in synthetic faces, generated on first use), train
under the default distribution strategy, evaluate on the test split, save
the models as `.keras` files in the run folder and export the final one as a
SavedModel for TF Serving. A two-stage parser trains the stages its zoo
entry lists with its recipe (`train.StageTrainer`), and saves and evaluates
the entry's `stage_results` on the way (STN-iCNN's run also gives the iCNN
baseline and STN-iCNN before end-to-end training); a single-pass parser
trains in one fit (`train.SinglePassTrainer`) in `<run-dir>/<model>/`. Every
recipe value can be overridden from the command line.
"""

import argparse
import dataclasses
import functools
import json
import time
from pathlib import Path

import tensorflow as tf

from keras_stn_icnn.choices import LEARNING_RATE_SCHEDULES, STN_ICNN_STAGES
from keras_stn_icnn.data import CelebAMaskHQReader, HelenReader
from keras_stn_icnn.data.synthetic import generate_synthetic_helen
from keras_stn_icnn.evaluation import evaluate_parser, in_stn_icnn_ids
from keras_stn_icnn.export import export_saved_model
from keras_stn_icnn.files import atomic_write
from keras_stn_icnn.models import LOCALIZERS
from keras_stn_icnn.models.zoo import zoo_entry, zoo_names
from keras_stn_icnn.train import (
    RECIPES,
    JointSettings,
    SinglePassSchedule,
    SinglePassTrainer,
    StageSettings,
    StageTrainer,
)
from keras_stn_icnn.train.single_pass_trainer import build_single_pass, held_out_label_maps


class PhaseClock:
    """Wall-clock seconds a job spends per phase (data, each stage, evaluation, saving, export).

    Example:
    >>> clock = PhaseClock()
    >>> clock.lap("data")
    >>> list(clock.seconds)
    ['data']
    """

    def __init__(self):
        self.seconds = {}
        self._last = time.perf_counter()

    def lap(self, phase):
        """Adds the time since the previous lap (or the clock's start) to `phase`."""
        now = time.perf_counter()
        self.seconds[phase] = self.seconds.get(phase, 0.0) + now - self._last
        self._last = now

    def total(self):
        """Seconds since the clock started, up to the last lap."""
        return sum(self.seconds.values())


def build_argument_parser(dataset):
    """Command-line arguments of a training job.

    Args:
        dataset: `"helen"` or `"celebamask_hq"`, the real dataset the job
            reads with `--data-dir`.

    Returns:
        `argparse.ArgumentParser`.
    """
    parser = argparse.ArgumentParser(
        prog=f"keras-stn-icnn train --dataset {dataset}",
        description=f"Train a zoo model (STN-iCNN by default, with the paper's recipe) on {dataset}, "
        "or on the built-in synthetic faces when no --data-dir is given. `--dataset celebamask_hq` before "
        "the other options reads CelebAMask-HQ instead.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    data = parser.add_argument_group("data")
    data.add_argument("--data-dir", type=Path, help=f"the {dataset} folder (default: the synthetic set)")
    data.add_argument(
        "--synthetic-dir",
        type=Path,
        default=Path("data/synthetic_helen"),
        help="where the synthetic set is generated (reused when it exists)",
    )
    data.add_argument("--num-train", type=int, default=400, help="synthetic training faces")
    data.add_argument("--num-val", type=int, default=20, help="synthetic validation faces")
    data.add_argument("--num-test", type=int, default=60, help="synthetic test faces")
    data.add_argument("--data-seed", type=int, default=0, help="seed of the synthetic set")

    run = parser.add_argument_group("run")
    run.add_argument(
        "--model",
        choices=zoo_names(),
        default="stn_icnn",
        help="; ".join(f"{name}: {zoo_entry(name).description}" for name in zoo_names()),
    )
    run.add_argument(
        "--recipe", choices=sorted(RECIPES), help=f"base recipe (default: {dataset} with --data-dir, else synthetic)"
    )
    run.add_argument("--localizer", choices=sorted(LOCALIZERS), help="default: the recipe's")
    run.add_argument("--canvas-size", type=int, default=1024)
    run.add_argument("--seed", type=int, default=0, help="seeds the initial weights and the data order")
    run.add_argument(
        "--run-dir",
        type=Path,
        default=Path("runs") / f"train_{dataset}",
        help="stage checkpoints, backups, logs; the same command resumes from it",
    )
    run.add_argument(
        "--export-dir", type=Path, default=Path("savedmodels"), help="SavedModels go to <export-dir>/<model>/<version>/"
    )
    run.add_argument("--no-export", action="store_true", help="skip the SavedModel export")
    run.add_argument("--no-evaluate", action="store_true", help="skip the test-split evaluation")
    run.add_argument(
        "--stop-after",
        choices=STN_ICNN_STAGES,
        help="train up to this stage of the model's own only (no evaluation or export); run again without it to go on",
    )
    run.add_argument(
        "--deterministic",
        action="store_true",
        help="deterministic TensorFlow ops, so a run and its resumed copy agree to the last bit",
    )
    run.add_argument("--verbose", default="auto", help="Keras fit verbosity: auto, 0, 1 or 2")

    recipe = parser.add_argument_group("recipe overrides (default: the recipe's values)")
    for stage in ("stage1", "localizer", "parts"):
        recipe.add_argument(f"--{stage}-epochs", type=int)
        recipe.add_argument(f"--{stage}-batch-size", type=int, help="global batch size")
        recipe.add_argument(f"--{stage}-lr", type=float)
    recipe.add_argument("--joint-epochs", type=int)
    recipe.add_argument("--joint-batch-size", type=int, help="global batch size")
    recipe.add_argument("--lr1", type=float, help="end-to-end learning rate of the stage-1 iCNN")
    recipe.add_argument("--lr2", type=float, help="end-to-end learning rate of the localizer")
    recipe.add_argument("--lr3", type=float, help="end-to-end learning rate of the part models")
    recipe.add_argument("--halve-every", type=int, help="halve the learning rates every N epochs")
    recipe.add_argument("--copies", type=int, help="augmented copies of each training image (1-5)")
    recipe.add_argument("--window", type=int, help="part crop side (odd)")
    recipe.add_argument("--no-augmentation", action="store_true")
    recipe.add_argument(
        "--recentre-crops",
        action="store_true",
        help="STN-iCNN labels each part twice, its crop moved onto the part as the part model sees it",
    )
    recipe.add_argument(
        "--frozen-end-to-end",
        action="store_true",
        help="the authors' released variant: stage 1 and the localizer stay frozen end to end",
    )

    single = parser.add_argument_group("single-pass models (icnn, rnn_g, bass, red_net, ...)")
    single.add_argument("--input-size", type=int, default=128, help="working size")
    single.add_argument("--epochs", type=int, default=10)
    single.add_argument("--batch-size", type=int, default=8, help="global batch size")
    single.add_argument("--lr", type=float, help="Adam's peak rate (default: the model's default_learning_rate)")
    single.add_argument(
        "--rate-schedule",
        choices=LEARNING_RATE_SCHEDULES,
        default=LEARNING_RATE_SCHEDULES[0],
        help="warm-up and cosine decay over the run (default), or the papers' halving every --halve-every epochs",
    )
    single.add_argument(
        "--no-class-priors",
        action="store_true",
        help="start the logits bias at zero as the papers do, not at the class frequencies",
    )
    single.add_argument(
        "--no-precise-batch-norm",
        action="store_true",
        help="keep Keras's moving BatchNorm averages rather than recompute them from the final weights",
    )
    single.add_argument("--time-budget-minutes", type=float, help="stop training after this long")
    return parser


def recipe_from_arguments(args, default_recipe):
    """The recipe named by `args.recipe` (or `default_recipe`) with the overrides in `args`.

    Args:
        args: parsed arguments of `build_argument_parser`.
        default_recipe: str, the recipe name used when `args.recipe` is None.

    Returns:
        A `train.Recipe`.
    """
    recipe = RECIPES[args.recipe or default_recipe]
    changes = {}
    for stage in ("stage1", "localizer", "parts"):
        settings = getattr(recipe, stage)
        changes[stage] = StageSettings(
            epochs=_or(getattr(args, f"{stage}_epochs"), settings.epochs),
            batch_size=_or(getattr(args, f"{stage}_batch_size"), settings.batch_size),
            learning_rate=_or(getattr(args, f"{stage}_lr"), settings.learning_rate),
        )
    joint = recipe.joint
    changes["joint"] = JointSettings(
        epochs=_or(args.joint_epochs, joint.epochs),
        batch_size=_or(args.joint_batch_size, joint.batch_size),
        stage1_learning_rate=_or(args.lr1, joint.stage1_learning_rate),
        localizer_learning_rate=_or(args.lr2, joint.localizer_learning_rate),
        parts_learning_rate=_or(args.lr3, joint.parts_learning_rate),
    )
    changes["halve_every_epochs"] = _or(args.halve_every, recipe.halve_every_epochs)
    changes["copies"] = _or(args.copies, recipe.copies)
    changes["window"] = _or(args.window, recipe.window)
    changes["localizer_network"] = _or(args.localizer, recipe.localizer_network)
    if args.no_augmentation:
        changes["augmentation"] = None
    if args.frozen_end_to_end:
        changes["freeze_stage1_and_localizer"] = True
    if args.recentre_crops:
        changes["recentre_crops"] = True
    return recipe.replace(**changes)


def _or(value, default):
    return default if value is None else value


def _reader(args, dataset, schema="stn_icnn"):
    if args.data_dir is None:
        root = generate_synthetic_helen(
            args.synthetic_dir,
            num_train=args.num_train,
            num_val=args.num_val,
            num_test=args.num_test,
            seed=args.data_seed,
        )
        return HelenReader(root, schema=schema), "synthetic"
    if dataset == "celebamask_hq":
        return CelebAMaskHQReader(args.data_dir, schema=schema, split_protocol="paper"), dataset
    return HelenReader(args.data_dir, schema=schema), dataset


def _evaluate(name, parse, reader, results, clock):
    print(f"\n=== {name} on the test split ===")
    result = evaluate_parser(parse, reader.dataset("test"), total=len(reader.examples("test")))
    print(result.report())
    results[name] = {
        "scores": result.scores,
        "class_scores": result.class_scores,
        "num_images": result.num_images,
    }
    clock.lap("evaluation")


def _throughput(run_dir, stages):
    """The last epoch's training images/s of every stage, from its metrics CSV."""
    rates = {}
    for stage in stages:
        csv = Path(run_dir) / stage / "metrics.csv"
        if csv.is_file():
            lines = csv.read_text().strip().splitlines()
            header, last = lines[0].split(","), lines[-1].split(",")
            if "images_per_second" in header and len(lines) > 1:
                rates[stage] = float(last[header.index("images_per_second")])
    return rates


def _write_json(path, payload):
    atomic_write(path, lambda partial: partial.write_text(json.dumps(payload, indent=2, default=float)))


def run_training_job(argv=None, dataset="helen"):
    """Runs a whole training job from command-line arguments.

    Args:
        argv: list of str, or None for the process's arguments.
        dataset: `"helen"` or `"celebamask_hq"`.

    Returns:
        int, the exit status.

    Example:
    >>> run_training_job(["--model", "icnn_baseline"])  # doctest: +SKIP
    """
    clock = PhaseClock()
    parser = build_argument_parser(dataset)
    args = parser.parse_args(argv)
    verbose = args.verbose if args.verbose == "auto" else int(args.verbose)
    default_recipe = dataset if args.data_dir is not None else "synthetic"
    entry = zoo_entry(args.model)
    single_pass = entry.training == "single_pass"
    if single_pass and args.stop_after is not None:
        parser.error(f"--stop-after names a stage; {args.model} is a single-pass model, trained in one fit")
    if args.stop_after is not None and args.stop_after not in entry.stages:
        parser.error(f"--stop-after {args.stop_after}: {args.model} has no such stage; its stages are {entry.stages}")
    if args.localizer is not None and "localizer" not in entry.stages:
        parser.error(f"--localizer {args.localizer}: {args.model} has no localizer")
    if args.recentre_crops and "localizer" not in entry.stages:
        parser.error(f"--recentre-crops re-centres STN-iCNN's crops; {args.model} has no localizer")
    try:
        recipe = recipe_from_arguments(args, default_recipe)
        schedule = single_pass_schedule(args, recipe) if single_pass else None
        reader, data_name = _reader(args, dataset)
    except (ValueError, FileExistsError) as error:
        parser.error(str(error))
    clock.lap("data")
    if args.deterministic:
        tf.config.experimental.enable_op_determinism()
    settings = schedule if single_pass else recipe
    print(f"{f'{args.model} schedule' if single_pass else f'recipe {recipe.name}'} on {data_name} ({reader.root}):")
    for field in dataclasses.fields(settings):
        print(f"  {field.name}: {getattr(settings, field.name)}")

    if single_pass:
        training_reader, _ = _reader(args, dataset, entry.label_schema)
        clock.lap("data")
        return _run_single_pass_job(args, schedule, training_reader, reader, verbose, clock)
    return _run_two_stage_job(args, recipe, reader, verbose, clock)


def _run_two_stage_job(args, recipe, reader, verbose, clock):
    """Trains a two-stage zoo model (`StageTrainer`) through its entry's stages, saving and evaluating its
    `stage_results` on the way and the trained model at the end, then exports it."""
    entry = zoo_entry(args.model)
    trainer = StageTrainer(
        args.run_dir,
        recipe,
        model=args.model,
        localizer=args.localizer,
        canvas_size=args.canvas_size,
        seed=args.seed,
        verbose=verbose,
    )
    print(f"{trainer.strategy.num_replicas_in_sync} replica(s) with {type(trainer.strategy).__name__}")
    train_split = reader.dataset("train")
    evaluate = trainer.chief and not args.no_evaluate
    stages = entry.stages
    if args.stop_after is not None:
        stages = stages[: stages.index(args.stop_after) + 1]
    results = {}
    for stage in stages:
        trainer.train(train_split, stages=[stage])
        clock.lap(stage)
        if args.stop_after is not None:
            continue
        for result in entry.results_after(stage):
            model = result.from_parser(trainer.parser)
            _save_keras(trainer.chief, model, args.run_dir / f"{result.name}.keras", clock)
            if evaluate:
                _evaluate(result.name, model.parse, reader, results, clock)
    if args.stop_after is not None:
        print(f"stopped after {args.stop_after}, as asked; run again without --stop-after to go on")
        return 0
    _save_keras(trainer.chief, trainer.parser, args.run_dir / f"{args.model}.keras", clock)
    if evaluate:
        _evaluate(args.model, trainer.parser.parse, reader, results, clock)
    if not trainer.chief:
        return 0
    summary = {
        "model": args.model,
        "recipe": dataclasses.asdict(recipe),
        "data": str(reader.root),
        "replicas": trainer.strategy.num_replicas_in_sync,
        "images_per_second": _throughput(args.run_dir, stages),
        "results": results,
    }
    return _finish(args, trainer.parser, args.model, summary, clock)


def single_pass_schedule(args, recipe):
    """A single-pass model's `SinglePassSchedule`: its flags, the model's default rate, the recipe's augmentation.

    Args:
        args: parsed arguments of `build_argument_parser`.
        recipe: the job's `train.Recipe`.

    Returns:
        A `train.SinglePassSchedule`.
    """
    return SinglePassSchedule(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=_or(args.lr, zoo_entry(args.model).model_class.default_learning_rate),
        halve_every_epochs=recipe.halve_every_epochs,
        copies=recipe.copies if recipe.augmentation is not None else 1,
        augmentation=recipe.augmentation,
        time_budget_seconds=args.time_budget_minutes * 60 if args.time_budget_minutes else None,
        rate_schedule=args.rate_schedule,
        class_priors=not args.no_class_priors,
        precise_batch_norm=not args.no_precise_batch_norm,
    )


def _run_single_pass_job(args, schedule, training_reader, reader, verbose, clock):
    """Trains one single-pass zoo model (`SinglePassTrainer`) in its own classes, scores it in STN-iCNN's, saves
    and exports it."""
    entry = zoo_entry(args.model)
    prior_maps = None
    if training_reader.examples("val") and hasattr(entry.model_class, "fit_prior"):
        prior_maps = held_out_label_maps(training_reader.dataset("val"), args.input_size)  # RED-Net's exemplar prior
    trainer = SinglePassTrainer(
        args.run_dir / args.model,
        functools.partial(build_single_pass, args.model, args.input_size, prior_maps),
        schedule,
        seed=args.seed,
        verbose=verbose,
    )
    print(f"{trainer.strategy.num_replicas_in_sync} replica(s) with {type(trainer.strategy).__name__}")
    model = trainer.train(training_reader.dataset("train"))
    clock.lap("training")
    chief = trainer.fit.chief
    results = {}
    _save_keras(chief, model, args.run_dir / f"{args.model}.keras", clock)
    if chief and not args.no_evaluate:
        _evaluate(args.model, in_stn_icnn_ids(model.parse, entry.label_schema), reader, results, clock)
    if not chief:
        return 0
    summary = {
        "model": args.model,
        "schedule": {field.name: getattr(schedule, field.name) for field in dataclasses.fields(schedule)},
        "data": str(reader.root),
        "replicas": trainer.strategy.num_replicas_in_sync,
        "images_per_second": _throughput(args.run_dir, [args.model]),
        "training_seconds": trainer.training_seconds,
        "results": results,
    }
    return _finish(args, model, args.model, summary, clock)


def _finish(args, final, final_name, summary, clock):
    """Exports the final model, writes `summary.json` and prints the job's figures."""
    if not args.no_export:
        summary["export"] = str(export_saved_model(final, args.export_dir, model_name=final_name))
        print(f"\nexported {final_name} to {summary['export']}")
        clock.lap("export")
    summary["seconds"] = clock.total()
    summary["seconds_per_phase"] = dict(clock.seconds)
    _write_json(args.run_dir / "summary.json", summary)
    print(
        "\ntraining images/s per stage (last epoch): "
        + ", ".join(f"{stage} {rate:.1f}" for stage, rate in summary["images_per_second"].items())
    )
    if summary["results"]:
        print(
            "overall F1 on the test split: "
            + ", ".join(f"{name} {r['scores']['overall']:.3f}" for name, r in summary["results"].items())
        )
    print("minutes per phase: " + ", ".join(f"{phase} {seconds / 60:.1f}" for phase, seconds in clock.seconds.items()))
    print(f"job finished in {summary['seconds'] / 60:.1f} min; summary in {args.run_dir / 'summary.json'}")
    return 0


def _save_keras(chief, model, path, clock):
    """Saves a model as a `.keras` file through a temporary file and a rename (chief only)."""
    if chief:
        atomic_write(path, lambda partial: model.save(str(partial)))
    clock.lap("saving")
