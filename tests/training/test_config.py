import glob
import os

import pytest
import yaml

from msa_tf.training.config import (
    ConfigError,
    ExperimentConfig,
    apply_overrides,
    load_config,
    write_config,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIGS = sorted(glob.glob(os.path.join(ROOT, "configs", "**", "*.yaml"), recursive=True))


def write(tmp_path, values, name="experiment.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(values))
    return str(path)


def test_sections_fill_defaults_and_name_comes_from_the_file(tmp_path):
    config = load_config(write(tmp_path, {"model": {"name": "mult", "model_dim": 12}}, "small.yaml"))
    assert config.name == "small"
    assert config.model.name == "mult" and config.model.arguments == {"model_dim": 12}
    assert config.task.name is None and config.task.arguments == {}, "the source's default task"
    assert config.data.source == "synthetic" and config.data.batch_size == 32
    assert config.training.epochs == 10 and config.training.precision == "auto"
    assert config.output.dir == os.path.join("runs", "small")


def test_overrides_set_nested_keys_with_yaml_values(tmp_path):
    path = write(tmp_path, {"training": {"epochs": 10}})
    config = load_config(path, ["training.epochs=3", "data.pad_to={text: 8}", "training.clipnorm=1"])
    assert config.training.epochs == 3
    assert config.data.pad_to == {"text": 8}
    assert config.training.clipnorm == 1.0 and isinstance(config.training.clipnorm, float)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"traning": {}}, "unknown key `traning` (did you mean `training`?)"),
        ({"training": {"epoch": 3}}, "unknown key `training.epoch` (did you mean `training.epochs`?)"),
        ({"model": {"name": "msa", "model_dimm": 8}},
         "unknown key `model.model_dimm` (did you mean `model.model_dim`?)"),
        ({"data": {"num_sample": 8}}, "unknown key `data.num_sample` (did you mean `data.num_samples`?)"),
        ({"output": {"dirs": "x"}}, "unknown key `output.dirs` (did you mean `output.dir`?)"),
        ({"model": {"name": "mutl"}}, "received model.name='mutl' (did you mean 'mult'?)"),
        ({"data": {"source": "synthetc"}}, "(did you mean 'synthetic'?)"),
        ({"training": {"optimizer": "adamm"}}, "(did you mean 'adam'?)"),
        ({"training": {"epochs": "ten"}},
         "`training.epochs` must be an integer; received training.epochs='ten'"),
        ({"training": {"epochs": 0}}, "`training.epochs` must be >= 1"),
        ({"training": {"jit_compile": "yes"}}, "`training.jit_compile` must be true or false"),
        ({"data": {"batch_size": 1.5}}, "`data.batch_size` must be an integer; received data.batch_size=1.5"),
        ({"data": {"pad_to": "long"}}, "`data.pad_to` must be an integer or a mapping or null"),
        ({"output": {"formats": ["onnx"]}},
         "`output.formats` must be one of 'keras', 'saved_model', 'tflite'"),
        ({"model": ["msa"]}, "`model` must be a mapping"),
        ({"task": {"name": "sentimet"}}, "received task.name='sentimet' (did you mean 'sentiment'?)"),
        ({"task": {"name": "sentiment", "los": "mse"}}, "unknown key `task.los` (did you mean `task.loss`?)"),
        ({"training": {"learning_rate": float("nan")}}, "`training.learning_rate` must be a finite number"),
        ({"training": {"clipnorm": float("inf")}}, "`training.clipnorm` must be a finite number"),
    ],
)
def test_bad_configs_name_the_key_the_value_and_what_is_accepted(tmp_path, values, message):
    path = write(tmp_path, values)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert message in str(error.value)
    assert str(error.value).startswith(path)
    assert "\n" not in str(error.value)


