import builtins
import collections
import logging
import os
import pickle
import subprocess

import numpy as np
import pytest
import tensorflow as tf

from msa_tf.data import MMSAFeatures, UnsafePickleError, load_mmsa, read_mmsa

# --- files in the MMSA format ----------------------------------------------------------


def sequences(lengths, steps, dim, side="right", offset=0.0):
    """`(N, steps, dim)` zero-padded rows; real step t of row i is `offset + 100 i + t + 1`
    (plus 0.01 per feature index), so every real row is non-zero and recognisable."""
    values = np.zeros((len(lengths), steps, dim), np.float32)
    for i, length in enumerate(lengths):
        rows = offset + 100 * i + np.arange(1, length + 1)[:, None] + 0.01 * np.arange(dim)
        if side == "right":
            values[i, :length] = rows
        else:
            values[i, steps - length:] = rows
    return values


def real_rows(lengths, dim, offset=0.0):
    """The real steps of `sequences(...)`, right-aligned: what the reader must return."""
    return [offset + 100 * i + np.arange(1, n + 1)[:, None] + 0.01 * np.arange(dim)
            for i, n in enumerate(lengths)]


def make_split(n, *, side="right", with_lengths=False, text=True, bert=False,
               classification=True, text_steps=4, audio_steps=6, vision_steps=5):
    rng = np.random.default_rng(n)
    text_lengths = [1 + i % text_steps for i in range(n)]
    audio_lengths = [1 + (i * 2) % audio_steps for i in range(n)]
    vision_lengths = [vision_steps - i % vision_steps for i in range(n)]
    split = {
        "audio": sequences(audio_lengths, audio_steps, 2, side, offset=0.5),
        "vision": sequences(vision_lengths, vision_steps, 3, side, offset=0.25),
        "regression_labels": rng.uniform(-3, 3, size=n),
        "id": np.array([f"clip_{i}" for i in range(n)], dtype=object),
        "raw_text": [f"words of clip {i}" for i in range(n)],
    }
    if text:
        split["text"] = sequences(text_lengths, text_steps, 3, side).astype(np.float64)
    if bert:
        ids = np.zeros((n, 3, text_steps), np.int64)
        for i, length in enumerate(text_lengths):
            ids[i, 0, :length] = 101 + np.arange(length)
            ids[i, 1, :length] = 1
        split["text_bert"] = ids
    if with_lengths:
        split["audio_lengths"] = list(audio_lengths)
        split["vision_lengths"] = np.array(vision_lengths)
    if classification:
        split["classification_labels"] = np.digitize(split["regression_labels"], [-0.5, 0.5])
        split["classification_labels"] = split["classification_labels"].astype(np.float64)
    return split, {"text": text_lengths, "audio": audio_lengths, "vision": vision_lengths}


def make_file(**kwargs):
    data, lengths = {}, {}
    for split, n in (("train", 6), ("valid", 3), ("test", 2)):
        data[split], lengths[split] = make_split(n, **kwargs)
    return data, lengths


def write_pickle(tmp_path, data, name="features.pkl", protocol=pickle.HIGHEST_PROTOCOL):
    path = tmp_path / name
    with open(path, "wb") as file:
        pickle.dump(data, file, protocol=protocol)
    return path


def one_batch(path, split="train", **kwargs):
    kwargs.setdefault("batch_size", 64)
    inputs, targets = next(iter(load_mmsa(path, split, **kwargs)))
    return ({k: v.numpy() for k, v in inputs.items()}, {k: v.numpy() for k, v in targets.items()})


def assert_rows(values, mask, expected_rows):
    """Row i holds `expected_rows[i]` at its front, zeros after; the mask marks them."""
    for i, rows in enumerate(expected_rows):
        n = len(rows)
        np.testing.assert_allclose(values[i, :n], rows, rtol=1e-6)
        assert not values[i, n:].any()
        assert mask[i].tolist() == [True] * n + [False] * (mask.shape[1] - n)


# --- reading -----------------------------------------------------------------------------


