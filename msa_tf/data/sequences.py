"""Token-sequence sources for language modelling (task `language_modeling`).

A batch is `(inputs, targets)` with `inputs = {"tokens": int32 (batch, length),
"tokens_mask": bool (batch, length)}` (`True` = a real token, padding is `PAD` = 0 at
the end) and `targets = {"next_token": int32 (batch, length)}`: the token to predict at
each position, `IGNORE_INDEX` where no loss applies. Lengths are one int: `dataset(...,
lengths=n)` pads (PAD, `False`, `IGNORE_INDEX`) or cuts every batch to `n` tokens.

Registered sources (all yield the structure above; generated and shards data keep their
family's labels, and so do JSONL lines that carry `labels`; the labels of other data read
from files are the next token, `IGNORE_INDEX` at padding and at the last real token):

- `sequences(family="pattern", **options)`: a `generators.sequences` family, made on
  the fly.
- `sequence_shards(path)`: a folder of sequence TFRecord shards written by
  `write_shards` (`msa-tf generate sequences`); the generator config comes from its
  `metadata.json`.
- `jsonl(path, vocab_size=None, seq_length=None, valid_fraction=None,
  test_fraction=None)`: a JSONL token file, or a folder with `{split}.jsonl` (as
  `generators.sequence_io.write_jsonl` writes it); see `msa_tf.data.text`.
- `text(path, seq_length=256, bos=True, valid_fraction=None, test_fraction=None)`:
  UTF-8 text as bytes (`msa_tf.data.text`: vocabulary of 260, documents, splits).

`jsonl` and `text` hold their token ids in memory (one flat array, read once) and
gather each batch with one vectorised `tf.gather`; `shuffle` shuffles the sequences
each epoch, the same orders for the same `seed`. The generated and shards sources
ignore `shuffle`: their sequences are independent draws.

`open_sequence_data(path)` finds which of these a path holds, for
`generators.sequence_analysis` (`msa-tf analyze sequences PATH`). Their training batches
take a curriculum (`curriculum(stages)`, the config's `data.curriculum`: see
`msa_tf.data.curriculum`).

Example:
>>> source = get_source("sequences", family="pattern", vocab_size=24, seq_length=12,
...                     num_samples=8)
>>> inputs, targets = next(iter(source.dataset("train", batch_size=4, lengths=10)))
>>> {k: tuple(v.shape) for k, v in sorted(inputs.items())}, targets["next_token"].dtype.name
({'tokens': (4, 10), 'tokens_mask': (4, 10)}, 'int32')
>>> source.model_arguments(10), source.default_task
({'vocab_size': 24, 'max_length': 10}, 'language_modeling')
"""

import abc
import functools
import logging
import os

import numpy as np
import tensorflow as tf

from generators import sequences
from generators.shards import read_metadata, read_shards
from generators.validation import check_path
from msa_tf.data import text
from msa_tf.data.curriculum import Curriculum
from msa_tf.data.sources import DataSource, get_source, register_source
from msa_tf.validation import check_positive_int, is_integer

__all__ = ["GeneratedSequencesSource", "JSONLSource", "SequenceShardsSource", "SequenceSource",
           "TextSource", "fit_sequence_length", "get_source", "rows_dataset"]

logger = logging.getLogger(__name__)


def fit_sequence_length(inputs, targets, length):
    """A batch padded (PAD, `False`, `IGNORE_INDEX`) or cut to `length` tokens.

    The labels of the positions kept stay as they were: after a cut, the last position
    still predicts the token that followed it.
    """
    steps = inputs["tokens"].shape[1]
    if length == steps:
        return inputs, targets
    if length < steps:
        cut = slice(None), slice(0, length)
        return ({key: value[cut] for key, value in inputs.items()},
                {key: value[cut] for key, value in targets.items()})
    padding = [[0, 0], [0, length - steps]]
    fill = {"tokens": sequences.PAD, "tokens_mask": False}
    padded = {key: tf.pad(value, padding, constant_values=fill[key]) for key, value in inputs.items()}
    labels = {key: tf.pad(value, padding, constant_values=sequences.IGNORE_INDEX)
              for key, value in targets.items()}
    return padded, labels


