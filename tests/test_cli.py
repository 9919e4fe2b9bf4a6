import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import msa_tf
from msa_tf import cli
from msa_tf.layers import __all__ as layer_names

SCRIPT = Path(sys.executable).parent / "msa-tf"


def test_version_from_the_installed_script():
    run = subprocess.run([str(SCRIPT), "--version"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0
    assert run.stdout.strip() == f"msa-tf {msa_tf.__version__}"


def test_models_lists_the_zoo_then_the_layers_in_a_fresh_process():
    from msa_tf import models

    run = subprocess.run([str(SCRIPT), "models"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    zoo, layers = run.stdout.split("\n\n")
    zoo_rows = {line.split()[0]: line for line in zoo.splitlines()[1:]}
    layer_rows = {line.split()[0]: line for line in layers.splitlines()[1:]}
    assert zoo.startswith("Models") and layers.startswith("Layers")
    assert list(zoo_rows) == models.names()
    assert "MulT" in zoo_rows["mult"] or "multimodal transformer" in zoo_rows["mult"].lower()
    assert {name for name in layer_names if name[0].isupper()} <= set(layer_rows)
    assert "Text-anchored cross-modal attention" in layer_rows["CrossModalFusion"]
    assert all(len(line.split()) > 2 for line in [*zoo_rows.values(), *layer_rows.values()]), \
        "every entry has a description"


def test_import_msa_tf_is_enough_to_load_a_saved_model_in_a_fresh_process(tmp_path):
    from msa_tf import models

    model = models.get("lmf", model_dim=4, post_fusion_dim=4, rank=2)
    inputs = {m: np.ones((2, 3, 2), "float32") for m in ("text", "audio", "vision")}
    expected = model(inputs)["regression"].numpy()
    model.save(tmp_path / "model.keras")
    np.savez(tmp_path / "inputs.npz", **inputs)
    script = (
        "import keras, numpy as np, msa_tf\n"
        f"model = keras.saving.load_model({str(tmp_path / 'model.keras')!r})\n"
        f"inputs = dict(np.load({str(tmp_path / 'inputs.npz')!r}))\n"
        "print(model(inputs)['regression'].numpy().tolist())\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    np.testing.assert_allclose(eval(run.stdout.strip().splitlines()[-1]), expected, rtol=1e-6)


def test_no_command_prints_help_and_exits_2(capsys):
    assert cli.main([]) == 2
    assert "models" in capsys.readouterr().out


def test_models_help_shows_an_example():
    run = subprocess.run([str(SCRIPT), "models", "--help"], capture_output=True, text=True, timeout=120)
    assert "Example: msa-tf models" in run.stdout


@pytest.mark.parametrize("command", ["models", "generate", "generate multimodal", "train", "evaluate",
                                     "export"])
def test_every_subcommand_help_shows_an_example(command, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.build_parser().parse_args([*command.split(), "--help"])
    assert exited.value.code == 0
    assert f"Example: msa-tf {command}" in capsys.readouterr().out


def test_a_failure_during_a_run_exits_1_with_the_cause(monkeypatch, tmp_path, capsys):
    from msa_tf.training import runner

    def fail(*args, **kwargs):
        raise runner.RunError("training stopped: the loss became nan in epoch 2, batch 3")

    monkeypatch.setattr(runner, "train", fail)
    config = tmp_path / "run.yaml"
    config.write_text("model: {name: msa}\n")
    assert cli.main(["train", str(config)]) == 1
    assert capsys.readouterr().err.strip() == (
        "msa-tf train: failed: training stopped: the loss became nan in epoch 2, batch 3")


def test_train_prints_one_line_per_epoch_when_stdout_is_not_a_terminal(monkeypatch, tmp_path):
    from msa_tf.training import runner

    received = {}
    monkeypatch.setattr(runner, "train", lambda config, **kwargs: received.update(kwargs))
    config = tmp_path / "run.yaml"
    config.write_text("model: {name: msa}\n")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False)
    assert cli.main(["train", str(config)]) == 0
    assert received["verbose"] == 2
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert cli.main(["train", str(config)]) == 0
    assert received["verbose"] == "auto"


def test_generate_multimodal_writes_shards_that_read_back(tmp_path, capsys):
    from generators import read_shards

    argv = ["generate", "multimodal", "--out", str(tmp_path), "--num-samples", "40", "--shards", "2",
            "--splits", "train", "test", "--set", "text_dim=8", "--set", "max_length=12",
            "--set", "interaction=synergy"]
    assert cli.main(argv) == 0
    assert "wrote 4 shards" in capsys.readouterr().out
    inputs, targets = next(iter(read_shards(tmp_path, "train", batch_size=40, pad_to=12)))
    assert tuple(inputs["text"].shape) == (40, 12, 8)
    assert cli.main(argv) == 0
    assert "wrote 0 shards, skipped 4" in capsys.readouterr().out


@pytest.mark.parametrize(
    "setting, message",
    [
        ("corelation_strength=0.3",
         "unknown generator setting 'corelation_strength' (did you mean 'correlation_strength'?)"),
        ("correlation_strength=2", "`correlation_strength['text']` must be a number in [0, 1]"),
        ("text_dim", "`--set` takes key=value; received 'text_dim'"),
    ],
)
def test_generate_rejects_bad_settings_with_exit_code_2(tmp_path, capsys, setting, message):
    argv = ["generate", "multimodal", "--out", str(tmp_path / "out"), "--set", setting]
    assert cli.main(argv) == 2
    error = capsys.readouterr().err
    assert message in error and len(error.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