@pytest.mark.parametrize("side", ["right", "left"])
def test_masks_and_values_from_zero_rows_for_either_padding_side(tmp_path, side):
    data, lengths = make_file(side=side)
    path = write_pickle(tmp_path, data)
    inputs, targets = one_batch(path)

    assert read_mmsa(path).report["padding_side"] == {m: side for m in lengths["train"]}
    assert_rows(inputs["text"], inputs["text_mask"], real_rows(lengths["train"]["text"], 3))
    assert_rows(inputs["audio"], inputs["audio_mask"],
                real_rows(lengths["train"]["audio"], 2, offset=0.5))
    assert_rows(inputs["vision"], inputs["vision_mask"],
                real_rows(lengths["train"]["vision"], 3, offset=0.25))
    np.testing.assert_allclose(targets["regression"][:, 0],
                               data["train"]["regression_labels"], rtol=1e-6)
    assert targets["classification"].tolist() == data["train"]["classification_labels"].tolist()


def test_element_structure_shapes_and_dtypes(tmp_path):
    path = write_pickle(tmp_path, make_file(bert=True)[0])
    dataset = load_mmsa(path, "valid", batch_size=2)
    inputs_spec, targets_spec = dataset.element_spec
    assert {k: (tuple(s.shape), s.dtype.name) for k, s in inputs_spec.items()} == {
        "text": ((None, 4, 3), "float32"),
        "text_mask": ((None, 4), "bool"),
        "audio": ((None, 6, 2), "float32"),
        "audio_mask": ((None, 6), "bool"),
        "vision": ((None, 5, 3), "float32"),
        "vision_mask": ((None, 5), "bool"),
    }
    assert {k: (tuple(s.shape), s.dtype.name) for k, s in targets_spec.items()} == {
        "regression": ((None, 1), "float32"),
        "classification": ((None,), "int32"),
    }
    assert [len(batch[1]["regression"]) for batch in dataset] == [2, 1]


def test_interior_zero_rows_stay_real_and_left_padding_moves_to_the_front(tmp_path):
    data, _ = make_file(side="left")
    # Sample 0 of train: audio has 1 real step; make it 4 real steps with a zero one inside.
    data["train"]["audio"][0] = 0.0
    data["train"]["audio"][0, 2:] = [[7, 7], [0, 0], [8, 8], [9, 9]]
    inputs, _ = one_batch(write_pickle(tmp_path, data))
    np.testing.assert_array_equal(inputs["audio"][0], [[7, 7], [0, 0], [8, 8], [9, 9], [0, 0],
                                                       [0, 0]])
    assert inputs["audio_mask"][0].tolist() == [True] * 4 + [False] * 2


def test_masks_come_from_lengths_keys_and_padding_holds_zeros(tmp_path):
    data, lengths = make_file(with_lengths=True)
    train = data["train"]
    # A real step that is all zeros at the end of a sample stays real (the lengths say
    # so), and values beyond the lengths are padding: they come out as zeros.
    last = lengths["train"]["audio"][3] - 1
    train["audio"][3, last] = 0.0
    train["vision"][0, -1] = 5.0  # sample 0 has all 5 vision steps real
    train["vision_lengths"][0] = 2
    path = write_pickle(tmp_path, data)
    inputs, _ = one_batch(path)

    audio_lengths = lengths["train"]["audio"]
    assert inputs["audio_mask"].sum(axis=1).tolist() == audio_lengths
    assert inputs["audio_mask"][3, last]
    assert inputs["vision_mask"][0].tolist() == [True, True, False, False, False]
    assert not inputs["vision"][0, 2:].any()
    report = read_mmsa(path).report["splits"]["train"]
    assert report["mask_source"] == {"text": "zero rows (right padding)",
                                     "audio": "audio_lengths", "vision": "vision_lengths"}


def test_lengths_above_the_steps_are_clipped_counted_and_warned(tmp_path, caplog):
    data, _ = make_file(with_lengths=True)
    data["train"]["audio_lengths"][1] = 99
    path = write_pickle(tmp_path, data)
    with caplog.at_level(logging.WARNING, logger="msa_tf.data.mmsa"):
        features = read_mmsa(path)
    assert features.report["splits"]["train"]["clipped_lengths"]["audio"] == 1
    assert features.splits["train"]["audio_mask"][1].all()
    assert "1 values of audio_lengths exceed the 6 steps" in caplog.text


