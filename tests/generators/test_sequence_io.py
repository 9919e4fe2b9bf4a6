import os

import pytest

from generators.sequence_io import jsonl_path, read_jsonl, write_jsonl
from generators.sequences import make_generator
from generators.shards import read_metadata, read_shards, write_shards

PLANTED = dict(family="planted", vocab_size=16, seq_length=12, num_letters=4, block_length=3,
               num_samples=11, length_variation=0.5, noise_probability=0.1)


@pytest.fixture(scope="module")
def planted():
    return make_generator(**PLANTED)


def _expected_lines(generator, split):
    batch = {k: v.numpy() for k, v in generator.generate(split, 0, generator.num_samples).items()}
    for row, real in enumerate(batch["tokens_mask"]):
        yield {"tokens": batch["tokens"][row, real].tolist(), "labels": batch["labels"][row, real].tolist(),
               "pattern": batch["pattern"][row, real].tolist(),
               "predictable": batch["predictable"][row, real].tolist(),
               "condition": int(batch["condition"][row]), "family": generator.family}


def test_jsonl_holds_the_real_tokens_and_metadata_of_the_generator(tmp_path, planted):
    result = write_jsonl(planted, tmp_path, splits=["train", "test"], progress=False, block_size=4)
    assert result == {"written": 2, "skipped": 0}
    for split in ("train", "test"):
        lines = list(read_jsonl(jsonl_path(tmp_path, split)))
        assert lines == list(_expected_lines(planted, split))
    lengths = [len(line["tokens"]) for line in lines]
    assert min(lengths) < 12 and max(lengths) <= 12, "lists are cut to the real length"
    assert {line["condition"] for line in lines} <= set(range(4))
    metadata = read_metadata(tmp_path)
    assert metadata["kind"] == "sequences" and metadata["format"] == "jsonl"
    assert metadata["config"] == planted.to_dict()
    assert metadata["generator"].to_dict() == planted.to_dict()
    assert sorted(os.listdir(tmp_path)) == ["metadata.json", "test.jsonl", "train.jsonl"]


def test_rerun_skips_complete_files_and_redoes_partial_ones(tmp_path, planted):
    write_jsonl(planted, tmp_path, splits=["train", "valid"], progress=False)
    complete, partial = tmp_path / "train.jsonl", tmp_path / "valid.jsonl"
    before = os.path.getmtime(complete)
    content = partial.read_text()
    partial.rename(tmp_path / "valid.jsonl.tmp")
    (tmp_path / "valid.jsonl.tmp").write_text(content[: len(content) // 2])
    assert write_jsonl(planted, tmp_path, splits=["train", "valid"], progress=False) == {
        "written": 1, "skipped": 1}
    assert os.path.getmtime(complete) == before
    assert not (tmp_path / "valid.jsonl.tmp").exists()
    assert partial.read_text() == content


def test_a_folder_of_another_config_or_format_is_refused(tmp_path, planted):
    write_jsonl(planted, tmp_path, splits=["test"], progress=False)
    with pytest.raises(ValueError, match=r"holds JSONL files of another generator config "
                                         r"\(differs in \['block_length'\]\)"):
        write_jsonl(make_generator(**dict(PLANTED, block_length=4)), tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"differs in \['format'\]"):
        write_shards(planted, tmp_path, splits=["test"], progress=False)
    with pytest.raises(ValueError, match=r"`directory` must be a folder written by write_shards .*"
                                         r"which holds JSONL files \(format 'jsonl'\)"):
        read_shards(tmp_path, "test", 4)


def test_read_jsonl_reads_a_file_written_by_hand(tmp_path):
    path = tmp_path / "hand.jsonl"
    path.write_text('{"tokens": [5, 9, 7]}\n\n{"tokens": [0], "note": "kept"}\n')
    assert list(read_jsonl(path)) == [{"tokens": [5, 9, 7]}, {"tokens": [0], "note": "kept"}]


@pytest.mark.parametrize(
    "line, message",
    [
        ("{tokens: [1]}", r"`line` must be a JSON object with a \"tokens\" list.*; received "
                          r"line='\{tokens: \[1\]\}' \(not JSON: Expecting property name"),
        ('{"text": "a b"}', r"`line` must be a JSON object with a \"tokens\" list.*; "
                            r"received line=\{'text': 'a b'\}"),
        ("[1, 2]", r"`line` must be a JSON object .*; received line=\[1, 2\]"),
        ('{"tokens": 5}', r"`tokens` must be a non-empty list of integers >= 0; received tokens=5"),
        ('{"tokens": []}', r"`tokens` must be a non-empty list of integers >= 0; received tokens=\[\]"),
        ('{"tokens": [1, -2]}', r"`tokens\[1\]` must be an integer >= 0; received tokens\[1\]=-2"),
        ('{"tokens": [1.5]}', r"`tokens\[0\]` must be an integer >= 0; received tokens\[0\]=1.5"),
        ('{"tokens": [true]}', r"`tokens\[0\]` must be an integer >= 0; received tokens\[0\]=True"),
        ('{"tokens": [4, 5], "pattern": [0]}', r"`pattern` must be a list as long as `tokens` \(2 items\)"),
        ('{"tokens": [4, 5], "labels": 5}', r"`labels` must be a list as long as `tokens` \(2 items\)"),
        ('{"tokens": [4, 5], "labels": [5, -1]}',
         r"`labels\[1\]` must be an integer >= 0, or -100 where no loss applies; received labels\[1\]=-1"),
    ],
    ids=["not_json", "no_tokens", "not_an_object", "not_a_list", "empty", "negative", "float", "bool",
         "short_pattern", "labels_not_a_list", "negative_label"],
)
def test_a_malformed_line_names_the_file_the_line_and_the_value(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"tokens": [4, 5]}\n' + line + "\n")
    with pytest.raises(ValueError, match=rf"^{path}, line 2: {message}"):
        list(read_jsonl(path))


def test_bad_arguments_raise_value_error(tmp_path, planted):
    with pytest.raises(ValueError, match=r"`path` must be a JSONL file; received path=.*, "
                                         r"which does not exist"):
        list(read_jsonl(tmp_path / "missing.jsonl"))
    with pytest.raises(ValueError, match=r"`split` must be one of .*; received split='dev'"):
        write_jsonl(planted, tmp_path, splits=["dev"], progress=False)
    with pytest.raises(ValueError, match=r"`generator` must be a SequenceGenerator"):
        write_jsonl("planted", tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"`num_samples` must be a number to write JSONL files"):
        write_jsonl(make_generator("random", num_samples=None), tmp_path, progress=False)
    assert not os.listdir(tmp_path), "nothing is written before the arguments are checked"
