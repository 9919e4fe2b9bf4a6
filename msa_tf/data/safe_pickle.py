"""Reading untrusted feature files safely: pickles with `RestrictedUnpickler`, `.npz` without pickle.

Pickles are read by `RestrictedUnpickler`, which admits only what NumPy arrays, dtypes,
NumPy scalars and builtin containers need; any other global (`os.system`,
`builtins.eval`, ...) raises `UnsafePickleError` before anything is called.
`pickle.load` is never used. `.npz` archives are read with `allow_pickle=False`.
`safe_load` reads either kind of file (a zip archive is taken for `.npz`).

Example:
>>> import os, pickle, tempfile
>>> tmp = tempfile.TemporaryDirectory()
>>> path = os.path.join(tmp.name, "features.pkl")
>>> with open(path, "wb") as f:
...     pickle.dump({"train": {"audio": np.zeros((2, 3, 4))}}, f)
>>> _, data, file_format = safe_load(path)
>>> file_format, data["train"]["audio"].shape
('pickle', (2, 3, 4))
>>> tmp.cleanup()
"""

import _codecs
import collections
import pickle

import numpy as np

from generators.validation import check_path

try:  # NumPy >= 2
    from numpy._core import multiarray as _multiarray
    from numpy._core import numeric as _numeric
except ImportError:  # NumPy 1.x
    from numpy.core import multiarray as _multiarray
    from numpy.core import numeric as _numeric


class UnsafePickleError(ValueError):
    """A pickle asked for a global that `RestrictedUnpickler` does not admit."""


def _safe_globals():
    allowed = {}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "_reconstruct")] = _multiarray._reconstruct
        allowed[(module, "scalar")] = _multiarray.scalar
    for module in ("numpy.core.numeric", "numpy._core.numeric"):
        # Protocol 5 pickles of arrays: `_frombuffer(buffer, dtype, shape, order)`.
        allowed[(module, "_frombuffer")] = _numeric._frombuffer
    allowed[("numpy", "ndarray")] = np.ndarray
    allowed[("numpy", "dtype")] = np.dtype
    builtin_types = (dict, list, tuple, set, frozenset, str, bytes, bytearray, int, float,
                     complex, bool)
    for module in ("builtins", "__builtin__"):  # `__builtin__`: protocols 0-2, Python 2
        for value in builtin_types:
            allowed[(module, value.__name__)] = value
    allowed[("collections", "OrderedDict")] = collections.OrderedDict
    # Protocols 0-2 write `bytes` (e.g. array data) as `_codecs.encode(text, "latin1")`;
    # it only encodes a string.
    allowed[("_codecs", "encode")] = _codecs.encode
    return allowed


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that admits only NumPy arrays, dtypes, scalars and builtin containers.

    Every global a pickle names is looked up in a fixed table (NumPy's array, dtype and
    scalar reconstructors, `dict`, `list`, `tuple`, `set`, `frozenset`, `str`, `bytes`,
    `bytearray`, `int`, `float`, `complex`, `bool`, `collections.OrderedDict` and
    `_codecs.encode`); nothing is imported and any other global raises
    `UnsafePickleError` naming it, before it could be called.

    Args:
        file: a binary file object.
        source: how messages name the file (its path).
        **kwargs: passed to `pickle.Unpickler` (the default `encoding="latin1"` also
            reads NumPy arrays pickled by Python 2).

    Example:
    >>> import io, pickle
    >>> data = pickle.dumps({"audio": np.zeros((2, 3), "float32")})
    >>> RestrictedUnpickler(io.BytesIO(data)).load()["audio"].shape
    (2, 3)
    >>> RestrictedUnpickler(io.BytesIO(pickle.dumps(print))).load()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    msa_tf.data.safe_pickle.UnsafePickleError: ... the global builtins.print, which is refused: ...
    """

    SAFE_GLOBALS = _safe_globals()

    def __init__(self, file, source="<stream>", **kwargs):
        kwargs.setdefault("encoding", "latin1")
        super().__init__(file, **kwargs)
        self.source = source

    def find_class(self, module, name):
        try:
            return self.SAFE_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"the pickle {self.source} needs the global {module}.{name}, which is refused: "
                "only NumPy arrays, dtypes, NumPy scalars and builtin containers of str, bytes "
                "and numbers are accepted"
            ) from None

    def persistent_load(self, pid):
        raise UnsafePickleError(
            f"the pickle {self.source} holds a persistent id {pid!r}, which is refused"
        )


def safe_load(path):
    """Reads an MMSA feature file: a pickle with `RestrictedUnpickler`, or an `.npz` archive.

    An `.npz` archive's keys `"<split>/<key>"` become `{split: {key: array}}`.

    Returns:
        `(path, content, file_format)`: `path` as a str, the unpickled object or the
        dict of splits, and `"pickle"` or `"npz"`.

    Raises:
        UnsafePickleError: the pickle names a global that is not admitted.
        ValueError: the file is missing or unreadable; the message names it.
    """
    path = check_path("path", path, "an MMSA feature file (.pkl or .npz)", must_be="file")
    with open(path, "rb") as file:
        is_zip = file.read(4) == b"PK\x03\x04"
        file.seek(0)
        if is_zip:
            return path, _load_npz(path), "npz"
        try:
            return path, RestrictedUnpickler(file, source=path).load(), "pickle"
        except (pickle.UnpicklingError, EOFError, TypeError, IndexError, KeyError,
                AttributeError) as error:
            raise ValueError(
                f"`path` must be a readable MMSA pickle or .npz file; received path={path!r}, "
                f"which could not be unpickled: {error}"
            ) from error


def _load_npz(path):
    data = {}
    with np.load(path, allow_pickle=False) as archive:
        for key in archive.files:
            split, _, name = key.partition("/")
            if not split or not name or "/" in name:
                raise ValueError(
                    f"keys of an MMSA .npz file must look like '<split>/<key>' (e.g. "
                    f"'train/audio'); received key {key!r} in {path}"
                )
            try:
                data.setdefault(split, {})[name] = archive[key]
            except ValueError as error:
                raise ValueError(
                    f"array {key!r} of {path} could not be read with allow_pickle=False "
                    f"({error}); save strings as a NumPy unicode array (np.str_), not as "
                    "objects"
                ) from error
    return data
