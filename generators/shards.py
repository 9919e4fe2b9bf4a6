"""Writing generated examples to TFRecord shards, and reading them back.

Serves every generator kind in `KINDS`: `MultimodalGenerator` (`"multimodal"`) and
any `SequenceGenerator` (`"sequences"`). A directory holds `metadata.json` (the
generator's kind and config, the format and the counts) and, per split,
`{split}-{k:05d}-of-{K:05d}.tfrecord`. A shard is written under `*.tmp` and renamed
when complete, so a re-run skips complete shards and redoes partial ones.

Records, one example each:

- multimodal: its tensors, each `tf.io.serialize_tensor`-ed, in `FEATURES` order, as
  a serialized string tensor.
- sequences: fixed-size raw bytes, the fields of `SequenceGenerator.batches` one
  after the other, little-endian: `tokens` and `labels` (int16 when `vocab_size` is
  at most 2**15, else int32), `pattern` (int8), `tokens_mask` and `predictable`
  (uint8, 0 or 1), each `seq_length` long, then `condition` (int32). The layout is
  written to `metadata.json` (`"record"`); a batch of records parses with a few
  vectorised `tf.io.decode_raw`.

`read_shards` yields exactly the elements of the generator's `.dataset` with the same
arguments; `read_shard_examples` those of its `.batches` (for sequences the flat dicts
with `pattern`, `predictable` and `condition`).

Example:
>>> import tempfile
>>> gen = MultimodalGenerator(num_samples=6, text_dim=4, audio_dim=3, vision_dim=2,
...                           min_length=2, max_length=4)
>>> out = tempfile.mkdtemp()
>>> write_shards(gen, out, splits=["test"], num_shards=2, progress=False)["written"]
2
>>> inputs, _ = next(iter(read_shards(out, "test", batch_size=6)))
>>> inputs["audio"].shape[0]
6
>>> from generators.sequences import make_generator
>>> seqs = make_generator("mqar", vocab_size=24, seq_length=16, num_pairs=2, num_samples=5)
>>> write_shards(seqs, tempfile.mkdtemp(), splits=["test"], progress=False)["written"]
1
"""

import json
import os

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from generators.multimodal import MODALITIES, SPLITS, MultimodalConfig, MultimodalGenerator
from generators.sequences import SequenceGenerator, make_generator
from generators.validation import check_bool, check_choice, check_int, check_path, invalid

# Autotuned buffers may otherwise grow with the run; writing needs only a few blocks.
_BOUNDED_MEMORY = tf.data.Options()
_BOUNDED_MEMORY.autotune.ram_budget = 64 * 2**20

FEATURES = [key for m in MODALITIES for key in (m, f"{m}_mask")] + ["regression", "classification"]
METADATA = "metadata.json"
FOLDER = "a folder written by write_shards (msa-tf generate multimodal or sequences)"
# What a folder written before `kind` and `format` were recorded holds.
_DEFAULTS = {"kind": "multimodal", "format": "tfrecord"}
_FORMAT_NAMES = {"tfrecord": "shards", "jsonl": "JSONL files"}


def shard_path(directory, split, index, num_shards):
    return os.path.join(directory, f"{split}-{index:05d}-of-{num_shards:05d}.tfrecord")


# The generator kinds: how to describe, remake, store and read back each.


