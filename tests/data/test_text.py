import json

import numpy as np
import pytest

from generators.sequences import BOS, IGNORE_INDEX, NUM_SPECIAL_TOKENS, PAD
from msa_tf.data import get_source, text


def write(path, content):
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def batches(source, split, batch_size=64, **options):
    """`[(tokens, mask, labels)]` NumPy arrays of every batch of `split`."""
    return [(inputs["tokens"].numpy(), inputs["tokens_mask"].numpy(), targets["next_token"].numpy())
            for inputs, targets in source.dataset(split, batch_size, **options)]


def real_sequences(source, split, **options):
    """The real tokens of every sequence of `split`, as tuples, in order."""
    return [tuple(row[keep]) for tokens, mask, _ in batches(source, split, **options)
            for row, keep in zip(tokens, mask)]


@pytest.mark.parametrize("content", ["plain ASCII, with\nnewlines\r\n", "héllo wörld ✓ 日本語 🙂", ""])
def test_bytes_round_trip_through_the_vocabulary(content):
    ids = text.encode(content)
    assert ids.dtype == np.int32
    assert ids.tolist() == [b + NUM_SPECIAL_TOKENS for b in content.encode("utf-8")]
    assert text.decode(ids) == content
    assert text.decode(text.encode(content, bos=True)) == content  # BOS skipped


def test_decode_skips_special_tokens_and_replaces_invalid_utf8():
    cut = text.encode("é")[:1]  # the first byte of a two-byte character
    assert text.decode([BOS, *text.encode("a"), PAD, *cut, 2, 3]) == "a\ufffd"
    with pytest.raises(ValueError, match=r"`ids` must be byte-vocabulary ids in \[0, 260\); received 260 at "
                                         r"position 1"):
        text.decode([5, 260])


def test_text_is_cut_into_sequences_with_next_token_labels(tmp_path):
    path = write(tmp_path / "doc.txt", "abcdefghij")
    source = get_source("text", path=str(path), seq_length=4, valid_fraction=0.0, test_fraction=0.0)
    assert (source.vocab_size, source.seq_length) == (text.VOCAB_SIZE, 4) == (260, 4)
    ((tokens, mask, labels),) = batches(source, "train")
    stream = [BOS, *text.encode("abcdefghij")]  # 11 tokens: 4 + 4 + 3
    expected = np.zeros((3, 4), np.int32)
    expected[mask] = stream
    np.testing.assert_array_equal(tokens, expected)
    np.testing.assert_array_equal(mask, np.arange(4) < np.array([4, 4, 3])[:, None])
    np.testing.assert_array_equal(labels[0], [*stream[1:4], IGNORE_INDEX])
    np.testing.assert_array_equal(labels[2], [*stream[9:11], IGNORE_INDEX, IGNORE_INDEX])
    assert tokens.dtype == np.int32 and labels.dtype == np.int32 and mask.dtype == bool


def test_every_file_of_a_folder_is_a_document_after_a_bos(tmp_path):
    write(tmp_path / "b.txt", "yz")
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub" / "a.txt", "\ufeffwx")  # sorted by path: after b.txt
    write(tmp_path / "notes.md", "not read")
    rows = text.read_text_rows(tmp_path, seq_length=3)
    assert rows.values.dtype == np.uint16
    assert rows.values.tolist() == [BOS, *text.encode("yz"), BOS, *text.encode("wx")]  # BOM dropped
    assert text.read_text_rows(tmp_path, seq_length=3, bos=False).values.tolist() == text.encode(
        "yzwx").tolist()


def test_fraction_splits_are_contiguous_disjoint_and_deterministic(tmp_path):
    path = write(tmp_path / "corpus.txt", "".join(f"line {i:03d}\n" for i in range(100)))  # 900 bytes
    made = [get_source("text", path=str(path), seq_length=10, valid_fraction=0.2, test_fraction=0.1)
            for _ in range(2)]
    splits = {split: real_sequences(made[0], split) for split in ("train", "valid", "test")}
    assert {split: len(rows) for split, rows in splits.items()} == {"train": 64, "valid": 18, "test": 9}
    assert splits == {split: real_sequences(made[1], split) for split in splits}
    # Contiguous blocks, in order: together they are the stream.
    stream = [token for split in ("train", "valid", "test") for row in splits[split] for token in row]
    assert stream == [BOS, *text.encode(path.read_text())]


