"""Curriculum learning on token sequences: `model.fit` moves from stage to stage by epoch.

A `Curriculum` is a list of stages, each a mapping with

- `epochs`: how many epochs the stage lasts. The last stage may leave it out; it
  lasts, or the last stage with it goes on, to the end of training.
- `max_length`: each sequence is cut to this many real tokens (`None`: kept whole).
- `complexity`: `[low, high]`, the range (ends included) of
  `generators.sequence_analysis.sequence_complexity` that the stage trains on: the
  share of a sequence's tokens outside detected patterns, 0 for a sequence made of
  patterns, near 1 for random tokens (`None`: every sequence). `msa-tf analyze
  sequences --plots DIR` draws its histogram (`complexity.png`) to choose the ranges.

`curriculum.apply(batches)` turns `(inputs, targets)` batches of a sequence source
(`msa_tf.data.sequences`) into batches that follow the curriculum, and the curriculum,
a Keras callback, moves them: passed to `model.fit(..., callbacks=[curriculum])`, it
selects each epoch's stage when the epoch begins (a resumed run gets the stage of the
epoch it resumes at) and adds it to the epoch's logs as `curriculum_stage` (a column
of the history and of a `CSVLogger` listed after it). In an experiment config,
`data.curriculum` takes the list of stages; the runner applies it to the training
batches and passes it to `fit`.

The machinery of stages and epochs (checking the stages, `stage_of`, the stage
variable that the pipeline reads, the `curriculum_stage` log) is `StagedCurriculum`,
which `Curriculum` and `msa_tf.data.resolution_curriculum.ResolutionCurriculum`
(images from low to high resolution) extend.

What stays the same from stage to stage:

- The batches per epoch: those of `batches`. A stage that keeps part of the sequences
  repeats them (reshuffled where the source shuffles) to fill its epoch, so that
  schedules, progress bars and resumption see epochs of one length. With a
  complexity range every batch is full (the repeat fills the last one).
- The shapes: a cut sequence stays padded to the batch's width (`PAD`, mask `False`
  and `IGNORE_INDEX` from `max_length` on; the last position kept keeps its label, the
  token that followed it), so the train step is traced once. A stage of short
  sequences changes what the model learns from, not the cost of a step.

`apply` computes each sequence's complexity once per batch (NumPy, in
`tf.numpy_function`) only when a stage has a range. It first reads up to
`CHECK_SEQUENCES` sequences of `batches` and raises `ValueError` naming a stage whose
range holds none of them (its epochs would never end); `shares` then holds the share
of those sequences that each stage keeps.

Example:
>>> from msa_tf.data import get_source
>>> source = get_source("sequences", family="pattern", vocab_size=24, seq_length=12,
...                     num_samples=8)
>>> curriculum = Curriculum([{"epochs": 1, "max_length": 4}, {"max_length": None}])
>>> batches = curriculum.apply(source.dataset("train", batch_size=4))
>>> for epoch in range(3):
...     curriculum.on_epoch_begin(epoch)
...     print(epoch, curriculum.stage,
...           [int(inputs["tokens_mask"].numpy().sum(axis=1).max()) for inputs, _ in batches])
0 0 [4, 4]
1 1 [12, 12]
2 1 [12, 12]
"""

import abc
import dataclasses
import logging

import keras
import numpy as np
import tensorflow as tf

from generators.sequence_analysis import sequence_complexity
from generators.sequences import IGNORE_INDEX, PAD
from msa_tf.validation import check_number, check_positive_int, did_you_mean

__all__ = ["CHECK_SEQUENCES", "Curriculum", "CurriculumStage", "Stage", "StagedCurriculum"]

logger = logging.getLogger(__name__)

# `apply` checks the complexity ranges against this many sequences of its batches.
CHECK_SEQUENCES = 4096
_NO_LIMIT = np.iinfo(np.int32).max


