"""Experiment configs: a YAML file read into dataclasses, with checked keys and types.

A config has six top-level keys. `model`, `data` and `task` name a registered model,
data source and task; their other keys are that model's constructor arguments, that
source's arguments and that task's options, checked against the registries. `task` may
be left out (or be just a name): the data source's default task is used. `training`
and `output` are fixed sets of fields (`TrainingConfig`, `OutputConfig`).

```yaml
name: quickstart
model: {name: msa_seqlevel, model_dim: 32, num_heads: 4}
data: {source: synthetic, preset: mosi, num_samples: 2000, batch_size: 32}
task: {name: sentiment, loss: l1}
training: {epochs: 10, learning_rate: 0.001, schedule: cosine}
output: {dir: runs/quickstart}
```

An unknown key is an error that names the key and the closest valid one; a value of
the wrong type is an error that names the key, the value and the accepted type.

Example:
>>> config = ExperimentConfig.from_dict(
...     {"model": {"name": "msa", "model_dim": 16}, "training": {"epochs": 3}}, name="demo")
>>> config.training.epochs, config.model.arguments, config.output.dir
(3, {'model_dim': 16}, 'runs/demo')
>>> ExperimentConfig.from_dict({"training": {"epoch": 3}})
Traceback (most recent call last):
...
msa_tf.training.config.ConfigError: unknown key `training.epoch` (did you mean `training.epochs`?); ...
"""

import dataclasses
import math
import os
import typing

import yaml

from msa_tf.export import FORMATS
from msa_tf.training.optimization import OPTIMIZERS, SCHEDULES
from msa_tf.training.strategy import STRATEGIES
from msa_tf.validation import check_choice, closest, constructor_arguments


class ConfigError(ValueError):
    """A bad experiment config: the message names the key, the value and what is accepted."""


def _unknown_key(path, key, accepted):
    suggestion = closest(key, sorted(accepted))
    hint = f" (did you mean `{_join(path, suggestion)}`?)" if suggestion else ""
    return ConfigError(f"unknown key `{_join(path, key)}`{hint}; accepted: {', '.join(sorted(accepted))}")


def _join(path, key):
    return f"{path}.{key}" if path else key


def _type_name(annotation):
    if annotation is type(None):
        return "null"
    arguments = typing.get_args(annotation)
    if arguments:
        return " or ".join(_type_name(argument) for argument in arguments)
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string",
            dict: "a mapping", list: "a list"}[annotation]


def _checked_value(path, value, annotation):
    """`value` if it has the type `annotation` (ints count as floats), else `ConfigError`."""
    options = typing.get_args(annotation) or (annotation,)
    for option in options:
        if option is type(None) and value is None:
            return None
        if option is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise ConfigError(f"`{path}` must be a finite number; received {path}={value!r}")
            return float(value)
        if option is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if option in (bool, str, dict, list) and isinstance(value, option):
            return value
    raise ConfigError(f"`{path}` must be {_type_name(annotation)}; received {path}={value!r}")


class _Section:
    """Builds a dataclass from a mapping; keys not among its fields go to `arguments`."""

    OPEN = False  # sections with open `arguments` (model, data) accept extra keys

    @classmethod
    def from_dict(cls, values, path):
        if values is None:
            values = {}
        if not isinstance(values, dict):
            raise ConfigError(f"`{path}` must be a mapping; received {path}={values!r}")
        hints = typing.get_type_hints(cls)
        fields = {f.name for f in dataclasses.fields(cls)} - {"arguments"}
        known, extra = {}, {}
        for key, value in values.items():
            if key in fields:
                known[key] = _checked_value(_join(path, key), value, hints[key])
            elif cls.OPEN:
                extra[key] = value
            else:
                raise _unknown_key(path, key, fields)
        section = cls(**known, **({"arguments": extra} if cls.OPEN else {}))
        section.check(path)
        return section

    def check(self, path):
        """Checks values beyond their types; raises `ConfigError`."""

    def to_dict(self):
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "arguments"}
        values.update(getattr(self, "arguments", {}))
        return values


def _check_choice(path, value, choices):
    try:
        check_choice(path, value, choices)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def _check_at_least(path, value, low):
    if value is not None and value < low:
        raise ConfigError(f"`{path}` must be >= {low}; received {path}={value!r}")


@dataclasses.dataclass
class ModelConfig(_Section):
    """`name`: a registered model (`msa-tf models`); other keys: its constructor arguments.

    Arguments that the data determine (`seq_len`, `text_dim`, ...) are filled in from
    the data source unless given.
    """

    OPEN = True
    name: str = "msa_seqlevel"
    arguments: dict = dataclasses.field(default_factory=dict)

    def check(self, path):
        from msa_tf import models

        _check_choice(f"{path}.name", self.name, tuple(models.names()))
        accepted = set(constructor_arguments(models.model_class(self.name)))
        for key in self.arguments:
            if key not in accepted:
                raise _unknown_key(path, key, {"name", *accepted})