def test_non_finite_values_become_zero_and_are_counted(tmp_path, caplog):
    data, _ = make_file()
    data["train"]["audio"][0, 0, 0] = -np.inf
    data["train"]["audio"][2, 0, :] = -np.inf
    data["valid"]["audio"][1, 0, 1] = np.nan
    data["test"]["vision"][0, 0, 2] = np.inf
    data["test"]["text"][1, 0, 0] = 1e300  # overflows float32: counted as well
    path = write_pickle(tmp_path, data)
    with caplog.at_level(logging.WARNING, logger="msa_tf.data.mmsa"):
        features = read_mmsa(path)

    report = features.report
    assert report["non_finite"] == {"text": 1, "audio": 4, "vision": 1}
    assert report["splits"]["train"]["non_finite"] == {"text": 0, "audio": 3, "vision": 0}
    assert report["splits"]["valid"]["non_finite"] == {"text": 0, "audio": 1, "vision": 0}
    assert "audio 4 (train 3, valid 1, test 0)" in caplog.text
    for arrays in features.splits.values():
        for modality in ("text", "audio", "vision"):
            assert np.isfinite(arrays[modality]).all()
    assert features.splits["train"]["audio"][0, 0, 0] == 0.0
    assert features.splits["train"]["audio"][0, 0, 1] == pytest.approx(1.51)
    assert features.splits["valid"]["audio"][1, 0, 1] == 0.0
    inputs, _ = one_batch(path, "train")
    assert np.isfinite(inputs["audio"]).all()
    # Sample 2's first audio step was all -inf: it is now a zero row, but still real
    # (its later steps are not zero).
    assert inputs["audio_mask"][2, 0]


def test_report_has_sample_counts_and_length_statistics(tmp_path):
    data, lengths = make_file()
    report = read_mmsa(write_pickle(tmp_path, data)).report
    assert report["format"] == "pickle"
    assert {s: r["num_samples"] for s, r in report["splits"].items()} == {
        "train": 6, "valid": 3, "test": 2}
    audio = report["splits"]["train"]["lengths"]["audio"]
    train_audio = lengths["train"]["audio"]
    assert audio == {"steps": 6, "min": min(train_audio), "max": max(train_audio),
                     "mean": pytest.approx(np.mean(train_audio))}


def test_text_bert_only_gives_int32_token_ids_and_the_attention_mask(tmp_path):
    data, lengths = make_file(text=False, bert=True)
    path = write_pickle(tmp_path, data)
    inputs, _ = one_batch(path)
    assert inputs["text"].dtype == np.int32 and inputs["text"].shape == (6, 4)
    for i, n in enumerate(lengths["train"]["text"]):
        assert inputs["text"][i].tolist() == list(range(101, 101 + n)) + [0] * (4 - n)
        assert inputs["text_mask"][i].tolist() == [True] * n + [False] * (4 - n)
    with pytest.raises(ValueError, match=r"`text`='features' needs a 'text' array"):
        load_mmsa(path, "train", 2, text="features")


def test_text_choice_when_the_file_has_features_and_token_ids(tmp_path):
    path = write_pickle(tmp_path, make_file(bert=True)[0])
    assert one_batch(path)[0]["text"].dtype == np.float32
    ids = one_batch(path, text="bert_ids")[0]["text"]
    assert ids.dtype == np.int32 and ids[0].tolist() == [101, 0, 0, 0]
    with pytest.raises(ValueError, match=r"`text` must be one of 'auto', 'features', 'bert_ids'"):
        load_mmsa(path, "train", 2, text="tokens")


def test_without_classification_labels_targets_hold_only_regression(tmp_path):
    data, _ = make_file(classification=False)
    for split in data.values():
        split["regression_labels"] = split["regression_labels"][:, None]  # (N, 1) files
    _, targets = one_batch(write_pickle(tmp_path, data))
    assert set(targets) == {"regression"}
    np.testing.assert_allclose(targets["regression"], data["train"]["regression_labels"],
                               rtol=1e-6)


def test_sims_unimodal_labels_and_passthrough_keys(tmp_path):
    data, _ = make_file()
    for split in data.values():
        for m in "TAV":
            split[f"regression_labels_{m}"] = np.full(len(split["audio"]), ord(m) / 100)
    features = read_mmsa(write_pickle(tmp_path, data))
    train = features.split("train")
    assert train["regression_T"].shape == (6, 1)
    assert train["regression_V"][0, 0] == pytest.approx(0.86)
    assert train["id"].tolist()[:2] == ["clip_0", "clip_1"]
    assert train["raw_text"][1] == "words of clip 1"


