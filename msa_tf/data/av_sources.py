"""Audio-visual clip sources for deepfake detection (task `deepfake_detection`).

Every source yields `inputs = {"frames": float32 (batch, num_frames, face_size,
face_size, 3) in [0, 1], "mel": float32 (batch, mel_steps, n_mels)}` and `targets =
{"label", "video_label", "audio_label"}`, float32 `(batch, 1)`, 1 = fake (-1 where the
data do not say), and lists its clips in dataset order (`clips(split)`: file, video
id, labels), so that a task can aggregate clips per video and write predictions.

- `av_clips(path, layout="auto", ...)`: clip files in one of the layouts of
  `msa_tf.data.av_datasets` (FakeAVCeleb, LAV-DF, AV-Deepfake1M, DFDC, a folder with
  `labels.csv`), turned into inputs by `ClipFeatures` (its fields are arguments:
  `num_frames`, `face_size`, `clip_seconds`, `sampling`, `n_mels`, `augment`, ...).
  With `preextracted=DIR`, the clips are decoded once into shards there
  (`msa_tf.data.av_shards`; reused when `DIR` holds the same clips and settings) and
  training reads them; without, clips are decoded on the fly by `workers` threads
  (shuffled and augmented anew each epoch). Every clip is opened when the clips are
  first read, so a bad file stops the run before training, not in the middle of an
  epoch; `skip_bad_files=True` leaves it out and lists it in `report` (and a clip that
  still fails to decode in an epoch is replaced by the next one, with a warning). `debug=True` keeps
  the first 8 training and 4 validation and test clips, in order, without
  augmentation. The clips are read (and pre-extracted) when first needed, not when the
  source is made.
- `av_shards(path)`: a folder written by `msa-tf preextract`.
- `av_synthetic(path, generator={...}, ...)`: clips of `generators.av_clips` written
  to `path` when first needed (resumable: clips already there are kept), then read as
  `av_clips`.
"""

import concurrent.futures
import itertools
import os
import warnings

import numpy as np
import tensorflow as tf

from msa_tf.data import av_shards
from msa_tf.data.av_datasets import read_clip_records
from msa_tf.data.av_decode import BadClipError, video_info
from msa_tf.data.av_features import ClipFeatures
from msa_tf.data.sources import SPLITS, DataSource, register_source
from msa_tf.validation import check_bool, check_int, check_positive_int, constructor_arguments

__all__ = ["AVClipsSource", "AVShardsSource", "AVSource", "AVSyntheticSource"]

# The clips of each split that `debug=True` keeps.
DEBUG_CLIPS = {"train": 8, "valid": 4, "test": 4}
FEATURE_ARGUMENTS = tuple(constructor_arguments(ClipFeatures))


class AVSource(DataSource):
    """Base of the audio-visual sources: the shapes, the model arguments, the clip lists.

    Subclasses set `shapes` (`num_frames`, `face_size`, `mel_steps`, `n_mels`) and
    `split_clips` (`{split: [row]}` in dataset order) and implement `_batches`.
    """

    default_task = "deepfake_detection"
    # Data arguments that a run passes on to the source of `msa-tf evaluate --data`.
    carried_arguments = FEATURE_ARGUMENTS

    @classmethod
    def source_for_path(cls, path):
        """`av_shards` for a pre-extracted folder, `av_clips` for clip files."""
        return "av_shards" if _is_shards(path) else "av_clips"

    def fixed_lengths(self, lengths=None):
        if lengths is not None:
            raise ValueError("`lengths` must be None for audio-visual clips (set num_frames and "
                             f"clip_seconds); received lengths={lengths!r}")
        return None

    def input_spec(self, lengths=None):
        self.fixed_lengths(lengths)
        shapes = self.shapes
        return {"frames": ((shapes["num_frames"], shapes["face_size"], shapes["face_size"], 3), "float32"),
                "mel": ((shapes["mel_steps"], shapes["n_mels"]), "float32")}

    def model_arguments(self, lengths=None):
        """`num_frames`, `face_size`, `mel_steps` and `n_mels`."""
        self.fixed_lengths(lengths)
        return dict(self.shapes)

    def num_classes(self):
        return None

    def clips(self, split):
        """The clips of `split` in dataset order: dicts with `file`, `video_id`, `label`,
        `video_label`, `audio_label`, `category`, `method`."""
        return list(self.split_clips.get(split, []))

    def modality_labels(self):
        """Whether every clip has its `video_label` and `audio_label`."""
        return all(row[name] is not None for rows in self.split_clips.values() for row in rows
                   for name in ("video_label", "audio_label"))


