"""A language-modelling experiment through the same runner and command line as the
sentiment ones: the shipped config, made tiny with overrides."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from generators import write_shards
from generators.sequence_io import write_jsonl
from generators.sequences import make_generator
from msa_tf.export import example_inputs
from msa_tf.training import plots, runner
from msa_tf.training.config import load_config
from tests.training.conftest import ROOT, msa_tf_command

CONFIG = os.path.join(ROOT, "configs", "sequences", "causal_lm.yaml")
# Every position of a short sequence inside a pattern: a few epochs learn enough to beat
# the bigram model clearly, after a first epoch on the first 12 tokens of each.
TINY_OVERRIDES = [
    "data.num_samples=1024", "data.batch_size=16", "data.seq_length=24", "data.vocab_size=24",
    "data.pattern_probability=1.0", "data.curriculum=[{epochs: 1, max_length: 12}, {}]",
    "model.width=32", "training.epochs=4", "training.learning_rate=0.005", "training.jit_compile=false",
    "output.tensorboard=false",
]


@pytest.fixture(scope="session")
def language_model_run(tmp_path_factory):
    run_dir = str(tmp_path_factory.mktemp("lm") / "run")
    overrides = [argument for item in [*TINY_OVERRIDES, f"output.dir={run_dir}"]
                 for argument in ("--set", item)]
    result = msa_tf_command("train", CONFIG, *overrides, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir, result.stdout


def test_a_language_model_run_reports_accuracy_and_perplexity_against_the_bigram(language_model_run):
    run_dir, stdout = language_model_run
    for name in ("history.png", "token_accuracy.png", "model.keras", "saved_model/saved_model.pb"):
        assert os.path.exists(os.path.join(run_dir, name)), name
    resolved = load_config(os.path.join(run_dir, "config.yaml"))
    assert resolved.task.name == "language_modeling", "the data source's default task"
    assert (resolved.model.arguments["vocab_size"], resolved.model.arguments["max_length"]) == (24, 24)
    with open(os.path.join(run_dir, "metrics.json")) as handle:
        metrics = json.load(handle)
    model, bigram = metrics["model"], metrics["bigram"]
    # 1024 test sequences of 24 tokens, the last of each without a label.
    assert metrics["num_tokens"] == model["num_tokens"] == 1024 * 23
    assert model["accuracy"] > bigram["accuracy"] + 0.03, (model, bigram)
    assert model["perplexity"] < 0.9 * bigram["perplexity"], (model, bigram)
    assert "bigram" in stdout and "perplexity" in stdout and "(23552 tokens)" in stdout
    history = plots.read_history_csv(os.path.join(run_dir, "history.csv"))
    assert history["curriculum_stage"] == [0, 1, 1, 1]


def test_evaluate_reproduces_the_run_and_the_saved_model_serves_its_logits(language_model_run, tmp_path):
    run_dir, _ = language_model_run
    with open(os.path.join(run_dir, "metrics.json")) as handle:
        expected = json.load(handle)["model"]
    assert runner.evaluate_run(run_dir) == pytest.approx(expected, rel=1e-5)
    # The run's sequences written to files: `--data` reads them with the source they need.
    data = load_config(os.path.join(run_dir, "config.yaml")).data.arguments
    generator = make_generator(**{key: value for key, value in data.items() if key != "curriculum"})
    write_jsonl(generator, str(tmp_path / "jsonl"), progress=False)
    write_shards(generator, str(tmp_path / "shards"), progress=False)
    for folder in ("jsonl", "shards"):
        metrics = runner.evaluate_run(run_dir, data_path=str(tmp_path / folder))
        assert metrics == pytest.approx(expected, rel=1e-5), folder
    with open(os.path.join(run_dir, "signature.json")) as handle:
        inputs = example_inputs(json.load(handle), batch_size=2, seed=3)
    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"), compile=False)
    served = tf.saved_model.load(os.path.join(run_dir, "saved_model")).signatures["serving_default"](
        **{name: tf.constant(value) for name, value in inputs.items()})
    np.testing.assert_allclose(served["next_token"].numpy(), model(inputs)["next_token"].numpy(),
                               rtol=1e-5, atol=1e-5)