def test_a_folder_with_an_entry_per_split(tmp_path):
    write(tmp_path / "train.txt", "training text")
    (tmp_path / "valid").mkdir()
    write(tmp_path / "valid" / "a.txt", "valid one")
    write(tmp_path / "test.txt", "test")
    source = get_source("text", path=str(tmp_path), seq_length=64)
    assert [text.decode(real_sequences(source, split)[0]) for split in ("train", "valid", "test")] == [
        "training text", "valid one", "test"]
    with pytest.raises(ValueError, match="`valid_fraction` must be None for a folder with an entry per "
                                         "split; received valid_fraction=0.2"):
        get_source("text", path=str(tmp_path), valid_fraction=0.2)
    (tmp_path / "test.txt").unlink()
    with pytest.raises(ValueError, match="which lacks 'test'"):
        get_source("text", path=str(tmp_path))


def test_bad_encoding_names_the_file_and_the_byte_offset(tmp_path):
    path = write(tmp_path / "bad.txt", "ok é ".encode() + b"\xff rest")
    with pytest.raises(ValueError, match=rf"`path` must be UTF-8 text; received path='{path}', whose byte 6 "
                                         r"\(0xff\) is not valid UTF-8"):
        get_source("text", path=str(path))


def test_a_bad_byte_after_a_chunk_boundary_has_its_offset_in_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(text, "CHECK_CHUNK", 4)
    path = write(tmp_path / "bad.txt", "aé日本".encode() + b"\xc3(")  # characters span chunks
    with pytest.raises(ValueError, match=r"whose byte 9 \(0xc3\)"):
        text.read_text(path)
    assert text.read_text(write(tmp_path / "good.txt", "aé日本é")).tobytes().decode() == "aé日本é"


def test_too_little_text_for_the_splits_is_an_error(tmp_path):
    path = write(tmp_path / "short.txt", "abc")
    with pytest.raises(ValueError, match="holds 1 sequences: too few for valid_fraction=0.1"):
        get_source("text", path=str(path), seq_length=8)
    with pytest.raises(ValueError, match=r"`valid_fraction` \+ `test_fraction` must be below 1"):
        get_source("text", path=str(path), valid_fraction=0.5, test_fraction=0.5)


def write_jsonl(path, lines):
    path.write_text("".join(line if isinstance(line, str) else json.dumps(line) + "\n" for line in lines))
    return path


def test_jsonl_source_reads_a_hand_written_file(tmp_path):
    sequences = [(4 + i, *(4 + (i + j) % 9 for j in range(i % 5))) for i in range(40)]  # distinct
    path = write_jsonl(tmp_path / "hand.jsonl", [{"tokens": s, "note": "any key"} for s in sequences[:20]]
                       + ["\n"] + [{"tokens": s} for s in sequences[20:]])
    source = get_source("jsonl", path=str(path), valid_fraction=0.25, test_fraction=0.25)
    assert (source.vocab_size, source.seq_length) == (44, 5)  # the largest id + 1, the longest
    splits = {split: real_sequences(source, split) for split in ("train", "valid", "test")}
    # Every line in exactly one split, in file order within it; the same split each time.
    assert sorted(sum(splits.values(), [])) == sequences
    assert all(splits[split] == sorted(splits[split], key=sequences.index) for split in splits)
    assert all(len(rows) >= 5 for rows in splits.values())
    again = get_source("jsonl", path=str(path), valid_fraction=0.25, test_fraction=0.25)
    assert splits == {split: real_sequences(again, split) for split in splits}
    tokens, mask, labels = batches(source, "train")[0]
    expected = np.full(labels.shape, IGNORE_INDEX)
    expected[:, :-1] = np.where(mask[:, 1:], tokens[:, 1:], IGNORE_INDEX)
    np.testing.assert_array_equal(labels, expected)


def test_jsonl_malformed_line_names_the_file_and_line(tmp_path):
    path = write_jsonl(tmp_path / "bad.jsonl", [{"tokens": [5, 6]}, "\n", '{"tokens": [5, "x"]}\n'])
    with pytest.raises(ValueError, match=rf"{path}, line 3: `tokens\[1\]` must be an integer >= 0"):
        get_source("jsonl", path=str(path))
    write_jsonl(path, [{"tokens": [5, 6]}, "{not json\n"])
    with pytest.raises(ValueError, match=rf"{path}, line 2: `line` must be a JSON object"):
        get_source("jsonl", path=str(path))


def test_jsonl_ids_outside_the_vocabulary_are_an_error(tmp_path):
    path = write_jsonl(tmp_path / "ids.jsonl", [{"tokens": [5, 6]}, {"tokens": [7, 30]}])
    with pytest.raises(ValueError, match=rf"`vocab_size` must exceed every token id; received vocab_size=20, "
                                         rf"but {path} holds the token id 30 in sequence 1"):
        get_source("jsonl", path=str(path), vocab_size=20)