@dataclasses.dataclass
class DataConfig(_Section):
    """`source`: a registered data source; other keys: that source's arguments.

    Args:
        batch_size: examples per training batch.
        eval_batch_size: examples per evaluation batch (`None` = `batch_size`).
        pad_to: the fixed steps per modality of every batch: one int, a
            `{modality: int}` dict (other modalities keep their longest length), or
            `None` for the source's longest sequences. Longer sequences are cut.
            (`max_length` is the generator's own setting: its longest sequence.)
        shuffle: shuffle the training examples each epoch (where the source can).
        cache: keep each split's batches in memory after their first pass, so that
            later epochs neither generate nor read them again (for a generator or a
            file reader that competes with training for the CPU). Later epochs then
            repeat the first one's batches exactly, in the same order: what the
            `synthetic` and `shards` sources yield anyway; a shuffling source
            (`mmsa`, `tfds`) shuffles only once. Memory: the whole padded split.
        curriculum: stages that the training batches move through by epoch, for
            the sources whose data have them; `None`: none. Token sequences
            (`msa_tf.data.curriculum`): a list of `{epochs, max_length,
            complexity}`. Images (`shapes`, `image_masks`;
            `msa_tf.data.resolution_curriculum`): a list of `{epochs, resolution,
            fade_in}`, training images averaged down to `resolution` and enlarged
            back (`null`: full size), `fade_in` (`true` or a number of epochs)
            blending from the previous stage's resolution, e.g. `[{epochs: 3,
            resolution: 16}, {epochs: 3, resolution: 32, fade_in: true},
            {fade_in: 2}]`.
    """

    OPEN = True
    source: str = "synthetic"
    batch_size: int = 32
    eval_batch_size: int | None = None
    pad_to: int | dict | None = None
    shuffle: bool = True
    cache: bool = False
    curriculum: list | None = None
    arguments: dict = dataclasses.field(default_factory=dict)

    def check(self, path):
        from msa_tf.data import sources

        _check_choice(f"{path}.source", self.source, tuple(sources.source_names()))
        accepted = sources.source_arguments(self.source)
        for key in self.arguments:
            if key not in accepted:
                fields = {f.name for f in dataclasses.fields(self)} - {"arguments"}
                raise _unknown_key(path, key, fields | set(accepted))
        _check_at_least(f"{path}.batch_size", self.batch_size, 1)
        _check_at_least(f"{path}.eval_batch_size", self.eval_batch_size, 1)
        if self.cache and "num_samples" in self.arguments and self.arguments["num_samples"] is None:
            raise ConfigError(f"`{path}.cache` keeps whole splits in memory and needs finite ones; "
                              f"received {path}.num_samples=None (endless data) with {path}.cache=True")


@dataclasses.dataclass
class TaskConfig(_Section):
    """`name`: a registered task (`msa_tf.tasks`), or `None` for the data source's
    default; other keys: that task's options (e.g. `loss` for `sentiment`)."""

    OPEN = True
    name: str | None = None
    arguments: dict = dataclasses.field(default_factory=dict)

    def check(self, path):
        if self.name is None:  # the source's default task checks them when it is known
            return
        from msa_tf import tasks

        _check_choice(f"{path}.name", self.name, tuple(tasks.task_names()))
        accepted = tasks.task_class(self.name).arguments()
        for key in self.arguments:
            if key not in accepted:
                raise _unknown_key(path, key, {"name", *accepted})


@dataclasses.dataclass
class TrainingConfig(_Section):
    """How `model.fit` runs.

    Args:
        epochs: passes over the training split.
        optimizer: `adam` or `adamw` (with `weight_decay`).
        learning_rate: the peak learning rate.
        weight_decay: AdamW's decoupled weight decay (`None` = 0.01 for `adamw`).
        schedule: `constant`, `cosine`, `cosine_restarts` (periods of
            `restart_epochs`) or `reduce_on_plateau` (halves the rate after
            `plateau_patience` epochs without improvement).
        clipnorm: clip each gradient to this norm (`None` = no clipping).
        gradient_accumulation_steps: batches whose gradients add up to one update.
        precision: `auto` (mixed_float16 on GPU, mixed_bfloat16 on TPU, float32 on
            CPU) or any Keras dtype policy.
        strategy: `auto`, `default`, `mirrored`, `multi_worker` or `tpu`.
        jit_compile: compile the train step with XLA.
        steps_per_execution: batches per call of the compiled step.
        seed: seeds Python, NumPy, TensorFlow and Keras.
        early_stopping_patience: epochs without a better `monitor` before stopping
            (`null` = never stop early); the best weights are restored either way.
        monitor: the quantity that picks the best epoch (minimised).
    """

    epochs: int = 10
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    weight_decay: float | None = None
    schedule: str = "constant"
    restart_epochs: int = 1
    plateau_patience: int = 2
    min_learning_rate: float = 0.0
    clipnorm: float | None = None
    gradient_accumulation_steps: int = 1
    precision: str = "auto"
    strategy: str = "auto"
    jit_compile: bool = True
    steps_per_execution: int = 1
    seed: int = 0
    early_stopping_patience: int | None = 5
    monitor: str = "val_loss"

    def check(self, path):
        _check_choice(f"{path}.optimizer", self.optimizer, OPTIMIZERS)
        _check_choice(f"{path}.schedule", self.schedule, SCHEDULES)
        _check_choice(f"{path}.strategy", self.strategy, STRATEGIES)
        for key in ("epochs", "restart_epochs", "plateau_patience", "gradient_accumulation_steps",
                    "steps_per_execution"):
            _check_at_least(f"{path}.{key}", getattr(self, key), 1)
        for key in ("seed", "early_stopping_patience", "clipnorm", "weight_decay", "min_learning_rate"):
            _check_at_least(f"{path}.{key}", getattr(self, key), 0)
        if self.learning_rate <= 0:
            raise ConfigError(f"`{path}.learning_rate` must be > 0; received {self.learning_rate!r}")


