"""The experiment runner: a config in, a self-describing run directory out.

`train(config)` goes config -> data source -> task -> model -> `model.fit` -> task report
-> export, and knows no domain: the source (`msa_tf.data.sources`) gives the batches and
the data-dependent model arguments, the task (`msa_tf.tasks`) the losses, metrics,
baseline, report and plots, the zoo (`msa_tf.models`) the model. It checks everything it
can before it writes anything (a bad config leaves no run directory behind), trains under
the chosen dtype policy and distribution strategy, then evaluates the best weights on the
test split and writes:

    <run>/config.yaml       the resolved config (data-dependent model arguments filled in)
    <run>/signature.json    the model's inputs: {name: [shape without batch, dtype]}
    <run>/history.csv       one row per epoch (CSVLogger)
    <run>/checkpoint.keras  the best model so far (ModelCheckpoint)
    <run>/model.keras       the trained model (best weights)
    <run>/metrics.json      test metrics of the model and of the task's baseline
                            (an undefined metric is null)
    <run>/predictions.csv   one row per test example, for tasks that make one
                            (deepfake detection)
    <run>/saved_model/      a SavedModel with a `serving_default` signature (fixed lengths)
    <run>/history.png       and the task's plots (sentiment: predictions.png)
    <run>/tensorboard/      TensorBoard logs

Running the same config again resumes an interrupted run from `<run>/backup`.

The runner is built on TensorFlow (tf.data, `tf.distribute` strategies, SavedModel
export): `train`, `evaluate_run` and `export_run` need the TensorFlow backend and raise
`RuntimeError` under another one.
"""

import dataclasses
import json
import math
import os
import shutil
import tempfile

import keras
import tensorflow as tf

from msa_tf import export, models, tasks
from msa_tf.backend import require_backend
from msa_tf.data import sources
from msa_tf.training import callbacks as run_callbacks_module
from msa_tf.training import optimization, plots
from msa_tf.training.config import (
    ConfigError,
    ExperimentConfig,
    apply_overrides,
    load_config,
    write_config,
)
from msa_tf.training.precision import precision_policy, resolve_precision
from msa_tf.training.strategy import is_chief, resolve_strategy, uses_replicas
from msa_tf.validation import check_choice, constructor_arguments

CONFIG = "config.yaml"
SIGNATURE = "signature.json"
MODEL = "model.keras"
METRICS = "metrics.json"
PREDICTIONS = "predictions.csv"
EXPORT_PATHS = {"keras": MODEL, "saved_model": "saved_model", "tflite": "model.tflite"}


class RunError(RuntimeError):
    """A failure while a run trains (the command line exits with 1)."""


def _checked(section, function, *args, **kwargs):
    """`function(*args, **kwargs)`, with its `ValueError`/`TypeError` as a `ConfigError`."""
    try:
        return function(*args, **kwargs)
    except ConfigError:
        raise
    except (ValueError, TypeError) as error:
        raise ConfigError(f"{section}: {error}") from None


