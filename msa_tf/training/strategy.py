"""The distribution strategy a run trains under, and which process of a cluster writes.

Finding a TPU never touches the network: a TPU counts as present when TensorFlow lists a
logical TPU device or the `TPU_NAME` environment variable is set, never through a
`TPUClusterResolver()` that would ask a GCE metadata server.
"""

import json
import os

import tensorflow as tf

from msa_tf.validation import check_choice

STRATEGIES = ("auto", "default", "mirrored", "multi_worker", "tpu")


def resolve_strategy(name="auto"):
    """The `tf.distribute.Strategy` that `name` stands for.

    Args:
        name: one of
            - `"auto"`: `tpu` when a TPU is found, `multi_worker` when `TF_CONFIG` names
              several workers, `mirrored` on several GPUs, `default` otherwise;
            - `"default"`: `tf.distribute.get_strategy()`, one replica;
            - `"mirrored"`: a `MirroredStrategy` over every GPU, or over every logical CPU
              device when there is no GPU (a CPU split with
              `tf.config.set_logical_device_configuration` gives one replica per part);
            - `"multi_worker"`: a `MultiWorkerMirroredStrategy`, configured by `TF_CONFIG`;
            - `"tpu"`: a `TPUStrategy` on the TPU named by `TPU_NAME` (`"local"` when unset).

    Call it at program start: a `MultiWorkerMirroredStrategy` must be created before the
    TensorFlow runtime starts, so `auto` reads `TF_CONFIG` before it lists any device.

    Example:
    >>> resolve_strategy("mirorred")
    Traceback (most recent call last):
    ...
    ValueError: `strategy` must be one of 'auto', 'default', 'mirrored', 'multi_worker', 'tpu'; \
received strategy='mirorred' (did you mean 'mirrored'?)
    """
    name = check_choice("strategy", name, STRATEGIES)
    if name == "auto":
        name = _auto_strategy_name()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
            tpu=os.environ.get("TPU_NAME", "local")
        )
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    if name == "multi_worker":
        return KerasMultiWorkerMirroredStrategy()
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([device.name for device in devices])
    return tf.distribute.get_strategy()


class KerasMultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
    """`MultiWorkerMirroredStrategy` whose `reduce` works the way Keras 3 `fit` calls it.

    Keras 3 calls `strategy.reduce` in two ways that the collective strategy rejects:
    `fit` reduces its first distributed batch, an `(inputs, targets)` nest, to learn the
    shapes it builds with (keras-team/keras#20329), and each step averages the scalar
    metric values with `axis=0` (tensorflow/tensorflow#72388). Here a nest is reduced
    value by value, and a scalar across replicas only (`axis=None`), which is the mean
    that `MirroredStrategy` reports for it.
    """

    def reduce(self, reduce_op, value, axis):
        def reduce_one(item):
            rank = self.experimental_local_results(item)[0].shape.rank
            return super(KerasMultiWorkerMirroredStrategy, self).reduce(
                reduce_op, item, axis=None if rank == 0 else axis)

        return tf.nest.map_structure(reduce_one, value)


def cluster_workers(tf_config=None):
    """The number of "chief" and "worker" tasks in a `TF_CONFIG` JSON string's cluster.

    `tf_config` defaults to the `TF_CONFIG` environment variable; unset or empty means one
    process. Raises `ValueError` naming `TF_CONFIG` when it is not a JSON object.

    Example:
    >>> cluster_workers('{"cluster": {"chief": ["a:1"], "worker": ["b:1", "c:1"], "ps": ["d:1"]}}')
    3
    >>> cluster_workers("")
    1
    """
    if tf_config is None:
        tf_config = os.environ.get("TF_CONFIG", "")
    if not tf_config.strip():
        return 1
    try:
        config = json.loads(tf_config)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"`TF_CONFIG` must be a JSON object ({error}); received TF_CONFIG={tf_config!r}"
        ) from None
    cluster = config.get("cluster", {}) if isinstance(config, dict) else None
    if not isinstance(cluster, dict):
        raise ValueError(
            "`TF_CONFIG` must be a JSON object whose `cluster` is an object; "
            f"received TF_CONFIG={tf_config!r}"
        )
    return max(1, sum(len(cluster.get(task, [])) for task in ("chief", "worker")))


def is_chief(strategy):
    """False only for a non-chief worker of a `MultiWorkerMirroredStrategy`.

    The chief is the "chief" task, or worker 0 of a cluster without one. Only the chief
    writes the run directory.

    Example:
    >>> is_chief(tf.distribute.get_strategy())
    True
    """
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    resolver = strategy.cluster_resolver
    if resolver.task_type in (None, "chief"):
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def uses_replicas(strategy):
    """Whether `strategy` trains more than one replica in sync.

    Example:
    >>> uses_replicas(tf.distribute.get_strategy())
    False
    """
    return strategy.num_replicas_in_sync > 1


def _auto_strategy_name():
    # TF_CONFIG is read before any device is listed: listing starts the runtime, after
    # which a MultiWorkerMirroredStrategy can no longer configure its collective ops.
    if os.environ.get("TPU_NAME"):
        return "tpu"
    if cluster_workers() > 1:
        return "multi_worker"
    if tf.config.list_logical_devices("TPU"):
        return "tpu"
    if len(tf.config.list_physical_devices("GPU")) > 1:
        return "mirrored"
    return "default"
