"""Pre-extracted audio-visual clips: face frames and log-mel spectrograms in TFRecord shards.

`preextract(records, features, out)` decodes every clip once (`ClipFeatures.extract`)
and writes `out/<split>-<k>-of-<n>.tfrecord` shards and `out/metadata.json`: the
settings, the clips of each split in shard order (file, video id, labels), the
clips it was asked for (`source_clips`, to tell whether a folder is up to date), and a
report (clips written, faces found, centre crops, skipped files with the reason).
Training then reads the shards with `read_batches`: a pure `tf.data` pipeline with
static shapes (no Python in the loop, TPU-ready). `copies` > 1 writes that many
differently augmented versions of each training clip (with `features.augment`), since
augmentation runs when clips are decoded.

The folder appears whole or not at all: it is written under a hidden name beside
`out` and renamed at the end. Clips are decoded by `workers` threads (OpenCV and
ffmpeg release the GIL).

Example (`records` from `msa_tf.data.av_datasets.read_clip_records`):

    metadata = preextract(records, ClipFeatures(num_frames=8, face_size=64), "data/av_features")
    batches = read_batches("data/av_features", "train", batch_size=16, shuffle=True)
"""

import concurrent.futures
import json
import os
import shutil
import tempfile
import warnings

import numpy as np
import tensorflow as tf

from msa_tf.data.av_decode import BadClipError
from msa_tf.validation import check_positive_int

METADATA = "metadata.json"
KIND = "av_features"
LABELS = ("label", "video_label", "audio_label")
# Shuffling holds at most this many serialised clips in memory.
SHUFFLE_BUFFER = 1024


def _int_feature(value):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


def _bytes_feature(array):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[array.tobytes()]))


def stored_label(value):
    """A stored label: 0/1, or -1 where the data do not say."""
    return -1 if value is None else int(value)


def _example(inputs, record, index):
    features = {"frames": _bytes_feature(np.ascontiguousarray(inputs["frames"], np.uint8)),
                "mel": _bytes_feature(np.ascontiguousarray(inputs["mel"], np.float32)),
                "index": _int_feature(index)}
    features.update({name: _int_feature(stored_label(getattr(record, name))) for name in LABELS})
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


def clip_row(record):
    """The JSON-able description of a clip: its file, video id, labels, category, method."""
    return {"file": os.fspath(record.video_path), "video_id": record.video_id,
            **{name: getattr(record, name) for name in LABELS},
            "category": record.category, "method": record.method}


def _extract_all(jobs, features, skip_bad_files, workers, progress):
    """`[(record, copy, inputs or None, face_found, error)]` of the `(record, copy, seed)` jobs."""
    detector = features.detector()

    def run(job):
        record, copy, seed, augment = job
        try:
            inputs, found = features.extract(record, np.random.default_rng(seed), detector, augment)
            return record, copy, inputs, found, None
        except BadClipError as error:
            if not skip_bad_files:
                raise
            return record, copy, None, False, str(error)

    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        results = pool.map(run, jobs)
        if progress:
            from tqdm.auto import tqdm

            results = tqdm(results, total=len(jobs), desc="preextract", unit="clip")
        return list(results)


def preextract(records, features, out, *, copies=1, seed=0, shard_size=256, skip_bad_files=False,
               workers=4, progress=True, overwrite=False, skipped=()):
    """Writes the clips of `records` (`{split: [ClipRecord]}`) as shards in `out` (module
    doc); returns the metadata written. Raises `BadClipError` for a clip that cannot
    be used unless `skip_bad_files`, and `ValueError` for a non-empty `out` without
    `overwrite`. `skipped` lists `(path, reason)` of files left out before (the report
    lists them too)."""
    copies, shard_size = check_positive_int("copies", copies), check_positive_int("shard_size", shard_size)
    workers = check_positive_int("workers", workers)
    out = os.fspath(out)
    if os.path.isdir(out) and os.listdir(out) and not overwrite:
        raise ValueError(f"`out` must be an empty or new folder (or pass overwrite); received "
                         f"out={out!r}, which holds files")
    parent = os.path.dirname(os.path.abspath(out))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}.", dir=parent)
    try:
        metadata = _write_splits(records, features, staging, copies, seed, shard_size,
                                 skip_bad_files, workers, progress, [list(entry) for entry in skipped])
        if os.path.isdir(out):
            shutil.rmtree(out)
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return metadata


