"""Learning curves of trained runs as one SVG plot: training F1 against the images each model has seen.

Reads the `metrics.csv` that every run of `SinglePassTrainer` (and every
stage of `StageTrainer`) writes, one row per epoch with the epoch's F1
(`--metric`: `overall_f1` by default, or `mean_class_f1`) and its
`images_per_second`. Images seen by the end of an epoch are the
epoch's training time times its rate, summed; a run's last epoch, which its
time budget may have cut short, is counted at its rate over the time left in
`--budget-minutes`. Writes the plot to `--output` (a plain SVG file, no
plotting library needed).

Usage:
    python benchmarks/learning_curves.py --run-dir runs/zoo_comparison --models icnn rnn_g bass_cpu red_net_cpu
        --images-per-epoch 2000 --budget-minutes 15 --output docs/zoo_learning_curves.svg
    python benchmarks/learning_curves.py --runs "before=runs/a/red_net_cpu" "after=runs/b/red_net_cpu"
        --images-per-epoch 2000 --budget-minutes 15 --output runs/red_net_cpu.svg
"""

import argparse
import csv
import sys
from pathlib import Path

from keras_stn_icnn.files import atomic_write

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")
WIDTH, HEIGHT, MARGIN = 800, 420, 60


def read_curve(metrics_csv, images_per_epoch, budget_seconds, metric="overall_f1"):
    """`[(images seen, training F1)]` at the end of every epoch of one run, starting at `(0, 0)`.

    Args:
        metrics_csv: path of the run's `metrics.csv`.
        images_per_epoch: int, images in a full epoch (steps x batch size).
        budget_seconds: float, the run's time budget (bounds its last epoch).
        metric: str, the column to read. Defaults to `"overall_f1"`.

    Returns:
        list of `(int, float)`.

    Example:
    >>> read_curve("runs/zoo_comparison/icnn/metrics.csv", 2000, 900)  # doctest: +SKIP
    [(0, 0.0), (2000, 0.41), (4000, 0.78), (4562, 0.80)]
    """
    with open(metrics_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise ValueError(f"{metrics_csv} has no epochs")
    if metric not in rows[0]:
        raise ValueError(f"{metrics_csv} has no column {metric!r}; it has {list(rows[0])}")
    curve, images, spent = [(0, 0.0)], 0, 0.0
    for index, row in enumerate(rows):
        rate = float(row["images_per_second"])
        epoch_images = images_per_epoch
        if index == len(rows) - 1:
            epoch_images = min(images_per_epoch, max(budget_seconds - spent, 0.0) * rate)
        spent += epoch_images / rate
        images += epoch_images
        curve.append((int(round(images)), float(row[metric])))
    return curve


def svg_plot(curves, title, y_label="training F1 (overall)"):
    """The curves as an SVG line plot (x: images seen, y: F1 from 0 to 1).

    Args:
        curves: dict name -> `[(images, F1)]`.
        title: str.
        y_label: str, the vertical axis' label.

    Returns:
        str, the SVG document.

    Example:
    >>> svg_plot({"icnn": [(0, 0.0), (2000, 0.5)]}, "demo").startswith("<svg")
    True
    """
    most = max(images for curve in curves.values() for images, _ in curve) or 1
    plot_width, plot_height = WIDTH - 2 * MARGIN - 200, HEIGHT - 2 * MARGIN

    def x(images):
        return MARGIN + plot_width * images / most

    def y(f1):
        return MARGIN + plot_height * (1.0 - f1)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" '
        'font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{WIDTH / 2 - 60:.0f}" y="{MARGIN / 2:.0f}" font-size="14" text-anchor="middle">{title}</text>',
    ]
    for tick in range(0, 11, 2):
        f1 = tick / 10
        parts.append(
            f'<line x1="{MARGIN}" x2="{MARGIN + plot_width}" y1="{y(f1):.1f}" y2="{y(f1):.1f}" stroke="#ddd"/>'
        )
        parts.append(f'<text x="{MARGIN - 8}" y="{y(f1) + 4:.1f}" text-anchor="end">{f1:.1f}</text>')
    for fraction in (0, 0.25, 0.5, 0.75, 1.0):
        images = most * fraction
        parts.append(
            f'<text x="{x(images):.1f}" y="{MARGIN + plot_height + 18}" text-anchor="middle">{images:,.0f}</text>'
        )
    parts.append(
        f'<text x="{MARGIN + plot_width / 2:.0f}" y="{HEIGHT - 12}" text-anchor="middle">training images seen</text>'
    )
    parts.append(
        f'<text x="16" y="{MARGIN + plot_height / 2:.0f}" transform="rotate(-90 16 {MARGIN + plot_height / 2:.0f})" '
        f'text-anchor="middle">{y_label}</text>'
    )
    for index, (name, curve) in enumerate(curves.items()):
        colour = COLOURS[index % len(COLOURS)]
        points = " ".join(f"{x(images):.1f},{y(f1):.1f}" for images, f1 in curve)
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
        parts += [f'<circle cx="{x(i):.1f}" cy="{y(f):.1f}" r="3" fill="{colour}"/>' for i, f in curve]
        legend_y = MARGIN + 18 * index
        parts.append(
            f'<line x1="{MARGIN + plot_width + 16}" x2="{MARGIN + plot_width + 36}" y1="{legend_y}" '
            f'y2="{legend_y}" stroke="{colour}" stroke-width="2"/>'
        )
        parts.append(f'<text x="{MARGIN + plot_width + 42}" y="{legend_y + 4}">{name}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def run_folders(run_dir=None, models=None, runs=None):
    """The curves' names and run folders: one folder per model under `run_dir`, or `LABEL=FOLDER` pairs.

    Args:
        run_dir: str or None, the folder holding one run folder per model.
        models: list of str, the models' folder names under `run_dir`.
        runs: list of `"LABEL=FOLDER"` str, or None.

    Returns:
        dict label -> `Path` of a run folder, in the order given.

    Raises:
        ValueError naming a `runs` entry without a label or a folder.

    Example:
    >>> run_folders(runs=["before=runs/a/red_net_cpu"])
    {'before': PosixPath('runs/a/red_net_cpu')}
    """
    if runs is None:
        return {name: Path(run_dir) / name for name in models}
    folders = {}
    for entry in runs:
        label, _, folder = entry.partition("=")
        if not label or not folder:
            raise ValueError(f"--runs takes LABEL=FOLDER pairs, got {entry!r}")
        folders[label] = Path(folder)
    return folders


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", help="folder holding one run folder per model (with --models)")
    parser.add_argument("--models", nargs="+")
    parser.add_argument("--runs", nargs="+", help="LABEL=FOLDER pairs, run folders anywhere (instead of --run-dir)")
    parser.add_argument("--metric", default="overall_f1", choices=("overall_f1", "mean_class_f1"))
    parser.add_argument("--images-per-epoch", type=int, required=True, help="steps per epoch x batch size")
    parser.add_argument("--budget-minutes", type=float, required=True, help="every run's time budget")
    parser.add_argument("--title", default="Training F1 against images seen")
    parser.add_argument("--output", required=True, help="the SVG file to write")
    args = parser.parse_args(argv)
    if (args.runs is None) == (args.run_dir is None or args.models is None):
        parser.error("give either --run-dir with --models, or --runs")
    try:
        curves = {
            label: read_curve(folder / "metrics.csv", args.images_per_epoch, args.budget_minutes * 60, args.metric)
            for label, folder in run_folders(args.run_dir, args.models, args.runs).items()
        }
    except (OSError, ValueError) as error:
        parser.error(str(error))
    for name, curve in curves.items():
        print(name, " ".join(f"{images}:{f1:.3f}" for images, f1 in curve))
    y_label = {"overall_f1": "training F1 (overall)", "mean_class_f1": "training F1 (mean over classes)"}[args.metric]
    atomic_write(args.output, lambda path: Path(path).write_text(svg_plot(curves, args.title, y_label)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
