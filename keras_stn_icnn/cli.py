"""The `keras-stn-icnn` command line.

Example:
    keras-stn-icnn synthesize data/synthetic --num-train 200 --contact-sheet sheet.png
    keras-stn-icnn export runs/train_helen/stn_icnn.keras --format all --out savedmodels
    keras-stn-icnn parse photos/ clip.mp4 -o parsed --json
    keras-stn-icnn parse photo.jpg --model savedmodels/stn_icnn/1
    keras-stn-icnn benchmark --reference-dir STN-iCNN/ --reference-checkpoint model.pth.tar

Building the parser, `--help` and argument errors load no TensorFlow: each command imports
what it needs when it runs, with TensorFlow's log quieted first (`_quiet_tensorflow`).
"""

import argparse
import logging
import os
import sys
import tempfile

from keras_stn_icnn.choices import DEFAULT_PRESET, FORMATS, RUNTIMES, STN_ICNN_STAGES

QUIET_TF_CPP_MIN_LOG_LEVEL = "2"
"""TensorFlow's C++ log level of the commands unless the user sets one: errors only (no info or warning lines)."""

TENSORFLOW_START_UP_NOTICES = (
    "All log messages before absl::InitializeLog() is called are written to STDERR",
    "oneDNN custom operations are on.",
)
"""Info lines TensorFlow logs while it loads whatever TF_CPP_MIN_LOG_LEVEL says; the commands drop them."""

STDERR = 2
"""The file descriptor TensorFlow's C++ log writes to."""

EXPORT_SOURCES = ("keras", "pytorch_checkpoint")
"""What `keras-stn-icnn export` converts and `keras-stn-icnn benchmark` times: a `.keras` file or an authors'
checkpoint."""


def render_contact_sheet(root, path, split="train", count=12, columns=4):
    """Render `count` examples of a HELEN-layout set with their label overlays.

    Args:
        root: str or Path of the dataset.
        path: str or Path of the PNG to write.
        split: which split's first examples to show.
        count: int, how many examples.
        columns: int, examples per row.

    Example:
    >>> render_contact_sheet("data/synthetic", "sheet.png")  # doctest: +SKIP
    """
    from keras_stn_icnn.data.helen import HelenReader
    from keras_stn_icnn.visualize import contact_sheet, save_png

    reader = HelenReader(root)
    examples = [reader.load(example) for example in reader.examples(split)[:count]]
    sheet = contact_sheet(
        [e["image"] for e in examples], [e["label"] for e in examples], schema="helen", columns=columns
    )
    save_png(sheet, path)


def _synthesize(args):
    from keras_stn_icnn.data.synthetic import generate_synthetic_helen

    root = generate_synthetic_helen(
        args.root, num_train=args.num_train, num_val=args.num_val, num_test=args.num_test, seed=args.seed
    )
    print(f"synthetic HELEN-layout set at {root}")
    if args.contact_sheet:
        render_contact_sheet(root, args.contact_sheet, count=args.sheet_count, columns=args.sheet_columns)
        print(f"contact sheet at {args.contact_sheet}")


def _default_export_name(model):
    """The zoo name of the model (`models.zoo`), or its class name in lower case for a model outside the zoo."""
    from keras_stn_icnn.models.zoo import zoo_name_of

    return zoo_name_of(model) or type(model).__name__.lower()


def _keras_model(args, what_command_does):
    """The Keras parser of `args.model`: a `.keras` file or an authors' checkpoint, nothing else."""
    from keras_stn_icnn.models.loading import load_parser

    loaded = load_parser(args.model, localizer=args.localizer)
    if loaded.kind not in EXPORT_SOURCES:
        raise ValueError(
            f"{args.model} is a {loaded.kind}; {what_command_does} a .keras file or an authors' "
            "PyTorch checkpoint (*.pth.tar)"
        )
    return loaded.model


def _unusable_input(args, error):
    """Say why the command cannot use what it was given; exit status 2."""
    print(f"keras-stn-icnn {args.command}: error: {error}", file=sys.stderr)
    return 2