@dataclasses.dataclass(frozen=True)
class CurriculumStage:
    """Base of the stages of a `StagedCurriculum`: `epochs`, how many epochs the stage
    lasts (`None`: to the end of training, for the last stage only). A subclass adds
    the fields of what its stages change, and checks them in `_checked`."""

    epochs: int | None = None

    @classmethod
    def keys(cls):
        """The stage's keys, `epochs` first."""
        return [field.name for field in dataclasses.fields(cls)]

    @classmethod
    def describe_keys(cls):
        """The keys as a phrase for messages: `"epochs, max_length and complexity"`."""
        keys = cls.keys()
        return keys[0] if len(keys) == 1 else f"{', '.join(keys[:-1])} and {keys[-1]}"

    @classmethod
    def from_config(cls, values, name, **context):
        """The stage of a mapping, checked; errors name `name` (e.g. `curriculum[1]`).

        `context` (what a subclass's checks need to know, such as the image size)
        goes to `_checked`.
        """
        if isinstance(values, cls):
            values = dataclasses.asdict(values)
        if not isinstance(values, dict):
            raise ValueError(f"`{name}` must be a mapping with the keys {cls.describe_keys()}; "
                             f"received {name}={values!r}")
        keys = cls.keys()
        for key in values:
            if key not in keys:
                hint = did_you_mean(key, keys)
                raise ValueError(f"`{name}` has an unknown key {key!r}{hint}; accepted: "
                                 f"{', '.join(keys)}")
        values = dict(values)
        if values.get("epochs") is not None:
            values["epochs"] = check_positive_int(f"{name}.epochs", values["epochs"])
        return cls(**cls._checked(values, name, **context))

    @classmethod
    def _checked(cls, values, name):
        """`values` (a dict of some of the keys, `epochs` checked) with the others checked."""
        return values


@dataclasses.dataclass(frozen=True)
class Stage(CurriculumStage):
    """One stage of a `Curriculum` (see the module doc)."""

    max_length: int | None = None
    complexity: tuple[float, float] | None = None

    @classmethod
    def _checked(cls, values, name):
        if values.get("max_length") is not None:
            values["max_length"] = check_positive_int(f"{name}.max_length", values["max_length"])
        if values.get("complexity") is not None:
            values["complexity"] = _complexity_range(f"{name}.complexity", values["complexity"])
        return values


def _complexity_range(name, value):
    accepted = "two numbers [low, high] with 0 <= low <= high <= 1"
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"`{name}` must be {accepted}; received {name}={value!r}")
    low, high = (check_number(name, bound, low=0, high=1, accepted=accepted) for bound in value)
    if low > high:
        raise ValueError(f"`{name}` must be {accepted}; received {name}={list(value)!r}")
    return low, high


class StagedCurriculum(keras.callbacks.Callback, abc.ABC):
    """Base of the curricula: stages of training data that `model.fit` moves through by epoch.

    A Keras callback: when an epoch begins it sets the index of the epoch's stage
    (`stage_of`) in a `tf.Variable` that the pipeline of `apply` reads as it makes each
    batch, so every batch of an epoch, however deep the prefetching, follows that
    epoch's stage (`fit` makes an epoch's iterator after `on_epoch_begin`); a resumed
    run gets the stage of the epoch it resumes at. When an epoch ends it adds the
    stage to the epoch's logs as `curriculum_stage`.

    A subclass names its stage type (`stage_class`, a `CurriculumStage`) and
    implements `apply`; `context` goes to the stages' checks.

    Args:
        stages: a non-empty list of stages: mappings with the keys of `stage_class`,
            or instances of it. Every stage but the last needs `epochs`.

    Attributes:
        stages: the checked stages.
        stage: the index of the current stage.
    """

    stage_class = CurriculumStage

    def __init__(self, stages, **context):
        super().__init__()
        if not isinstance(stages, (list, tuple)) or not stages:
            raise ValueError(f"`curriculum` must be a non-empty list of stages (mappings with "
                             f"{self.stage_class.describe_keys()}); received curriculum={stages!r}")
        self.stages = [self.stage_class.from_config(stage, f"curriculum[{i}]", **context)
                       for i, stage in enumerate(stages)]
        for i, stage in enumerate(self.stages[:-1]):
            if stage.epochs is None:
                raise ValueError(f"`curriculum[{i}].epochs` must be a positive integer (only the last "
                                 f"stage may leave it out); received curriculum[{i}].epochs=None")
        with tf.init_scope(), tf.device("/CPU:0"):  # read by tf.data, which runs on the host
            self._stage = tf.Variable(0, trainable=False, dtype=tf.int32, name="curriculum_stage")

    @property
    def stage(self):
        return int(self._stage.numpy())

    def first_epoch(self, index):
        """The epoch (counted from 0) at which stage `index` begins."""
        return sum(stage.epochs for stage in self.stages[:index])

    def stage_of(self, epoch):
        """The index of the stage of `epoch` (counted from 0)."""
        end = 0
        for index, stage in enumerate(self.stages):
            end += stage.epochs or 0
            if epoch < end:
                return index
        return len(self.stages) - 1

    def on_epoch_begin(self, epoch, logs=None):
        stage = self.stage_of(epoch)
        if stage != self.stage:
            logger.info("curriculum: epoch %d begins stage %d (%s)", epoch + 1, stage, self.stages[stage])
        self._stage.assign(stage)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["curriculum_stage"] = self.stage

    @abc.abstractmethod
    def apply(self, batches):
        """`batches` that follow the curriculum (each subclass says which batches)."""


