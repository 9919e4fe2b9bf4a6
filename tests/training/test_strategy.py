import json
import os
import subprocess
import sys
import textwrap
import types

import pytest
import tensorflow as tf

from msa_tf.training import strategy as strategy_module
from msa_tf.training.strategy import cluster_workers, is_chief, resolve_strategy, uses_replicas

TWO_WORKERS = json.dumps({
    "cluster": {"worker": ["localhost:12345", "localhost:23456"]},
    "task": {"type": "worker", "index": 0},
})


@pytest.fixture
def machine(monkeypatch):
    """A machine without TF_CONFIG or TPU_NAME whose devices are the returned dict
    (`{"GPU": 2}`), where building a multi-worker, mirrored or TPU strategy only records
    its arguments in `calls`."""
    monkeypatch.delenv("TF_CONFIG", raising=False)
    monkeypatch.delenv("TPU_NAME", raising=False)
    present = {}
    calls = []

    def listed(device_type=None):
        return [types.SimpleNamespace(name=f"/device:{device_type}:{i}")
                for i in range(present.get(device_type, 0))]

    def recorder(kind):
        return lambda *args, **kwargs: calls.append((kind, args, kwargs)) or kind

    monkeypatch.setattr(tf.config, "list_physical_devices", listed)
    monkeypatch.setattr(tf.config, "list_logical_devices", listed)
    monkeypatch.setattr(strategy_module, "KerasMultiWorkerMirroredStrategy", recorder("multi_worker"))
    monkeypatch.setattr(tf.distribute, "MirroredStrategy", recorder("mirrored"))
    monkeypatch.setattr(tf.distribute, "TPUStrategy", recorder("tpu"))
    monkeypatch.setattr(tf.distribute.cluster_resolver, "TPUClusterResolver", recorder("resolver"))
    monkeypatch.setattr(tf.config, "experimental_connect_to_cluster", recorder("connect"))
    monkeypatch.setattr(tf.tpu.experimental, "initialize_tpu_system", recorder("initialize"))
    return types.SimpleNamespace(devices=present, calls=calls, env=monkeypatch)


@pytest.mark.skipif(len(tf.config.list_physical_devices("GPU")) > 1, reason="several GPUs")
def test_auto_on_a_single_device_machine_is_the_default_strategy(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    monkeypatch.delenv("TPU_NAME", raising=False)
    strategy = resolve_strategy()
    assert strategy is tf.distribute.get_strategy()
    assert strategy.num_replicas_in_sync == 1
    assert not uses_replicas(strategy)
    assert is_chief(strategy)


def test_default_is_the_default_strategy_even_with_several_gpus(machine):
    machine.devices["GPU"] = 2
    assert resolve_strategy("default") is tf.distribute.get_strategy()
    assert machine.calls == []


def test_auto_with_one_gpu_is_the_default_strategy(machine):
    machine.devices.update(GPU=1, CPU=1)
    assert resolve_strategy("auto") is tf.distribute.get_strategy()


def test_auto_with_several_gpus_mirrors_over_every_gpu(machine):
    machine.devices.update(GPU=2, CPU=1)
    assert resolve_strategy("auto") == "mirrored"
    assert machine.calls == [("mirrored", (["/device:GPU:0", "/device:GPU:1"],), {})]


def test_auto_with_several_workers_in_tf_config_is_multi_worker_without_listing_devices(machine):
    # Listing logical devices starts the runtime, after which a MultiWorkerMirroredStrategy
    # can no longer configure its collective ops.
    def refuse(device_type=None):
        raise AssertionError("listed devices before creating MultiWorkerMirroredStrategy")

    machine.env.setattr(tf.config, "list_logical_devices", refuse)
    machine.env.setenv("TF_CONFIG", TWO_WORKERS)
    assert resolve_strategy("auto") == "multi_worker"


def test_auto_with_one_worker_in_tf_config_is_the_default_strategy(machine):
    machine.env.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["localhost:1"]},
                                                 "task": {"type": "worker", "index": 0}}))
    assert resolve_strategy("auto") is tf.distribute.get_strategy()


def test_auto_with_a_tpu_device_uses_the_local_tpu(machine):
    machine.devices.update(TPU=8, GPU=2)
    assert resolve_strategy("auto") == "tpu"
    kinds = [kind for kind, _, _ in machine.calls]
    assert kinds == ["resolver", "connect", "initialize", "tpu"]
    # never TPUClusterResolver() without a name, which may ask a GCE metadata server
    assert machine.calls[0] == ("resolver", (), {"tpu": "local"})


def test_auto_with_tpu_name_uses_that_tpu_before_reading_tf_config(machine):
    machine.env.setenv("TPU_NAME", "my-tpu")
    machine.env.setenv("TF_CONFIG", "not json")
    assert resolve_strategy("auto") == "tpu"
    assert machine.calls[0] == ("resolver", (), {"tpu": "my-tpu"})


def test_named_strategies_ignore_what_auto_would_find(machine):
    machine.devices.update(TPU=8, GPU=2)
    assert resolve_strategy("multi_worker") == "multi_worker"
    assert machine.calls == [("multi_worker", (), {})]


def test_mirrored_without_gpu_mirrors_over_every_logical_cpu(machine):
    machine.devices["CPU"] = 3
    assert resolve_strategy("mirrored") == "mirrored"
    assert machine.calls == [("mirrored", ([f"/device:CPU:{i}" for i in range(3)],), {})]


