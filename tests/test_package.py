"""Package-wide rules: one-way imports, the lazily loaded public API, registered and documented public objects."""

import ast
import inspect
import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

import keras_stn_icnn
from keras_stn_icnn import layers, models

PACKAGE = Path(keras_stn_icnn.__file__).parent

# Each group may import only from groups of a lower rank (docs/design.md).
RANKS = {
    "checks": -1,  # imports nothing from the package; every group, ops too, checks its arguments with it
    "ops": 0,
    "files": 0,
    "choices": 0,
    "labels": 0,  # imports nothing from the package; metrics (rank 1) use its class names
    "geometry": 0,
    "layers": 1,
    "losses": 1,
    "metrics": 1,
    "optimizers": 1,
    "data": 2,
    "visualize": 2,
    "export": 3,  # takes any Keras model and imports none: a preset (models) writes its SavedModel through it
    "models": 4,
    "convert": 5,
    "train": 5,
    "inference": 5,
    "evaluation": 6,  # scores parsers as users run them, through inference's FaceParser
    "benchmarking": 7,
    "cli": 8,
    "jobs": 8,
}


def _group(module_path):
    parts = module_path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def _module_level_imports(path):
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def test_imports_flow_one_way():
    violations = []
    for path in PACKAGE.rglob("*.py"):
        if path.parent == PACKAGE and path.name == "__init__.py":
            continue
        group = _group(path)
        for module in _module_level_imports(path):
            if not module.startswith("keras_stn_icnn."):
                continue
            target = module.split(".")[1]
            if target != group and RANKS[target] >= RANKS[group]:
                violations.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert not violations, violations


@pytest.mark.parametrize("name", keras_stn_icnn.__all__)
def test_every_public_name_loads_on_first_use(name):
    value = getattr(keras_stn_icnn, name)
    assert (inspect.isclass(value) or inspect.isfunction(value)) and value.__name__ == name
    assert value.__module__.startswith("keras_stn_icnn.")
    assert name in dir(keras_stn_icnn)


def test_subpackages_load_on_first_use_and_unknown_names_are_refused():
    assert keras_stn_icnn.export.export_model.__module__ == "keras_stn_icnn.export.exporter"
    assert "benchmarking" in dir(keras_stn_icnn)
    with pytest.raises(AttributeError, match="keras_stn_icnn.*has no attribute 'STNiCN'"):
        _ = keras_stn_icnn.STNiCN
    with pytest.raises(ImportError, match="cannot import name 'STNiCN'"):
        from keras_stn_icnn import STNiCN  # noqa: F401


def test_importing_the_package_loads_no_keras_and_refuses_another_backend():
    check = "import sys, keras_stn_icnn; print(keras_stn_icnn.__version__, 'keras' in sys.modules)"
    env = dict(os.environ, PYTHONPATH=str(PACKAGE.parent))
    env.pop("KERAS_BACKEND", None)
    run = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, env=env, timeout=120)
    assert run.stdout.split() == [keras_stn_icnn.__version__, "False"], run.stderr
    env["KERAS_BACKEND"] = "jax"
    run = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 1
    assert "needs the TensorFlow backend of Keras, but KERAS_BACKEND is 'jax'" in run.stderr


PUBLIC_CLASSES = [
    obj
    for module in (layers, models)
    for _, obj in inspect.getmembers(module, inspect.isclass)
    if obj.__module__.startswith("keras_stn_icnn")
]


@pytest.mark.parametrize("cls", PUBLIC_CLASSES, ids=lambda c: c.__name__)
def test_public_classes_are_registered_and_documented(cls):
    assert keras.saving.get_registered_name(cls) == f"keras_stn_icnn>{cls.__name__}"
    doc = inspect.getdoc(cls)
    assert "Example:" in doc, cls
    if inspect.signature(cls.__init__).parameters.keys() - {"self", "kwargs"}:
        assert "Args:" in doc, cls