def _failed(args, error):
    """Say which export disagrees with the Keras model; exit status 1."""
    print(f"keras-stn-icnn {args.command}: failed: {error}", file=sys.stderr)
    return 1


def _export(args):
    from keras_stn_icnn.export import ExportValidationError, export_model, format_results

    model = _keras_model(args, "export converts")
    formats = list(FORMATS) if args.format == "all" else [args.format]
    name = args.name or _default_export_name(model)
    print(
        f"exporting {args.model} as {', '.join(formats)} to {args.out} (name {name!r}), "
        "checking each export against the Keras model before putting it in place"
    )
    try:
        results = export_model(model, args.out, formats, name=name, version=args.version, overwrite=args.overwrite)
    except ExportValidationError as error:
        return _failed(args, error)
    print(format_results(results))
    print(f"all {len(results)} exports agree with the Keras model")


def _parse(args):
    from keras_stn_icnn.inference import FaceParser, MTCNNDetector, collect_inputs, parse_inputs
    from keras_stn_icnn.models.loading import load_parser

    items = collect_inputs(args.inputs)  # checks every input before the model loads
    if not items:
        raise ValueError(f"no photo or video found in {', '.join(args.inputs)}")
    loaded = load_parser(args.model, localizer=args.localizer)
    detector = None if args.no_detect else MTCNNDetector(args.min_confidence, args.min_face_size)
    face_parser = FaceParser(loaded, detector=detector)
    print(f"parsing {len(items)} inputs with {args.model} ({loaded.kind}) into {args.out}")
    summary = parse_inputs(
        face_parser,
        items,
        args.out,
        detect=not args.no_detect,
        write_json=args.json,
        write_figure=args.figure,
        every=args.every,
        max_frames=args.max_frames,
        alpha=args.alpha,
        progress=not args.no_progress,
        log=lambda line: print(line, file=sys.stderr),
    )
    print(summary.report())
    return 1 if summary.failed else 0


BENCHMARK_PHOTO_SIDE = 512
"""The benchmark's photo is resized to this square, as the authors' figures were measured."""


def _comma_list(text, allowed=None, convert=str):
    values = [convert(value) for value in text.split(",") if value] if text != "none" else []
    unknown = [value for value in values if allowed is not None and value not in allowed]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown {unknown}; choose from {', '.join(map(str, allowed))} or none")
    return values


def _benchmark(args):
    import numpy as np
    from PIL import Image

    from keras_stn_icnn.benchmarking import AuthorsPipeline, ReferenceUnavailable, format_report, run_benchmark
    from keras_stn_icnn.data.synthetic import render_face
    from keras_stn_icnn.export import ExportValidationError
    from keras_stn_icnn.inference import read_photo
    from keras_stn_icnn.models import STNiCNN

    # Without --model, fresh weights: the cost does not depend on them.
    model = _keras_model(args, "benchmark times") if args.model else STNiCNN()
    photo = Image.fromarray(read_photo(args.image) if args.image else render_face(11)[0])
    photo = np.asarray(photo.resize((BENCHMARK_PHOTO_SIDE, BENCHMARK_PHOTO_SIDE), Image.BILINEAR))
    reference = None
    if args.reference_dir:
        checkpoint = args.reference_checkpoint or (
            args.model if args.model and str(args.model).endswith((".pth.tar", ".pth")) else None
        )
        if checkpoint is None:
            raise ValueError(
                "--reference-dir needs the authors' checkpoint for their pipeline: "
                "pass --reference-checkpoint, or --model as an authors' *.pth.tar"
            )
        try:
            reference = AuthorsPipeline(args.reference_dir, checkpoint, threads=args.threads or 2)
        except ReferenceUnavailable as error:
            return _unusable_input(args, error)
    try:
        report = run_benchmark(
            model,
            photo,
            name=args.name or _default_export_name(model),
            exports=args.exports,
            runtimes=args.runtimes,
            batch_sizes=args.batch_sizes,
            repeats=args.repeats,
            training_stages=args.training_stages,
            training_batch_size=args.training_batch_size,
            training_repeats=args.training_repeats,
            reference=reference,
            threads=args.threads,
            log=lambda line: print(line, file=sys.stderr, flush=True),
        )
    except ExportValidationError as error:
        return _failed(args, error)
    print(format_report(report))