class SequenceSource(DataSource):
    """Base of the token-sequence sources.

    Attributes:
        vocab_size: the number of token ids (ids are in `[0, vocab_size)`).
        seq_length: the length of the sequences as the source stores them.
    """

    default_task = "language_modeling"

    @classmethod
    def source_for_path(cls, path):
        """`sequence_shards`, `jsonl` or `text`, by what `path` holds (as `open_sequence_data`)."""
        kind, _ = _sequence_kind(check_path("path", path, SEQUENCE_DATA))
        return {"jsonl_folder": "jsonl"}.get(kind, kind)

    def fixed_lengths(self, lengths=None):
        """`lengths` (an int) checked, or `seq_length` for `None`."""
        return self.seq_length if lengths is None else check_positive_int("lengths", lengths)

    def input_spec(self, lengths=None):
        length = self.fixed_lengths(lengths)
        return {"tokens": ((length,), "int32"), "tokens_mask": ((length,), "bool")}

    def model_arguments(self, lengths=None):
        """`vocab_size` and `max_length` (the fixed length)."""
        return {"vocab_size": self.vocab_size, "max_length": self.fixed_lengths(lengths)}

    def num_classes(self):
        return None

    def curriculum(self, stages):
        """The `msa_tf.data.curriculum.Curriculum` of `stages`."""
        return Curriculum(stages)

    def _batches(self, split, batch_size, lengths, shuffle, seed, drop_remainder):
        batches = self._sequence_batches(split, batch_size, shuffle, seed, drop_remainder)
        if lengths != self.seq_length:
            batches = batches.map(lambda inputs, targets: fit_sequence_length(inputs, targets, lengths),
                                  num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return batches

    @abc.abstractmethod
    def _sequence_batches(self, split, batch_size, shuffle, seed, drop_remainder):
        """`(inputs, targets)` batches of `split` at `seq_length` tokens."""


@register_source("sequences")
class GeneratedSequencesSource(SequenceSource):
    """Synthetic token sequences of a `generators.sequences` family, made on the fly.

    Takes the `family` (`generators.sequences.family_names()`) and that family's
    options (`vocab_size`, `seq_length`, `num_samples`, `seed`, ...); an option that
    the family does not take, or a bad value, raises `ValueError` naming it. Its
    `origin` is the family. `shuffle` is accepted and ignored: sequences are
    independent draws, so their order is random already.
    """

    def __init__(self, family="pattern", **options):
        self.generator = sequences.make_generator(family, **options)
        self.vocab_size = self.generator.vocab_size
        self.seq_length = self.generator.seq_length
        self.origin = family

    @classmethod
    def arguments(cls):
        """`family` and every option of any family (each family checks its own)."""
        options = {name: None for family in sequences.FAMILIES.values() for name in family.options}
        return ("family", *sequences.SequenceGenerator._common_arguments(), *options)

    def _sequence_batches(self, split, batch_size, shuffle, seed, drop_remainder):
        return self.generator.dataset(split, batch_size, drop_remainder=drop_remainder)


@register_source("sequence_shards")
class SequenceShardsSource(SequenceSource):
    """The TFRecord shards of a folder of token sequences written by `write_shards`.

    Yields the tensors of the `sequences` source with the generator config stored in
    the folder's `metadata.json` (`msa-tf generate sequences --format tfrecord`). Its
    `origin` is the folder's path. `shuffle` is ignored, as for `sequences`.
    """

    def __init__(self, path):
        metadata = read_metadata(path, "path")
        if metadata["kind"] != "sequences" or metadata["format"] != "tfrecord":
            held = f"{metadata['kind']} data in format {metadata['format']!r}"
            hint = {"multimodal": " (source 'shards' reads it)",
                    "sequences": " (source 'jsonl' reads it)"}[metadata["kind"]]
            raise ValueError(f"`path` must be a folder of token-sequence TFRecord shards; received "
                             f"path={os.fspath(path)!r}, which holds {held}{hint}")
        self.generator = metadata["generator"]
        self.vocab_size = self.generator.vocab_size
        self.seq_length = self.generator.seq_length
        self.path = self.origin = os.fspath(path)

    def _sequence_batches(self, split, batch_size, shuffle, seed, drop_remainder):
        return read_shards(self.path, split, batch_size, drop_remainder=drop_remainder)


def rows_dataset(rows, batch_size, seq_length, shuffle=False, seed=0, drop_remainder=False,
                 values=None):
    """The `(inputs, targets)` batches of the sequences of a `msa_tf.data.text.TokenRows`.

    Each sequence is cut to `seq_length` tokens, or padded (`PAD`, `False`). Its labels
    are `rows.labels` where it has them, else the next tokens (`IGNORE_INDEX` at the
    last real token); `IGNORE_INDEX` at padding; after a cut, the last position keeps
    its label (the token that followed it). The pipeline shuffles sequence indices (a
    reshuffle each epoch, the same orders for the same `seed`), batches them and
    gathers each batch from the flat ids with one `tf.gather`. `values` is
    `rows.values` as a tensor already (to share one copy among splits).
    """
    if not is_integer(seed):
        raise ValueError(f"`seed` must be an integer; received seed={seed!r}")
    if values is None:
        values = _values_tensor(rows.values)
    labels = None if rows.labels is None else _values_tensor(rows.labels)
    starts = tf.convert_to_tensor(rows.starts, tf.int64)
    lengths = tf.convert_to_tensor(rows.lengths, tf.int64)
    positions = tf.range(seq_length + 1, dtype=tf.int64)[None, :]

    def gather(indices):
        start = tf.gather(starts, indices)[:, None]
        inside = positions < tf.gather(lengths, indices)[:, None]
        where = tf.where(inside, start + positions, 0)
        ids = tf.where(inside, tf.cast(tf.gather(values, where), tf.int32), sequences.PAD)
        inputs = {"tokens": ids[:, :-1], "tokens_mask": inside[:, :-1]}
        if labels is None:
            return inputs, {"next_token": tf.where(inside[:, 1:], ids[:, 1:], sequences.IGNORE_INDEX)}
        given = tf.cast(tf.gather(labels, where[:, :-1]), tf.int32)
        return inputs, {"next_token": tf.where(inside[:, :-1], given, sequences.IGNORE_INDEX)}

    indices = tf.data.Dataset.range(len(rows))
    if shuffle:
        indices = indices.shuffle(max(len(rows), 1), seed=int(seed), reshuffle_each_iteration=True)
    batches = indices.batch(batch_size, drop_remainder=bool(drop_remainder))
    batches = batches.map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return batches.prefetch(tf.data.AUTOTUNE)


def _values_tensor(values):
    """Flat ids as a tensor (one `PAD` when there are none, so that gathers stay valid)."""
    return tf.convert_to_tensor(values if values.size else np.zeros(1, values.dtype))


class _RowsSource(SequenceSource):
    """Sequences held in memory: `self.splits` is `{split: TokenRows}`."""

    def _sequence_batches(self, split, batch_size, shuffle, seed, drop_remainder):
        rows = self.splits[split]
        if not hasattr(self, "_tensors"):
            self._tensors = {}  # id of a values array: its tensor, shared by the splits
        key = id(rows.values)
        if key not in self._tensors:
            self._tensors[key] = _values_tensor(rows.values)
        return rows_dataset(rows, batch_size, self.seq_length, shuffle, seed, drop_remainder,
                            values=self._tensors[key])


@register_source("text")
class TextSource(_RowsSource):
    """UTF-8 text as byte tokens (`msa_tf.data.text`): a vocabulary of 260 ids.

    `path` is a text file, a folder of `*.txt` files, or a folder with `train`,
    `valid` and `test` entries (a `.txt` file or a folder of them each). Each file is a
    document, after a `BOS` when `bos`; a split's documents are concatenated and cut
    into sequences of `seq_length` tokens (only the last one is shorter). Without
    split entries, the sequences are split in contiguous blocks by `valid_fraction`
    and `test_fraction` (`None`: 0.1 each). The files are read when the source is
    made (a file that is not UTF-8 raises `ValueError` naming it and the byte
    offset). Its `origin` is the path; `shuffle` shuffles the sequences each epoch.

    Example:
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "a.txt")
    >>> with open(path, "w") as handle:
    ...     _ = handle.write("abcd" * 10)
    >>> source = get_source("text", path=path, seq_length=8, valid_fraction=0.2, test_fraction=0.2)
    >>> inputs, targets = next(iter(source.dataset("train", batch_size=1)))
    >>> inputs["tokens"].numpy()[0].tolist(), text.decode(inputs["tokens"][0])
    ([1, 101, 102, 103, 104, 101, 102, 103], 'abcdabc')
    >>> targets["next_token"].numpy()[0].tolist()  # the next token, none after the last
    [101, 102, 103, 104, 101, 102, 103, -100]
    """

    def __init__(self, path, seq_length=256, bos=True, valid_fraction=None, test_fraction=None):
        self.seq_length = check_positive_int("seq_length", seq_length)
        self.splits = text.read_text_splits(path, self.seq_length, bos, valid_fraction, test_fraction)
        self.vocab_size = text.VOCAB_SIZE
        self.path = self.origin = os.fspath(path)


@register_source("jsonl")
class JSONLSource(_RowsSource):
    """Token sequences of a JSONL file, one `{"tokens": [ids], ...}` a line.

    `path` is a JSONL file, or a folder with `train.jsonl`, `valid.jsonl` and
    `test.jsonl` (as `write_jsonl` writes it, with `metadata.json`). One file is split
    by `valid_fraction` and `test_fraction` (`None`: 0.1 each) on a hash of the line
    index (`msa_tf.data.text.read_jsonl_splits`). `vocab_size` defaults to the
    folder's generator config, else the largest id + 1; `seq_length` to the config,
    else the longest sequence. A longer sequence is cut to `seq_length` (logged); an id
    outside [0, vocab_size) raises `ValueError` naming the file. The files are read
    when the source is made. Its `origin` is the path; `shuffle` shuffles the
    sequences each epoch.
    """

    def __init__(self, path, vocab_size=None, seq_length=None, valid_fraction=None,
                 test_fraction=None):
        path = check_path("path", path, "a JSONL token file or a folder of {split}.jsonl files")
        if vocab_size is not None:
            vocab_size = check_positive_int("vocab_size", vocab_size)
        if seq_length is not None:
            seq_length = check_positive_int("seq_length", seq_length)
        self.splits = text.read_jsonl_splits(path, valid_fraction, test_fraction)
        if not any(len(rows) for rows in self.splits.values()):
            raise ValueError(f"`path` must hold at least one token sequence; received path={path!r}, "
                             f"which holds none")
        config = {}
        if os.path.isdir(path) and os.path.isfile(os.path.join(path, "metadata.json")):
            config = read_metadata(path, "path")["config"]
        self.vocab_size = vocab_size or config.get("vocab_size") or max(
            rows.max_id() for rows in self.splits.values()) + 1
        longest = max(rows.max_length() for rows in self.splits.values())
        self.seq_length = seq_length or config.get("seq_length") or longest
        self.path = self.origin = path
        self._check_ids()
        for split, rows in self.splits.items():
            cut = int(np.maximum(rows.lengths - self.seq_length, 0).sum())
            if cut:
                logger.info("%s [%s]: seq_length=%d cut %d tokens", path, split, self.seq_length, cut)

    def _check_ids(self):
        """`ValueError` naming the file, sequence and id of the first token id or label
        >= `vocab_size`."""
        groups = {}  # the splits of one file share their values
        for split, rows in self.splits.items():
            groups.setdefault(id(rows.values), []).append((split, rows))
        for group in groups.values():
            rows = group[0][1]
            for what, values in (("token id", rows.values), ("label", rows.labels)):
                outside = np.zeros(0, bool) if values is None else values >= self.vocab_size
                if not outside.any():
                    continue
                position = int(np.argmax(outside))
                starts = np.sort(np.concatenate([rows.starts for _, rows in group]))
                sequence = int(np.searchsorted(starts, position, side="right")) - 1
                file = self.path if len(group) > 1 else os.path.join(self.path, f"{group[0][0]}.jsonl")
                raise ValueError(
                    f"`vocab_size` must exceed every {what}; received vocab_size={self.vocab_size}, "
                    f"but {file} holds the {what} {values[position]} in sequence {sequence} "
                    f"(counting its non-blank lines from 0)")


# Reading token sequences for `analyze` (`msa-tf analyze sequences PATH`).

SEQUENCE_DATA = ("a JSONL token file (.jsonl), a folder of {split}.jsonl files, a folder of sequence "
                 "TFRecord shards, or UTF-8 text (a file or a folder of .txt files)")
# Sequences per batch read for analysis.
ANALYSIS_BATCH = 1024


class SequenceData:
    """Token sequences found at a path, for `generators.sequence_analysis`.

    Attributes:
        kind: `"jsonl"` (a file), `"jsonl_folder"`, `"sequence_shards"` or `"text"`.
        path: the path.
        split: the split read (`None` for a file or text folder without splits: all of it).
        vocab_size: the declared vocabulary (the folder's generator config, 260 for
            text), `None` when nothing declares one.
    """

    def __init__(self, kind, path, split, vocab_size, read):
        self.kind, self.path, self.split, self.vocab_size = kind, path, split, vocab_size
        self._read = read

    def batches(self):
        """A fresh iterable of batches (dicts with `tokens`, `tokens_mask`, and the metadata
        `pattern` and `predictable` where the data carry them)."""
        return self._read()


def open_sequence_data(path, split=None, seq_length=256):
    """The `SequenceData` of `path`, by its kind (see `SEQUENCE_DATA`).

    A `.jsonl` file is JSONL, another file UTF-8 text (cut into `seq_length`-byte
    sequences, a `BOS` first in each file). A folder with `metadata.json` is JSONL or
    shards as that says; a folder with `{split}.jsonl` files is JSONL; another folder is
    text (with `train`/`valid`/`test` entries or not, as `msa_tf.data.text`). `split`
    (default `"train"`) selects the split of a folder with splits, and must be `None`
    otherwise: a single file is read whole.

    Raises `ValueError` naming `path` or `split` for a path of no such kind.
    """
    from generators.shards import read_shard_examples

    path = check_path("path", path, SEQUENCE_DATA)
    if split is not None and split not in text.SPLITS:
        raise ValueError(f"`split` must be one of {', '.join(map(repr, text.SPLITS))}; received "
                         f"split={split!r}")
    kind, metadata = _sequence_kind(path)
    layout = text.split_layout(path, text.TEXT_SUFFIX) if kind == "text" else None
    if kind in ("sequence_shards", "jsonl_folder") or layout:
        split = split or "train"
    elif split is not None:
        raise ValueError(f"`split` must be None for {path!r}, which has no splits (a file or a "
                         f"folder without train/valid/test entries is read whole); received "
                         f"split={split!r}")
    vocab_size = None if metadata is None else metadata["generator"].vocab_size
    if kind == "sequence_shards":
        read = functools.partial(read_shard_examples, path, split, ANALYSIS_BATCH)
    elif kind == "jsonl_folder":
        read = functools.partial(_jsonl_batches, os.path.join(path, f"{split}{text.JSONL_SUFFIX}"))
    elif kind == "jsonl":
        read = functools.partial(_jsonl_batches, path)
    else:
        rows = text.read_text_rows(layout[split] if layout else path, seq_length)
        read = functools.partial(rows.batches, ANALYSIS_BATCH)
        vocab_size = text.VOCAB_SIZE
    return SequenceData(kind, path, split, vocab_size, read)


def _sequence_kind(path):
    """`(kind, metadata or None)` of an existing `path`: see `open_sequence_data`."""
    if os.path.isdir(path) and os.path.isfile(os.path.join(path, "metadata.json")):
        metadata = read_metadata(path, "path")
        if metadata["kind"] != "sequences":
            raise ValueError(f"`path` must be {SEQUENCE_DATA}; received path={path!r}, which holds "
                             f"{metadata['kind']} data")
        return ("sequence_shards" if metadata["format"] == "tfrecord" else "jsonl_folder"), metadata
    if os.path.isdir(path):
        return ("jsonl_folder" if text.split_layout(path, text.JSONL_SUFFIX) else "text"), None
    return ("jsonl" if path.lower().endswith(text.JSONL_SUFFIX) else "text"), None


def _jsonl_batches(path):
    """Padded NumPy batches of the lines of a JSONL token file, with their metadata."""
    from generators.sequence_io import read_jsonl

    chunk = []
    for line in read_jsonl(path):
        chunk.append(line)
        if len(chunk) == ANALYSIS_BATCH:
            yield _padded(chunk)
            chunk = []
    if chunk:
        yield _padded(chunk)


def _padded(lines):
    lengths = np.array([len(line["tokens"]) for line in lines])
    mask = np.arange(lengths.max()) < lengths[:, None]
    batch = {"tokens_mask": mask}
    for key, fill, dtype in (("tokens", sequences.PAD, np.int64), ("pattern", -1, np.int64),
                             ("predictable", False, bool)):
        if all(key in line for line in lines):
            values = np.full(mask.shape, fill, dtype)
            values[mask] = np.concatenate([np.asarray(line[key], dtype) for line in lines])
            batch[key] = values
    return batch