def test_mult_release_files_with_labels_key_and_left_padding(tmp_path):
    # MulT's mosei_senti_data_noalign.pkl: 'labels' (N, 1, 1), (N, 3) byte ids, GloVe
    # text, left padding, no lengths and no classification labels.
    data = {}
    for split, n in (("train", 4), ("valid", 2), ("test", 2)):
        arrays, _ = make_split(n, side="left", classification=False)
        arrays["labels"] = np.linspace(-2, 2, n).reshape(n, 1, 1)
        del arrays["regression_labels"], arrays["raw_text"]
        arrays["id"] = np.array([[b"vid%d" % i, b"0", b"1"] for i in range(n)])
        data[split] = arrays
    path = write_pickle(tmp_path, data)
    inputs, targets = one_batch(path)
    assert set(targets) == {"regression"}
    np.testing.assert_allclose(targets["regression"][:, 0], np.linspace(-2, 2, 4), rtol=1e-6)
    assert read_mmsa(path).report["padding_side"]["audio"] == "left"
    assert inputs["audio_mask"][:, 0].all()  # real steps moved to the front


# --- lengths, batches, shuffling ---------------------------------------------------------


def test_pad_to_int_adds_zero_steps_at_the_end_with_static_shapes(tmp_path):
    data, lengths = make_file(side="left")
    path = write_pickle(tmp_path, data)
    dataset = load_mmsa(path, "train", batch_size=4, pad_to=8, drop_remainder=True)
    inputs_spec, targets_spec = dataset.element_spec
    assert tuple(inputs_spec["audio"].shape) == (4, 8, 2)
    assert tuple(inputs_spec["vision_mask"].shape) == (4, 8)
    assert tuple(targets_spec["regression"].shape) == (4, 1)
    inputs, _ = next(iter(dataset))
    assert_rows(inputs["audio"].numpy(), inputs["audio_mask"].numpy(),
                real_rows(lengths["train"]["audio"][:4], 2, offset=0.5))


def test_pad_to_truncation_keeps_real_steps_of_left_padded_rows(tmp_path):
    data, lengths = make_file(side="left")
    path = write_pickle(tmp_path, data)
    inputs, _ = one_batch(path, pad_to={"audio": 3, "vision": 2})
    assert inputs["audio"].shape == (6, 3, 2) and inputs["vision"].shape == (6, 2, 3)
    assert inputs["text"].shape == (6, 4, 3)  # not named: the file's steps
    full = real_rows(lengths["train"]["audio"], 2, offset=0.5)
    for i, rows in enumerate(full):
        kept = rows[:3]  # the first real steps, however many padding steps came first
        np.testing.assert_allclose(inputs["audio"][i, :len(kept)], kept, rtol=1e-6)
        assert inputs["audio_mask"][i].sum() == len(kept)
    vision_lengths = np.minimum(lengths["train"]["vision"], 2)
    assert inputs["vision_mask"].sum(axis=1).tolist() == vision_lengths.tolist()
    assert inputs["vision_mask"][:, 0].all()  # real steps first, whatever the file's side


def test_shuffle_with_a_seed_is_deterministic(tmp_path):
    data = {}
    for split, n in (("train", 40), ("valid", 2), ("test", 2)):
        data[split] = make_split(n)[0]
        data[split]["regression_labels"] = np.arange(n, dtype=np.float64)
    path = write_pickle(tmp_path, data)
    features = read_mmsa(path)

    def order(seed, epochs=2):
        dataset = load_mmsa(features, "train", batch_size=8, shuffle=True, seed=seed)
        return [np.concatenate([t["regression"].numpy()[:, 0] for _, t in dataset]).tolist()
                for _ in range(epochs)]

    first = order(3)
    assert first == order(3)
    assert sorted(first[0]) == list(range(40))
    assert first[0] != list(range(40))
    assert first[0] != first[1]  # reshuffled each epoch
    assert order(4)[0] != first[0]
    unshuffled = load_mmsa(features, "train", batch_size=8)
    assert np.concatenate([t["regression"] for _, t in unshuffled])[:, 0].tolist() == list(
        range(40))


