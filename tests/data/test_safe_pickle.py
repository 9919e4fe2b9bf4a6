import builtins
import collections
import io
import os
import pickle
import subprocess

import numpy as np
import pytest
from test_mmsa import make_file, write_pickle

from msa_tf.data import RestrictedUnpickler, UnsafePickleError, load_mmsa, read_mmsa
from msa_tf.data.safe_pickle import safe_load

# --- file formats ------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_every_pickle_protocol_is_read(tmp_path, protocol):
    data, _ = make_file(bert=True, with_lengths=True)
    data = collections.OrderedDict(data)
    data["train"]["annotations"] = np.array(["Positive"] * 6)
    path = write_pickle(tmp_path, data, protocol=protocol)
    loaded_path, loaded, file_format = safe_load(path)
    assert (loaded_path, file_format) == (str(path), "pickle")
    assert list(loaded) == ["train", "valid", "test"]
    for key, value in data["train"].items():
        np.testing.assert_array_equal(loaded["train"][key], value, err_msg=key)
    assert read_mmsa(path).splits["train"]["annotations"].tolist() == ["Positive"] * 6


def test_npz_keys_become_splits_of_arrays(tmp_path):
    path = tmp_path / "features.npz"
    np.savez(path, **{"train/audio": np.ones((2, 3, 4)), "test/id": np.array(["a", "b"])})
    _, loaded, file_format = safe_load(path)
    assert file_format == "npz"
    assert loaded["train"]["audio"].shape == (2, 3, 4)
    assert loaded["test"]["id"].tolist() == ["a", "b"]


def test_the_unpickler_reads_arrays_and_refuses_a_persistent_id():
    data = {"audio": np.arange(6, dtype="float32").reshape(2, 3), "ids": ("a", 1, 2.5)}
    loaded = RestrictedUnpickler(io.BytesIO(pickle.dumps(data))).load()
    np.testing.assert_array_equal(loaded["audio"], data["audio"])
    assert loaded["ids"] == ("a", 1, 2.5)

    class Persistent(pickle.Pickler):
        def persistent_id(self, obj):
            return "external" if obj == "secret" else None

    stream = io.BytesIO()
    Persistent(stream).dump({"key": "secret"})
    stream.seek(0)
    with pytest.raises(UnsafePickleError, match=r"persistent id 'external', which is refused"):
        RestrictedUnpickler(stream, source="file.pkl").load()


def test_npz_keys_without_a_split_are_refused(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, audio=np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"'<split>/<key>'.*received key 'audio'"):
        read_mmsa(path)


def test_npz_object_arrays_are_refused_with_a_hint(tmp_path):
    data, _ = make_file()
    path = tmp_path / "objects.npz"
    np.savez(path, **{f"{s}/{k}": np.asarray(v) for s, a in data.items() for k, v in a.items()})
    with pytest.raises(ValueError, match=r"'train/id'.*allow_pickle=False.*unicode"):
        read_mmsa(path)


class _Exploit:
    """Unpickling calls `function(*args)`: what a malicious feature file would do."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def exploit(kind, marker):
    return {
        "os.system": _Exploit(os.system, f"touch {marker}"),
        "builtins.eval": _Exploit(builtins.eval, f"open({str(marker)!r}, 'w').close()"),
        "subprocess.call": _Exploit(subprocess.call, ["touch", str(marker)]),
    }[kind]


KINDS = ["os.system", "builtins.eval", "subprocess.call"]


@pytest.mark.parametrize("kind", KINDS)
def test_the_exploits_have_an_effect_when_called(tmp_path, kind):
    # What unpickling them with plain pickle would do; shows the next test can fail.
    marker = tmp_path / "called"
    payload = exploit(kind, marker)
    payload.function(*payload.args)
    assert marker.exists()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("where", ["split", "nested"])
def test_malicious_pickle_is_refused_before_it_runs(tmp_path, kind, where):
    marker = tmp_path / "pwned"
    payload = exploit(kind, marker)
    global_name = rf"{payload.function.__module__}\.{payload.function.__name__}"
    data, _ = make_file()
    if where == "split":
        data["train"] = payload
    else:
        data["test"]["id"] = [payload, "clip_1"]
    path = write_pickle(tmp_path, data)

    for reader in (safe_load, read_mmsa, lambda p: load_mmsa(p, "train", 2)):
        with pytest.raises(UnsafePickleError, match=rf"global {global_name}, which is refused"):
            reader(path)
    assert not marker.exists()
    assert issubclass(UnsafePickleError, ValueError)


# --- errors ------------------------------------------------------------------------------


def test_missing_file_and_directory_are_named(tmp_path):
    with pytest.raises(ValueError, match=r"received path='.*nope\.pkl', which does not exist"):
        load_mmsa(tmp_path / "nope.pkl", "train", 4)
    with pytest.raises(ValueError, match=r"which is a directory"):
        read_mmsa(tmp_path)
    with pytest.raises(ValueError, match=r"`path` must be a str or os.PathLike"):
        read_mmsa(3)


def test_corrupt_pickle_is_a_value_error(tmp_path):
    path = tmp_path / "broken.pkl"
    path.write_bytes(pickle.dumps(make_file()[0])[:200])
    with pytest.raises(ValueError, match=r"could not be unpickled"):
        read_mmsa(path)
