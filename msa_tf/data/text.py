"""Real token sequences for the language models: UTF-8 text and JSONL token files.

Byte vocabulary. Text is read as its UTF-8 bytes: token = byte + `NUM_SPECIAL_TOKENS`,
so `VOCAB_SIZE` = 256 + 4 = 260 and the special tokens `PAD`, `BOS`, `EOS`, `SEP` of
`generators.sequences` keep their ids. `encode` and `decode` convert; `decode` skips
special tokens and replaces invalid UTF-8 with U+FFFD.

Text files (`read_text_splits`). A *document* is a file: its bytes exactly as stored
(line endings included; a leading UTF-8 byte-order mark is dropped), after a `BOS` when
`bos=True`. A split's documents are concatenated in order into one stream, which is
cut into consecutive sequences of `seq_length` tokens (GPT-style packing: a sequence
may hold the end of one document, a `BOS` and the start of the next; only the last
sequence is shorter). A file that is not valid UTF-8 raises `ValueError` naming the
file and the byte offset. Paragraph-level documents are files too: split the text
into one file per paragraph to get a `BOS` before each.

JSONL token files (`read_jsonl_splits`): one sequence per line, `{"tokens": [ids],
...}` (`generators.sequence_io.read_jsonl`), streamed line by line. Lines that carry
`"labels"` (as `write_jsonl` writes them: the targets of a recall task, say) keep them;
a file's lines carry them all or none.

Splits. `path` is either

- a folder with one entry per split: `train.txt` or a folder `train/` of `*.txt` files
  (JSONL: `train.jsonl`, as `write_jsonl` writes), and the same for `valid` and
  `test`; or
- one file, or (text only) a folder of `*.txt` files without split entries, read in
  sorted order. Its sequences are split by `valid_fraction` and `test_fraction`
  (default 0.1 each), deterministically and independent of any seed. Text: in
  contiguous blocks, train first, then valid, then test (neighbouring sequences of
  the same document are alike, so interleaving them would leak test text into
  training); each split with a nonzero fraction gets at least one sequence. JSONL:
  by a hash of the line number (lines are independent sequences, and files are often
  sorted), so the split sizes are close to, not exactly, the fractions.

Memory. A split is held as a `TokenRows`: one flat array of ids (text: `uint16`, two
bytes per byte of text; JSONL: the narrowest of `uint16`/`int32`/`int64` holding the
largest id) and the start and length of each sequence, never as a padded matrix.

Example:
>>> ids = encode("héllo")
>>> ids.tolist(), decode(ids)
([108, 199, 173, 112, 112, 115], 'héllo')
>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "doc.txt")
>>> with open(path, "w", encoding="utf-8") as handle:
...     _ = handle.write("abcdefghij" * 3)
>>> rows = read_text_splits(path, seq_length=8, valid_fraction=0.25, test_fraction=0.25)
>>> {split: len(part) for split, part in rows.items()}
{'train': 2, 'valid': 1, 'test': 1}
>>> decode(rows["test"].sequence(0))  # BOS + 30 bytes: 8 + 8 + 8 + 7 tokens
'defghij'
"""

import array
import dataclasses
import glob
import os

import numpy as np

from generators.sequences import BOS, NUM_SPECIAL_TOKENS
from generators.validation import check_path
from msa_tf.data.sources import SPLITS
from msa_tf.validation import check_number, check_positive_int

__all__ = ["VOCAB_SIZE", "TokenRows", "decode", "encode", "read_jsonl_splits", "read_text",
           "read_text_rows", "read_text_splits", "split_layout", "text_files"]

VOCAB_SIZE = 256 + NUM_SPECIAL_TOKENS
TEXT_SUFFIX = ".txt"
JSONL_SUFFIX = ".jsonl"
DEFAULT_FRACTION = 0.1
UTF8_BOM = b"\xef\xbb\xbf"
# Text is checked for UTF-8 in chunks of this many bytes (no decoded copy of a whole file).
CHECK_CHUNK = 2**24


def encode(text, bos=False):
    """The byte-vocabulary ids (int32 NumPy array) of a `str` (UTF-8) or bytes-like `text`.

    `bos=True` puts `BOS` first.
    """
    if isinstance(text, str):
        text = text.encode("utf-8")
    elif not isinstance(text, (bytes, bytearray, memoryview)):
        raise ValueError(f"`text` must be a str or bytes; received text of type {type(text).__name__}")
    ids = np.frombuffer(text, np.uint8).astype(np.int32) + NUM_SPECIAL_TOKENS
    return np.concatenate([[BOS], ids]).astype(np.int32) if bos else ids


