"""Every module's docstring examples run and give what they show, found by walking the package.

A new module's examples join the suite by existing: nothing is listed by hand. Examples that need
a file the repository does not ship (an authors' checkpoint, a dataset on disk) say so with
`# doctest: +SKIP`.
"""

import doctest
import importlib
import importlib.util
import pkgutil
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_stn_icnn

MODULES = sorted(info.name for info in pkgutil.walk_packages(keras_stn_icnn.__path__, "keras_stn_icnn."))
SCRIPTS_WITH_EXAMPLES = sorted(
    path
    for folder in ("benchmarks", "examples")
    for path in (Path(__file__).resolve().parents[1] / folder).glob("*.py")
    if ">>> " in path.read_text()
)


def test_the_walk_finds_the_whole_package():
    # A package whose __init__ failed to import would hide its modules from the walk.
    assert len(MODULES) > 100
    assert {"keras_stn_icnn.models.zoo", "keras_stn_icnn.data.synthetic.generator", "keras_stn_icnn.cli"} <= set(
        MODULES
    )


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    results = doctest.testmod(module, extraglobs={"np": np, "tf": tf, "keras": keras}, optionflags=doctest.ELLIPSIS)
    assert results.failed == 0


def test_the_scripts_with_examples_are_found():
    assert "learning_curves.py" in {path.name for path in SCRIPTS_WITH_EXAMPLES}


@pytest.mark.parametrize("path", SCRIPTS_WITH_EXAMPLES, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_script_docstring_examples(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    results = doctest.testmod(module, extraglobs={"np": np, "tf": tf, "keras": keras}, optionflags=doctest.ELLIPSIS)
    assert results.attempted > 0 and results.failed == 0