TRAINING_DATASETS = ("helen", "celebamask_hq")
"""The real datasets `keras-stn-icnn train --data-dir` reads (without it: the built-in synthetic faces)."""


def _train(args):
    from keras_stn_icnn.jobs import run_training_job

    return run_training_job(args.job_arguments, dataset=args.dataset)


def _evaluate(args):
    from keras_stn_icnn.evaluation import evaluate_on_helen, synthetic_test_set
    from keras_stn_icnn.models.loading import load_parser

    if args.synthetic and args.split not in (None, "test"):
        raise ValueError("the synthetic set is evaluated on its test split; drop --split")
    progress = not args.no_progress
    if args.synthetic:
        data_dir = synthetic_test_set(args.seed, args.num, args.cache_dir, progress=progress)
    else:
        data_dir = args.data_dir
    model = load_parser(args.model, localizer=args.localizer)
    print(f"evaluating {args.model} ({model.kind}) on {data_dir}, split {args.split or 'test'}")
    result = evaluate_on_helen(model, data_dir, split=args.split or "test", progress=progress)
    print(result.report())


def build_parser():
    """The argument parser of `keras-stn-icnn`.

    Example:
    >>> build_parser().parse_args(["synthesize", "out"]).num_train
    200
    """
    parser = argparse.ArgumentParser(
        prog="keras-stn-icnn",
        description="Face parsing with STN-iCNN in Keras.",
        epilog="TensorFlow loads only when a command runs, and quietly: its C++ log shows errors only "
        f"(TF_CPP_MIN_LOG_LEVEL={QUIET_TF_CPP_MIN_LOG_LEVEL} unless you set that variable yourself), its start-up "
        "notices (oneDNN, CPU features) are dropped unless that level is 0, and its Python-side TensorFlow and "
        "absl warnings are hidden. Give a command --tf-log to see all of them.",
    )
    tf_log = argparse.ArgumentParser(add_help=False)
    tf_log.add_argument(
        "--tf-log", action="store_true", help="show TensorFlow's log: C++ start-up lines and Python warnings"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    synthesize = commands.add_parser(
        "synthesize", parents=[tf_log], help="write the built-in synthetic face set in HELEN's layout"
    )
    synthesize.add_argument("root", help="folder to create (an identical existing set is reused)")
    synthesize.add_argument("--num-train", type=int, default=200)
    synthesize.add_argument("--num-val", type=int, default=40)
    synthesize.add_argument("--num-test", type=int, default=60)
    synthesize.add_argument("--seed", type=int, default=0)
    synthesize.add_argument("--contact-sheet", metavar="PNG", help="also render samples with label overlays")
    synthesize.add_argument("--sheet-count", type=int, default=12)
    synthesize.add_argument("--sheet-columns", type=int, default=4)
    synthesize.set_defaults(run=_synthesize)

    train = commands.add_parser(
        "train",
        add_help=False,
        help="train any zoo model (STN-iCNN by default) on the synthetic faces, HELEN or CelebAMask-HQ, "
        "then evaluate and export it; `keras-stn-icnn train --help` lists the job's options",
    )
    train.add_argument(
        "--dataset",
        choices=TRAINING_DATASETS,
        default="helen",
        help="what --data-dir holds, and the recipe that goes with it",
    )
    train.add_argument("--tf-log", action="store_true", help="show TensorFlow's log")
    train.set_defaults(run=_train)

    evaluate = commands.add_parser(
        "evaluate",
        parents=[tf_log],
        help="score a saved parser on HELEN's layout (or unseen synthetic faces) with the paper's F1 table",
    )
    evaluate.add_argument(
        "--model",
        required=True,
        help="a .keras file of any zoo model, a SavedModel version folder or an authors' *.pth.tar",
    )
    source = evaluate.add_mutually_exclusive_group(required=True)
    source.add_argument("--data-dir", help="a folder in HELEN's layout (images/, labels/, testing.txt, ...)")
    source.add_argument("--synthetic", action="store_true", help="evaluate on unseen built-in synthetic faces")
    evaluate.add_argument(
        "--split",
        choices=["train", "val", "test"],
        help="split of --data-dir (default test); the synthetic set has only test",
    )
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the synthetic set")
    evaluate.add_argument("--num", type=int, default=20, help="number of synthetic test faces")
    evaluate.add_argument("--cache-dir", help="where synthetic sets are kept (default $XDG_CACHE_HOME/keras_stn_icnn)")
    evaluate.add_argument(
        "--localizer", default="resnet18", choices=["resnet18", "fcn"], help="localizer of a *.pth.tar checkpoint"
    )
    evaluate.add_argument("--no-progress", action="store_true", help="no progress bar")
    evaluate.set_defaults(run=_evaluate)

    export = commands.add_parser(
        "export",
        parents=[tf_log],
        help="export a parser to SavedModel (TF Serving), LiteRT and/or ONNX, checking each export",
    )
    export.add_argument("model", help="a .keras file or an authors' PyTorch checkpoint (*.pth.tar)")
    export.add_argument("--format", choices=[*FORMATS, "all"], default="all")
    export.add_argument("--out", required=True, help="folder to write into (e.g. savedmodels)")
    export.add_argument("--name", help="model name: SavedModel folder and file stem (default from the model)")
    export.add_argument("--version", type=int, help="SavedModel version (default: the next free one)")
    export.add_argument("--overwrite", action="store_true", help="replace existing .tflite/.onnx files")
    export.add_argument("--localizer", default="resnet18", help="localizer of a PyTorch checkpoint (resnet18 or fcn)")
    export.set_defaults(run=_export)

    parse = commands.add_parser(
        "parse",
        parents=[tf_log],
        help="parse photos, folders (recursively) and videos: label PNGs, overlays, optional JSON",
    )
    parse.add_argument("inputs", nargs="+", metavar="INPUT", help="photos, folders of photos, or videos")
    parse.add_argument("-o", "--out", required=True, help="output folder (nothing is written outside it)")
    parse.add_argument(
        "--model",
        default=DEFAULT_PRESET,
        help=f"a preset name or folder (default: the {DEFAULT_PRESET} preset), a .keras file, "
        "a SavedModel version folder or an authors' *.pth.tar",
    )
    parse.add_argument("--localizer", default="resnet18", help="localizer of a PyTorch checkpoint (resnet18 or fcn)")
    parse.add_argument("--json", action="store_true", help="also write per-face boxes and pixel counts as JSON")
    parse.add_argument("--figure", action="store_true", help="also write image | labels | overlay figures")
    parse.add_argument("--no-detect", action="store_true", help="each picture is one face, already framed: no detector")
    parse.add_argument("--min-confidence", type=float, default=0.9, help="lowest face detection confidence")
    parse.add_argument("--min-face-size", type=int, default=20, help="smallest face searched for, in pixels")
    parse.add_argument("--every", type=int, default=1, help="parse every N-th video frame")
    parse.add_argument("--max-frames", type=int, help="parse at most this many frames per video")
    parse.add_argument("--alpha", type=float, default=0.5, help="overlay weight of the label colours")
    parse.add_argument("--no-progress", action="store_true", help="no progress bar")
    parse.set_defaults(run=_parse)

    benchmark = commands.add_parser(
        "benchmark",
        parents=[tf_log],
        help="latency in every runtime, training throughput, memory, FLOPs and the arithmetic limit, "
        "next to the authors' pipeline",
    )
    benchmark.add_argument(
        "--model",
        help="a .keras file or an authors' *.pth.tar (default: a fresh STNiCNN; weights do not change the cost)",
    )
    benchmark.add_argument("--localizer", default="resnet18", help="localizer of a PyTorch checkpoint")
    benchmark.add_argument(
        "--exports", help="folder of `keras-stn-icnn export --format all` (default: export into a temporary folder)"
    )
    benchmark.add_argument("--name", help="the exports' name (default from the model)")
    benchmark.add_argument(
        "--image",
        help=f"photo to parse, resized to {BENCHMARK_PHOTO_SIDE}x{BENCHMARK_PHOTO_SIDE} (default: a synthetic face)",
    )
    benchmark.add_argument(
        "--runtimes",
        type=lambda t: _comma_list(t, RUNTIMES),
        default=list(RUNTIMES),
        help=f"comma-separated, from {','.join(RUNTIMES)}",
    )
    benchmark.add_argument("--batch-sizes", type=lambda t: _comma_list(t, convert=int), default=[1, 4, 8])
    benchmark.add_argument("--repeats", type=int, default=10, help="timed calls per runtime and batch size")
    benchmark.add_argument(
        "--training-stages",
        type=lambda t: _comma_list(t, STN_ICNN_STAGES),
        default=list(STN_ICNN_STAGES),
        help="comma-separated stages to time, or none",
    )
    benchmark.add_argument("--training-batch-size", type=int, default=8)
    benchmark.add_argument("--training-repeats", type=int, default=5)
    benchmark.add_argument("--threads", type=int, help="LiteRT, ONNX Runtime and torch threads")
    benchmark.add_argument("--reference-dir", help="a checkout of the authors' STN-iCNN repository (needs torch)")
    benchmark.add_argument(
        "--reference-checkpoint",
        help="the authors' end-to-end checkpoint for their pipeline (default: --model when it is a *.pth.tar)",
    )
    benchmark.set_defaults(run=_benchmark)
    return parser


def _quiet_tensorflow():
    """Keep TensorFlow's log below errors off stderr, importing TensorFlow to do so.

    The C++ side goes through `TF_CPP_MIN_LOG_LEVEL`, set only when the user has not set it. The
    notices TensorFlow 2.21 logs while it loads ignore that level, so unless it is 0 they are taken
    out of what TensorFlow writes as it is imported here. The Python side is the `tensorflow` logger
    and absl's, raised to ERROR. oneDNN stays on (turning it off would change the numbers); only its
    notice is hidden.
    """
    from absl import logging as absl_logging

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_TF_CPP_MIN_LOG_LEVEL)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    absl_logging.set_verbosity(absl_logging.ERROR)
    if os.environ["TF_CPP_MIN_LOG_LEVEL"] != "0" and "tensorflow" not in sys.modules:
        _import_tensorflow_without_start_up_notices()