@pytest.mark.parametrize("name, hint", [
    ("mirorred", " (did you mean 'mirrored'?)"),
    ("multiworker", " (did you mean 'multi_worker'?)"),
    ("MirroredStrategy", ""),
    (None, ""),
])
def test_unknown_strategy_names_argument_value_and_choices(machine, name, hint):
    with pytest.raises(ValueError) as error:
        resolve_strategy(name)
    assert str(error.value) == (
        "`strategy` must be one of 'auto', 'default', 'mirrored', 'multi_worker', 'tpu'; "
        f"received strategy={name!r}{hint}"
    )
    assert machine.calls == []


@pytest.mark.parametrize("tf_config, workers", [
    ("", 1),
    ("  ", 1),
    ("{}", 1),
    (json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 0}}), 1),
    (TWO_WORKERS, 2),
    (json.dumps({"cluster": {"chief": ["a:1"], "worker": ["b:1", "c:1"]},
                 "task": {"type": "chief", "index": 0}}), 3),
    # parameter servers and evaluators do not count
    (json.dumps({"cluster": {"chief": ["a:1"], "ps": ["b:1", "c:1"], "evaluator": ["d:1"]}}), 1),
])
def test_cluster_workers_counts_chief_and_worker_tasks(tf_config, workers):
    assert cluster_workers(tf_config) == workers


def test_cluster_workers_reads_the_environment(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", TWO_WORKERS)
    assert cluster_workers() == 2
    monkeypatch.delenv("TF_CONFIG")
    assert cluster_workers() == 1


@pytest.mark.parametrize("tf_config", ['{"cluster": ', "[1, 2]", '{"cluster": ["a:1"]}'])
def test_cluster_workers_rejects_a_tf_config_that_is_not_a_json_object(tf_config):
    with pytest.raises(ValueError, match="`TF_CONFIG` must be a JSON object") as error:
        cluster_workers(tf_config)
    assert f"received TF_CONFIG={tf_config!r}" in str(error.value)


class MultiWorkerStandIn(tf.distribute.MultiWorkerMirroredStrategy):
    """Passes `isinstance(..., MultiWorkerMirroredStrategy)` without starting collective ops."""

    def __init__(self, cluster, task_type, task_id):  # no cluster to join
        self._resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
            tf.train.ClusterSpec(cluster), task_type=task_type, task_id=task_id)

    @property
    def cluster_resolver(self):
        return self._resolver


WITH_CHIEF = {"chief": ["a:1"], "worker": ["b:1", "c:1"]}
WORKERS_ONLY = {"worker": ["b:1", "c:1"]}


@pytest.mark.parametrize("cluster, task_type, task_id, chief", [
    (WITH_CHIEF, "chief", 0, True),
    (WITH_CHIEF, "worker", 0, False),
    (WITH_CHIEF, "worker", 1, False),
    (WORKERS_ONLY, "worker", 0, True),
    (WORKERS_ONLY, "worker", 1, False),
    ({"worker": ["b:1"]}, None, None, True),  # MultiWorkerMirroredStrategy without TF_CONFIG
    ({**WITH_CHIEF, "evaluator": ["d:1"]}, "evaluator", 0, False),
])
def test_is_chief_only_for_the_chief_task_or_worker_0_without_chief(cluster, task_type, task_id,
                                                                     chief):
    assert is_chief(MultiWorkerStandIn(cluster, task_type, task_id)) is chief


def test_is_chief_and_uses_replicas_for_single_process_strategies():
    assert is_chief(tf.distribute.get_strategy())
    assert uses_replicas(types.SimpleNamespace(num_replicas_in_sync=2))
    assert not uses_replicas(types.SimpleNamespace(num_replicas_in_sync=1))


# Logical devices must be configured before TensorFlow starts, so these run in a fresh process.
MIRRORED_ON_TWO_CPUS = """
import json
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from msa_tf.training.strategy import is_chief, resolve_strategy, uses_replicas
mirrored = resolve_strategy("mirrored")
auto = resolve_strategy("auto")
print(json.dumps({
    "type": type(mirrored).__name__,
    "replicas": mirrored.num_replicas_in_sync,
    "devices": list(mirrored.extended.worker_devices),
    "uses_replicas": uses_replicas(mirrored),
    "is_chief": is_chief(mirrored),
    "auto_replicas": auto.num_replicas_in_sync,
}))
"""

TPU_WITHOUT_TPU = """
import tensorflow as tf
from msa_tf.training.strategy import resolve_strategy
try:
    resolve_strategy("tpu")
except tf.errors.NotFoundError as error:
    print("NotFoundError", str(error).splitlines()[0])
"""


def fresh_python(script, **env):
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("TF_CONFIG", "TPU_NAME", "CUDA_VISIBLE_DEVICES")}
    environment.update(TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="", **env)
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True,
                         text=True, timeout=300, env=environment)
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout.strip().splitlines()[-1]


def test_mirrored_on_two_logical_cpus_has_two_replicas():
    result = json.loads(fresh_python(MIRRORED_ON_TWO_CPUS))
    assert result["type"] == "MirroredStrategy"
    assert result["replicas"] == 2
    assert [device.rsplit("/", 1)[-1] for device in result["devices"]] == [
        "device:CPU:0", "device:CPU:1"]
    assert result["uses_replicas"] and result["is_chief"]
    assert result["auto_replicas"] == 1  # auto mirrors over several GPUs only


@pytest.mark.skipif(bool(os.environ.get("TPU_NAME")), reason="a TPU is named")
def test_tpu_without_a_tpu_fails_with_not_found():
    assert fresh_python(TPU_WITHOUT_TPU).startswith("NotFoundError TPUs not found")
