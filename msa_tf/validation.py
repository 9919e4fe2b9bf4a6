"""Argument checks shared by layers, models, readers and configs.

Every check raises `ValueError` with a message that names the argument, the value
received and what is accepted, e.g.
``ValueError: `dropout` must be a number in [0, 1); received dropout=-0.1``.
"""

import difflib
import numbers


def check_positive_int(name, value):
    """Returns `value` if it is an integer >= 1, else raises `ValueError`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer; received {name}={value!r}")
    return int(value)


def check_rate(name, value):
    """Returns `value` if it is a number in [0, 1), else raises `ValueError`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(f"`{name}` must be a number in [0, 1); received {name}={value!r}")
    return float(value)


def check_choice(name, value, choices):
    """Returns `value` if it is one of `choices`, else raises `ValueError`.

    The message suggests the closest valid choice for a misspelt string.
    """
    if value in choices:
        return value
    hint = ""
    if isinstance(value, str):
        close = difflib.get_close_matches(value, [str(c) for c in choices], n=1)
        if close:
            hint = f" (did you mean {close[0]!r}?)"
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