class _MultimodalKind:
    name = "multimodal"
    generator_class = MultimodalGenerator

    def config(self, generator):
        return generator.config.to_dict()

    def config_object(self, config):
        return MultimodalConfig(**config)

    def remake(self, config):
        return MultimodalGenerator(self.config_object(config))

    def num_samples(self, generator):
        return generator.config.num_samples

    def record_layout(self, generator):
        return None

    def records(self, generator, split, start, stop, block_size):
        blocks = (
            generator.batches(split, block_size, start, stop)
            .unbatch()
            .map(_serialize, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .batch(block_size)
            .prefetch(tf.data.AUTOTUNE)
            .with_options(_BOUNDED_MEMORY)
        )
        for block in blocks:
            yield block.numpy()

    def read(self, generator, files, batch_size, drop_remainder, layout):
        signature = _signature(generator)

        def parse(record):
            parts = tf.io.parse_tensor(record, tf.string)
            example = {
                key: tf.ensure_shape(tf.io.parse_tensor(parts[i], signature[key][0]), signature[key][1])
                for i, key in enumerate(FEATURES)
            }
            inputs = {k: example[k] for k in FEATURES[:-2]}
            return inputs, {"regression": example["regression"], "classification": example["classification"]}

        examples = tf.data.TFRecordDataset(files).map(parse, num_parallel_calls=tf.data.AUTOTUNE)
        return examples.batch(batch_size, drop_remainder=drop_remainder)

    def finish(self, generator, batches, pad_to):
        return generator.fit_lengths(batches, pad_to)


class _SequenceKind:
    name = "sequences"
    generator_class = SequenceGenerator

    def config(self, generator):
        return generator.to_dict()

    def config_object(self, config):
        return dict(config)

    def remake(self, config):
        return make_generator(**config)

    def num_samples(self, generator):
        return generator.num_samples

    def record_layout(self, generator):
        """`[[field, dtype name, width], ...]`: the fields of a record, in order."""
        token = "int16" if generator.vocab_size <= 2**15 else "int32"
        length = generator.seq_length
        return [["tokens", token, length], ["labels", token, length], ["pattern", "int8", length],
                ["tokens_mask", "uint8", length], ["predictable", "uint8", length],
                ["condition", "int32", 1]]

    def records(self, generator, split, start, stop, block_size):
        layout = [(name, np.dtype(dtype).newbyteorder("<"), width)
                  for name, dtype, width in self.record_layout(generator)]
        batches = generator.batches(split, block_size, start, stop).prefetch(1).with_options(_BOUNDED_MEMORY)
        for batch in batches:
            rows = len(batch["condition"])
            block = np.concatenate([
                np.ascontiguousarray(batch[name].numpy().astype(dtype).reshape(rows, width)).view(np.uint8)
                for name, dtype, width in layout
            ], axis=1)
            yield [row.tobytes() for row in block]

    def read(self, generator, files, batch_size, drop_remainder, layout):
        size = sum(tf.as_dtype(dtype).size * width for _, dtype, width in layout)

        def parse(records):
            rows = records.shape[0] if records.shape[0] is not None else -1
            checks = [tf.debugging.assert_equal(
                tf.strings.length(records), size,
                message=f"every record in {os.path.dirname(files[0])!r} must be {size} bytes long, as "
                        f"its {METADATA} says")]
            example, offset = {}, 0
            with tf.control_dependencies(checks):
                for name, dtype, width in layout:
                    dtype = tf.as_dtype(dtype)
                    raw = tf.io.decode_raw(tf.strings.substr(records, offset, dtype.size * width), dtype,
                                           little_endian=True)
                    value = tf.reshape(raw, [rows] if name == "condition" else [rows, width])
                    example[name] = tf.cast(value, tf.bool if dtype == tf.uint8 else tf.int32)
                    offset += dtype.size * width
            return example

        batches = tf.data.TFRecordDataset(files).batch(batch_size, drop_remainder=drop_remainder)
        return batches.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    def finish(self, generator, batches, pad_to):
        if pad_to is not None and pad_to != generator.seq_length:
            raise invalid("pad_to", pad_to, f"None or seq_length={generator.seq_length} for sequence "
                                            "shards (they are fixed length)")
        return batches.map(
            lambda b: ({"tokens": b["tokens"], "tokens_mask": b["tokens_mask"]}, {"next_token": b["labels"]}),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


KINDS = {kind.name: kind for kind in (_MultimodalKind(), _SequenceKind())}


def kind_of(generator):
    """The `KINDS` entry of `generator`, or a `ValueError` naming it."""
    for kind in KINDS.values():
        if isinstance(generator, kind.generator_class):
            return kind
    raise invalid("generator", generator, "a MultimodalGenerator or a SequenceGenerator")


def _signature(generator):
    """`{feature: (dtype, shape)}` of one full-length multimodal example."""
    config, lengths = generator.config, generator.layout.lengths
    signature = {"regression": (tf.float32, [1]), "classification": (tf.int32, [])}
    for m in MODALITIES:
        length, dim = lengths[m][1], config.dims()[m]
        tokens = m == "text" and config.text == "tokens"
        signature[m] = (tf.int32, [length]) if tokens else (tf.float32, [length, dim])
        signature[f"{m}_mask"] = (tf.bool, [length])
    return signature


def _serialize(inputs, targets):
    tensors = dict(inputs, **targets)
    return tf.io.serialize_tensor(tf.stack([tf.io.serialize_tensor(tensors[k]) for k in FEATURES]))


# metadata.json: shared by every folder of generated data (shards here, JSONL files
# in `generators.sequence_io`).


def folder_metadata(generator, file_format, **extra):
    """The `metadata.json` content of a folder of `generator`'s data in `file_format`.

    `{"kind": "multimodal" or "sequences", "format": file_format, "config": the
    generator's JSON-able config, **extra}`.
    """
    kind = kind_of(generator)
    return {"kind": kind.name, "format": file_format, "config": kind.config(generator), **extra}


def _differences(existing, metadata):
    keys = sorted(key for key in set(existing) | set(metadata)
                  if key != "config" and existing.get(key) != metadata.get(key))
    if {"kind", "format"} & set(keys):
        return [k for k in keys if k in ("kind", "format")]
    old, new = existing.get("config", {}), metadata["config"]
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k)) or keys


