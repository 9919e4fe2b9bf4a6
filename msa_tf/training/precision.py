"""The dtype policy: the one place in msa-tf that picks it.

`auto` is `mixed_bfloat16` on a TPU, `mixed_float16` on a GPU and `float32` on a CPU;
any floating Keras dtype policy name can be forced instead.
"""

import contextlib

import keras
import tensorflow as tf

from msa_tf.validation import check_choice

# The usual names, listed in error messages; any other floating Keras policy is accepted too.
PRECISIONS = (
    "auto", "float32", "mixed_float16", "mixed_bfloat16", "float16", "bfloat16", "float64",
)


def resolve_precision(name="auto", strategy=None):
    """The Keras dtype policy name that `name` stands for.

    Args:
        name: `"auto"` or a Keras dtype policy name with a floating compute dtype
            (`"float32"`, `"mixed_float16"`, `"mixed_bfloat16"`, `"bfloat16"`, ...).
        strategy: the `tf.distribute.Strategy` the model will train under; `auto` picks
            `mixed_bfloat16` for a `TPUStrategy`.

    `auto` looks for a TPU with `tf.config.list_logical_devices`, which starts the TensorFlow
    runtime: resolve the strategy first.

    Example:
    >>> resolve_precision("mixed_float16")
    'mixed_float16'
    >>> resolve_precision("mixed_float61")
    Traceback (most recent call last):
    ...
    ValueError: `precision` must be one of 'auto', 'float32', 'mixed_float16', 'mixed_bfloat16', \
'float16', 'bfloat16', 'float64'; received precision='mixed_float61' (did you mean 'mixed_float16'?)
    """
    if name == "auto":
        tpu_strategies = (tf.distribute.TPUStrategy, tf.distribute.experimental.TPUStrategy)
        if isinstance(strategy, tpu_strategies) or tf.config.list_logical_devices("TPU"):
            return "mixed_bfloat16"
        if tf.config.list_physical_devices("GPU"):
            return "mixed_float16"
        return "float32"
    if not _is_floating_policy(name):
        check_choice("precision", name, PRECISIONS)  # raises: every listed name is floating
    return name


@contextlib.contextmanager
def precision_policy(name):
    """Sets Keras' global dtype policy to `name` inside the `with` block, then restores it.

    `name` is resolved with `resolve_precision` (so `"auto"` works too); the block receives
    the policy name. The previous policy comes back also when the block raises.

    Example:
    >>> before = keras.mixed_precision.global_policy()
    >>> with precision_policy("mixed_bfloat16") as policy:
    ...     policy, keras.layers.Dense(2).compute_dtype
    ('mixed_bfloat16', 'bfloat16')
    >>> keras.mixed_precision.global_policy() is before
    True
    """
    name = resolve_precision(name)
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield name
    finally:
        keras.mixed_precision.set_global_policy(previous)


def _is_floating_policy(name):
    """Whether `name` is a Keras dtype policy name whose variables and compute are floating."""
    if not isinstance(name, str):
        return False
    try:
        policy = keras.DTypePolicy(name)
    except ValueError:
        return False
    return keras.backend.is_float_dtype(policy.compute_dtype) and keras.backend.is_float_dtype(
        policy.variable_dtype
    )
