import numpy as np
import pytest
import tensorflow as tf

from generators import MultimodalGenerator, write_shards
from generators.sequence_io import write_jsonl
from generators.sequences import IGNORE_INDEX, PAD, make_generator
from msa_tf.data import get_source, sequences, text

GENERATOR = dict(family="pattern", vocab_size=24, seq_length=12, num_samples=10, length_variation=0.5,
                 seed=5)
KINDS = ("sequences", "sequence_shards", "jsonl_folder", "jsonl_file", "text")
SPLITS = ("train", "valid", "test")


def make_source(kind, directory):
    """A small source of each kind; files and folders go into `directory`."""
    generator = make_generator(**GENERATOR)
    if kind == "sequences":
        return get_source("sequences", **GENERATOR)
    if kind == "sequence_shards":
        write_shards(generator, str(directory), num_shards=2, progress=False)
        return get_source("sequence_shards", path=str(directory))
    if kind == "jsonl_folder":
        write_jsonl(generator, str(directory), progress=False)
        return get_source("jsonl", path=str(directory))
    if kind == "jsonl_file":
        write_jsonl(generator, str(directory), splits=["train"], progress=False)
        return get_source("jsonl", path=str(directory / "train.jsonl"), seq_length=12)
    path = directory / "text.txt"
    path.write_text("The quick brown fox jumps over the lazy dog. " * 3 + "Ünïcödé ✓")
    return get_source("text", path=str(path), seq_length=12)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    cache = {}

    def get(kind):
        if kind not in cache:
            cache[kind] = make_source(kind, tmp_path_factory.mktemp(kind))
        return cache[kind]

    return get


def numpy_batches(dataset):
    return [tf.nest.map_structure(lambda t: t.numpy(), element) for element in dataset]


def real_rows(dataset):
    """The real tokens of each sequence, as tuples, in order."""
    return [tuple(row[keep]) for (inputs, _) in numpy_batches(dataset)
            for row, keep in zip(inputs["tokens"], inputs["tokens_mask"])]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("lengths", [None, 8, 16])
def test_every_source_yields_tokens_mask_and_next_token_labels(made, kind, lengths):
    source = made(kind)
    length = source.fixed_lengths(lengths)
    assert length == (12 if lengths is None else lengths)
    assert source.default_task == "language_modeling" and source.num_classes() is None
    assert source.model_arguments(lengths) == {"vocab_size": source.vocab_size, "max_length": length}
    assert source.vocab_size == (text.VOCAB_SIZE if kind == "text" else 24)
    assert source.input_spec(lengths) == {"tokens": ((length,), "int32"), "tokens_mask": ((length,), "bool")}
    dataset = source.dataset("train", batch_size=3, lengths=lengths, drop_remainder=True)
    assert dataset.element_spec == (
        {"tokens": tf.TensorSpec((3, length), tf.int32), "tokens_mask": tf.TensorSpec((3, length), tf.bool)},
        {"next_token": tf.TensorSpec((3, length), tf.int32)})
    for inputs, targets in numpy_batches(dataset):
        tokens, mask, labels = inputs["tokens"], inputs["tokens_mask"], targets["next_token"]
        lengths_ = mask.sum(axis=1)
        np.testing.assert_array_equal(mask, np.arange(length) < lengths_[:, None])  # right-padded
        assert (tokens[~mask] == PAD).all() and (labels[~mask] == IGNORE_INDEX).all()
        assert ((tokens >= 0) & (tokens < source.vocab_size)).all()
        # Wherever a label is set, it is the next token; the last real token of an
        # uncut sequence has none.
        follows = labels[:, :-1] != IGNORE_INDEX
        np.testing.assert_array_equal(labels[:, :-1][follows], tokens[:, 1:][follows])
        if lengths is not None and lengths > 12:
            assert (labels[np.arange(len(mask)), lengths_ - 1] == IGNORE_INDEX).all()


def test_fit_sequence_length_pads_and_cuts():
    inputs = {"tokens": tf.constant([[5, 6, 7], [8, 9, 0]]),
              "tokens_mask": tf.constant([[True, True, True], [True, True, False]])}
    targets = {"next_token": tf.constant([[6, 7, 4], [9, IGNORE_INDEX, IGNORE_INDEX]])}
    padded, padded_labels = sequences.fit_sequence_length(inputs, targets, 5)
    np.testing.assert_array_equal(padded["tokens"], [[5, 6, 7, 0, 0], [8, 9, 0, 0, 0]])
    np.testing.assert_array_equal(padded["tokens_mask"], [[1, 1, 1, 0, 0], [1, 1, 0, 0, 0]])
    np.testing.assert_array_equal(padded_labels["next_token"],
                                  [[6, 7, 4, -100, -100], [9, -100, -100, -100, -100]])
    cut, cut_labels = sequences.fit_sequence_length(inputs, targets, 2)
    np.testing.assert_array_equal(cut["tokens"], [[5, 6], [8, 9]])
    np.testing.assert_array_equal(cut_labels["next_token"], [[6, 7], [9, -100]])  # 7 still follows 6
    assert sequences.fit_sequence_length(inputs, targets, 3) == (inputs, targets)