def _is_shards(path):
    try:
        av_shards.read_metadata(path)
    except ValueError:
        return False
    return True


@register_source("av_shards")
class AVShardsSource(AVSource):
    """A folder of pre-extracted clips (`msa-tf preextract`, `msa_tf.data.av_shards`)."""

    def __init__(self, path):
        self.path = self.origin = os.fspath(path)
        self.metadata = av_shards.read_metadata(path)
        settings = self.metadata["features"]
        self.shapes = {"num_frames": settings["num_frames"], "face_size": settings["face_size"],
                       "mel_steps": self.metadata["mel_steps"], "n_mels": settings["n_mels"]}
        self.split_clips = {split: part["clips"] for split, part in self.metadata["splits"].items()}
        self.report = self.metadata["report"]

    def _batches(self, split, batch_size, lengths, shuffle, seed, drop_remainder):
        return av_shards.read_batches(self.path, split, batch_size, shuffle=shuffle, seed=seed,
                                      drop_remainder=drop_remainder, metadata=self.metadata)


@register_source("av_clips")
class AVClipsSource(AVSource):
    """Audio-visual clip files, decoded on the fly or pre-extracted (module doc)."""

    def __init__(self, path, layout="auto", skip_bad_files=False, valid_fraction=0.1,
                 test_fraction=0.1, preextracted=None, copies=1, workers=4, debug=False, seed=0,
                 **features):
        self.features = ClipFeatures(**features)
        self.layout, self.valid_fraction, self.test_fraction = layout, valid_fraction, test_fraction
        self.skip_bad_files = check_bool("skip_bad_files", skip_bad_files)
        self.debug = check_bool("debug", debug)
        self.workers = check_positive_int("workers", workers)
        self.copies = check_positive_int("copies", copies)
        self.seed = check_int("seed", seed)
        self.preextracted = None if preextracted is None else os.fspath(preextracted)
        self.path = self.origin = os.fspath(path)
        self.shapes = {"num_frames": self.features.num_frames, "face_size": self.features.face_size,
                       "mel_steps": self.features.mel_steps, "n_mels": self.features.n_mels}
        self._prepared = None  # (records, report, shards), read when first needed

    def _prepare(self):
        """`(records, report, shards)`: the usable clips of each split, the report, and the
        pre-extracted shards source (`None` on the fly); read (and pre-extracted) once."""
        if self._prepared is None:
            found = read_clip_records(self.path, layout=self.layout, skip_bad_files=self.skip_bad_files,
                                      valid_fraction=self.valid_fraction, test_fraction=self.test_fraction)
            records = {split: found.split(split) for split in SPLITS}
            if self.debug:
                records = {split: rows[:DEBUG_CLIPS[split]] for split, rows in records.items()}
            skipped = [list(entry) for entry in found.skipped]
            records = {split: self._usable(rows, skipped) for split, rows in records.items()}
            report, shards = {"clips": sum(map(len, records.values())), "skipped": skipped}, None
            if self.preextracted is not None:
                shards = self._preextract(records, skipped)
                report = shards.report
            self._prepared = records, report, shards
        return self._prepared

    @property
    def records(self):
        """`{split: [ClipRecord]}` of the usable clips."""
        return self._prepare()[0]

    @property
    def report(self):
        """`{"clips", "skipped": [[path, reason]]}`, and when pre-extracted `faces_found`
        and `centre_crops`."""
        return self._prepare()[1]

    @property
    def split_clips(self):
        shards = self._prepare()[2]
        if shards is not None:
            return shards.split_clips
        return {split: [av_shards.clip_row(record) for record in rows]
                for split, rows in self.records.items()}

    @classmethod
    def arguments(cls):
        own = [name for name in constructor_arguments(cls) if name != "features"]
        return (*own, *FEATURE_ARGUMENTS)

    def _usable(self, records, skipped):
        """`records` whose video opens and has enough frames; a bad one raises
        `BadClipError`, or is listed in `skipped` with `skip_bad_files`."""
        usable = []
        for record in records:
            try:
                count, _ = video_info(record.video_path)
                if count < self.features.num_frames:
                    raise BadClipError(f"{os.fspath(record.video_path)!r}: {count} frames are fewer "
                                       f"than num_frames={self.features.num_frames}")
                if record.audio_path is not None and not os.path.isfile(record.audio_path):
                    raise BadClipError(f"{os.fspath(record.audio_path)!r}: the audio file is missing")
            except BadClipError as error:
                if not self.skip_bad_files:
                    raise
                skipped.append([os.fspath(record.video_path), str(error)])
                continue
            usable.append(record)
        return usable

    def _preextract(self, records, skipped):
        """The shards source of `preextracted`, written first unless it holds these clips."""
        folder = self.preextracted
        if not self._up_to_date(folder, records):
            av_shards.preextract(records, self.features, folder, copies=self.copies, seed=self.seed,
                                 skip_bad_files=self.skip_bad_files, workers=self.workers,
                                 progress=False, overwrite=True, skipped=skipped)
        return AVShardsSource(folder)

    def _up_to_date(self, folder, records):
        """Whether `folder` holds `records` pre-extracted with these settings."""
        if not _is_shards(folder):
            return False
        metadata = av_shards.read_metadata(folder)
        wanted = {split: [av_shards.clip_row(r) for r in rows] for split, rows in records.items()}
        return (metadata["features"] == self.features.settings() and metadata["copies"] == self.copies
                and metadata["source_clips"] == wanted)

    def _batches(self, split, batch_size, lengths, shuffle, seed, drop_remainder):
        shards = self._prepare()[2]
        if shards is not None:
            return shards._batches(split, batch_size, lengths, shuffle, seed, drop_remainder)
        spec = self.input_spec()
        signature = ({name: tf.TensorSpec(shape, dtype) for name, (shape, dtype) in spec.items()},
                     {name: tf.TensorSpec((1,), tf.float32) for name in av_shards.LABELS})
        clips = tf.data.Dataset.from_generator(_ClipStream(self, split, shuffle and not self.debug, seed),
                                               output_signature=signature)
        clips = clips.apply(tf.data.experimental.assert_cardinality(len(self.records[split])))
        return clips.batch(batch_size, drop_remainder=bool(drop_remainder)).prefetch(tf.data.AUTOTUNE)


