"""Initializer arguments of the layers: stored once, cloned for every weight.

A layer stores each initializer argument with `get_initializer` and hands every
weight (a Keras sub-layer or an `add_weight`) its own `clone_initializer`, so two
weights never share a seed. A Keras initializer without a seed draws one from
Python's `random` when it is made; `get_initializer` leaves that draw to the clones,
which are made where the weights are, so a run seeded with
`keras.utils.set_random_seed` gets the same weights whatever initializer arguments
the layers store. Layers of msa_tf pass the stored initializer itself to their
msa_tf sub-layers, which clone it for their own weights.

>>> initializer = get_initializer("kernel_initializer", "zeros")
>>> keras.initializers.serialize(initializer)["class_name"]
'Zeros'
>>> clone_initializer(initializer) is initializer
False
>>> get_initializer("kernel_initializer", "glorot_unifrom")
Traceback (most recent call last):
...
ValueError: `kernel_initializer` must be a Keras initializer, its name or its config; \
received kernel_initializer='glorot_unifrom'
"""

import random

import keras


def get_initializer(name, identifier):
    """`keras.initializers.get(identifier)`, leaving Python's `random` state as it was.

    Raises `ValueError` naming the argument `name` when `identifier` is no initializer.
    """
    state = random.getstate()
    try:
        return keras.initializers.get(identifier)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"`{name}` must be a Keras initializer, its name or its config; "
            f"received {name}={identifier!r}"
        ) from error
    finally:
        random.setstate(state)


def clone_initializer(initializer):
    """A new initializer with the config of `initializer` (an unseeded one draws its seed)."""
    return initializer.__class__.from_config(initializer.get_config())


def dense_initializers(layer):
    """`kernel_initializer` and `bias_initializer` of `layer`, cloned for one Keras sub-layer."""
    return {
        "kernel_initializer": clone_initializer(layer.kernel_initializer),
        "bias_initializer": clone_initializer(layer.bias_initializer),
    }


def initializers_config(layer, names=("kernel_initializer", "bias_initializer")):
    """`{name: serialized initializer}` of `layer`'s initializer attributes, for `get_config`."""
    return {name: keras.initializers.serialize(getattr(layer, name)) for name in names}
