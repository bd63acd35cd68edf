"""Package-wide rules: one-way imports and registered, documented public objects."""

import ast
import inspect
from pathlib import Path

import keras
import pytest

import keras_stn_icnn
from keras_stn_icnn import layers, models

PACKAGE = Path(keras_stn_icnn.__file__).parent

# Each group may import only from groups of a lower rank (DESIGN.md).
RANKS = {
    "ops": 0,
    "files": 0,
    "choices": 0,
    "labels": 0,  # imports nothing from the package; metrics (rank 1) use its class names
    "layers": 1, "losses": 1, "metrics": 1,
    "models": 2, "data": 2, "visualize": 2,
    "convert": 3, "train": 3, "export": 3, "evaluation": 3,
    "inference": 4, "benchmarking": 4,
    "cli": 5, "jobs": 5,
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
