"""Argument checks of the generators.

The same messages as `msa_tf.validation` (which `generators` cannot import): a check
raises `ValueError` naming the argument, the value received and what is accepted.
NaN and infinity are never accepted where a number is, nor a bool where a number is.

>>> check_number("noise_level", float("nan"), low=0)
Traceback (most recent call last):
...
ValueError: `noise_level` must be a finite number >= 0; received noise_level=nan
>>> per_key("max_length", {"text": 4, "audio": 6}, ("text", "audio"), check_int)
{'text': 4, 'audio': 6}
"""

import difflib
import math
import numbers
import os


def invalid(name, value, accepted):
    """The `ValueError` "`name` must be `accepted`; received name=value"."""
    return ValueError(f"`{name}` must be {accepted}; received {name}={value!r}")


def is_integer(value):
    """Whether `value` is an integer (and not a bool)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_int(name, value, low=1, high=None, accepted=None):
    """Returns `value` if it is an integer in [`low`, `high`] (`high=None`: unbounded).

    >>> check_int("max_length", 0)
    Traceback (most recent call last):
    ...
    ValueError: `max_length` must be an integer >= 1; received max_length=0
    """
    if not is_integer(value) or value < low or (high is not None and value > high):
        if accepted is None:
            accepted = f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]"
        raise invalid(name, value, accepted)
    return value


def check_number(name, value, *, low=None, high=None, accepted=None):
    """Returns `value` if it is a finite number in [`low`, `high`] (`None`: unbounded)."""
    inside = (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (low is None or value >= low)
        and (high is None or value <= high)
    )
    if not inside:
        if accepted is None:
            bounds = {(False, False): f" in [{low}, {high}]", (False, True): f" >= {low}",
                      (True, False): f" <= {high}", (True, True): ""}
            accepted = "a finite number" + bounds[low is None, high is None]
        raise invalid(name, value, accepted)
    return value


def check_unit(name, value):
    """Returns `value` if it is a number in [0, 1]."""
    return check_number(name, value, low=0, high=1, accepted="a number in [0, 1]")


def check_bool(name, value):
    """Returns `value` if it is `True` or `False`."""
    if value is not True and value is not False:
        raise invalid(name, value, "True or False")
    return value


def _kind(value):
    return str if isinstance(value, str) else numbers.Integral if is_integer(value) else type(value)


def check_choice(name, value, choices):
    """Returns `value` if it is one of `choices` (of the same kind: `2.0` is not `2`).

    A misspelt string gets the closest choice as a hint.

    >>> check_choice("padding", "rigth", ("right", "left"))
    Traceback (most recent call last):
    ...
    ValueError: `padding` must be one of 'right', 'left'; received padding='rigth' \
(did you mean 'right'?)
    """
    if any(_kind(value) is _kind(choice) and value == choice for choice in choices):
        return value
    matches = difflib.get_close_matches(value, [str(c) for c in choices], n=1) if isinstance(
        value, str) else []
    hint = f" (did you mean {matches[0]!r}?)" if matches else ""
    raise ValueError(f"`{name}` must be one of {', '.join(repr(c) for c in choices)}; "
                     f"received {name}={value!r}{hint}")


def per_key(name, value, keys, check):
    """`value` (one value for every key, or a dict naming each of `keys`) as a checked dict."""
    if isinstance(value, dict):
        if set(value) != set(keys):
            raise invalid(name, value, f"one value or a dict with the keys {tuple(keys)}")
        values = dict(value)
    else:
        values = dict.fromkeys(keys, value)
    return {key: check(f"{name}[{key!r}]", values[key]) for key in keys}


def check_path(name, value, accepted, must_be=None):
    """`value` as a str, if it is a str or `os.PathLike` (naming a `"file"` or a `"folder"`).

    >>> check_path("path", "/nonexistent/data.pkl", "a feature file", must_be="file")
    Traceback (most recent call last):
    ...
    ValueError: `path` must be a feature file; received path='/nonexistent/data.pkl', which \
does not exist
    """
    if isinstance(value, bool) or not isinstance(value, (str, os.PathLike)):
        raise invalid(name, value, f"a str or os.PathLike naming {accepted}")
    path = os.fspath(value)
    exists = {"file": os.path.isfile, "folder": os.path.isdir, None: lambda _: True}[must_be]
    if not exists(path):
        if must_be == "folder":
            what = "is not a folder"
        else:
            what = "is a directory" if os.path.isdir(path) else "does not exist"
        raise ValueError(f"`{name}` must be {accepted}; received {name}={path!r}, which {what}")
    return path
