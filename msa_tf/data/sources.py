"""Data sources: one interface over generated data, shards, MMSA files and TFDS data sets.

An experiment names its data as a source and keyword arguments, e.g.
`{source: synthetic, preset: mosi, num_samples: 2000}`; `get_source(name, **arguments)`
makes the `DataSource`. Every source yields the project's `(inputs, targets)` batches
for the splits `"train"`, `"valid"` and `"test"`, always at fixed, static lengths
(padded with zeros or cut at the padded end), and says what a model needs to know
about them: `input_spec`, `model_arguments` (the data arguments of the zoo's models)
and `num_classes`; `default_task` names the task that its data are for, and `origin`
(a path, preset or data set name) lets a task infer conventions such as which
benchmark's metrics apply.

Registered sources (all multimodal sentiment data, task `sentiment`):

- `synthetic(preset=None, **MultimodalConfig fields)`: `MultimodalGenerator`.
- `shards(path)`: a folder written by `write_shards` (`msa-tf generate multimodal`).
- `mmsa(path, text="auto")`: an MMSA feature file (`load_mmsa`).
- `tfds(name, data_dir=None, manual_dir=None)`: a TFDS data set such as
  `synthetic_multimodal/tiny` or `cmu_mosi/aligned`; nothing is downloaded.

A new source subclasses `DataSource` (or `MultimodalSource` for text/audio/vision
data), implements its abstract methods and is registered with `@register_source(name)`.

Sources are built on `tf.data` and need the `tensorflow` package; `model.fit` takes their
datasets on any Keras backend.

Example:
>>> source = get_source("synthetic", num_samples=8, text_dim=6, audio_dim=4,
...                     vision_dim=3, min_length=2, max_length=5)
>>> inputs, targets = next(iter(source.dataset("train", batch_size=4, lengths={"audio": 3})))
>>> {k: tuple(v.shape) for k, v in sorted(inputs.items())}  # doctest: +NORMALIZE_WHITESPACE
{'audio': (4, 3, 4), 'audio_mask': (4, 3), 'text': (4, 5, 6), 'text_mask': (4, 5),
 'vision': (4, 5, 3), 'vision_mask': (4, 5)}
>>> source.input_spec()["text"], source.num_classes(), source.default_task
(((5, 6), 'float32'), 7, 'sentiment')
>>> source.model_arguments(lengths={"audio": 3})  # doctest: +NORMALIZE_WHITESPACE
{'seq_len': {'text': 5, 'audio': 3, 'vision': 5}, 'text_dim': 6, 'audio_dim': 4,
 'vision_dim': 3, 'text_vocab_size': None}
"""

import abc
import dataclasses
import functools
import inspect
import os

import tensorflow as tf

from generators.multimodal import MultimodalConfig, MultimodalGenerator
from generators.padding import fit_lengths
from generators.shards import read_metadata, read_shards
from generators.validation import check_path
from msa_tf.data.mmsa import TEXT_KINDS, _text_kind, check_lengths, load_mmsa, read_mmsa
from msa_tf.modalities import INPUT_KEYS, MODALITIES, mask_key
from msa_tf.registry import Registry
from msa_tf.validation import check_choice, check_positive_int, constructor_arguments

SPLITS = ("train", "valid", "test")
# BERT's (bert-base-uncased) vocabulary: the least `text_vocab_size` of token-id files.
BERT_VOCAB_SIZE = 30522
# The names a TFDS data set may give each split.
TFDS_SPLITS = {"train": ("train",), "valid": ("validation", "valid", "dev", "val"),
               "test": ("test",)}
# Examples held by the shuffle buffer of a TFDS source.
TFDS_SHUFFLE_BUFFER = 1024

_SOURCES = Registry("data source", argument="source")

register_source = _SOURCES.register  # class decorator: makes a source available as `get_source(name)`
source_names = _SOURCES.names  # the registered source names, sorted
source_class = _SOURCES.get_class  # the class registered as `name`, or `ValueError`


def source_arguments(name):
    """The keyword arguments that source `name` accepts, e.g. `("path", "text")`."""
    return source_class(name).arguments()