@dataclasses.dataclass
class Experiment:
    """A config with its data source, task, fixed lengths and complete model arguments."""

    config: object
    source: object
    task: object
    lengths: object
    input_spec: dict
    curriculum: object = None

    @classmethod
    def from_config(cls, config):
        """Builds the source and the task and fills in what the data decide; raises `ConfigError`."""
        data = config.data
        source = _checked("data", sources.get_source, data.source, **data.arguments)
        task_name = config.task.name or source.default_task
        if task_name is None:
            raise ConfigError(f"task.name: data source {data.source!r} has no default task; "
                              f"name one of {tasks.task_names()}")
        task = _checked("task", tasks.get_task, task_name, source, **config.task.arguments)
        lengths = _checked("data.pad_to", source.fixed_lengths, data.pad_to)
        curriculum = None if data.curriculum is None else _checked(
            "data.curriculum", source.curriculum, data.curriculum)
        spec = {name: [list(shape), dtype] for name, (shape, dtype) in source.input_spec(lengths).items()}
        accepted = constructor_arguments(models.model_class(config.model.name))
        data_arguments = {**source.model_arguments(lengths), **task.model_arguments(accepted)}
        filled = {key: value for key, value in data_arguments.items()
                  if key in accepted and key not in config.model.arguments}
        resolved = dataclasses.replace(
            config,
            model=dataclasses.replace(config.model, arguments={**config.model.arguments, **filled}),
            data=dataclasses.replace(data, pad_to=lengths),
            task=dataclasses.replace(config.task, name=task_name),
        )
        return cls(resolved, source, task, lengths, spec, curriculum)

    def build_model(self):
        """The model, built on example inputs, and the outputs it trains; raises `ConfigError`."""
        model = _checked("model", models.get, self.config.model.name, **self.config.model.arguments)
        return model, self.model_outputs(model)

    def model_outputs(self, model):
        """The outputs of `model` that the task trains and evaluates; raises `ConfigError`."""
        outputs = _checked("model", model, export.example_inputs(self.input_spec, batch_size=2))
        _checked("model", self.task.check_outputs, outputs)
        return _checked("model", self.task.select_outputs, outputs)

    def batches(self, split, outputs, *, training=False, cast_masks=False, static=False):
        """`split` as `(inputs, targets)` batches, targets cut to the model's `outputs`.

        `cast_masks` turns boolean masks into int32 (Keras 3.15 cannot average boolean
        inputs across replicas); `static` drops a last, smaller batch. The training
        batches follow the `curriculum` (raises `ConfigError` for a stage that selects
        no training data).
        """
        data = self.config.data
        batch_size = data.batch_size if training else (data.eval_batch_size or data.batch_size)
        dataset = self.source.dataset(
            split, batch_size, lengths=self.lengths, shuffle=training and data.shuffle,
            seed=self.config.training.seed, drop_remainder=training or static,
        )
        return _checked("data.curriculum", feed, dataset, outputs, cast_masks=cast_masks, cache=data.cache,
                        curriculum=self.curriculum if training else None)