def test_drop_remainder_gives_a_static_batch_dimension(tmp_path):
    path = write_pickle(tmp_path, make_file()[0])
    kept = load_mmsa(path, "train", batch_size=4)
    dropped = load_mmsa(path, "train", batch_size=4, drop_remainder=True)
    assert [len(t["regression"]) for _, t in kept] == [4, 2]
    assert [len(t["regression"]) for _, t in dropped] == [4]
    assert dropped.element_spec[0]["text"].shape[0] == 4
    assert kept.element_spec[0]["text"].shape[0] is None


def test_features_object_is_reused_for_several_splits(tmp_path):
    features = read_mmsa(write_pickle(tmp_path, make_file()[0]))
    assert isinstance(features, MMSAFeatures)
    sizes = {s: sum(len(t["regression"]) for _, t in load_mmsa(features, s, 4))
             for s in ("train", "valid", "test")}
    assert sizes == {"train": 6, "valid": 3, "test": 2}


# --- file formats ------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_every_pickle_protocol_is_read(tmp_path, protocol):
    data, _ = make_file(bert=True, with_lengths=True)
    data = collections.OrderedDict(data)
    data["train"]["annotations"] = np.array(["Positive"] * 6)
    path = write_pickle(tmp_path, data, protocol=protocol)
    features = read_mmsa(path)
    np.testing.assert_array_equal(features.splits["train"]["audio"][:, :1],
                                  data["train"]["audio"][:, :1])
    assert features.splits["train"]["annotations"].tolist() == ["Positive"] * 6


def test_npz_with_split_slash_key_names_reads_like_the_pickle(tmp_path):
    data, _ = make_file(bert=True, side="left")
    pickled = read_mmsa(write_pickle(tmp_path, data))
    path = tmp_path / "features.npz"
    np.savez(path, **{f"{split}/{key}": np.asarray(value, dtype=str if key in ("id", "raw_text")
                                                                else None)
                      for split, arrays in data.items() for key, value in arrays.items()})
    from_npz = read_mmsa(path)
    assert from_npz.report["format"] == "npz"
    for split in ("train", "valid", "test"):
        for key, value in pickled.splits[split].items():
            np.testing.assert_array_equal(from_npz.splits[split][key], value)


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

    for reader in (read_mmsa, lambda p: load_mmsa(p, "train", 2)):
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


def test_unknown_split_lists_the_splits(tmp_path):
    path = write_pickle(tmp_path, make_file()[0])
    with pytest.raises(ValueError, match=r"`split` must be one of 'train', 'valid', 'test'; "
                                         r"received split='validation'"):
        load_mmsa(path, "validation", 4)
    with pytest.raises(ValueError, match=r"received split='dev'"):
        read_mmsa(path).split("dev")


def test_a_missing_split_is_named(tmp_path):
    data, _ = make_file()
    del data["valid"]
    with pytest.raises(ValueError, match=r"splits \('train', 'valid', 'test'\).*no 'valid'"):
        read_mmsa(write_pickle(tmp_path, data))
    with pytest.raises(ValueError, match=r"must hold a dict of splits.*holds a list"):
        read_mmsa(write_pickle(tmp_path, [1, 2], name="list.pkl"))


@pytest.mark.parametrize(
    "remove, message",
    [
        (("audio",), r"split 'test' .* has no 'audio' array"),
        (("regression_labels",), r"has no 'regression_labels' array"),
        (("text",), r"has no 'text' or 'text_bert' array"),
    ],
)
def test_a_missing_modality_key_is_named(tmp_path, remove, message):
    data, _ = make_file()
    for key in remove:
        del data["test"][key]
    with pytest.raises(ValueError, match=message):
        read_mmsa(write_pickle(tmp_path, data))


@pytest.mark.parametrize("key", ["audio", "text", "vision_lengths", "classification_labels",
                                 "id"])