def get_source(name, /, **arguments):
    """A new `DataSource` `name` made with `arguments`.

    Raises `ValueError` for an unknown source, an argument the source does not take
    (suggesting the closest one), a missing required argument, or a bad value.
    """
    cls = source_class(name)
    accepted = cls.arguments()
    _SOURCES.check_arguments(name, arguments, accepted)
    missing = [key for key, default in constructor_arguments(cls).items()
               if default is inspect.Parameter.empty and key not in arguments]
    if missing:
        raise ValueError(f"data source {name!r} needs the argument {missing[0]!r}; "
                         f"accepted: {', '.join(accepted)}")
    return cls(**arguments)


def _vocab_size(largest_id):
    """`text_vocab_size` for token ids up to `largest_id`: at least BERT's vocabulary,
    so that models built for one BERT-tokenised data set take another's ids."""
    return max(int(largest_id) + 1, BERT_VOCAB_SIZE)


class DataSource(abc.ABC):
    """Base: a source of `(inputs, targets)` batches for the splits 'train', 'valid', 'test'.

    Attributes:
        default_task: the task (`msa_tf.tasks`) that a config without a `task` gets.
        origin: what the data are (a path, preset or data set name), for tasks that
            infer conventions from it; `""` when nothing is known.
    """

    default_task = None
    origin = ""

    @classmethod
    def arguments(cls):
        """The keyword arguments of the source: by default, those of `__init__`."""
        return tuple(constructor_arguments(cls))

    def dataset(self, split, batch_size, *, lengths=None, shuffle=False, seed=0,
                drop_remainder=False):
        """The `tf.data.Dataset` of `(inputs, targets)` batches of `split`.

        Args:
            split: `"train"`, `"valid"` or `"test"`.
            batch_size: examples per batch.
            lengths: the fixed lengths of the inputs, as `fixed_lengths` takes them.
            shuffle: shuffle the examples, differently each epoch (see each source).
            seed: the shuffle seed.
            drop_remainder: drop a last, smaller batch (a static batch dimension).
        """
        check_choice("split", split, SPLITS)
        batch_size = check_positive_int("batch_size", batch_size)
        return self._batches(split, batch_size, self.fixed_lengths(lengths), shuffle, seed,
                             drop_remainder)

    @classmethod
    def source_for_path(cls, path):
        """The name of the registered source that reads `path`, a file or folder of data
        of this source's kind (what `msa-tf evaluate --data PATH` reads)."""
        raise ValueError(f"`path` cannot replace the data of a {cls.__name__} run; received "
                         f"path={os.fspath(path)!r}")

    def curriculum(self, stages):
        """A curriculum of `stages` for these data's training batches (the config's
        `data.curriculum`); raises `ValueError` here: only sources whose data have
        one override this (token sequences, `msa_tf.data.curriculum`; images,
        `msa_tf.data.resolution_curriculum`)."""
        raise ValueError(f"`curriculum` must be None for {type(self).__name__} (data for task "
                         f"{self.default_task!r}); the token-sequence sources take one (and the "
                         f"image sources one of resolutions); received curriculum={stages!r}")

    @abc.abstractmethod
    def fixed_lengths(self, lengths=None):
        """The fixed lengths of `dataset(..., lengths=lengths)`, `lengths` checked and
        completed (`None` = the source's longest); what the runner writes as `pad_to`."""

    @abc.abstractmethod
    def input_spec(self, lengths=None):
        """`{input: (shape without batch, dtype name)}` of `dataset(..., lengths=lengths)`."""

    @abc.abstractmethod
    def model_arguments(self, lengths=None):
        """The model arguments that these data decide (sizes, lengths, vocabularies)."""

    @abc.abstractmethod
    def num_classes(self):
        """Classes of the `classification` target; `None` when there is none."""

    @abc.abstractmethod
    def _batches(self, split, batch_size, lengths, shuffle, seed, drop_remainder):
        """`dataset()` with checked arguments and `lengths` from `fixed_lengths`."""