@dataclasses.dataclass
class OutputConfig(_Section):
    """Where the run goes and what it writes.

    Args:
        dir: the run directory (`None` = `runs/<name>`).
        formats: exports written after training: `keras`, `saved_model`, `tflite`.
        tensorboard: write TensorBoard logs to `<dir>/tensorboard`.
        plots: write PNG plots of the training curves and the test predictions.
    """

    dir: str | None = None
    formats: list = dataclasses.field(default_factory=lambda: ["keras", "saved_model"])
    tensorboard: bool = True
    plots: bool = True

    def check(self, path):
        for item in self.formats:
            _check_choice(f"{path}.formats", item, FORMATS)


SECTIONS = {"model": ModelConfig, "data": DataConfig, "task": TaskConfig, "training": TrainingConfig,
            "output": OutputConfig}


@dataclasses.dataclass
class ExperimentConfig:
    """A whole experiment: `name`, `model`, `data`, `task`, `training` and `output`."""

    name: str = "experiment"
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    task: TaskConfig = dataclasses.field(default_factory=TaskConfig)
    training: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)
    output: OutputConfig = dataclasses.field(default_factory=OutputConfig)

    @classmethod
    def from_dict(cls, values, name="experiment"):
        """The config of a mapping such as `yaml.safe_load` returns; raises `ConfigError`."""
        if not isinstance(values, dict):
            raise ConfigError(f"a config must be a mapping of sections; received {values!r}")
        for key in values:
            if key != "name" and key not in SECTIONS:
                raise _unknown_key("", key, {"name", *SECTIONS})
        name = _checked_value("name", values.get("name", name), str)
        if isinstance(values.get("task"), str):  # `task: sentiment` is `task: {name: sentiment}`
            values = {**values, "task": {"name": values["task"]}}
        sections = {key: section.from_dict(values.get(key), key) for key, section in SECTIONS.items()}
        if sections["output"].dir is None:
            sections["output"].dir = os.path.join("runs", name)
        return cls(name=name, **sections)

    def to_dict(self):
        """The config as plain values, for `yaml.safe_dump`."""
        return {"name": self.name, **{key: getattr(self, key).to_dict() for key in SECTIONS}}


def apply_overrides(values, assignments):
    """`values` with each `"section.key=value"` of `assignments` set (YAML values).

    Example:
    >>> apply_overrides({"training": {"epochs": 10}}, ["training.epochs=3", "model.name=mult"])
    {'training': {'epochs': 3}, 'model': {'name': 'mult'}}
    """
    values = yaml.safe_load(yaml.safe_dump(values))  # a deep copy of plain values
    for assignment in assignments:
        key, separator, text = assignment.partition("=")
        if not separator or not key.strip():
            raise ConfigError(f"an override must look like section.key=value; received {assignment!r}")
        *parents, leaf = key.strip().split(".")
        target = values
        for index, parent in enumerate(parents):
            target = target.setdefault(parent, {})
            if not isinstance(target, dict):
                section = ".".join(parents[: index + 1])
                raise ConfigError(f"`{section}` is not a section; received {assignment!r}")
        try:
            target[leaf] = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise ConfigError(f"the value of {key!r} is not valid YAML: {text!r}") from error
    return values


def read_yaml(path):
    """The mapping in the YAML file `path`, read with `yaml.safe_load`; raises `ConfigError`."""
    if not os.path.isfile(path):
        raise ConfigError(f"config file not found: {path!r}")
    with open(path) as handle:
        try:
            values = yaml.safe_load(handle)
        except yaml.YAMLError as error:
            raise ConfigError(f"{path} is not valid YAML: {' '.join(str(error).split())}") from None
    return {} if values is None else values


def load_config(path, overrides=()):
    """The `ExperimentConfig` of the YAML file `path` with `overrides` applied.

    `name` defaults to the file's stem. Raises `ConfigError` naming the file and the
    bad key.
    """
    values = apply_overrides(read_yaml(path), overrides)
    stem = os.path.splitext(os.path.basename(path))[0]
    try:
        return ExperimentConfig.from_dict(values, name=stem)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


def write_config(config, path):
    """Writes the config as YAML (the run's resolved config)."""
    with open(path, "w") as handle:
        yaml.safe_dump(config.to_dict(), handle, sort_keys=False)