def write_metadata(directory, metadata):
    """Writes `metadata.json` in a new `directory`, or checks that the one there is `metadata`.

    A folder holding data of another generator config, kind or format raises
    `ValueError` naming what differs.
    """
    path = os.path.join(directory, METADATA)
    if os.path.exists(path):
        existing = _load_metadata(directory, "directory")
        if existing != metadata:
            what = _FORMAT_NAMES.get(existing.get("format"), "data")
            raise ValueError(
                f"`directory` must be a new folder or one written with the same settings; received "
                f"directory={directory!r}, which holds {what} of another generator config "
                f"(differs in {_differences(existing, metadata)})"
            )
        return
    os.makedirs(directory, exist_ok=True)
    with open(path + ".tmp", "w") as handle:
        json.dump(metadata, handle, indent=2)
    os.replace(path + ".tmp", path)


def _load_metadata(directory, argument):
    path = os.path.join(directory, METADATA)
    try:
        with open(path) as handle:
            metadata = json.load(handle)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"`{argument}` must be {FOLDER}; received {argument}={directory!r}, whose "
                         f"{METADATA} is not valid JSON ({error})") from None
    if not isinstance(metadata, dict) or not isinstance(metadata.get("config"), dict):
        raise ValueError(f"`{argument}` must be {FOLDER}; received {argument}={directory!r}, whose "
                         f"{METADATA} has no \"config\" object")
    for key, default in _DEFAULTS.items():
        metadata.setdefault(key, default)
    if metadata["kind"] not in KINDS:
        raise ValueError(f"`{argument}` must be {FOLDER}; received {argument}={directory!r}, whose "
                         f"{METADATA} names the generator kind {metadata['kind']!r} (accepted: "
                         f"{', '.join(map(repr, KINDS))})")
    return metadata


def read_metadata(directory, argument="directory"):
    """The metadata of a folder written by `write_shards` or `write_jsonl`.

    Returns `{"kind": "multimodal" or "sequences", "format": "tfrecord" or "jsonl",
    "config", "generator", ...}`: `config` is a `MultimodalConfig` for multimodal data
    and the `SequenceGenerator.to_dict()` dict for sequences, `generator` the generator
    remade from it; shards folders add `num_shards` (and, for sequences, `record`, the
    record layout). A `directory` that is not such a folder raises `ValueError` naming
    `argument`.
    """
    path = check_path(argument, directory, FOLDER, must_be="folder")
    if not os.path.isfile(os.path.join(path, METADATA)):
        raise ValueError(f"`{argument}` must be {FOLDER}; received {argument}={path!r}, "
                         f"which has no {METADATA}")
    metadata = _load_metadata(path, argument)
    kind = KINDS[metadata["kind"]]
    return dict(metadata, config=kind.config_object(metadata["config"]),
                generator=kind.remake(metadata["config"]))