class MultimodalSource(DataSource):
    """Base of the multimodal sentiment sources (task `sentiment`).

    `inputs` holds `text` (float32 `(batch, L_t, D_t)` features, or int32
    `(batch, L_t)` token ids), `audio` float32 `(batch, L_a, D_a)`, `vision` float32
    `(batch, L_v, D_v)` and their bool masks `text_mask`, `audio_mask`, `vision_mask`
    `(batch, L)` (`True` = real step); `targets` holds `regression` float32
    `(batch, 1)` and, where the data has it, `classification` int32 `(batch,)`.

    Lengths are `{modality: steps}`: `dataset(..., lengths=...)` takes `None` for
    `max_lengths()`, an int for every modality, or a dict such as `{"audio": 100}`
    (modalities it leaves out keep their longest length). Longer sequences are cut
    at the padded end, shorter ones padded with zeros (mask `False`).
    """

    default_task = "sentiment"

    @classmethod
    def source_for_path(cls, path):
        """`shards` for a folder, `mmsa` for a file."""
        return "shards" if os.path.isdir(path) else "mmsa"

    @abc.abstractmethod
    def max_lengths(self):
        """`{"text": int, "audio": int, "vision": int}`: the longest sequences."""

    @abc.abstractmethod
    def _dims(self):
        """`{modality: feature size}`, `None` for token-id text."""

    @abc.abstractmethod
    def _text_vocab_size(self):
        """The vocabulary of token-id text; `None` for text features."""

    def fixed_lengths(self, lengths=None):
        return {**self.max_lengths(), **check_lengths(lengths, "lengths")}

    def input_spec(self, lengths=None):
        """For example `{"text": ((50, 768), "float32"), "text_mask": ((50,), "bool"), ...}`."""
        lengths, dims = self.fixed_lengths(lengths), self._dims()
        spec = {}
        for m in MODALITIES:
            if dims[m] is None:
                spec[m] = ((lengths[m],), "int32")
            else:
                spec[m] = ((lengths[m], dims[m]), "float32")
            spec[mask_key(m)] = ((lengths[m],), "bool")
        return spec

    def model_arguments(self, lengths=None):
        """The data arguments of the zoo's models for these lengths.

        `seq_len` (one int when every modality has the same length, else a dict),
        `text_dim` (only for text features: the models ignore it for token ids),
        `audio_dim`, `vision_dim` and `text_vocab_size` (`None` for text features).
        """
        lengths, dims = self.fixed_lengths(lengths), self._dims()
        arguments = {"seq_len": lengths["text"] if len(set(lengths.values())) == 1 else lengths}
        if dims["text"] is not None:
            arguments["text_dim"] = dims["text"]
        arguments.update(audio_dim=dims["audio"], vision_dim=dims["vision"],
                         text_vocab_size=self._text_vocab_size())
        return arguments


class _GeneratedSource(MultimodalSource):
    """Data made by `self.generator` (a `MultimodalGenerator`)."""

    def max_lengths(self):
        return {m: high for m, (_, high) in self.generator.config.lengths().items()}

    def num_classes(self):
        return self.generator.config.num_classes

    def _dims(self):
        return dict(self.generator.config.dims(), **({"text": None} if self._tokens() else {}))

    def _text_vocab_size(self):
        return self.generator.config.vocab_size if self._tokens() else None

    def _tokens(self):
        return self.generator.config.text == "tokens"


@register_source("synthetic")
class SyntheticSource(_GeneratedSource):
    """Synthetic multimodal sentiment data from `MultimodalGenerator`.

    Takes a `preset` name and/or the fields of `MultimodalConfig` (`num_samples`,
    `interaction`, ...); a bad setting raises `ValueError` naming it. Its `origin` is
    the preset's name (so `mosei*` presets get MOSEI's metrics).
    `shuffle` is accepted and ignored: examples are independent draws, so their order
    is random already (each epoch sees the same batches in the same order).
    """

    def __init__(self, preset=None, **fields):
        self.generator = MultimodalGenerator(preset=preset, **fields)
        self.origin = preset or ""

    @classmethod
    def arguments(cls):
        return ("preset", *(field.name for field in dataclasses.fields(MultimodalConfig)))

    def _batches(self, split, batch_size, lengths, shuffle, seed, drop_remainder):
        return self.generator.dataset(split, batch_size, pad_to=lengths,
                                      drop_remainder=drop_remainder)


