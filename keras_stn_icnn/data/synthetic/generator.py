"""`generate_synthetic_helen`: a set written atomically; an existing folder reused, made again or refused."""

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from keras_stn_icnn.checks import check_int
from keras_stn_icnn.data.synthetic.helen_layout import MANIFEST_NAME, SPLIT_FILES, write_set
from keras_stn_icnn.data.synthetic.rendering import check_seed

GENERATOR_VERSION = 4  # 4: the face's relief and texture, hair-like brows, human proportions; 3: one photo size
"""Changes whenever the same seed would give different files."""


def generate_synthetic_helen(root, *, num_train=200, num_val=40, num_test=60, seed=0, progress=True):
    """Writes a synthetic face-parsing data set in HELEN's layout.

    Layout (what `HelenReader` reads)::

        root/images/synthetic_000000.jpg ...
        root/labels/synthetic_000000/synthetic_000000_lbl00.png ... _lbl10.png
        root/exemplars.txt   train lines "<1-based index> , <name>"
        root/tuning.txt      val
        root/testing.txt     test
        root/synthetic.json  generator version, seed and counts

    Names count over all splits, train first, then val, then test; face `i`
    is `render_face((seed, i))` (`(*seed, i)` for a tuple seed). Label file
    `_lblKK.png` is 255 where the label is class KK and 0 elsewhere.

    The set is built in a temporary sibling folder and renamed to `root` only
    when complete. If `root` already holds a set of the same version, seed and
    counts, it is returned as it is. A set an older generator version wrote
    with the same seed and counts, holding nothing but what the generator
    writes, is made again and replaces it (its faces no longer match
    `render_face`). An empty `root` folder is replaced; any other existing
    `root` raises `FileExistsError` and is left untouched.

    Args:
        root: str or Path of the folder to create.
        num_train: int >= 1, training faces.
        num_val: int >= 0, validation faces.
        num_test: int >= 0, test faces.
        seed: int or tuple of ints (non-negative).
        progress: bool; print "synthetic faces: i/n" lines to stderr.

    Returns:
        `root` as a `pathlib.Path`.

    Raises:
        ValueError: a count or the seed is not valid.
        FileExistsError: `root` exists and holds something else.

    Example:
    >>> import tempfile
    >>> root = generate_synthetic_helen(tempfile.mkdtemp(), num_train=8,
    ...                                 num_val=2, num_test=2, progress=False)
    >>> sorted(path.name for path in root.glob("*.txt"))
    ['exemplars.txt', 'testing.txt', 'tuning.txt']
    """
    counts = {
        "num_train": check_int(num_train, "num_train", minimum=1),
        "num_val": check_int(num_val, "num_val", minimum=0),
        "num_test": check_int(num_test, "num_test", minimum=0),
    }
    seed = check_seed(seed, "seed")
    manifest = {"generator_version": GENERATOR_VERSION, "seed": _jsonable_seed(seed), **counts}
    root = Path(root)
    stale = _is_stale_set(root, manifest)
    if not stale and (root.exists() or root.is_symlink()) and _is_same_set(root, manifest):
        if progress:
            print(f"synthetic faces: reusing {root}", file=sys.stderr, flush=True)
        return root
    if stale and progress:
        print(f"synthetic faces: {root} was made by an older generator; making it again", file=sys.stderr, flush=True)
    root.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{root.name}.partial-"))
    try:
        write_set(temporary, seed, counts, manifest, progress)
        if stale:
            retired = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{root.name}.stale-"))
            os.replace(root, retired / root.name)
            os.replace(temporary, root)
            shutil.rmtree(retired)
            return root
        try:
            os.replace(temporary, root)  # atomic; replaces an empty folder only
        except OSError:
            # Another process may have written the same set meanwhile; anything else
            # that appeared at root raises FileExistsError from _is_same_set.
            if not (root.exists() and _is_same_set(root, manifest)):
                raise
    finally:
        if temporary.exists():
            shutil.rmtree(temporary)
    return root


def _jsonable_seed(seed):
    return list(seed) if isinstance(seed, tuple) else seed


def _is_same_set(root, manifest):
    """True if `root` holds the set `manifest` describes, False if it is empty; raises otherwise."""
    if not root.is_dir():
        raise FileExistsError(
            f"{root} exists and is not a folder; generate_synthetic_helen needs a new or empty folder"
        )
    manifest_path = root / MANIFEST_NAME
    if manifest_path.is_file():
        try:
            found = json.loads(manifest_path.read_text())
        except (OSError, ValueError):
            found = None
        if found == manifest:
            return True
        raise FileExistsError(
            f"{root} already holds a synthetic set made with other arguments ({found}, wanted {manifest}); "
            "it is left untouched: pass another root or remove that folder yourself"
        )
    if any(root.iterdir()):
        raise FileExistsError(
            f"{root} exists and is not empty; generate_synthetic_helen never overwrites or deletes files, "
            "pass a new or empty folder"
        )
    return False


def _is_stale_set(root, manifest):
    """True if `root` holds only a set an older generator wrote with `manifest`'s seed and counts."""
    manifest_path = root / MANIFEST_NAME
    if root.is_symlink() or not manifest_path.is_file():
        return False
    try:
        found = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(found, dict) or found.get("generator_version") == manifest["generator_version"]:
        return False
    if {**found, "generator_version": manifest["generator_version"]} != manifest:
        return False
    return {path.name for path in root.iterdir()} <= {"images", "labels", MANIFEST_NAME, *SPLIT_FILES.values()}
