"""Writing generated examples to TFRecord shards, and reading them back.

A directory holds `metadata.json` (the generator config and the counts) and, per split,
`{split}-{k:05d}-of-{K:05d}.tfrecord`. A shard is written under `*.tmp` and renamed
when complete, so a re-run skips complete shards and redoes partial ones. A record is
one example: its tensors, each `tf.io.serialize_tensor`-ed, in `FEATURES` order, as a
serialized string tensor. Reading a directory back with `read_shards` yields exactly the
tensors of `MultimodalGenerator.dataset` with the same arguments.

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
"""

import json
import os

import tensorflow as tf
from tqdm import tqdm

from generators.multimodal import MODALITIES, SPLITS, MultimodalConfig, MultimodalGenerator
from generators.validation import check_bool, check_choice, check_int, check_path, invalid

# Autotuned buffers may otherwise grow with the run; writing needs only a few blocks.
_BOUNDED_MEMORY = tf.data.Options()
_BOUNDED_MEMORY.autotune.ram_budget = 64 * 2**20

FEATURES = [key for m in MODALITIES for key in (m, f"{m}_mask")] + ["regression", "classification"]
METADATA = "metadata.json"
FOLDER = "a folder written by write_shards (msa-tf generate multimodal)"


def shard_path(directory, split, index, num_shards):
    return os.path.join(directory, f"{split}-{index:05d}-of-{num_shards:05d}.tfrecord")


def _signature(generator):
    """`{feature: (dtype, shape)}` of one full-length example."""
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


def _write_metadata(directory, config, num_shards):
    path = os.path.join(directory, METADATA)
    metadata = {"config": config.to_dict(), "num_shards": num_shards}
    if os.path.exists(path):
        with open(path) as handle:
            existing = json.load(handle)
        if existing != metadata:
            changed = sorted(
                key
                for key in set(existing["config"]) | set(metadata["config"])
                if existing["config"].get(key) != metadata["config"].get(key)
            ) or ["num_shards"]
            raise ValueError(
                f"`directory` must be a new folder or one written with the same settings; received "
                f"directory={directory!r}, which holds shards of another generator config "
                f"(differs in {changed})"
            )
        return
    os.makedirs(directory, exist_ok=True)
    with open(path, "w") as handle:
        json.dump(metadata, handle, indent=2)


def write_shards(generator, directory, splits=("train", "valid", "test"), num_shards=1,
                 block_size=256, progress=True):
    """Writes `generator.config.num_samples` examples per split into `num_shards` shards.

    Returns `{"written": shards written now, "skipped": complete shards found}`.
    Memory stays flat whatever the number of examples: examples stream from the
    generator to the file in blocks of `block_size`.
    """
    config = generator.config
    directory = check_path("directory", directory, "a folder for the shards")
    if config.num_samples is None:
        raise invalid("num_samples", None, "a number to write shards")
    check_int("num_shards", num_shards, high=config.num_samples,
              accepted=f"an integer in [1, num_samples={config.num_samples}]")
    check_int("block_size", block_size)
    for split in splits:
        check_choice("split", split, tuple(SPLITS))
    _write_metadata(directory, config, num_shards)
    written = skipped = 0
    for split in splits:
        total = config.num_samples
        with tqdm(total=total, desc=split, unit="ex", disable=not progress) as bar:
            for index in range(num_shards):
                start, stop = index * total // num_shards, (index + 1) * total // num_shards
                path = shard_path(directory, split, index, num_shards)
                if os.path.exists(path):
                    skipped += 1
                    bar.update(stop - start)
                    continue
                records = (
                    generator.batches(split, block_size, start, stop)
                    .unbatch()
                    .map(_serialize, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
                    .batch(block_size)
                    .prefetch(tf.data.AUTOTUNE)
                    .with_options(_BOUNDED_MEMORY)
                )
                with tf.io.TFRecordWriter(path + ".tmp") as writer:
                    for block in records:
                        for record in block.numpy():
                            writer.write(record)
                        bar.update(len(block))
                os.replace(path + ".tmp", path)
                written += 1
    return {"written": written, "skipped": skipped}


def read_metadata(directory, argument="directory"):
    """`{"config": MultimodalConfig, "num_shards": int}` of a folder written by `write_shards`.

    A `directory` that is not such a folder raises `ValueError` naming `argument`.
    """
    path = check_path(argument, directory, FOLDER, must_be="folder")
    if not os.path.isfile(os.path.join(path, METADATA)):
        raise ValueError(f"`{argument}` must be {FOLDER}; received {argument}={path!r}, "
                         f"which has no {METADATA}")
    with open(os.path.join(path, METADATA)) as handle:
        metadata = json.load(handle)
    return {"config": MultimodalConfig(**metadata["config"]), "num_shards": metadata["num_shards"]}


def read_shards(directory, split, batch_size, pad_to=None, drop_remainder=False):
    """The `(inputs, targets)` batches of `split` stored in `directory`.

    Takes the arguments of `MultimodalGenerator.dataset` and yields identical tensors.
    """
    metadata = read_metadata(directory)
    generator = MultimodalGenerator(metadata["config"])
    num_shards = metadata["num_shards"]
    check_choice("split", split, tuple(SPLITS))
    check_int("batch_size", batch_size, accepted="a positive integer")
    check_bool("drop_remainder", drop_remainder)
    files = [shard_path(directory, split, i, num_shards) for i in range(num_shards)]
    missing = [os.path.basename(f) for f in files if not os.path.exists(f)]
    if missing:
        raise ValueError(f"`directory` must hold every shard of split {split!r}; received "
                         f"directory={os.fspath(directory)!r}, which lacks {missing}")
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
    batches = examples.batch(batch_size, drop_remainder=drop_remainder)
    return generator.fit_lengths(batches, pad_to).prefetch(tf.data.AUTOTUNE)