@register_source("shards")
class ShardsSource(_GeneratedSource):
    """The TFRecord shards of a folder written by `write_shards` (`msa-tf generate multimodal`).

    Yields the tensors of the `synthetic` source with the generator config stored in
    the folder's `metadata.json`. Its `origin` is the folder's path. `shuffle` is
    ignored, as for `synthetic`.
    """

    def __init__(self, path):
        metadata = read_metadata(path, "path")
        if (metadata["kind"], metadata["format"]) != ("multimodal", "tfrecord"):
            reader = "sequence_shards" if metadata["format"] == "tfrecord" else "jsonl"
            raise ValueError(f"`path` must be a folder of multimodal shards; received path={path!r}, "
                             f"which holds {metadata['kind']} data in {metadata['format']} files; "
                             f"the source {reader!r} reads it")
        self.generator = MultimodalGenerator(metadata["config"])
        self.path = self.origin = os.fspath(path)

    def _batches(self, split, batch_size, lengths, shuffle, seed, drop_remainder):
        return read_shards(self.path, split, batch_size, pad_to=lengths,
                           drop_remainder=drop_remainder)


@register_source("mmsa")
class MMSASource(MultimodalSource):
    """An MMSA / MulT feature file (`.pkl` or `.npz`) of CMU-MOSI, CMU-MOSEI or CH-SIMS.

    The file must exist when the source is made; it is read (`read_mmsa`) on first
    use, once, for every split. `text` is as for `load_mmsa` (`"auto"`, `"features"`,
    `"bert_ids"`). Its `origin` is the path. The longest lengths are the file's steps
    per modality.
    For token ids, `text_vocab_size` is the largest id in the file plus one, or BERT's
    30522 if that is larger (the same for every BERT-tokenised file). `shuffle`
    shuffles the examples each epoch.
    """

    def __init__(self, path, text="auto"):
        self.path = check_path("path", path, "an MMSA feature file (.pkl or .npz)", must_be="file")
        self.text = check_choice("text", text, TEXT_KINDS)
        self.origin = self.path

    @functools.cached_property
    def features(self):
        """The file's cleaned arrays (an `MMSAFeatures`), read on first use."""
        return read_mmsa(self.path)

    def _arrays(self, key):
        """Array `key` of every split; `text` reads the text chosen by `text`."""
        if key == "text":
            kind = _text_kind(self.path, self.features.split("train"), self.text)
            key = "text_ids" if kind == "bert_ids" else "text"
        return [self.features.split(split)[key] for split in SPLITS]

    def max_lengths(self):
        return {m: max(array.shape[1] for array in self._arrays(m)) for m in MODALITIES}

    def num_classes(self):
        if "classification" not in self.features.split("train"):
            return None
        return max(int(labels.max(initial=0)) for labels in self._arrays("classification")) + 1

    def _dims(self):
        arrays = {m: self._arrays(m)[0] for m in MODALITIES}
        return {m: array.shape[2] if array.ndim == 3 else None for m, array in arrays.items()}

    def _text_vocab_size(self):
        if self._dims()["text"] is not None:
            return None
        return _vocab_size(max(ids.max(initial=0) for ids in self._arrays("text")))

    def _batches(self, split, batch_size, lengths, shuffle, seed, drop_remainder):
        return load_mmsa(self.features, split, batch_size, pad_to=lengths, shuffle=shuffle,
                         seed=seed, drop_remainder=drop_remainder, text=self.text)


def _tfds():
    """`tensorflow_datasets`, with the project's builders registered (slow to import)."""
    import tensorflow_datasets as tfds

    import generators.tfds_synthetic  # noqa: F401  (registers synthetic_multimodal)
    import msa_tf.data.tfds_builders  # noqa: F401  (registers cmu_mosi, cmu_mosei, ch_sims)

    return tfds


