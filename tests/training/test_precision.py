import keras
import pytest
import tensorflow as tf

from msa_tf.training.precision import precision_policy, resolve_precision


class TPUStrategyStandIn(tf.distribute.TPUStrategy):
    """Passes `isinstance(..., TPUStrategy)` without a TPU."""

    def __init__(self):  # no TPU to connect to
        pass


@pytest.fixture
def devices(monkeypatch):
    """Makes TensorFlow report the devices in the returned dict (`{"GPU": 2}`), none else."""
    present = {}

    def listed(device_type=None):
        return [f"/device:{device_type}:{i}" for i in range(present.get(device_type, 0))]

    monkeypatch.setattr(tf.config, "list_physical_devices", listed)
    monkeypatch.setattr(tf.config, "list_logical_devices", listed)
    return present


def test_auto_is_float32_without_accelerator(devices):
    assert resolve_precision() == "float32"


def test_auto_is_mixed_float16_on_gpu(devices):
    devices["GPU"] = 1
    assert resolve_precision("auto") == "mixed_float16"


def test_auto_is_mixed_bfloat16_on_tpu_device_even_with_gpu(devices):
    devices.update(GPU=1, TPU=8)
    assert resolve_precision("auto") == "mixed_bfloat16"


def test_auto_is_mixed_bfloat16_under_tpu_strategy(devices):
    assert resolve_precision("auto", TPUStrategyStandIn()) == "mixed_bfloat16"


def test_auto_on_this_machine_matches_its_devices():
    expected = "mixed_float16" if tf.config.list_physical_devices("GPU") else "float32"
    assert resolve_precision("auto", tf.distribute.get_strategy()) == expected


@pytest.mark.parametrize(
    "name", ["float32", "float16", "bfloat16", "float64", "mixed_float16", "mixed_bfloat16"]
)
def test_forced_policy_is_kept_whatever_the_devices(devices, name):
    devices["GPU"] = 1
    assert resolve_precision(name) == name


@pytest.mark.parametrize(
    "name, hint",
    [
        ("mixed_float61", "(did you mean 'mixed_float16'?)"),
        ("flaot32", "(did you mean 'float32'?)"),
        ("int32", ""),  # a Keras policy, but not a floating one
        ("string", ""),
        ("", ""),
        (16, ""),
        (None, ""),
    ],
)
def test_unknown_policy_names_argument_value_and_choices(name, hint):
    with pytest.raises(ValueError) as error:
        resolve_precision(name)
    message = str(error.value)
    assert message.startswith("`precision` must be one of 'auto', 'float32', 'mixed_float16'")
    assert f"received precision={name!r}" in message
    assert message.endswith(hint)


def test_precision_policy_sets_then_restores_the_global_policy():
    before = keras.mixed_precision.global_policy()
    with precision_policy("mixed_float16") as name:
        assert name == "mixed_float16"
        dense = keras.layers.Dense(2)
        dense.build((None, 3))
        assert (dense.compute_dtype, dense.kernel.dtype) == ("float16", "float32")
    assert keras.mixed_precision.global_policy() is before


def test_precision_policy_restores_after_an_exception():
    before = keras.mixed_precision.global_policy()
    with pytest.raises(RuntimeError, match="inside"), precision_policy("mixed_bfloat16"):
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
        raise RuntimeError("inside")
    assert keras.mixed_precision.global_policy() is before


def test_precision_policy_resolves_auto_and_rejects_bad_names(devices):
    with precision_policy("auto") as name:
        assert keras.mixed_precision.global_policy().name == name == "float32"
    before = keras.mixed_precision.global_policy()
    with pytest.raises(ValueError, match="precision='half'"), precision_policy("half"):
        pass
    assert keras.mixed_precision.global_policy() is before
