import csv
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import yaml

from msa_tf import cli
from msa_tf.training import runner
from msa_tf.training.config import ConfigError, load_config
from tests.training.conftest import TINY, msa_tf_command, tiny_config


def history_epochs(run_dir):
    with open(os.path.join(run_dir, "history.csv"), newline="") as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory):
    """One run through the command line, with every export, the plots and TensorBoard.

    Session-scoped, so that a test worker trains it once however the tests of this
    module are interleaved with others.
    """
    path, run_dir = tiny_config(
        tmp_path_factory.mktemp("finished"), "finished",
        output={"plots": True, "tensorboard": True, "formats": ["keras", "saved_model", "tflite"]},
    )
    result = msa_tf_command("train", path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir, result.stdout


def test_a_run_writes_a_self_describing_directory(finished_run):
    run_dir, stdout = finished_run
    for name in ("config.yaml", "signature.json", "history.csv", "metrics.json", "model.keras",
                 "checkpoint.keras", "history.png", "predictions.png", "model.tflite",
                 "saved_model/saved_model.pb", "tensorboard/train", "tensorboard/validation"):
        assert os.path.exists(os.path.join(run_dir, name)), name
    assert not os.path.exists(os.path.join(run_dir, "backup")), "a finished run deletes its backup"
    resolved = load_config(os.path.join(run_dir, "config.yaml"))
    assert resolved.model.arguments["seq_len"] in (6, {"text": 6, "audio": 6, "vision": 6})
    assert resolved.model.arguments["text_dim"] == 6 and resolved.model.arguments["vision_dim"] == 3
    assert resolved.task.name == "sentiment", "the data source's default task"
    assert resolved.data.pad_to == {"text": 6, "audio": 6, "vision": 6}
    assert resolved.data.arguments["max_length"] == 6, "the generator's own setting"
    with open(os.path.join(run_dir, "signature.json")) as handle:
        assert json.load(handle)["audio"] == [[6, 4], "float32"]
    assert history_epochs(run_dir) == [0, 1, 2, 3]
    assert "mean_predictor" in stdout and "corr" in stdout and "Wrote" in stdout


def test_the_trained_model_beats_the_mean_predictor(finished_run):
    run_dir, _ = finished_run
    with open(os.path.join(run_dir, "metrics.json")) as handle:
        metrics = json.load(handle)
    assert metrics["num_examples"] == 256 and metrics["epochs"] == 4
    model, baseline = metrics["model"], metrics["mean_predictor"]
    assert model["mae"] < 0.8 * baseline["mae"], (model, baseline)
    assert model["corr"] > 0.5, model
    assert baseline["corr"] is None, "a mean predictor has no correlation"


def test_evaluate_reproduces_the_test_metrics_of_the_run(finished_run, capsys):
    run_dir, _ = finished_run
    with open(os.path.join(run_dir, "metrics.json")) as handle:
        expected = json.load(handle)["model"]
    assert cli.main(["evaluate", run_dir]) == 0
    assert "test metrics" in capsys.readouterr().out
    metrics = runner.evaluate_run(run_dir, split="test")
    assert metrics == pytest.approx(expected, rel=1e-5)
    harder = runner.evaluate_run(run_dir, overrides=["data.correlation_strength=0.0"])
    assert harder["corr"] < metrics["corr"] - 0.3, "evaluate must use the overridden data"


def test_evaluate_on_shards_of_the_same_data_gives_the_run_metrics(finished_run, tmp_path):
    from generators import MultimodalGenerator, write_shards

    run_dir, _ = finished_run
    with open(os.path.join(run_dir, "metrics.json")) as handle:
        expected = json.load(handle)["model"]
    settings = {key: value for key, value in TINY["data"].items() if key not in ("source", "batch_size")}
    shards = str(tmp_path / "shards")
    write_shards(MultimodalGenerator(**settings), shards, splits=["test"], progress=False)
    assert runner.evaluate_run(run_dir, data_path=shards) == pytest.approx(expected, rel=1e-5)


def keras_predictions(run_dir, inputs):
    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"), compile=False)
    return model(inputs, training=False)["regression"].numpy()


def test_the_exported_saved_model_serves_the_keras_predictions_in_a_fresh_process_and_the_cli(
        finished_run, tmp_path):
    from msa_tf.export import example_inputs

    run_dir, _ = finished_run
    with open(os.path.join(run_dir, "signature.json")) as handle:
        inputs = example_inputs(json.load(handle), batch_size=3, seed=5)
    np.savez(tmp_path / "inputs.npz", **inputs)
    script = (
        "import numpy as np, tensorflow as tf\n"
        f"inputs = dict(np.load({str(tmp_path / 'inputs.npz')!r}))\n"
        f"loaded = tf.saved_model.load({os.path.join(run_dir, 'saved_model')!r})\n"
        "out = loaded.signatures['serving_default'](**{k: tf.constant(v) for k, v in inputs.items()})\n"
        f"np.save({str(tmp_path / 'served.npy')!r}, out['regression'].numpy())\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=300,
                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    expected = keras_predictions(run_dir, inputs)
    np.testing.assert_allclose(np.load(tmp_path / "served.npy"), expected, rtol=1e-5, atol=1e-6)

    saved_model_cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    npz = tmp_path / "inputs.npz"
    subprocess.run(
        [saved_model_cli, "run", "--dir", os.path.join(run_dir, "saved_model"), "--tag_set", "serve",
         "--signature_def", "serving_default", "--outdir", str(tmp_path / "cli"),
         "--inputs", ";".join(f"{name}={npz}[{name}]" for name in inputs)],
        check=True, capture_output=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    np.testing.assert_allclose(np.load(tmp_path / "cli" / "regression.npy"), expected, rtol=1e-5, atol=1e-6)


def test_export_command_writes_a_tflite_model_with_the_keras_predictions(finished_run, tmp_path):
    from msa_tf.export import example_inputs, run_tflite

    run_dir, _ = finished_run
    out = str(tmp_path / "exported.tflite")
    assert cli.main(["export", run_dir, "--format", "tflite", "--out", out]) == 0
    with open(os.path.join(run_dir, "signature.json")) as handle:
        inputs = example_inputs(json.load(handle), batch_size=1, seed=2)
    served = run_tflite(out, inputs)["regression"]
    np.testing.assert_allclose(served, keras_predictions(run_dir, inputs), rtol=1e-4, atol=1e-5)


def test_a_finished_run_is_not_overwritten_without_the_flag(finished_run, capsys):
    run_dir, _ = finished_run
    config = os.path.join(run_dir, "config.yaml")
    before = os.path.getmtime(os.path.join(run_dir, "metrics.json"))
    assert cli.main(["train", config]) == 2
    assert "holds a finished run; pass --overwrite" in capsys.readouterr().err
    assert os.path.getmtime(os.path.join(run_dir, "metrics.json")) == before


@pytest.mark.parametrize(
    "override, message",
    [
        ("training.epoch=3", "did you mean `training.epochs`?"),
        ("training.epochs=many", "`training.epochs` must be an integer"),
        ("model.name=transformer", "`model.name` must be one of"),
        ("data.preset=mosii", "preset"),
        ("model.rank=0", "model: `rank` must be a positive integer"),
        ("training.precision=float17", "training.precision"),
    ],
)
def test_bad_configs_exit_2_with_one_line_and_write_nothing(tiny, capsys, override, message):
    path, run_dir = tiny()
    assert cli.main(["train", path, "--set", override]) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1, error
    assert not os.path.exists(run_dir)


def test_a_missing_data_file_is_named(tiny, capsys):
    path, run_dir = tiny()
    assert cli.main(["train", path, "--set", "data={source: mmsa, path: /no/such/features.pkl}"]) == 2
    assert "/no/such/features.pkl" in capsys.readouterr().err
    assert not os.path.exists(run_dir)


class PoisonWeights(keras.callbacks.Callback):
    """Turns the weights into NaN at the start of epoch `epoch`."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            for weight in self.model.trainable_weights:
                weight.assign(np.full(weight.shape, np.nan, weight.dtype))


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tiny):
    path, run_dir = tiny("nan")
    with pytest.raises(runner.RunError, match="became nan in epoch 3.*checkpoint.keras"):
        runner.train(load_config(path), extra_callbacks=[PoisonWeights(2)], verbose=0)
    assert history_epochs(run_dir)[:2] == [0, 1]
    assert not os.path.exists(os.path.join(run_dir, "metrics.json"))
    best = keras.saving.load_model(os.path.join(run_dir, "checkpoint.keras"), compile=False)
    assert all(np.isfinite(w).all() for w in best.get_weights())
    with open(os.path.join(run_dir, "backup", "training_metadata.json")) as handle:
        assert json.load(handle)["epoch"] == 2, "the backup holds the last good epoch"


@pytest.mark.parametrize(
    "training, task, model",
    [
        ({"optimizer": "adamw", "schedule": "cosine_restarts", "clipnorm": 1.0},
         {"loss": "huber", "loss_weights": {"regression": 1.0, "classification": 0.5}},
         {"num_classes": 7}),
        ({"schedule": "reduce_on_plateau", "gradient_accumulation_steps": 2, "steps_per_execution": 2,
          "precision": "mixed_bfloat16"}, {"name": "sentiment", "loss": "mse"}, {}),
    ],
    ids=["adamw-restarts-clip-huber-classification", "plateau-accumulation-bfloat16"],
)
def test_training_options_train_to_finite_metrics(tiny, training, task, model):
    path, run_dir = tiny(training={"epochs": 2, **training}, task=task, model=model)
    metrics = runner.train(load_config(path), verbose=0)
    assert all(math.isfinite(v) for v in metrics.values()), metrics
    saved = keras.saving.load_model(os.path.join(run_dir, "model.keras"), compile=False)
    if "precision" in training:
        assert saved.dtype_policy.name == "mixed_bfloat16"
    with open(os.path.join(run_dir, "history.csv"), newline="") as handle:
        columns = next(csv.reader(handle))
    assert ("classification_acc" in columns) == ("num_classes" in model), columns
    assert keras.mixed_precision.global_policy().name == "float32", "the runner restores the policy"
    with open(os.path.join(run_dir, "config.yaml")) as handle:
        assert yaml.safe_load(handle)["task"] == {"name": "sentiment", **task}


def test_a_classification_head_must_match_the_data(tiny):
    path, run_dir = tiny(model={"num_classes": 3})
    with pytest.raises(ConfigError, match="classification output has 3 classes but the data have 7"):
        runner.train(load_config(path), verbose=0)
    assert not os.path.exists(run_dir)


def test_a_run_killed_mid_epoch_resumes_from_its_backup(tiny):

    epochs = 4
    path, run_dir = tiny("killed", data={"num_samples": 2048}, training={"epochs": epochs})
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    process = subprocess.Popen([sys.executable, "-m", "msa_tf.cli", "train", path], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    history = os.path.join(run_dir, "history.csv")
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        if os.path.exists(history) and history_epochs(run_dir):
            break
        time.sleep(0.05)
    time.sleep(0.3)  # into the next epoch
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = history_epochs(run_dir)
    assert 1 <= len(done) < epochs, f"the kill must land mid-run; epochs logged: {done}"

    resumed = msa_tf_command("train", path, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Resuming {run_dir} after epoch {len(done)}" in resumed.stdout
    assert history_epochs(run_dir) == list(range(epochs)), "the epoch count continues"
    with open(os.path.join(run_dir, "metrics.json")) as handle:
        assert json.load(handle)["epochs"] == epochs


def test_mirrored_strategy_on_two_logical_cpus(tiny):
    path, run_dir = tiny("mirrored", training={"strategy": "mirrored", "epochs": 2})
    script = (
        "import sys, tensorflow as tf\n"
        "cpu = tf.config.list_physical_devices('CPU')[0]\n"
        "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)\n"
        "from msa_tf import cli\n"
        f"sys.exit(cli.main(['train', {path!r}]))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stderr[-3000:]
    with open(os.path.join(run_dir, "metrics.json")) as handle:
        metrics = json.load(handle)["model"]
    assert all(math.isfinite(v) for v in metrics.values())
    assert metrics["corr"] > 0.5, "the replicas must learn together"


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_multi_worker_mirrored_strategy_with_two_local_workers(tiny):
    path, run_dir = tiny("workers", training={"strategy": "auto", "epochs": 2})
    workers = [f"localhost:{port}" for port in free_ports(2)]
    processes = []
    for index in range(2):
        tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TF_CONFIG": tf_config}
        processes.append(subprocess.Popen([sys.executable, "-m", "msa_tf.cli", "train", path], env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [process.communicate(timeout=600) for process in processes]
    for process, (_, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr[-3000:]
    with open(os.path.join(run_dir, "metrics.json")) as handle:
        metrics = json.load(handle)["model"]
    assert all(math.isfinite(v) for v in metrics.values())
    assert metrics["corr"] > 0.5, "the replicas must learn together"
    assert "Test metrics" in outputs[0][0] and "Test metrics" not in outputs[1][0], "only the chief reports"
    with open(os.path.join(run_dir, "config.yaml")) as handle:
        assert yaml.safe_load(handle)["training"]["strategy"] == "auto"
