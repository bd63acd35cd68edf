"""The keras-stn-icnn command line."""

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from keras_stn_icnn.cli import QUIET_TF_CPP_MIN_LOG_LEVEL, build_parser, main

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ("synthesize", "export", "parse", "benchmark")


def _python(*arguments, path=()):
    """Runs the package's Python in a fresh process, as a user's shell would: no TF_CPP_MIN_LOG_LEVEL."""
    env = {name: value for name, value in os.environ.items() if name != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *map(str, path)])
    return subprocess.run([sys.executable, *arguments], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def test_help_lists_the_commands_and_prints_no_tensorflow_log():
    result = _python("-m", "keras_stn_icnn.cli", "--help")
    assert result.returncode == 0, result.stderr
    assert all(command in result.stdout for command in COMMANDS)
    assert "--tf-log" in result.stdout and "TF_CPP_MIN_LOG_LEVEL" in result.stdout
    assert result.stderr == ""  # no oneDNN, CPU-feature or other start-up line


def test_building_the_parser_and_refusing_arguments_load_no_tensorflow():
    check = textwrap.dedent("""
        import sys
        from keras_stn_icnn import cli

        parser = cli.build_parser()
        parser.parse_args(["benchmark", "--runtimes", "keras,onnx", "--training-stages", "none"])
        try:
            parser.parse_args(["export", "model.keras", "--out", "out", "--format", "jpeg"])
        except SystemExit as exit:
            print("exit", exit.code)
        print(*sorted(name for name in sys.modules if name.split(".")[0] in ("tensorflow", "keras", "keras_stn_icnn")))
    """)
    result = _python("-c", check)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["exit 2", "keras_stn_icnn keras_stn_icnn.choices keras_stn_icnn.cli"]
    assert "invalid choice: 'jpeg'" in result.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["synthesize", "out"],
        ["export", "m.keras", "--out", "o"],
        ["parse", "a.jpg", "-o", "o", "--model", "m"],
        ["benchmark"],
        ["train"],
        ["evaluate", "--model", "m", "--synthetic"],
    ],
    ids=lambda argv: argv[0],
)
def test_every_command_takes_tf_log(argv):
    assert build_parser().parse_args(argv).tf_log is False
    assert build_parser().parse_args([*argv, "--tf-log"]).tf_log is True


def test_a_command_that_loads_tensorflow_prints_only_its_own_lines(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    run = textwrap.dedent(f"""
        import sys
        from keras_stn_icnn.cli import main

        status = main(["synthesize", {str(tmp_path)!r}, "--num-train", "1"])
        print(status, "tensorflow" in sys.modules)
    """)
    result = _python("-c", run)
    assert result.stdout.splitlines() == ["2 True"], result.stderr
    assert len(result.stderr.splitlines()) == 1 and "not empty" in result.stderr, result.stderr


def test_only_tensorflows_start_up_notices_are_held_back(tmp_path):
    """A stand-in `tensorflow` writes TensorFlow 2.21's start-up notices and an error line to the C++ stderr."""
    notices_and_error = [
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "I0000 00:00:1.5  7 port.cc:153] oneDNN custom operations are on. You may see slightly different results.",
        "E0000 00:00:1.6  7 loader.cc:10] a real error",
    ]
    written = "".join(f"{line}\n" for line in notices_and_error).encode()
    (tmp_path / "tensorflow.py").write_text(f"import os\nos.write(2, {written!r})\n")
    result = _python("-c", "from keras_stn_icnn import cli; cli._quiet_tensorflow()", path=[tmp_path])
    assert result.returncode == 0, result.stderr
    assert result.stderr == notices_and_error[-1] + "\n"


@pytest.fixture
def python_log_levels():
    """Puts the TensorFlow and absl loggers back as they were after the test."""
    from absl import logging as absl_logging

    tensorflow, absl = logging.getLogger("tensorflow").level, absl_logging.get_verbosity()
    yield
    logging.getLogger("tensorflow").setLevel(tensorflow)
    absl_logging.set_verbosity(absl)


@pytest.mark.parametrize(
    "users_level, flags, level",
    [(None, [], QUIET_TF_CPP_MIN_LOG_LEVEL), ("0", [], "0"), (None, ["--tf-log"], None)],
    ids=["quiet by default", "the user's level is kept", "--tf-log"],
)
def test_commands_quiet_tensorflow_unless_asked_not_to(
    tmp_path, monkeypatch, capsys, python_log_levels, users_level, flags, level
):
    from absl import logging as absl_logging

    if users_level is None:
        monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    else:
        monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", users_level)
    logging.getLogger("tensorflow").setLevel(logging.NOTSET)
    absl_logging.set_verbosity(absl_logging.INFO)
    (tmp_path / "mine.txt").write_text("keep me")
    assert main(["synthesize", str(tmp_path), "--num-train", "1", *flags]) == 2
    assert os.environ.get("TF_CPP_MIN_LOG_LEVEL") == level
    quiet = not flags
    assert (logging.getLogger("tensorflow").level == logging.ERROR) is quiet
    assert (absl_logging.get_verbosity() == absl_logging.ERROR) is quiet


def test_synthesize_writes_the_set_and_a_contact_sheet(tmp_path, capsys):
    sheet = tmp_path / "sheet.png"
    status = main(
        [
            "synthesize",
            str(tmp_path / "set"),
            "--num-train",
            "2",
            "--num-val",
            "1",
            "--num-test",
            "1",
            "--contact-sheet",
            str(sheet),
            "--sheet-columns",
            "2",
            "--sheet-count",
            "2",
        ]
    )
    assert status == 0
    assert len(list((tmp_path / "set" / "images").glob("*.jpg"))) == 4
    picture = np.asarray(Image.open(sheet))
    assert picture.shape == (192, 2 * 2 * 192, 3)
    assert picture.std() > 10  # faces, not a blank page
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary leftovers


def test_synthesize_refuses_a_foreign_folder(tmp_path, capsys):
    (tmp_path / "mine.txt").write_text("keep me")
    status = main(["synthesize", str(tmp_path), "--num-train", "1"])
    assert status == 2
    assert "not empty" in capsys.readouterr().err
    assert (tmp_path / "mine.txt").read_text() == "keep me"
