"""Wall time of `keras-stn-icnn --help` next to a plain `import tensorflow`, measured side by side.

Each command runs in a fresh Python process, as a user's shell starts it (without
TF_CPP_MIN_LOG_LEVEL), the commands taking turns so that all see the same machine load.
It prints the median (min-max) wall seconds over the repeats and the lines each wrote to
stderr. Python's own start-up is timed too, as the floor.

Usage:
    python benchmarks/cli_startup.py [--repeats 5]
"""

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "python -c pass": ["-c", "pass"],
    "keras-stn-icnn --help": ["-m", "keras_stn_icnn.cli", "--help"],
    "python -c 'import tensorflow'": ["-c", "import tensorflow"],
}


def run_once(arguments, env):
    """Wall seconds and stderr lines of one fresh `python *arguments` process."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, *arguments], capture_output=True, text=True, env=env, cwd=ROOT)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"python {' '.join(arguments)} failed with status {result.returncode}:\n{result.stderr}")
    return seconds, len(result.stderr.splitlines())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")

    env = {name: value for name, value in os.environ.items() if name != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    runs = {name: [] for name in COMMANDS}
    for _ in range(args.repeats):
        for name, arguments in COMMANDS.items():
            runs[name].append(run_once(arguments, env))

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"median (min-max) wall seconds of {args.repeats} fresh processes each, taking turns"
    )
    print(f"{'command':<30} {'seconds':>18} {'stderr lines':>13}")
    for name, results in runs.items():
        seconds = np.array([result[0] for result in results])
        lines = "/".join(str(count) for count in sorted({result[1] for result in results}))
        spread = f"{np.median(seconds):.2f} ({seconds.min():.2f}-{seconds.max():.2f})"
        print(f"{name:<30} {spread:>18} {lines:>13}")


if __name__ == "__main__":
    main()
