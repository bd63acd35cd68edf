"""Which `tf.distribute` strategy to train with, and the rules for batch sizes across replicas.

- One machine: `MirroredStrategy` over every local device (all GPUs, or the
  CPU), synchronous, gradients summed across replicas.
- Several machines: `MultiWorkerMirroredStrategy`, from a `TF_CONFIG` that
  names more than one task in its cluster.

Batch sizes in recipes are global: each step consumes `batch_size` examples
split evenly over the replicas, and each replica's loss is scaled by
`1 / num_replicas` (Keras losses do this), so a step's gradient is the mean
over the global batch whatever the number of replicas, and the learning rates
of the recipe apply unchanged. While a stage trains on several replicas, its
BatchNormalization layers normalise over the global batch
(`global_batch_norm`), so the replicas stay identical and the global batch
behaves as it would on one device.
"""

import contextlib
import json
import os

import keras
import tensorflow as tf


def cluster_spec_from_environment():
    """The cluster of `TF_CONFIG`, or None when it is unset or single-task.

    Returns:
        `(cluster dict, task dict)` or None.

    Raises:
        ValueError: `TF_CONFIG` is not valid JSON or lacks its task.

    Example:
    >>> cluster_spec_from_environment() is None  # no TF_CONFIG set
    True
    """
    raw = os.environ.get("TF_CONFIG", "")
    if not raw.strip():
        return None
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON ({error}): {raw[:200]!r}") from None
    cluster = config.get("cluster") or {}
    num_tasks = sum(len(addresses) for role, addresses in cluster.items() if role in ("chief", "worker"))
    if num_tasks <= 1:
        return None
    task = config.get("task")
    if not task or "type" not in task or "index" not in task:
        raise ValueError(f"TF_CONFIG names a cluster of {num_tasks} tasks but no task of this process: {raw[:200]!r}")
    return cluster, task


def distribution_strategy():
    """`MultiWorkerMirroredStrategy` when `TF_CONFIG` names a cluster, else `MirroredStrategy`.

    Returns:
        A `tf.distribute.Strategy`.

    Example:
    >>> distribution_strategy().num_replicas_in_sync >= 1  # doctest: +SKIP
    True
    """
    if cluster_spec_from_environment() is not None:
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.MirroredStrategy()


def is_chief(strategy):
    """Whether this process writes the run's shared files (checkpoints, logs, exports).

    Args:
        strategy: a `tf.distribute.Strategy`.

    Returns:
        bool: True for single-machine strategies and for the chief (or
        worker 0 without a chief) of a cluster.
    """
    resolver = strategy.cluster_resolver
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type == "chief":
        return True
    return task_type == "worker" and task_id == 0 and "chief" not in resolver.cluster_spec().as_dict()


def worker_id(strategy):
    """A name for this process unique within the cluster, e.g. `"worker-1"` (`"local"` on one machine)."""
    resolver = strategy.cluster_resolver
    if resolver is None or not resolver.cluster_spec().as_dict():
        return "local"
    return f"{resolver.task_type}-{resolver.task_id}"


def check_global_batch_size(batch_size, strategy):
    """Raises ValueError unless `batch_size` splits evenly over the replicas.

    Args:
        batch_size: int, the global batch size.
        strategy: a `tf.distribute.Strategy`.

    Returns:
        int, the per-replica batch size.

    Example:
    >>> check_global_batch_size(32, tf.distribute.get_strategy())
    32
    """
    replicas = strategy.num_replicas_in_sync
    if int(batch_size) % replicas:
        raise ValueError(
            f"the global batch size {batch_size} does not split evenly over {replicas} replicas; "
            f"use a multiple of {replicas}"
        )
    return int(batch_size) // replicas


@contextlib.contextmanager
def global_batch_norm(model, strategy):
    """Within the block, `model`'s BatchNormalization layers normalise over the global batch.

    With one replica nothing changes. With several, every replica would
    otherwise normalise with the statistics of its own slice and move its
    own copy of the moving mean and variance, so the replicas (and the
    workers of a cluster) would drift apart, and a recipe's batch size
    would no longer mean what it means on one device. Synchronised, each
    step's statistics are those of the whole global batch, as on one device
    (Keras `BatchNormalization(synchronized=True)`, set for the block only,
    so the model's saved configuration is unchanged).

    Args:
        model: a Keras model.
        strategy: the `tf.distribute.Strategy` it trains under.

    Example:
    >>> with global_batch_norm(parser, strategy):  # doctest: +SKIP
    ...     stage_model.fit(batches, epochs=3)
    """
    # Keras has no public walk over nested layers (`Model.layers` stops at the first level, and custom
    # layers hold sub-layers too); `_flatten_layers` is the one Keras itself uses.
    layers = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
    previous = [layer.synchronized for layer in layers]
    synchronize = strategy.num_replicas_in_sync > 1
    for layer in layers:
        layer.synchronized = layer.synchronized or synchronize
    try:
        yield
    finally:
        for layer, value in zip(layers, previous):
            layer.synchronized = value