def feed(dataset, outputs, *, cast_masks=False, cache=False, curriculum=None):
    """`dataset`'s batches as the runner feeds them to `fit`: targets cut to `outputs`.

    The selection runs in parallel and the result is prefetched, so it overlaps the
    training step (`benchmarks/bench_models.py --data` measures that it keeps up);
    tf.data's autotuning is off for the whole pipeline.
    `cache` keeps the batches in memory once a pass over `dataset` has ended; later
    passes read them from there (the config's `data.cache`). A `curriculum`
    (`msa_tf.data.curriculum.Curriculum`) applies after the cache, so that cached
    batches still move through its stages.
    """
    if cache:
        dataset = dataset.cache()
    if curriculum is not None:
        dataset = curriculum.apply(dataset)

    def select(inputs, targets):
        if cast_masks:
            inputs = {k: tf.cast(v, tf.int32) if v.dtype == tf.bool else v for k, v in inputs.items()}
        return inputs, {name: targets[name] for name in outputs}

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    # tf.data's autotuner takes CPU time that training needs (with 2 cores, `msa_seqlevel`
    # fed from an MMSA file trained at 0.78 of its rate from memory with it, 1.00 without)
    # and up to 0.45 s to shut an iterator down at the end of each epoch. Without it,
    # `AUTOTUNE` takes tf.data's fixed defaults.
    options.autotune.enabled = False
    selected = dataset.map(select, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return selected.prefetch(tf.data.AUTOTUNE).with_options(options)


def _open_run_dir(run_dir, config, overwrite):
    """Prepares `run_dir`; returns `True` when it holds an unfinished run to resume."""
    if os.path.isdir(run_dir) and os.listdir(run_dir):
        previous = os.path.join(run_dir, CONFIG)
        if not os.path.exists(previous):
            raise ConfigError(f"output.dir: {run_dir!r} is not empty and holds no run; "
                              "choose another directory")
        if overwrite:
            shutil.rmtree(run_dir)
        elif os.path.exists(os.path.join(run_dir, METRICS)):
            raise ConfigError(f"output.dir: {run_dir!r} holds a finished run; pass --overwrite "
                              "or choose another output.dir")
        else:
            before = load_config(previous).to_dict()
            now = config.to_dict()
            for section in ("model", "data", "task"):
                if before[section] != now[section]:
                    raise ConfigError(
                        f"output.dir: {run_dir!r} holds an unfinished run with another {section} "
                        f"section ({before[section]}); pass --overwrite or choose another output.dir"
                    )
            return True
    os.makedirs(run_dir, exist_ok=True)
    return False


def _nan_message(guard, run_dir):
    epoch, batch, loss = guard.stopped_at
    checkpoint = os.path.join(run_dir, run_callbacks_module.CHECKPOINT)
    kept = (f"the best model before it is in {checkpoint}" if os.path.exists(checkpoint)
            else "no epoch finished before it, so there is no checkpoint")
    return (f"training stopped: the loss became {loss} in epoch {epoch + 1}, batch {batch + 1}; {kept}. "
            "Try a lower training.learning_rate or training.clipnorm")


def train(config, *, overwrite=False, extra_callbacks=(), verbose="auto"):
    """Trains, evaluates and exports the experiment `config` (an `ExperimentConfig`).

    Returns the test metrics (`None` on a non-chief worker of a multi-worker run).
    Raises `ConfigError` before writing anything for a bad config, and `RunError`
    when the loss stops being finite.
    """
    require_backend("The experiment runner", "tensorflow")
    training = config.training
    keras.utils.set_random_seed(training.seed)
    strategy = _checked("training.strategy", resolve_strategy, training.strategy)
    precision = _checked("training.precision", resolve_precision, training.precision, strategy)
    chief = is_chief(strategy)
    with precision_policy(precision):
        experiment = Experiment.from_config(config)
        config = experiment.config
        with strategy.scope():
            model, outputs = experiment.build_model()
            replicas = uses_replicas(strategy)
            static = isinstance(strategy, tf.distribute.TPUStrategy)
            train_data = experiment.batches("train", outputs, training=True, cast_masks=replicas)
            valid_data = experiment.batches("valid", outputs, cast_masks=replicas, static=static)
            steps = int(train_data.cardinality())
            if steps < 1:
                raise ConfigError(f"data.batch_size: {config.data.batch_size} is more than the train "
                                  "split holds; use a smaller batch")
            optimizer = _checked(
                "training", optimization.build_optimizer, training.optimizer, training.learning_rate,
                weight_decay=training.weight_decay, clipnorm=training.clipnorm,
                gradient_accumulation_steps=training.gradient_accumulation_steps,
                schedule=training.schedule, steps_per_epoch=steps, epochs=training.epochs,
                restart_epochs=training.restart_epochs, min_learning_rate=training.min_learning_rate,
            )
            losses, loss_weights = _checked("task", experiment.task.losses, outputs)
            metrics = experiment.task.compile_metrics(outputs)
            model.compile(optimizer=optimizer, loss=losses, loss_weights=loss_weights, metrics=metrics,
                          jit_compile=training.jit_compile, steps_per_execution=training.steps_per_execution)
            # Built here, the optimizer's variables exist before `fit` traces its step: a step
            # that creates variables is traced twice, which doubles the start-up time.
            model.optimizer.build(model.trainable_variables)

        run_dir = config.output.dir if chief else tempfile.mkdtemp(prefix="msa-tf-worker-")
        resuming = _open_run_dir(run_dir, config, overwrite) if chief else False
        if not resuming:
            write_config(config, os.path.join(run_dir, CONFIG))
            with open(os.path.join(run_dir, SIGNATURE), "w") as handle:
                json.dump(experiment.input_spec, handle, indent=1)
        initial_epoch, best_score = run_callbacks_module.resume_state(run_dir, training.monitor)
        if initial_epoch and chief:
            print(f"Resuming {run_dir} after epoch {initial_epoch} of {training.epochs}")
        guard = run_callbacks_module.NaNGuard()
        callbacks = run_callbacks_module.run_callbacks(
            run_dir, guard, monitor=training.monitor, patience=training.early_stopping_patience,
            best_score=best_score, tensorboard=config.output.tensorboard,
        )
        if training.schedule == "reduce_on_plateau":
            callbacks.append(optimization.plateau_callback(
                training.monitor, patience=training.plateau_patience,
                min_learning_rate=training.min_learning_rate))
        if experiment.curriculum is not None:  # first: its stage goes into the logs of the others
            callbacks.insert(0, experiment.curriculum)
        model.fit(train_data, validation_data=valid_data, epochs=training.epochs,
                  callbacks=[*callbacks, *extra_callbacks], shuffle=False, verbose=verbose)
        if guard.stopped_at is not None:
            raise RunError(_nan_message(guard, run_dir))
        checkpoint = os.path.join(run_dir, run_callbacks_module.CHECKPOINT)
        if os.path.exists(checkpoint):
            model.load_weights(checkpoint)
        if not chief:
            model.save(os.path.join(run_dir, MODEL))  # every worker takes part in saving
            shutil.rmtree(run_dir, ignore_errors=True)
            return None
        model.save(os.path.join(run_dir, MODEL))
    return _report(run_dir, experiment, outputs)


def _report(run_dir, experiment, outputs):
    """Evaluates the saved model on the test split; writes metrics, plots and exports."""
    config, task = experiment.config, experiment.task
    model = keras.saving.load_model(os.path.join(run_dir, MODEL), compile=False)
    predictions = _predictions(experiment, model, "test", outputs)
    results = {"model": task.metrics(predictions)}
    baseline = task.baseline(experiment.batches("train", outputs), predictions)
    if baseline is not None:
        results[task.baseline_name] = baseline
    history = plots.read_history_csv(os.path.join(run_dir, run_callbacks_module.HISTORY))
    count = _count(predictions)
    summary = {"split": "test", f"num_{task.unit}": count, "epochs": len(history.get("epoch", [])),
               **{column: _defined(metrics) for column, metrics in results.items()}}
    with open(os.path.join(run_dir, METRICS), "w") as handle:
        json.dump(summary, handle, indent=1)
    task.write_predictions(predictions, os.path.join(run_dir, PREDICTIONS))
    print(task.report(results, f"Test metrics of {config.name} ({count} {task.unit})"))
    if config.output.plots:
        plots.plot_history(history, os.path.join(run_dir, "history.png"))
        task.plot(predictions, run_dir, f"{config.name}: test predictions")
    for fmt in config.output.formats:
        export_model(model, run_dir, fmt, experiment.input_spec)
    print(f"Wrote {run_dir}")
    return results["model"]


def _predictions(experiment, model, split, outputs):
    """The task's predictions of `model` on `split`, with the task's `example_info`."""
    predictions = experiment.task.predict(model, experiment.batches(split, outputs))
    return {**predictions, **experiment.task.example_info(split, _count(predictions))}


def _count(predictions):
    """The number of entries in `predictions` (the length of its arrays: the task's `unit`)."""
    return int(len(next(iter(predictions.values()))))


def _defined(metrics):
    """`metrics` as JSON values: floats, and `None` for an undefined (non-finite) one."""
    return {name: float(value) if math.isfinite(value) else None for name, value in metrics.items()}


def export_model(model, run_dir, fmt, input_spec, out=None):
    """Writes `model` in `fmt` (`keras`, `saved_model` or `tflite`); returns the path."""
    path = out or os.path.join(run_dir, EXPORT_PATHS[fmt])
    inputs = export.example_inputs(input_spec, batch_size=1)
    if fmt == "keras":
        if os.path.abspath(path) != os.path.abspath(os.path.join(run_dir, MODEL)):
            model.save(path)
    elif fmt == "saved_model":
        export.export_saved_model(model, path, inputs)
    else:
        export.export_tflite(model, path, inputs)
    return path


def load_experiment(run_dir, overrides=(), data_path=None):
    """`(experiment, model)` of a finished run: its `Experiment` (the config with
    `overrides` and `data_path` as `evaluate_run` takes them) and its `model.keras`."""
    config, model = _load_run(run_dir, overrides, data_path)
    return Experiment.from_config(config), model


def _load_run(run_dir, overrides=(), data_path=None):
    config_path = os.path.join(run_dir, CONFIG)
    if not os.path.exists(config_path):
        raise ConfigError(f"run_dir: {run_dir!r} holds no {CONFIG}; "
                          "accepted: a directory written by msa-tf train")
    if not os.path.exists(os.path.join(run_dir, MODEL)):
        raise ConfigError(f"run_dir: {run_dir!r} holds no {MODEL}: the run did not finish")
    values = load_config(config_path).to_dict()
    if data_path is not None:
        values["data"] = _data_for_path(values["data"], data_path)
    config = _checked(config_path, ExperimentConfig.from_dict, apply_overrides(values, overrides))
    model = keras.saving.load_model(os.path.join(run_dir, MODEL), compile=False)
    return config, model


def _data_for_path(data, path):
    """The config's `data` section for the data at `path` instead: the run's batch sizes
    and lengths, and the arguments that the run's source carries to the new one (e.g.
    the clip decoding settings of an audio-visual run)."""
    run_source = sources.source_class(data["source"])
    name = _checked("data", run_source.source_for_path, path)
    accepted = sources.source_arguments(name)
    carried = {key: data[key] for key in getattr(run_source, "carried_arguments", ())
               if key in data and key in accepted}
    kept = {key: data[key] for key in ("batch_size", "eval_batch_size", "pad_to")}
    return {**kept, **carried, "source": name, "path": path}


def evaluate_run(run_dir, split="test", overrides=(), data_path=None, out=None):
    """Evaluates `<run_dir>/model.keras` on `split`; prints and returns the metrics.

    `data_path` or `overrides` (`"data.key=value"`, `"task.key=value"`) change the data
    or the scoring; the lengths stay those of the run. `data_path` is data of the run's
    kind, read by the source that `source_for_path` names: an MMSA feature file or a
    shards folder for a sentiment run; JSONL, sequence shards or UTF-8 text for a
    language model; clip files or pre-extracted clips for a deepfake detector. With
    `out`, the metrics (`metrics.json`), the task's per-example table
    (`predictions.csv`) and its plots are written into that folder.
    """
    require_backend("The experiment runner", "tensorflow")
    _checked("split", check_choice, "split", split, sources.SPLITS)
    experiment, model = load_experiment(run_dir, overrides, data_path)
    outputs = experiment.model_outputs(model)
    predictions = _predictions(experiment, model, split, outputs)
    task = experiment.task
    metrics = task.metrics(predictions)
    title = f"{split} metrics of {run_dir} ({_count(predictions)} {task.unit})"
    print(task.report({"model": metrics}, title))
    if out is not None:
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, METRICS), "w") as handle:
            json.dump({"split": split, "data": data_path, f"num_{task.unit}": _count(predictions),
                       "model": _defined(metrics)}, handle, indent=1)
        task.write_predictions(predictions, os.path.join(out, PREDICTIONS))
        task.plot(predictions, out, title)
        print(f"Wrote {out}")
    return metrics


def export_run(run_dir, fmt, out=None):
    """Exports `<run_dir>/model.keras` as `fmt` (`keras`, `saved_model`, `tflite`); returns the path."""
    require_backend("The experiment runner", "tensorflow")
    _checked("format", check_choice, "format", fmt, tuple(EXPORT_PATHS))
    _, model = _load_run(run_dir)
    with open(os.path.join(run_dir, SIGNATURE)) as handle:
        spec = json.load(handle)
    return export_model(model, run_dir, fmt, spec, out)