class Curriculum(StagedCurriculum):
    """Stages of training sequences, moved by epoch (see the module doc).

    Args:
        stages: a non-empty list of stages: mappings with `epochs`, `max_length` and
            `complexity`, or `Stage`s. Every stage but the last needs `epochs`.

    Attributes:
        stages: the checked `Stage`s.
        stage: the index of the current stage.
        shares: after `apply` with complexity ranges, the share of the checked
            sequences that each stage keeps (`None` for a stage without a range).
    """

    stage_class = Stage

    def __init__(self, stages):
        super().__init__(stages)
        self.shares = None
        self._filters = any(stage.complexity is not None for stage in self.stages)
        ranges = [stage.complexity or (0.0, 1.0) for stage in self.stages]
        self._low, self._high = (tf.constant(bounds, tf.float32) for bounds in zip(*ranges))
        self._max_lengths = tf.constant([stage.max_length or _NO_LIMIT for stage in self.stages],
                                        tf.int32)

    def apply(self, batches):
        """`batches` (`(inputs, targets)` of a sequence source) that follow the curriculum.

        Raises `ValueError` for batches of unknown number, or for a complexity range
        that none of the first `CHECK_SEQUENCES` sequences falls in.
        """
        steps = int(batches.cardinality())
        if steps == tf.data.UNKNOWN_CARDINALITY:
            raise ValueError("`batches` must have a known number of batches for a curriculum to keep "
                             "the epochs' length; received a dataset of unknown cardinality")
        if self._filters:
            batch_size = self._check(batches)
            sequences = batches.map(_with_complexity, num_parallel_calls=tf.data.AUTOTUNE,
                                    deterministic=True).unbatch()
            batches = sequences.filter(self._in_range).repeat().batch(batch_size, drop_remainder=True)
            batches = batches.map(lambda inputs, targets, complexity: (inputs, targets))
            if steps != tf.data.INFINITE_CARDINALITY:
                batches = batches.take(steps).apply(tf.data.experimental.assert_cardinality(steps))
        if all(stage.max_length is None for stage in self.stages):
            return batches
        return batches.map(self._cut, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    def _check(self, batches):
        """The first batch's size; sets `shares`, or raises for a range that holds nothing."""
        complexities, batch_size = [], None
        for inputs, _ in batches.as_numpy_iterator():
            batch_size = batch_size or len(inputs["tokens"])
            complexities.append(sequence_complexity(inputs["tokens"], inputs["tokens_mask"]))
            if sum(map(len, complexities)) >= CHECK_SEQUENCES:
                break
        complexities = np.concatenate(complexities)[:CHECK_SEQUENCES]
        self.shares = []
        for index, stage in enumerate(self.stages):
            if stage.complexity is None:
                self.shares.append(None)
                continue
            low, high = stage.complexity
            kept = int(((complexities >= np.float32(low)) & (complexities <= np.float32(high))).sum())
            if not kept:
                raise ValueError(
                    f"`curriculum[{index}].complexity` must hold some of the training sequences; "
                    f"received curriculum[{index}].complexity={[low, high]}, and none of the first "
                    f"{len(complexities)} falls in it (theirs range over "
                    f"[{complexities.min():.3f}, {complexities.max():.3f}])")
            self.shares.append(kept / len(complexities))
            logger.info("curriculum[%d]: complexity in [%g, %g] keeps %d of %d sequences", index, low,
                        high, kept, len(complexities))
        return batch_size

    def _in_range(self, inputs, targets, complexity):
        stage = self._stage.read_value()
        return (complexity >= self._low[stage]) & (complexity <= self._high[stage])

    def _cut(self, inputs, targets):
        keep = tf.range(tf.shape(inputs["tokens"])[1]) < self._max_lengths[self._stage.read_value()]
        mask = inputs["tokens_mask"] & keep
        inputs = {**inputs, "tokens": tf.where(mask, inputs["tokens"], PAD), "tokens_mask": mask}
        return inputs, {key: tf.where(keep, value, IGNORE_INDEX) for key, value in targets.items()}


def _with_complexity(inputs, targets):
    """The batch and the `sequence_complexity` of each of its sequences."""
    complexity = tf.numpy_function(sequence_complexity, [inputs["tokens"], inputs["tokens_mask"]],
                                   tf.float32, stateful=False)
    complexity.set_shape(inputs["tokens"].shape[:1])
    return inputs, targets, complexity
