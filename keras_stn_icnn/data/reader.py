"""The part every dataset reader shares: split listing, bad-data policy, tf.data.

A reader lists a split's examples eagerly (so a missing file or an empty
split list fails at once, naming the file) and decodes them lazily inside a
`tf.data` pipeline. With `skip_bad=True`, an example that fails either step
is left out with a `BadDataWarning` and recorded in `reader.skipped`;
without it, the first bad example raises a `DatasetError` naming the file
(inside a `tf.data` iterator TensorFlow reports it as an
`InvalidArgumentError` carrying the same message).
"""

import dataclasses
import threading
import warnings
from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_stn_icnn.data.files import DatasetError
from keras_stn_icnn.labels import get_schema, label_mapping


class BadDataWarning(UserWarning):
    """An example was skipped because `skip_bad=True`; the message says which and why."""


@dataclasses.dataclass(frozen=True)
class Example:
    """One listed example: its name and the files it needs.

    Args:
        name: str, the dataset's name for the example.
        files: tuple of Path, every file the example is read from; the first
            is the image.

    Example:
    >>> Example("a", (Path("images/a.jpg"), Path("labels/a.png"))).image_path.name
    'a.jpg'
    """

    name: str
    files: tuple

    @property
    def image_path(self):
        return self.files[0]


@dataclasses.dataclass(frozen=True)
class SkippedExample:
    """An example left out under `skip_bad=True`.

    Args:
        name: str, the example's name.
        reason: str, the error message, which names the file.

    Example:
    >>> SkippedExample("a", "missing file labels/a.png").reason
    'missing file labels/a.png'
    """

    name: str
    reason: str


class FaceParsingReader:
    """Base class of the dataset readers.

    Subclasses set `native_schema` and `split_names` and implement
    `_list_examples(split)` (the examples of a split, without checking their
    files) and `_read(example)` (decoded numpy arrays, raising DatasetError).

    Args:
        root: str or Path, the dataset's folder.
        schema: str or LabelSchema, the label schema to produce (default: the
            dataset's own); see `keras_stn_icnn.labels`.
        skip_bad: bool; leave bad examples out with a warning instead of
            raising.

    Example:
    >>> reader = HelenReader("helen", schema="stn_icnn")  # doctest: +SKIP
    >>> dataset = reader.dataset("train", shuffle=True, seed=0)  # doctest: +SKIP
    """

    native_schema = None
    split_names = ("train", "val", "test")
    extra_signature = {}

    def __init__(self, root, *, schema=None, skip_bad=False):
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"dataset folder {self.root} does not exist")
        self.schema = get_schema(schema if schema is not None else self.native_schema)
        self.skip_bad = bool(skip_bad)
        self.skipped = []
        self._lock = threading.Lock()

    def examples(self, split):
        """The examples of `split` whose files all exist.

        Args:
            split: one of `split_names`.

        Returns:
            list of `Example`.
        """
        if split not in self.split_names:
            raise ValueError(f"unknown split {split!r}; {type(self).__name__} has {self.split_names}")
        examples = []
        for example in self._list_examples(split):
            missing = [path for path in example.files if not path.is_file()]
            if missing:
                self._reject(example, DatasetError(f"missing file {missing[0]} (example {example.name!r})"))
                continue
            examples.append(example)
        if not examples:
            raise DatasetError(f"split {split!r} of {self.root} has no usable examples")
        return examples

    def load(self, example):
        """Decode one example.

        Args:
            example: an `Example` from `examples()`.

        Returns:
            dict of numpy arrays: `image` uint8 `[H, W, 3]`, `label` uint8
            `[H, W]` in the reader's schema, and the dataset's extras.
        """
        image, label, label_schema, extras = self._read(example)
        label = label_mapping(label_schema, self.schema)[label]
        return {"image": image, "label": label, **extras}

    def dataset(self, split, *, shuffle=False, seed=None):
        """A `tf.data.Dataset` of decoded examples.

        Args:
            split: one of `split_names`.
            shuffle: bool, shuffle the order anew every epoch.
            seed: int or None, the shuffle seed.

        Returns:
            `tf.data.Dataset` of dicts: `image` uint8 `[H, W, 3]`, `label`
            uint8 `[H, W]`, and the dataset's extras.
        """
        examples = self.examples(split)
        indices = tf.data.Dataset.range(len(examples))
        if shuffle:
            indices = indices.shuffle(len(examples), seed=seed, reshuffle_each_iteration=True)
        extra_names = list(self.extra_signature)
        out_types = [tf.uint8, tf.uint8] + [self.extra_signature[n].dtype for n in extra_names] + [tf.bool]

        def load_numpy(index):
            example = examples[int(index)]
            try:
                arrays = self.load(example)
            except DatasetError as error:
                self._reject(example, error)
                empty = [np.zeros((0, 0, 3), np.uint8), np.zeros((0, 0), np.uint8)]
                extras = [
                    np.zeros(self.extra_signature[n].shape, self.extra_signature[n].dtype.as_numpy_dtype)
                    for n in extra_names
                ]
                return (*empty, *extras, np.bool_(False))
            return (arrays["image"], arrays["label"], *(arrays[n] for n in extra_names), np.bool_(True))

        def load_tensors(index):
            *tensors, ok = tf.numpy_function(load_numpy, [index], out_types, stateful=False)
            tensors[0].set_shape([None, None, 3])
            tensors[1].set_shape([None, None])
            for tensor, name in zip(tensors[2:], extra_names):
                tensor.set_shape(self.extra_signature[name].shape)
            ok.set_shape([])
            return dict(zip(["image", "label", *extra_names], tensors)), ok

        def is_good(example, ok):
            return ok

        def drop_flag(example, ok):
            return example

        loaded = indices.map(load_tensors, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return loaded.filter(is_good).map(drop_flag)

    def _reject(self, example, error):
        if not self.skip_bad:
            raise error
        with self._lock:
            self.skipped.append(SkippedExample(example.name, str(error)))
            count = len(self.skipped)
        warnings.warn(f"skipped {example.name!r}: {error} ({count} skipped so far)", BadDataWarning, stacklevel=2)

    def _list_examples(self, split):
        raise NotImplementedError

    def _read(self, example):
        raise NotImplementedError