@register_source("tfds")
class TFDSSource(MultimodalSource):
    """A TFDS data set whose examples are `{"inputs": ..., "targets": ...}` dicts.

    Such as the project's `synthetic_multimodal/<config>`, `cmu_mosi/<config>`,
    `cmu_mosei/<config>` and `ch_sims/<config>` (`msa_tf.data.tfds_builders`, reading
    MMSA files from `manual_dir`). The data set is prepared under `data_dir` on first
    use if it is not yet; nothing is downloaded. Other features (`metadata`) are
    dropped. The split `valid` is the data set's `validation` (or `valid`, `dev`,
    `val`). Examples are taken to be right-padded, as the project's builders write
    them. `num_classes` and, for token ids, `text_vocab_size` (as for `mmsa`) come from
    one pass over the data, made when first asked. `shuffle` shuffles the examples in
    a buffer of 1024 (the project's builders keep their examples in order, so files
    are read in order). Its `origin` is `name`.
    """

    def __init__(self, name, data_dir=None, manual_dir=None):
        tfds = _tfds()
        self.name, self.manual_dir = name, manual_dir
        try:
            self.builder = tfds.builder(name, data_dir=data_dir)
        except ValueError as error:  # tfds's DatasetNotFoundError is a ValueError
            # Its first line and its suggestion, without its list of every data set.
            lines = str(error).splitlines()
            hints = [line for line in lines if line.startswith("Did you mean")]
            reason = " ".join([lines[0].strip(), *hints])
            raise ValueError(
                f"`name` must be a TFDS data set such as 'synthetic_multimodal/tiny' or "
                f"'cmu_mosi/aligned'; received name={name!r}: {reason}"
            ) from None
        self._features = self.builder.info.features
        wanted = {"inputs": list(INPUT_KEYS), "targets": ["regression"]}
        for group, keys in wanted.items():
            if group not in self._features or not set(keys) <= set(self._features[group].keys()):
                raise ValueError(
                    f"`name` must be a TFDS data set whose examples have {wanted}; "
                    f"received name={name!r}, whose features are {self._features}"
                )
        self.origin = name

    def max_lengths(self):
        return {m: self._features["inputs"][m].shape[0] for m in MODALITIES}

    def _dims(self):
        shapes = {m: self._features["inputs"][m].shape for m in MODALITIES}
        return {m: shape[1] if len(shape) == 2 else None for m, shape in shapes.items()}

    def num_classes(self):
        if "classification" not in self._features["targets"].keys():
            return None
        return self._largest[0] + 1

    def _text_vocab_size(self):
        return None if self._dims()["text"] is not None else _vocab_size(self._largest[1])

    @functools.cached_property
    def _splits(self):
        """Prepares the data set (once) and maps `SPLITS` to its split names."""
        tfds = _tfds()
        if not self.builder.is_prepared():
            self.builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
                manual_dir=self.manual_dir, try_download_gcs=False))
        available = tuple(self.builder.info.splits.keys())
        names = {}
        for split, candidates in TFDS_SPLITS.items():
            found = [c for c in candidates if c in available]
            if not found:
                raise ValueError(
                    f"TFDS data set `name`={self.name!r} has no split for {split!r} (one of "
                    f"{candidates}); it has {available}"
                )
            names[split] = found[0]
        return names

    def _examples(self, split):
        """`(inputs, targets)` examples of `split`, without other features."""
        examples = self.builder.as_dataset(self._splits[split])
        targets = [key for key in ("regression", "classification")
                   if key in self._features["targets"].keys()]

        def supervised(example):
            inputs, labels = example["inputs"], example["targets"]
            return {key: inputs[key] for key in INPUT_KEYS}, {key: labels[key] for key in targets}

        return examples.map(supervised, num_parallel_calls=tf.data.AUTOTUNE)

    @functools.cached_property
    def _largest(self):
        """`[largest class label, largest token id]` over every split (-1 where absent)."""
        classification = "classification" in self._features["targets"].keys()
        tokens = self._dims()["text"] is None

        def largest(inputs, targets):
            label = targets["classification"] if classification else tf.constant(-1)
            ids = inputs["text"] if tokens else tf.constant(-1)
            return tf.stack([tf.cast(tf.reduce_max(value), tf.int64) for value in (label, ids)])

        total = tf.constant([-1, -1], tf.int64)
        for split in SPLITS:
            batches = self._examples(split).batch(1024).map(largest)
            total = batches.reduce(total, tf.maximum)
        return total.numpy().tolist()

    def _batches(self, split, batch_size, lengths, shuffle, seed, drop_remainder):
        examples = self._examples(split)
        if shuffle:
            examples = examples.shuffle(TFDS_SHUFFLE_BUFFER, seed=seed,
                                        reshuffle_each_iteration=True)

        # Every batch padded or cut to the fixed lengths (zeros, False).
        batches = examples.batch(batch_size, drop_remainder=drop_remainder).map(
            lambda inputs, targets: (fit_lengths(inputs, lengths), targets),
            num_parallel_calls=tf.data.AUTOTUNE)
        return batches.prefetch(tf.data.AUTOTUNE)