def test_the_sequences_source_yields_the_generators_batches(made):
    generator = make_generator(**GENERATOR)
    for split in SPLITS:
        ours = numpy_batches(made("sequences").dataset(split, batch_size=4))
        theirs = numpy_batches(generator.dataset(split, batch_size=4))
        assert len(ours) == len(theirs) == 3
        for mine, expected in zip(ours, theirs):
            tf.nest.map_structure(np.testing.assert_array_equal, mine, expected)


@pytest.mark.parametrize("kind", ["sequence_shards", "jsonl_folder"])
def test_written_folders_read_back_as_the_generators_batches(made, kind):
    generator = make_generator(**GENERATOR)
    for split in SPLITS:
        ours = numpy_batches(made(kind).dataset(split, batch_size=4))
        theirs = numpy_batches(generator.dataset(split, batch_size=4))
        for mine, expected in zip(ours, theirs, strict=True):
            tf.nest.map_structure(np.testing.assert_array_equal, mine, expected)


def test_jsonl_lines_keep_their_labels_so_recall_tasks_train_on_the_answers(tmp_path):
    generator = make_generator("mqar", vocab_size=32, seq_length=16, num_pairs=2, num_samples=6, seed=3)
    write_jsonl(generator, str(tmp_path), progress=False)
    source = get_source("jsonl", path=str(tmp_path))
    for split in SPLITS:
        ours = numpy_batches(source.dataset(split, batch_size=4))
        theirs = numpy_batches(generator.dataset(split, batch_size=4))
        for mine, expected in zip(ours, theirs, strict=True):
            tf.nest.map_structure(np.testing.assert_array_equal, mine, expected)
        answers = np.concatenate([targets["next_token"] for _, targets in ours])
        assert 0 < (answers != IGNORE_INDEX).mean() < 0.5  # the answers only, not every next token
    cut = numpy_batches(get_source("jsonl", path=str(tmp_path), seq_length=10).dataset("test", 6))
    full = numpy_batches(source.dataset("test", 6))
    np.testing.assert_array_equal(cut[0][1]["next_token"], full[0][1]["next_token"][:, :10])


def test_jsonl_labels_on_some_lines_only_or_outside_the_vocabulary_are_refused(tmp_path):
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text('{"tokens": [4, 5], "labels": [5, -100]}\n{"tokens": [6, 7]}\n')
    with pytest.raises(ValueError, match=r"mixed.jsonl, sequence 1: `labels` must be on every line or on "
                                         r"none; the first line holds them"):
        get_source("jsonl", path=str(mixed))
    high = tmp_path / "high.jsonl"
    high.write_text('{"tokens": [4, 5], "labels": [5, 9]}\n' * 10)
    assert get_source("jsonl", path=str(high)).vocab_size == 10  # labels count as ids
    with pytest.raises(ValueError, match=r"`vocab_size` must exceed every label; received vocab_size=8, "
                                         r"but .*high.jsonl holds the label 9 in sequence 0"):
        get_source("jsonl", path=str(high), vocab_size=8)


@pytest.mark.parametrize("kind", ["jsonl_folder", "text"])
def test_shuffle_with_a_seed_reorders_the_same_sequences_the_same_way(made, kind):
    source = made(kind)
    in_order = real_rows(source.dataset("train", batch_size=2))
    shuffled = source.dataset("train", batch_size=2, shuffle=True, seed=7)
    first, second = real_rows(shuffled), real_rows(shuffled)  # two epochs
    assert sorted(first) == sorted(in_order) == sorted(second)
    assert first != in_order and second != first  # reshuffled each epoch
    again = source.dataset("train", batch_size=2, shuffle=True, seed=7)
    assert real_rows(again) == first and real_rows(again) == second
    assert real_rows(source.dataset("train", batch_size=2, shuffle=True, seed=8)) != first


def test_each_shards_source_rejects_the_other_kinds_folders_and_names_the_right_source(tmp_path):
    multimodal = MultimodalGenerator(num_samples=2, min_length=2, max_length=3)
    write_shards(multimodal, str(tmp_path / "mm"), progress=False)
    with pytest.raises(ValueError, match=r"`path` must be a folder of token-sequence TFRecord shards; "
                                         r".*multimodal data .*source 'shards' reads it"):
        get_source("sequence_shards", path=str(tmp_path / "mm"))
    write_jsonl(make_generator(**GENERATOR), str(tmp_path / "jsonl"), splits=["test"], progress=False)
    with pytest.raises(ValueError, match="source 'jsonl' reads it"):
        get_source("sequence_shards", path=str(tmp_path / "jsonl"))
    write_shards(make_generator(**GENERATOR), str(tmp_path / "sequences"), progress=False)
    with pytest.raises(ValueError, match="sequences data in tfrecord files; the source 'sequence_shards' "):
        get_source("shards", path=str(tmp_path / "sequences"))