def _write_splits(records, features, folder, copies, seed, shard_size, skip_bad_files, workers,
                  progress, skipped):
    augmenting = features.augment is not None
    splits, report = {}, {"clips": 0, "faces_found": 0, "centre_crops": 0, "skipped": skipped}
    for split_index, (split, split_records) in enumerate(sorted(records.items())):
        count = copies if split == "train" and augmenting else 1
        jobs = [(record, copy, [seed, split_index, index, copy], split == "train" and augmenting)
                for index, record in enumerate(split_records) for copy in range(count)]
        results = _extract_all(jobs, features, skip_bad_files, workers, progress)
        kept = [result for result in results if result[2] is not None]
        for record, _, _, _, error in results:
            entry = [os.fspath(record.video_path), error]
            if error is not None and entry not in report["skipped"]:
                report["skipped"].append(entry)
        report["clips"] += len(kept)
        report["faces_found"] += sum(found for *_, found, _ in kept)
        report["centre_crops"] += sum(not found for *_, found, _ in kept)
        splits[split] = _write_shards(folder, split, kept, shard_size)
    metadata = {"kind": KIND, "features": features.settings(), "mel_steps": features.mel_steps,
                "copies": copies, "splits": splits, "report": report,
                "source_clips": {split: [clip_row(r) for r in rows] for split, rows in records.items()}}
    with open(os.path.join(folder, METADATA), "w") as handle:
        json.dump(metadata, handle, indent=1)
    return metadata


def _write_shards(folder, split, results, shard_size):
    """Writes one split's clips; returns `{"shards": [...], "clips": [rows]}`."""
    num_shards = max(1, -(-len(results) // shard_size))
    names = [f"{split}-{k:05d}-of-{num_shards:05d}.tfrecord" for k in range(num_shards)]
    rows = []
    for shard, name in enumerate(names):
        with tf.io.TFRecordWriter(os.path.join(folder, name)) as writer:
            for index, (record, _, inputs, _, _) in enumerate(
                    results[shard * shard_size:(shard + 1) * shard_size], start=shard * shard_size):
                writer.write(_example(inputs, record, index))
                rows.append(clip_row(record))
    return {"shards": names, "clips": rows}


def read_metadata(path):
    """The `metadata.json` of a pre-extracted folder; `ValueError` naming `path` otherwise."""
    file = os.path.join(os.fspath(path), METADATA)
    if not os.path.isfile(file):
        raise ValueError(f"`path` must be a folder written by `msa-tf preextract` (with {METADATA}); "
                         f"received path={os.fspath(path)!r}")
    with open(file) as handle:
        metadata = json.load(handle)
    if not isinstance(metadata, dict) or metadata.get("kind") != KIND:
        raise ValueError(f"`path` must hold pre-extracted clips (a {METADATA} of kind {KIND!r}); "
                         f"received path={os.fspath(path)!r}, whose {METADATA} is another kind")
    return metadata


def read_batches(path, split, batch_size, *, shuffle=False, seed=0, drop_remainder=False,
                 metadata=None):
    """`(inputs, targets)` batches of a pre-extracted split, in the contract's structure:
    `frames` float32 in [0, 1], `mel` float32; `label`, `video_label`, `audio_label`
    float32 `(batch, 1)` (-1 where unknown)."""
    metadata = metadata or read_metadata(path)
    settings = metadata["features"]
    part = metadata["splits"].get(split, {"shards": [], "clips": []})
    if not part["clips"]:
        warnings.warn(f"{os.fspath(path)!r} holds no {split!r} clips", stacklevel=2)
    files = [os.path.join(os.fspath(path), name) for name in part["shards"]]
    frames_shape = (settings["num_frames"], settings["face_size"], settings["face_size"], 3)
    mel_shape = (metadata["mel_steps"], settings["n_mels"])
    description = {"frames": tf.io.FixedLenFeature([], tf.string),
                   "mel": tf.io.FixedLenFeature([], tf.string),
                   **{name: tf.io.FixedLenFeature([], tf.int64) for name in LABELS}}

    def parse(serialized):
        parsed = tf.io.parse_example(serialized, description)
        frames = tf.reshape(tf.io.decode_raw(parsed["frames"], tf.uint8), (-1, *frames_shape))
        mel = tf.reshape(tf.io.decode_raw(parsed["mel"], tf.float32), (-1, *mel_shape))
        inputs = {"frames": tf.cast(frames, tf.float32) / 255.0, "mel": mel}
        return inputs, {name: tf.cast(parsed[name], tf.float32)[:, None] for name in LABELS}

    examples = tf.data.TFRecordDataset(tf.constant(files, tf.string)).apply(
        tf.data.experimental.assert_cardinality(len(part["clips"])))
    if shuffle:
        examples = examples.shuffle(min(max(len(part["clips"]), 1), SHUFFLE_BUFFER), seed=int(seed),
                                    reshuffle_each_iteration=True)
    batches = examples.batch(batch_size, drop_remainder=bool(drop_remainder))
    return batches.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(
        tf.data.AUTOTUNE)
