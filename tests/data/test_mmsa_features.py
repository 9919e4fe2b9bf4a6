import logging
import pickle

import numpy as np
import pytest
from test_mmsa import assert_rows, make_file, make_split, real_rows, write_pickle

from msa_tf.data import MMSAFeatures, read_mmsa


def train_arrays(path):
    return read_mmsa(path).split("train")


# --- masks and values ----------------------------------------------------------------------


@pytest.mark.parametrize("side", ["right", "left"])
def test_masks_and_values_from_zero_rows_for_either_padding_side(tmp_path, side):
    data, lengths = make_file(side=side)
    path = write_pickle(tmp_path, data)
    features = read_mmsa(path)
    train = features.split("train")

    assert features.report["padding_side"] == {m: side for m in lengths["train"]}
    assert_rows(train["text"], train["text_mask"], real_rows(lengths["train"]["text"], 3))
    assert_rows(train["audio"], train["audio_mask"],
                real_rows(lengths["train"]["audio"], 2, offset=0.5))
    assert_rows(train["vision"], train["vision_mask"],
                real_rows(lengths["train"]["vision"], 3, offset=0.25))
    np.testing.assert_allclose(train["regression"][:, 0],
                               data["train"]["regression_labels"], rtol=1e-6)
    assert train["classification"].tolist() == data["train"]["classification_labels"].tolist()
    assert train["regression"].dtype == np.float32 and train["classification"].dtype == np.int32



def test_interior_zero_rows_stay_real_and_left_padding_moves_to_the_front(tmp_path):
    data, _ = make_file(side="left")
    # Sample 0 of train: audio has 1 real step; make it 4 real steps with a zero one inside.
    data["train"]["audio"][0] = 0.0
    data["train"]["audio"][0, 2:] = [[7, 7], [0, 0], [8, 8], [9, 9]]
    train = train_arrays(write_pickle(tmp_path, data))
    np.testing.assert_array_equal(train["audio"][0], [[7, 7], [0, 0], [8, 8], [9, 9], [0, 0],
                                                      [0, 0]])
    assert train["audio_mask"][0].tolist() == [True] * 4 + [False] * 2


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
    train = train_arrays(path)

    audio_lengths = lengths["train"]["audio"]
    assert train["audio_mask"].sum(axis=1).tolist() == audio_lengths
    assert train["audio_mask"][3, last]
    assert train["vision_mask"][0].tolist() == [True, True, False, False, False]
    assert not train["vision"][0, 2:].any()
    report = read_mmsa(path).report["splits"]["train"]
    assert report["mask_source"] == {"text": "zero rows (right padding)",
                                     "audio": "audio_lengths", "vision": "vision_lengths"}


def test_lengths_above_the_steps_are_clipped_counted_and_warned(tmp_path, caplog):
    data, _ = make_file(with_lengths=True)
    data["train"]["audio_lengths"][1] = 99
    path = write_pickle(tmp_path, data)
    with caplog.at_level(logging.WARNING, logger="msa_tf.data.mmsa_features"):
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
    with caplog.at_level(logging.WARNING, logger="msa_tf.data.mmsa_features"):
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
    # Sample 2's first audio step was all -inf: it is now a zero row, but still real
    # (its later steps are not zero).
    assert features.splits["train"]["audio_mask"][2, 0]


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
    train = train_arrays(path)
    assert "classification" not in train
    np.testing.assert_allclose(train["regression"][:, 0], np.linspace(-2, 2, 4), rtol=1e-6)
    assert read_mmsa(path).report["padding_side"]["audio"] == "left"
    assert train["audio_mask"][:, 0].all()  # real steps moved to the front



def test_bert_text_features_take_their_mask_from_the_attention_mask(tmp_path):
    rng = np.random.default_rng(3)
    n, steps = 2, 5
    attention = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    ids = rng.integers(1, 100, (n, steps)) * attention
    bert = np.stack([ids, attention, np.zeros((n, steps), int)], axis=1)
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


# --- file formats ------------------------------------------------------------------------


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



# --- errors ------------------------------------------------------------------------------


def test_an_unknown_split_lists_the_splits(tmp_path):
    features = read_mmsa(write_pickle(tmp_path, make_file()[0]))
    assert isinstance(features, MMSAFeatures)
    with pytest.raises(ValueError, match=r"`split` must be one of 'train', 'valid', 'test'; "
                                         r"received split='dev'"):
        features.split("dev")


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