def decode(ids):
    """The text of byte-vocabulary `ids`: special tokens skipped, invalid UTF-8 as U+FFFD.

    Raises `ValueError` for an id outside [0, `VOCAB_SIZE`).
    """
    ids = np.asarray(ids)
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"`ids` must be integers in [0, {VOCAB_SIZE}); received an array of dtype "
                         f"{ids.dtype}")
    ids = ids.astype(np.int64).ravel()
    outside = (ids < 0) | (ids >= VOCAB_SIZE)
    if outside.any():
        position = int(np.argmax(outside))
        raise ValueError(f"`ids` must be byte-vocabulary ids in [0, {VOCAB_SIZE}); received "
                         f"{ids[position]} at position {position}")
    data = (ids[ids >= NUM_SPECIAL_TOKENS] - NUM_SPECIAL_TOKENS).astype(np.uint8)
    return data.tobytes().decode("utf-8", errors="replace")


@dataclasses.dataclass(frozen=True)
class TokenRows:
    """Sequences stored flat: sequence `i` is `values[starts[i] : starts[i] + lengths[i]]`.

    Attributes:
        values: 1-D token ids (several `TokenRows` may share them).
        starts: int64 `(num_sequences,)`.
        lengths: int64 `(num_sequences,)`.
        labels: `None`, or int64 targets laid out as `values` (what to predict at each
            position, `IGNORE_INDEX` where no loss applies); `None`: the next tokens.
    """

    values: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray
    labels: np.ndarray | None = None

    def __len__(self):
        return len(self.starts)

    def sequence(self, index):
        """The ids of sequence `index` (a view)."""
        start = self.starts[index]
        return self.values[start:start + self.lengths[index]]

    def take(self, rows):
        """The sequences at `rows` (indices or a boolean mask), sharing `values`."""
        return TokenRows(self.values, self.starts[rows], self.lengths[rows], self.labels)

    def max_length(self):
        """The longest sequence (0 when there is none)."""
        return int(self.lengths.max(initial=0))

    def max_id(self):
        """The largest id of `values` and `labels` (-1 when there is none)."""
        arrays = [self.values] if self.labels is None else [self.values, self.labels]
        return max((int(array.max()) for array in arrays if array.size), default=-1)

    def batches(self, batch_size, seq_length=None):
        """NumPy `{"tokens": int64 (b, L), "tokens_mask": bool (b, L)}` batches, in order.

        `L` is `seq_length` (longer sequences cut), or the longest sequence of each batch.
        """
        for first in range(0, len(self), batch_size):
            rows = self.take(slice(first, first + batch_size))
            lengths = rows.lengths if seq_length is None else np.minimum(rows.lengths, seq_length)
            width = max(int(lengths.max(initial=0)), 1) if seq_length is None else seq_length
            mask = np.arange(width) < lengths[:, None]
            tokens = np.zeros(mask.shape, np.int64)
            tokens[mask] = np.concatenate(
                [rows.sequence(i)[:n] for i, n in enumerate(lengths)] or [np.zeros(0, np.int64)])
            yield {"tokens": tokens, "tokens_mask": mask}


def text_files(path, argument="path"):
    """The documents of `path`: the file itself, or a folder's `*.txt` files (any depth),
    sorted by their path. Raises `ValueError` for a missing path or a folder without any."""
    path = check_path(argument, path, "a UTF-8 text file or a folder of .txt files")
    if os.path.isfile(path):
        return [path]
    files = sorted(name for name in glob.glob(os.path.join(glob.escape(path), "**", "*" + TEXT_SUFFIX),
                                              recursive=True) if os.path.isfile(name))
    if not files:
        raise ValueError(f"`{argument}` must be a UTF-8 text file or a folder of .txt files; "
                         f"received {argument}={path!r}, a folder without .txt files")
    return files


def split_layout(path, suffix, argument="path"):
    """`{split: entry}` when the folder `path` has an entry per split (`{split}{suffix}`,
    or a folder `{split}/` for text), `None` when it has none (or `path` is a file).

    A folder with some split entries but not all raises `ValueError` naming the missing.
    """
    if not os.path.isdir(path):
        return None
    entries = {}
    for split in SPLITS:
        candidates = [os.path.join(path, split + suffix)]
        if suffix == TEXT_SUFFIX:
            candidates.append(os.path.join(path, split))
        found = [candidate for candidate in candidates if os.path.exists(candidate)]
        if found:
            entries[split] = found[0]
    if not entries:
        return None
    missing = [split for split in SPLITS if split not in entries]
    if missing:
        folder = " or a folder {split}/" if suffix == TEXT_SUFFIX else ""
        raise ValueError(
            f"`{argument}` must be a folder with an entry for every split (a file {{split}}{suffix}"
            f"{folder} for {', '.join(SPLITS)}); received {argument}={path!r}, which lacks "
            f"{', '.join(repr(split) for split in missing)}")
    return entries