def write_shards(generator, directory, splits=("train", "valid", "test"), num_shards=1,
                 block_size=256, progress=True):
    """Writes the generator's `num_samples` examples per split into `num_shards` shards.

    `generator` is a `MultimodalGenerator` or a `SequenceGenerator`. Returns
    `{"written": shards written now, "skipped": complete shards found}`. Memory stays
    flat whatever the number of examples: examples stream from the generator to the
    file in blocks of `block_size`.
    """
    kind = kind_of(generator)
    directory = check_path("directory", directory, "a folder for the shards")
    total = kind.num_samples(generator)
    if total is None:
        raise invalid("num_samples", None, "a number to write shards")
    check_int("num_shards", num_shards, high=total, accepted=f"an integer in [1, num_samples={total}]")
    check_int("block_size", block_size)
    for split in splits:
        check_choice("split", split, tuple(SPLITS))
    extra = {"num_shards": num_shards}
    layout = kind.record_layout(generator)
    if layout is not None:
        extra["record"] = layout
    write_metadata(directory, folder_metadata(generator, "tfrecord", **extra))
    written = skipped = 0
    for split in splits:
        with tqdm(total=total, desc=split, unit="ex", disable=not progress) as bar:
            for index in range(num_shards):
                start, stop = index * total // num_shards, (index + 1) * total // num_shards
                path = shard_path(directory, split, index, num_shards)
                if os.path.exists(path):
                    skipped += 1
                    bar.update(stop - start)
                    continue
                with tf.io.TFRecordWriter(path + ".tmp") as writer:
                    for block in kind.records(generator, split, start, stop, block_size):
                        for record in block:
                            writer.write(record)
                        bar.update(len(block))
                os.replace(path + ".tmp", path)
                written += 1
    return {"written": written, "skipped": skipped}


def _open_shards(directory, split, batch_size, drop_remainder):
    """`(kind, generator, batches)`: the `.batches` elements of `split` stored in `directory`."""
    metadata = read_metadata(directory)
    if metadata["format"] != "tfrecord":
        raise ValueError(f"`directory` must be {FOLDER}; received directory={os.fspath(directory)!r}, "
                         f"which holds {_FORMAT_NAMES.get(metadata['format'], metadata['format'])} "
                         f"(format {metadata['format']!r})")
    kind, generator = KINDS[metadata["kind"]], metadata["generator"]
    num_shards = metadata["num_shards"]
    check_choice("split", split, tuple(SPLITS))
    check_int("batch_size", batch_size, accepted="a positive integer")
    check_bool("drop_remainder", drop_remainder)
    layout = kind.record_layout(generator)
    if metadata.get("record") != layout:
        raise ValueError(f"`directory` must hold records laid out as {layout}; received "
                         f"directory={os.fspath(directory)!r}, whose {METADATA} says "
                         f"{metadata.get('record')}")
    files = [shard_path(directory, split, i, num_shards) for i in range(num_shards)]
    missing = [os.path.basename(f) for f in files if not os.path.exists(f)]
    if missing:
        raise ValueError(f"`directory` must hold every shard of split {split!r}; received "
                         f"directory={os.fspath(directory)!r}, which lacks {missing}")
    return kind, generator, kind.read(generator, files, batch_size, drop_remainder, layout)


def read_shards(directory, split, batch_size, pad_to=None, drop_remainder=False):
    """The batches of `split` stored in `directory`, as the generator's `.dataset` gives them.

    Takes the arguments of that `.dataset` and yields identical tensors:
    `(inputs, targets)` of `MultimodalGenerator.dataset` (`pad_to` as there), or
    `({"tokens", "tokens_mask"}, {"next_token"})` of `SequenceGenerator.dataset`
    (`pad_to` must be `None` or `seq_length`).
    """
    kind, generator, batches = _open_shards(directory, split, batch_size, drop_remainder)
    return kind.finish(generator, batches, pad_to).prefetch(tf.data.AUTOTUNE)


def read_shard_examples(directory, split, batch_size, drop_remainder=False):
    """The batches of `split` stored in `directory`, as the generator's `.batches` gives them.

    For sequences: dicts with `tokens`, `tokens_mask`, `labels`, `pattern`,
    `predictable` and `condition`; for multimodal data: full-length `(inputs, targets)`.
    The generator and its config come from `read_metadata(directory)`.
    """
    _, _, batches = _open_shards(directory, split, batch_size, drop_remainder)
    return batches.prefetch(tf.data.AUTOTUNE)
