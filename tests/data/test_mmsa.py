import pickle

import numpy as np
import pytest
import tensorflow as tf

from msa_tf.data import MMSAFeatures, load_mmsa, read_mmsa

# --- files in the MMSA format (shared by test_mmsa_features, test_safe_pickle, test_sources) ---


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



# --- the pipeline --------------------------------------------------------------------------


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


# --- errors ------------------------------------------------------------------------------


def test_an_unknown_split_lists_the_splits(tmp_path):
    path = write_pickle(tmp_path, make_file()[0])
    with pytest.raises(ValueError, match=r"`split` must be one of 'train', 'valid', 'test'; "
                                         r"received split='validation'"):
        load_mmsa(path, "validation", 4)


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