def read_text(path, argument="path"):
    """The bytes of the UTF-8 text file `path` as a `uint8` array, a leading BOM dropped.

    Raises `ValueError` naming the file and the byte offset of the first byte that is
    not valid UTF-8 (the file is checked in chunks, never decoded whole).
    """
    data = np.fromfile(check_path(argument, path, "a UTF-8 text file", must_be="file"), np.uint8)
    if data[:3].tobytes() == UTF8_BOM:
        data = data[3:]
    _check_utf8(data, path, argument)
    return data


def _check_utf8(data, path, argument):
    view, size, start = memoryview(data), len(data), 0
    while start < size:
        stop = min(start + CHECK_CHUNK, size)
        # Never cut a character: step back over continuation bytes (10xxxxxx), at most 3.
        for _ in range(3):
            if stop < size and data[stop] & 0xC0 == 0x80:
                stop -= 1
        try:
            str(view[start:stop], "utf-8")
        except UnicodeDecodeError as error:
            offset = start + error.start
            raise ValueError(
                f"`{argument}` must be UTF-8 text; received {argument}={os.fspath(path)!r}, whose "
                f"byte {offset} (0x{data[offset]:02x}) is not valid UTF-8 ({error.reason})"
            ) from None
        start = stop


def _text_stream(files, bos, argument):
    """The ids of `files` as one `uint16` stream, each file after a `BOS` if `bos`."""
    sizes = [os.path.getsize(name) for name in files]
    stream = np.empty(sum(sizes) + (len(files) if bos else 0), np.uint16)
    end = 0
    for name in files:
        data = read_text(name, argument)
        if bos:
            stream[end] = BOS
            end += 1
        np.add(data, NUM_SPECIAL_TOKENS, out=stream[end:end + len(data)], dtype=np.uint16)
        end += len(data)
    return stream[:end]  # byte-order marks dropped


def _cut(stream, seq_length):
    """`TokenRows` of consecutive `seq_length`-token pieces of `stream` (the last shorter)."""
    starts = np.arange(0, len(stream), seq_length, dtype=np.int64)
    return TokenRows(stream, starts, np.minimum(seq_length, len(stream) - starts))


def _fractions(valid_fraction, test_fraction, layout, path):
    if layout is not None:
        for name, value in (("valid_fraction", valid_fraction), ("test_fraction", test_fraction)):
            if value is not None:
                raise ValueError(
                    f"`{name}` must be None for a folder with an entry per split; received "
                    f"{name}={value!r} with path={path!r}, whose splits are its entries")
        return None
    fractions = {}
    for name, value in (("valid_fraction", valid_fraction), ("test_fraction", test_fraction)):
        fractions[name] = DEFAULT_FRACTION if value is None else check_number(
            name, value, low=0, high=1, high_open=True)
    if sum(fractions.values()) >= 1:
        raise ValueError(
            f"`valid_fraction` + `test_fraction` must be below 1, leaving sequences for training; "
            f"received valid_fraction={fractions['valid_fraction']!r}, "
            f"test_fraction={fractions['test_fraction']!r}")
    return fractions["valid_fraction"], fractions["test_fraction"]


def _block_split(rows, fractions, what):
    """`{split: TokenRows}`: train, valid, test in contiguous blocks of `rows`."""
    total = len(rows)
    counts = [0 if f == 0 else max(1, round(total * f)) for f in fractions]
    train = total - sum(counts)
    if train < 1:
        raise ValueError(
            f"{what} holds {total} sequences: too few for valid_fraction={fractions[0]!r}, "
            f"test_fraction={fractions[1]!r} and at least one training sequence; give more text, "
            f"a smaller seq_length or smaller fractions")
    bounds = np.cumsum([0, train, *counts])
    return {split: rows.take(slice(bounds[i], bounds[i + 1])) for i, split in enumerate(SPLITS)}