class _ClipStream:
    """The clips of one split, decoded by threads: each call is one epoch, in a new
    order when shuffled, with new random windows and augmentation in training."""

    def __init__(self, source, split, shuffle, seed):
        self.source, self.split, self.shuffle, self.seed = source, split, shuffle, int(seed)
        self.epochs = itertools.count()

    def __call__(self):
        source, records = self.source, self.source.records[self.split]
        epoch = next(self.epochs) if self.split == "train" and not source.debug else 0
        order = np.arange(len(records))
        if self.shuffle:
            order = np.random.default_rng([self.seed, epoch]).permutation(order)
        augment = self.split == "train" and source.features.augment is not None and not source.debug
        detector = source.features.detector()
        split_index = SPLITS.index(self.split)

        def decode(position):
            """The clip at `position` of the order, or with `skip_bad_files`, when it
            fails (after the check when the source was read), the next one that does
            not: the epoch keeps its length."""
            for offset in range(len(order)):
                index = int(order[(position + offset) % len(order)])
                rng = np.random.default_rng([source.seed, split_index, index, epoch])
                try:
                    return source.features.extract(records[index], rng, detector, augment)[0], records[index]
                except BadClipError as error:
                    if not source.skip_bad_files:
                        raise
                    warnings.warn(f"a bad clip replaced by the next one: {error}", stacklevel=2)
            raise BadClipError(f"no clip of the {self.split!r} split of {source.path!r} can be decoded")

        with concurrent.futures.ThreadPoolExecutor(max_workers=source.workers) as pool:
            for inputs, record in pool.map(decode, range(len(order))):
                targets = {name: np.array([av_shards.stored_label(getattr(record, name))], np.float32)
                           for name in av_shards.LABELS}
                yield {"frames": inputs["frames"].astype(np.float32) / 255.0, "mel": inputs["mel"]}, targets


@register_source("av_synthetic")
class AVSyntheticSource(AVClipsSource):
    """Synthetic clips of `generators.av_clips.AVClipGenerator(**generator)` written to
    `path` (kept where already there), read as `av_clips` with the folder layout."""

    def __init__(self, path, generator=None, **arguments):
        from generators.av_clips import AVClipGenerator

        if generator is not None and not isinstance(generator, dict):
            raise ValueError(f"`generator` must be a dict of AVClipGenerator arguments; received "
                             f"generator={generator!r}")
        self.generator = AVClipGenerator(**(generator or {}))
        super().__init__(path, layout="folder", **arguments)

    def modality_labels(self):
        """True: the generator labels the video and the audio of every clip."""
        return True

    def _prepare(self):
        if self._prepared is None:
            from generators.av_files import write_clips

            write_clips(self.generator, self.path, progress=False)
        return super()._prepare()

    @classmethod
    def arguments(cls):
        return ("path", "generator", *(name for name in AVClipsSource.arguments()
                                       if name not in ("path", "layout")))