def test_missing_and_malformed_files_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(str(tmp_path / "none.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("training: {epochs: 3\n")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_config(str(bad))


def test_a_malformed_override_is_a_config_error():
    with pytest.raises(ConfigError, match="section.key=value"):
        apply_overrides({}, ["training.epochs"])
    with pytest.raises(ConfigError, match="`training.epochs` is not a section"):
        apply_overrides({"training": {"epochs": 3}}, ["training.epochs.x=1"])


def test_a_task_may_be_given_by_name_alone(tmp_path):
    config = load_config(write(tmp_path, {"task": "sentiment"}))
    assert config.task.name == "sentiment" and config.task.to_dict() == {"name": "sentiment"}


def test_the_written_config_reads_back_identically(tmp_path):
    config = load_config(write(tmp_path, {"model": {"name": "msa", "model_dim": 16},
                                          "data": {"preset": "mosei", "batch_size": 8}}))
    write_config(config, tmp_path / "resolved.yaml")
    assert load_config(str(tmp_path / "resolved.yaml")) == config


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: os.path.relpath(p, os.path.join(ROOT, "configs")))
def test_every_shipped_config_is_valid(path):
    config = load_config(path)
    assert config.output.dir.startswith("runs")
    assert config.name == ExperimentConfig.from_dict(config.to_dict()).name


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: os.path.relpath(p, os.path.join(ROOT, "configs")))
def test_every_shipped_config_builds_its_model(path, tmp_path):
    from msa_tf.training.runner import Experiment
    from tests.data.test_mmsa import make_file, write_pickle

    config = load_config(path)
    if config.data.source == "mmsa":  # a small file in place of the one the user fills in
        config = load_config(path, [f"data.path={write_pickle(tmp_path, make_file()[0])}"])
    experiment = Experiment.from_config(config)
    model, outputs = experiment.build_model()
    assert outputs[0] == experiment.task.targets[0] and model.count_params() > 0


def test_data_settings_do_not_shadow_source_arguments():
    """A `data` key goes either to DataConfig or to the source, never both ways."""
    import dataclasses

    from msa_tf.data import source_arguments, source_names
    from msa_tf.training.config import DataConfig

    fields = {field.name for field in dataclasses.fields(DataConfig)} - {"source", "arguments"}
    for name in source_names():
        assert not fields & set(source_arguments(name)), name


def test_there_is_a_config_per_model_and_data_source():
    from msa_tf import models

    def domain_models(package):
        return {name for name in models.names()
                if models.model_class(name).__module__.startswith(f"msa_tf.models.{package}.")}

    expected = {"synthetic": domain_models("msa"), "mosi": domain_models("msa"),
                "mosei": domain_models("msa"), "sequences": domain_models("sequence"),
                "image_mask": domain_models("image"), "deepfake": domain_models("deepfake")}
    for folder, names in expected.items():
        shipped = {os.path.basename(p)[:-5] for p in CONFIGS
                   if os.path.basename(os.path.dirname(p)) == folder}
        assert names and shipped == names, folder


def test_a_curriculum_needs_stages_and_a_source_whose_data_have_one():
    from msa_tf.training.runner import Experiment

    sequences = {"model": {"name": "causal_lm"}, "data": {"source": "sequences", "num_samples": 8}}
    stages = [{"epochs": 2, "max_length": 6}, {"complexity": [0, 1]}]
    experiment = Experiment.from_config(ExperimentConfig.from_dict(
        {**sequences, "data": {**sequences["data"], "curriculum": stages}}))
    assert [stage.max_length for stage in experiment.curriculum.stages] == [6, None]
    assert Experiment.from_config(ExperimentConfig.from_dict(sequences)).curriculum is None
    with pytest.raises(ConfigError, match=r"`data.curriculum` must be a list or null; received "
                                          r"data.curriculum=\{'epochs': 2\}"):
        ExperimentConfig.from_dict({"data": {"curriculum": {"epochs": 2}}})
    with pytest.raises(ConfigError, match=r"^data.curriculum: `curriculum\[1\].epochs` must be a positive"):
        Experiment.from_config(ExperimentConfig.from_dict(
            {**sequences, "data": {**sequences["data"], "curriculum": [{"epochs": 1}, {"epochs": -1}]}}))
    with pytest.raises(ConfigError, match=r"^data.curriculum: `curriculum` must be None for "
                                          r"SyntheticSource \(data for task 'sentiment'\); the "
                                          r"token-sequence sources take one"):
        Experiment.from_config(ExperimentConfig.from_dict(
            {"data": {"num_samples": 8, "curriculum": stages}}))
