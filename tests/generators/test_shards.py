import json
import os

import numpy as np
import pytest

from generators import MultimodalGenerator, make_generator, read_shards, write_shards
from generators.shards import read_metadata, read_shard_examples, shard_path

FIELDS = dict(num_samples=50, text_dim=4, audio_dim=3, vision_dim=2, min_length=2, max_length=9)


def _assert_same(first, second):
    first, second = list(first), list(second)
    assert len(first) == len(second)
    for (a_in, a_out), (b_in, b_out) in zip(first, second):
        for key in a_in:
            np.testing.assert_array_equal(a_in[key].numpy(), b_in[key].numpy(), err_msg=key)
            assert a_in[key].dtype == b_in[key].dtype
        for key in a_out:
            np.testing.assert_array_equal(a_out[key].numpy(), b_out[key].numpy(), err_msg=key)


@pytest.mark.parametrize(
    "fields, read_args",
    [
        ({}, {"batch_size": 8}),
        ({"padding": "left", "text": "tokens", "vocab_size": 100},
         {"batch_size": 16, "pad_to": 6, "drop_remainder": True}),
    ],
    ids=["variable_lengths", "left_padded_tokens_fixed_lengths"],
)
def test_shards_read_back_identical_to_the_in_memory_pipeline(tmp_path, fields, read_args):
    gen = MultimodalGenerator(**FIELDS, **fields)
    write_shards(gen, tmp_path, splits=["train", "test"], num_shards=3, block_size=7, progress=False)
    for split in ("train", "test"):
        _assert_same(read_shards(tmp_path, split, **read_args), gen.dataset(split, **read_args))


def test_shard_count_does_not_change_the_examples(tmp_path):
    gen = MultimodalGenerator(**FIELDS)
    write_shards(gen, tmp_path / "one", splits=["valid"], num_shards=1, progress=False)
    write_shards(gen, tmp_path / "four", splits=["valid"], num_shards=4, progress=False)
    _assert_same(read_shards(tmp_path / "one", "valid", 50), read_shards(tmp_path / "four", "valid", 50))


