"""Which `tf.distribute` strategy to train with, and the rules for batch sizes across replicas.

- One machine: `MirroredStrategy` over every local device (all GPUs, or the
  CPU), synchronous, gradients summed across replicas.
- Several machines: `MultiWorkerMirroredStrategy`, from a `TF_CONFIG` that
  names more than one task in its cluster.

Batch sizes in recipes are global: each step consumes `batch_size` examples
split evenly over the replicas, and each replica's loss is scaled by
`1 / num_replicas` (Keras losses do this), so a step's gradient is the mean
over the global batch whatever the number of replicas, and the learning rates
of the recipe apply unchanged.
"""

import json
import os

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
