"""`models.config`: the TF Serving model config of a folder of exported models.

`tensorflow_model_server --model_config_file=models.config` serves every
model listed there. `write_models_config(base_dir)` lists each model folder
of `base_dir` (a folder holding numeric version folders, as
`export_saved_model` writes them) with `base_path` `<serving_root>/<name>`;
the default serving root `/models` is where the README's Docker command
mounts `savedmodels/`.

A config the package wrote starts with `GENERATED_MARKER` and is rewritten
whenever a model is exported; a config without it is the user's and is never
touched.
"""

import re
from pathlib import Path

from keras_stn_icnn.files import atomic_write

CONFIG_NAME = "models.config"
"""File name of the model config in a serving base folder."""

DEFAULT_SERVING_ROOT = "/models"
"""Where the serving base folder is seen by the server (the Docker image's mount point)."""

GENERATED_MARKER = "# Written by keras_stn_icnn"
"""First line of a config the package wrote (and may rewrite)."""


def model_names(base_dir):
    """Model folders of `base_dir`: those holding at least one numeric version folder.

    Args:
        base_dir: str or path-like.

    Returns:
        Sorted list of folder names.

    Example:
    >>> model_names("/nonexistent")
    []
    """
    base_dir = Path(base_dir)
    if not base_dir.is_dir():
        return []
    return sorted(
        folder.name
        for folder in base_dir.iterdir()
        if folder.is_dir()
        and not folder.name.startswith(".")
        and any(child.is_dir() and re.fullmatch(r"\d+", child.name) for child in folder.iterdir())
    )


def models_config_text(names, serving_root=DEFAULT_SERVING_ROOT):
    """The text-format `ModelServerConfig` serving `names` from `serving_root`.

    Args:
        names: iterable of model names (folder names under the base folder).
        serving_root: str, the base folder's path as the server sees it.

    Returns:
        str.

    Example:
    >>> print(models_config_text(["stn_icnn"]).splitlines()[4])
        name: "stn_icnn"
    """
    lines = [
        f"{GENERATED_MARKER} from the model folders next to this file; delete this line to keep",
        "# your own edits (the package then leaves the file alone).",
        "model_config_list {",
    ]
    for name in names:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            raise ValueError(f"model name {name!r} must be letters, digits, '_', '.' or '-'")
        lines += [
            "  config {",
            f'    name: "{name}"',
            f'    base_path: "{serving_root.rstrip("/")}/{name}"',
            '    model_platform: "tensorflow"',
            "  }",
        ]
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_models_config(base_dir, serving_root=DEFAULT_SERVING_ROOT):
    """Writes `<base_dir>/models.config` for the models there, unless it is the user's.

    Args:
        base_dir: str or path-like, the serving base folder.
        serving_root: str, `base_dir` as the server sees it.

    Returns:
        `Path` of the config if it was written, None if an existing config
        without `GENERATED_MARKER` was left alone.

    Example:
    >>> write_models_config("savedmodels")  # doctest: +SKIP
    PosixPath('savedmodels/models.config')
    """
    path = Path(base_dir) / CONFIG_NAME
    if path.exists() and not path.read_text().startswith(GENERATED_MARKER):
        return None
    text = models_config_text(model_names(base_dir), serving_root)
    return atomic_write(path, lambda partial: partial.write_text(text))