def test_rerun_skips_complete_shards_and_redoes_partial_ones(tmp_path):
    gen = MultimodalGenerator(**FIELDS)
    write_shards(gen, tmp_path, splits=["train"], num_shards=3, progress=False)
    complete = shard_path(tmp_path, "train", 0, 3)
    partial = shard_path(tmp_path, "train", 2, 3)
    before = os.path.getmtime(complete)
    with open(partial, "rb") as handle:
        content = handle.read()
    os.remove(partial)
    with open(partial + ".tmp", "wb") as handle:
        handle.write(content[: len(content) // 2])
    result = write_shards(gen, tmp_path, splits=["train"], num_shards=3, progress=False)
    assert result == {"written": 1, "skipped": 2}
    assert os.path.getmtime(complete) == before
    assert not os.path.exists(partial + ".tmp")
    _assert_same(read_shards(tmp_path, "train", 10), gen.dataset("train", 10))


def test_metadata_records_the_config_and_refuses_another(tmp_path):
    write_shards(MultimodalGenerator(**FIELDS), tmp_path, splits=["test"], progress=False)
    metadata = json.loads((tmp_path / "metadata.json").read_text())
    assert metadata["config"]["audio_dim"] == 3 and metadata["num_shards"] == 1
    other = MultimodalGenerator(**dict(FIELDS, seed=5))
    with pytest.raises(ValueError, match=r"holds shards of another generator config "
                                         r"\(differs in \['seed'\]\)"):
        write_shards(other, tmp_path, splits=["test"], progress=False)


def test_bad_arguments_raise_value_error(tmp_path):
    gen = MultimodalGenerator(**FIELDS)
    with pytest.raises(ValueError, match=r"`num_shards` must be an integer in \[1, num_samples=50\]; "
                                         r"received num_shards=0"):
        write_shards(gen, tmp_path, num_shards=0, progress=False)
    with pytest.raises(ValueError, match=r"`split` must be one of .*; received split='dev'"):
        write_shards(gen, tmp_path, splits=["dev"], progress=False)
    with pytest.raises(ValueError, match=r"`directory` must be a str or os.PathLike .*; "
                                         r"received directory=3"):
        write_shards(gen, 3, progress=False)
    with pytest.raises(ValueError, match=r"`directory` .*nothing', which is not a folder"):
        read_shards(tmp_path / "nothing", "train", 4)
    with pytest.raises(ValueError, match=r"`directory` .*, which has no metadata.json"):
        read_shards(tmp_path, "train", 4)
    write_shards(gen, tmp_path, splits=["train"], progress=False)
    with pytest.raises(ValueError, match=r"`directory` must hold every shard of split 'test'; .*"
                                         r"which lacks \['test-00000-of-00001.tfrecord'\]"):
        read_shards(tmp_path, "test", 4)
    with pytest.raises(ValueError, match=r"`batch_size` must be .*; received batch_size=0"):
        read_shards(tmp_path, "train", 0)
    assert read_metadata(tmp_path)["config"] == gen.config


# Sequence shards.

SEQUENCES = {
    "pattern": dict(family="pattern", vocab_size=30, seq_length=16, num_samples=23, length_variation=0.5,
                    noise_probability=0.1),
    "mqar": dict(family="mqar", vocab_size=40, seq_length=20, num_pairs=3, num_samples=23),
    "planted_wide_vocab": dict(family="planted", vocab_size=40000, seq_length=12, num_letters=39990,
                               block_length=3, num_samples=23, length_variation=0.3),
}


@pytest.mark.parametrize("name", sorted(SEQUENCES))
def test_sequence_shards_read_back_as_the_generator_dataset(tmp_path, name):
    gen = make_generator(**SEQUENCES[name])
    write_shards(gen, tmp_path, splits=["train", "test"], num_shards=2, block_size=7, progress=False)
    for split, batch_size, drop in (("train", 5, False), ("test", 8, True)):
        _assert_same(read_shards(tmp_path, split, batch_size, drop_remainder=drop),
                     gen.dataset(split, batch_size, drop_remainder=drop))
        stored = list(read_shard_examples(tmp_path, split, batch_size, drop_remainder=drop))
        made = list(gen.batches(split, batch_size, drop_remainder=drop))
        assert len(stored) == len(made)
        for a, b in zip(stored, made):
            assert set(a) == set(b) == {"tokens", "tokens_mask", "labels", "pattern", "predictable",
                                        "condition"}
            for key in b:
                np.testing.assert_array_equal(a[key].numpy(), b[key].numpy(), err_msg=key)
                assert a[key].dtype == b[key].dtype and a[key].shape == b[key].shape
    if name == "planted_wide_vocab":
        assert int(stored[0]["tokens"].numpy().max()) > 2**15, "tokens above int16 survive"


def test_sequence_metadata_remakes_the_generator_and_refuses_another_config(tmp_path):
    gen = make_generator(**SEQUENCES["mqar"])
    write_shards(gen, tmp_path, splits=["valid"], num_shards=2, progress=False)
    metadata = read_metadata(tmp_path)
    assert (metadata["kind"], metadata["format"], metadata["num_shards"]) == ("sequences", "tfrecord", 2)
    assert metadata["config"] == gen.to_dict() and metadata["generator"].to_dict() == gen.to_dict()
    assert metadata["record"][0] == ["tokens", "int16", 20]
    assert json.loads((tmp_path / "metadata.json").read_text())["config"]["num_pairs"] == 3
    assert write_shards(gen, tmp_path, splits=["valid"], num_shards=2, progress=False) == {
        "written": 0, "skipped": 2}
    with pytest.raises(ValueError, match=r"holds shards of another generator config "
                                         r"\(differs in \['num_pairs'\]\)"):
        write_shards(make_generator(**dict(SEQUENCES["mqar"], num_pairs=2)), tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"differs in \['kind'\]"):
        write_shards(MultimodalGenerator(**FIELDS), tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"`pad_to` must be None or seq_length=20 .*; received pad_to=8"):
        read_shards(tmp_path, "valid", 4, pad_to=8)
    with pytest.raises(ValueError, match=r"`generator` must be a MultimodalGenerator or a SequenceGenerator"):
        write_shards("mqar", tmp_path, progress=False)
