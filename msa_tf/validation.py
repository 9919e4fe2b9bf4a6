"""Argument checks shared by layers, models, readers, configs and the command line.

Every check raises `ValueError` with a message that names the argument, the value
received and what is accepted, e.g.
``ValueError: `dropout` must be a number in [0, 1); received dropout=-0.1``.
NaN and infinity are never accepted where a number is.

>>> check_number("noise_level", float("nan"), low=0)
Traceback (most recent call last):
...
ValueError: `noise_level` must be a finite number >= 0; received noise_level=nan
>>> check_choice("pooling", "atention", ("mean", "attention"))
Traceback (most recent call last):
...
ValueError: `pooling` must be one of 'mean', 'attention'; received pooling='atention' \
(did you mean 'attention'?)
"""

import difflib
import inspect
import math
import numbers

import numpy as np


def closest(value, choices):
    """The choice closest to the string `value`, or `None` (the "did you mean" of errors).

    >>> closest("atention", ["mean", "attention"]), closest(3, ["a"])
    ('attention', None)
    """
    if not isinstance(value, str):
        return None
    matches = difflib.get_close_matches(value, [str(choice) for choice in choices], n=1)
    return matches[0] if matches else None


def did_you_mean(value, choices):
    """`" (did you mean 'x'?)"` with the choice closest to `value`, or `""`: the hint of errors.

    >>> did_you_mean("atention", ["mean", "attention"]) + ";", did_you_mean("xyz", ["mean"])
    (" (did you mean 'attention'?);", '')
    """
    suggestion = closest(value, choices)
    return f" (did you mean {suggestion!r}?)" if suggestion else ""


def is_integer(value):
    """Whether `value` is an integer (and not a bool)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_positive_int(name, value):
    """Returns `value` if it is an integer >= 1, else raises `ValueError`."""
    if not is_integer(value) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer; received {name}={value!r}")
    return int(value)


def check_int(name, value, low=0):
    """Returns `value` if it is an integer >= `low`, else raises `ValueError`."""
    if not is_integer(value) or value < low:
        raise ValueError(f"`{name}` must be an integer >= {low}; received {name}={value!r}")
    return int(value)


def check_number(name, value, *, low=None, high=None, low_open=False, high_open=False,
                 accepted=None):
    """Returns `value` as a float if it is a finite number within the bounds.

    `low`/`high` bound the value (`None`: unbounded), inclusive unless
    `low_open`/`high_open`. `accepted` replaces the generated description of what is
    accepted in the message.

    >>> check_number("rate", 0.5, low=0, high=1, high_open=True)
    0.5
    >>> check_number("rate", 1, low=0, high=1, high_open=True)
    Traceback (most recent call last):
    ...
    ValueError: `rate` must be a finite number in [0, 1); received rate=1
    """
    inside = (
        not isinstance(value, bool)
        and isinstance(value, numbers.Real)
        and math.isfinite(value)
        and (low is None or (value > low if low_open else value >= low))
        and (high is None or (value < high if high_open else value <= high))
    )
    if not inside:
        if accepted is None:
            accepted = "a finite number" + _bounds(low, high, low_open, high_open)
        raise ValueError(f"`{name}` must be {accepted}; received {name}={value!r}")
    return float(value)


def _bounds(low, high, low_open, high_open):
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '>='} {low}"
    if high is not None:
        return f" {'<' if high_open else '<='} {high}"
    return ""


def check_bool(name, value):
    """Returns `value` as a bool if it is `True` or `False` (not 1 or 0), else raises `ValueError`."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"`{name}` must be True or False; received {name}={value!r}")
    return bool(value)


def check_rate(name, value):
    """Returns `value` if it is a number in [0, 1), else raises `ValueError`."""
    return check_number(name, value, low=0, high=1, high_open=True, accepted="a number in [0, 1)")


def check_choice(name, value, choices):
    """Returns `value` if it is one of `choices`, else raises `ValueError`.

    The message suggests the closest valid choice for a misspelt string.
    """
    if value in choices:
        return value
    hint = did_you_mean(value, choices)
    accepted = ", ".join(repr(c) for c in choices)
    raise ValueError(f"`{name}` must be one of {accepted}; received {name}={value!r}{hint}")


def check_divisible(name, value, divisor_name, divisor):
    """Raises `ValueError` unless `value` is a multiple of `divisor`."""
    if value % divisor:
        raise ValueError(
            f"`{name}` must be a multiple of `{divisor_name}`={divisor}; "
            f"received {name}={value!r}"
        )
    return value


def optional(check):
    """`check` that lets `None` through (meaning "any" or "not set").

    >>> optional(check_positive_int)("seq_len", None) is None
    True
    """
    return lambda name, value: None if value is None else check(name, value)


def per_key(name, value, keys, check):
    """`value` (one value for every key, or a dict naming each of `keys`) as a checked dict.

    >>> per_key("seq_len", {"text": 4, "audio": 6}, ("text", "audio"), check_positive_int)
    {'text': 4, 'audio': 6}
    >>> per_key("seq_len", 5, ("text", "audio"), check_positive_int)
    {'text': 5, 'audio': 5}
    """
    if isinstance(value, dict):
        if set(value) != set(keys):
            raise ValueError(f"`{name}` must be one value or a dict with the keys {tuple(keys)}; "
                             f"received {name}={value!r}")
        values = dict(value)
    else:
        values = dict.fromkeys(keys, value)
    return {key: check(f"{name}[{key!r}]", values[key]) for key in keys}


def constructor_arguments(cls):
    """`{name: default}` of the keyword arguments of `cls.__init__`, in order.

    Arguments without a default map to `inspect.Parameter.empty`; `*args` and
    `**kwargs` are left out.

    >>> class Example:
    ...     def __init__(self, width, dropout=0.1, **kwargs):
    ...         pass
    >>> constructor_arguments(Example)
    {'width': <class 'inspect._empty'>, 'dropout': 0.1}
    """
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    return {p.name: p.default for p in parameters if p.kind in kinds}