def test_disagreeing_sample_counts_name_both_keys(tmp_path, key):
    data, _ = make_file(with_lengths=True)
    data["valid"][key] = data["valid"][key][:2]
    with pytest.raises(ValueError, match=rf"split 'valid' .*`{key}` has 2 samples but "
                                         r"`regression_labels` has 3"):
        read_mmsa(write_pickle(tmp_path, data))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s: s.update(audio=s["audio"][:, :, 0]), r"`train/audio` .* must have shape "
                                                       r"\(samples, steps, features\)"),
        (lambda s: s.update(text_bert=np.zeros((6, 2, 4))), r"`train/text_bert` .*\(samples, 3"),
        (lambda s: s.update(audio_lengths=[-1] * 6), r"`train/audio_lengths` .* >= 0"),
        (lambda s: s.update(audio_lengths=[1.5] * 6), r"`train/audio_lengths` .* integers"),
        (lambda s: s.update(classification_labels=np.full(6, 0.5)),
         r"`train/classification_labels` .* integers"),
        (lambda s: s.update(regression_labels=np.zeros((6, 2))),
         r"`train/regression_labels` .* \(samples,\) or \(samples, 1\)"),
        (lambda s: s.update(vision=np.array(["a"] * 6)), r"`train/vision` .* numeric"),
    ],
)
def test_bad_arrays_are_named(tmp_path, change, message):
    data, _ = make_file(bert=True)
    change(data["train"])
    with pytest.raises(ValueError, match=message):
        read_mmsa(write_pickle(tmp_path, data))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"batch_size": 0}, r"`batch_size` must be a positive integer; received batch_size=0"),
        ({"batch_size": -2}, r"received batch_size=-2"),
        ({"batch_size": 2.0}, r"received batch_size=2.0"),
        ({"pad_to": 0}, r"`pad_to` must be None, a positive integer or a dict"),
        ({"pad_to": -5}, r"received pad_to=-5"),
        ({"pad_to": 2.5}, r"received pad_to=2.5"),
        ({"pad_to": "50"}, r"received pad_to='50'"),
        ({"pad_to": True}, r"received pad_to=True"),
        ({"pad_to": {"txt": 5}}, r"`pad_to` keys must be among .* unknown key\(s\) 'txt'"),
        ({"pad_to": {"audio": 0}}, r"`pad_to\['audio'\]` must be a positive integer"),
        ({"shuffle": "yes"}, r"`shuffle` must be True or False"),
        ({"seed": 1.5}, r"`seed` must be an integer; received seed=1.5"),
        ({"drop_remainder": None}, r"`drop_remainder` must be True or False"),
    ],
)
def test_bad_arguments_name_the_argument(tmp_path, kwargs, message):
    path = write_pickle(tmp_path, make_file()[0])
    kwargs = {"batch_size": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        load_mmsa(path, "train", **kwargs)


def test_a_model_input_pipeline_runs_under_tf_function(tmp_path):
    # The dataset is usable inside a compiled training loop: no py_function, static shapes.
    path = write_pickle(tmp_path, make_file()[0])
    dataset = load_mmsa(path, "train", batch_size=3, pad_to=8, drop_remainder=True)

    @tf.function(jit_compile=True)
    def masked_mean(inputs):
        mask = tf.cast(inputs["audio_mask"], tf.float32)[..., None]
        return tf.reduce_sum(inputs["audio"] * mask, axis=[1, 2]) / tf.reduce_sum(mask, [1, 2])

    means = np.concatenate([masked_mean(inputs).numpy() for inputs, _ in dataset])
    assert means.shape == (6,) and np.isfinite(means).all()


def test_bert_text_features_take_their_mask_from_the_attention_mask(tmp_path):
    rng = np.random.default_rng(3)
    n, steps = 2, 5
    attention = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    bert = np.stack([rng.integers(1, 100, (n, steps)) * attention, attention, np.zeros((n, steps), int)], axis=1)
    split = {
        "text": rng.normal(size=(n, steps, 4)),  # non-zero at [PAD] steps, as BERT gives
        "text_bert": bert,
        "audio": rng.normal(size=(n, steps, 3)),
        "vision": rng.normal(size=(n, steps, 2)),
        "regression_labels": np.array([0.5, -1.0]),
    }
    path = tmp_path / "bert.pkl"
    with open(path, "wb") as handle:
        pickle.dump({"train": split, "valid": split, "test": split}, handle)
    features = read_mmsa(path)
    np.testing.assert_array_equal(features.splits["train"]["text_mask"], attention.astype(bool))
    assert features.report["splits"]["train"]["mask_source"]["text"] == "text_bert attention mask"
    assert not features.splits["train"]["text"][0, 3:].any()