def _hash_split(rows, fractions):
    """`{split: TokenRows}`: each sequence's split chosen by a hash of its index."""
    u = (_splitmix64(np.arange(len(rows), dtype=np.uint64)) >> np.uint64(11)) * 2.0**-53
    valid, test = fractions
    which = np.where(u < test, 2, np.where(u < test + valid, 1, 0))
    return {split: rows.take(which == i) for i, split in enumerate(SPLITS)}


def _splitmix64(x):
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def read_text_splits(path, seq_length, bos=True, valid_fraction=None, test_fraction=None):
    """`{split: TokenRows}` of UTF-8 text, in byte-vocabulary ids (see the module doc).

    Args:
        path: a text file, a folder of `*.txt` files, or a folder with `train`, `valid`
            and `test` entries (each a `.txt` file or a folder of them).
        seq_length: tokens per sequence.
        bos: put `BOS` before each document (file).
        valid_fraction, test_fraction: for one file or folder without split entries,
            the share of sequences in each split (`None`: 0.1); must be `None` for a
            folder with split entries.
    """
    path = check_path("path", path, "a UTF-8 text file or a folder of .txt files")
    check_positive_int("seq_length", seq_length)
    layout = split_layout(path, TEXT_SUFFIX)
    fractions = _fractions(valid_fraction, test_fraction, layout, path)
    if layout is not None:
        return {split: read_text_rows(entry, seq_length, bos) for split, entry in layout.items()}
    rows = read_text_rows(path, seq_length, bos)
    return _block_split(rows, fractions, f"path={path!r} cut at seq_length={seq_length}")


def read_text_rows(path, seq_length, bos=True, argument="path"):
    """`TokenRows` of a text file or folder of `*.txt` files (`text_files`) as one stream:
    each file after a `BOS` if `bos`, cut into `seq_length`-token sequences."""
    seq_length = check_positive_int("seq_length", seq_length)
    if bos is not True and bos is not False:
        raise ValueError(f"`bos` must be True or False; received bos={bos!r}")
    return _cut(_text_stream(text_files(path, argument), bos, argument), seq_length)


def _jsonl_rows(path):
    """`TokenRows` of every line of the JSONL token file `path`, streamed; with the
    lines' `labels` when the first line has them (then every line must)."""
    from generators.sequence_io import read_jsonl

    values, lengths, labels = array.array("q"), array.array("q"), None
    for line in read_jsonl(path):
        if not lengths:
            labels = array.array("q") if "labels" in line else None
        elif (labels is not None) != ("labels" in line):
            first = "holds" if labels is not None else "does not hold"
            raise ValueError(f"{path}, sequence {len(lengths)}: `labels` must be on every line or "
                             f"on none; the first line {first} them and this one does not agree")
        try:
            values.extend(line["tokens"])
        except OverflowError:
            raise ValueError(f"{path}, sequence {len(lengths)}: `tokens` must be ids below 2**63; "
                             f"received {max(line['tokens'])}") from None
        if labels is not None:
            labels.extend(line["labels"])
        lengths.append(len(line["tokens"]))
    values = _int64_array(values)
    largest = int(values.max(initial=0))
    narrow = next(dtype for dtype in (np.uint16, np.int32, np.int64) if largest <= np.iinfo(dtype).max)
    lengths = _int64_array(lengths)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return TokenRows(values.astype(narrow), starts, lengths,
                     None if labels is None else _int64_array(labels))


def _int64_array(values):
    """A writable int64 NumPy copy of an `array.array("q")`."""
    return np.frombuffer(values, np.int64).copy() if values else np.zeros(0, np.int64)


def read_jsonl_splits(path, valid_fraction=None, test_fraction=None):
    """`{split: TokenRows}` of a JSONL token file or a folder with `{split}.jsonl` files.

    Lines are read with `generators.sequence_io.read_jsonl` (a malformed line raises
    `ValueError` naming the file and the line). One file is split by `valid_fraction`
    and `test_fraction` (`None`: 0.1) on a hash of the line's index among the non-blank
    lines; they must be `None` for a folder.
    """
    accepted = "a JSONL token file or a folder with train.jsonl, valid.jsonl and test.jsonl"
    path = check_path("path", path, accepted)
    layout = split_layout(path, JSONL_SUFFIX)
    if layout is None and not os.path.isfile(path):
        raise ValueError(f"`path` must be {accepted}; received path={path!r}, a folder without "
                         f"them")
    fractions = _fractions(valid_fraction, test_fraction, layout, path)
    if layout is not None:
        return {split: _jsonl_rows(entry) for split, entry in layout.items()}
    return _hash_split(_jsonl_rows(path), fractions)