def _import_tensorflow_without_start_up_notices():
    """Import TensorFlow with stderr held back, then pass on every line it wrote but `TENSORFLOW_START_UP_NOTICES`."""
    with tempfile.TemporaryFile() as held_back:
        sys.stderr.flush()
        stderr = os.dup(STDERR)
        os.dup2(held_back.fileno(), STDERR)
        try:
            import tensorflow  # noqa: F401
        finally:
            sys.stderr.flush()
            os.dup2(stderr, STDERR)
            os.close(stderr)
            held_back.seek(0)
            lines = held_back.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines if not _is_start_up_notice(line)))


def _is_start_up_notice(line):
    return any(notice in line for notice in TENSORFLOW_START_UP_NOTICES)


def main(argv=None):
    """Run `keras-stn-icnn` with `argv` (default: the process arguments); returns the exit status."""
    parser = build_parser()
    args, job_arguments = parser.parse_known_args(argv)
    if args.command == "train":
        args.job_arguments = job_arguments  # the training job's own options, parsed by the job
    elif job_arguments:
        parser.error(f"unrecognized arguments: {' '.join(job_arguments)}")
    if not args.tf_log:
        _quiet_tensorflow()
    try:
        status = args.run(args)
    except (ValueError, FileExistsError, FileNotFoundError) as error:
        return _unusable_input(args, error)
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
