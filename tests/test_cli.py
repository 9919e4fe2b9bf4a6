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


@pytest.mark.parametrize("command", ["models", "generate", "generate multimodal", "generate sequences",
                                     "train", "evaluate", "export", "analyze", "analyze sequences"])
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


SEQUENCE_ARGV = ["generate", "sequences", "--family", "mqar", "--num-samples", "9", "--splits", "test",
                 "--seed", "3", "--set", "vocab_size=40", "--set", "seq_length=16", "--set", "num_pairs=2"]


def test_generate_sequences_writes_shards_that_read_back_as_the_generator(tmp_path, capsys):
    from generators import make_generator, read_shards

    assert cli.main([*SEQUENCE_ARGV, "--out", str(tmp_path), "--shards", "2"]) == 0
    assert "wrote 2 shards, skipped 0 complete ones" in capsys.readouterr().out
    generator = make_generator("mqar", num_samples=9, seed=3, vocab_size=40, seq_length=16, num_pairs=2)
    (inputs, targets), = list(read_shards(tmp_path, "test", batch_size=9))
    (want_inputs, want_targets), = list(generator.dataset("test", 9))
    np.testing.assert_array_equal(inputs["tokens"].numpy(), want_inputs["tokens"].numpy())
    np.testing.assert_array_equal(targets["next_token"].numpy(), want_targets["next_token"].numpy())


def test_generate_sequences_writes_jsonl_and_skips_complete_files(tmp_path, capsys):
    from generators.sequence_io import read_jsonl

    argv = [*SEQUENCE_ARGV, "--out", str(tmp_path), "--format", "jsonl"]
    assert cli.main(argv) == 0
    assert "wrote 1 files, skipped 0" in capsys.readouterr().out
    lines = list(read_jsonl(tmp_path / "test.jsonl"))
    assert len(lines) == 9 and {line["family"] for line in lines} == {"mqar"}
    assert all(len(line["tokens"]) == 16 for line in lines)
    assert cli.main(argv) == 0
    assert "wrote 0 files, skipped 1" in capsys.readouterr().out


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--set", "num_pair=3"], "unknown generator setting 'num_pair' (did you mean 'num_pairs'?)"),
        (["--set", "power_a=3"], "`power_a` must be a number in (0, 1]; received power_a=3"),
        (["--family", "mqr"], "received --family='mqr' (did you mean 'mqar'?)"),
        (["--format", "jsonl", "--shards", "2"], "`--shards` applies to --format tfrecord"),
    ],
    ids=["unknown", "bad_value", "family", "shards_with_jsonl"],
)
def test_generate_sequences_rejects_bad_settings_with_exit_code_2(tmp_path, capsys, arguments, message):
    argv = ["generate", "sequences", "--family", "mqar", "--out", str(tmp_path / "out"), *arguments]
    assert cli.main(argv) == 2
    error = capsys.readouterr().err
    assert message in error and len(error.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def _sequence_data(kind, directory):
    """A small data set of token sequences of `kind` in `directory`: `(path, argv options)`."""
    from generators.sequence_io import write_jsonl
    from generators.sequences import make_generator
    from generators.shards import write_shards

    generator = make_generator("pattern", vocab_size=24, seq_length=16, num_samples=30, seed=1)
    if kind == "jsonl_folder":
        write_jsonl(generator, str(directory), progress=False)
        return directory, ["--split", "valid"]
    if kind == "sequence_shards":
        write_shards(generator, str(directory), progress=False)
        return directory, []
    if kind == "jsonl":
        write_jsonl(generator, str(directory), splits=["test"], progress=False)
        return directory / "test.jsonl", []
    directory.mkdir()
    path = directory / "notes.txt"
    path.write_text("Each paragraph repeats itself, each paragraph repeats itself.\n\n" * 20)
    return path, ["--seq-length", "64"]


@pytest.mark.parametrize("kind, sequences, vocabulary", [
    ("jsonl_folder", 30, "of 24 ids"), ("sequence_shards", 30, "of 24 ids"), ("jsonl", 30, "of 24 ids"),
    ("text", 20, "of 260 ids")])  # 20 * 63 bytes and a BOS, 64 a sequence
def test_analyze_sequences_prints_the_report_and_writes_three_plots(tmp_path, capsys, kind, sequences,
                                                                   vocabulary):
    path, options = _sequence_data(kind, tmp_path / "data")
    assert cli.main(["analyze", "sequences", str(path), *options]) == 0
    out = capsys.readouterr().out
    assert f"{kind}, vocab_size=" in out.splitlines()[0]
    assert f"sequences            {sequences} (0 empty)" in out and vocabulary in out
    assert "rank-frequency slope" in out and "no problems" in out
    split = {"jsonl_folder": "valid", "sequence_shards": "train"}.get(kind)
    base = str(path.with_suffix("")) + "_analysis"
    plots = Path(base, split) if split else Path(base)
    assert sorted(p.name for p in plots.iterdir()) == ["complexity.png", "entropy.png", "lengths.png",
                                                       "rank_frequency.png"]
    assert all(p.stat().st_size > 1000 for p in plots.iterdir())


def test_analyze_sequences_exits_1_naming_an_id_outside_the_vocabulary(tmp_path, capsys):
    path = tmp_path / "ids.jsonl"
    path.write_text('{"tokens": [5, 6, 7]}\n{"tokens": [5, 12, 7, 6]}\n')
    argv = ["analyze", "sequences", str(path), "--vocab-size", "10", "--plots", str(tmp_path / "plots")]
    assert cli.main(argv) == 1
    out = capsys.readouterr().out
    assert "sequences            2 (0 empty), 7 tokens" in out
    assert "1 real tokens in 1 sequences are outside [0, 10) (e.g. sequence 1 holds 12 at position 1)" in out
    assert len(list((tmp_path / "plots").glob("*.png"))) == 4
    assert cli.main([*argv[:3], "--min-length", "4", "--plots", str(tmp_path / "plots")]) == 1
    assert "1 of 2 sequences are shorter than min_length=4 (e.g. sequence 0 has 3)" in capsys.readouterr().out


@pytest.mark.parametrize("options, message", [
    (["--split", "valid"], "`split` must be None for"),
    (["--vocab-size", "0"], "`--vocab-size` must be a positive integer; received 0"),
])
def test_analyze_sequences_usage_errors_exit_2(tmp_path, capsys, options, message):
    path = tmp_path / "a.jsonl"
    path.write_text('{"tokens": [5, 6, 7]}\n')
    assert cli.main(["analyze", "sequences", str(path), *options]) == 2
    assert message in capsys.readouterr().err


def test_analyze_sequences_reports_a_malformed_line_with_exit_1(tmp_path, capsys):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"tokens": [5, 6, 7]}\n{"tokens": [5, -1]}\n')
    assert cli.main(["analyze", "sequences", str(path)]) == 1
    assert f"failed: {path}, line 2: `tokens[1]` must be an integer >= 0" in capsys.readouterr().err
