import subprocess
import sys
from pathlib import Path

import msa_tf
from msa_tf import cli
from msa_tf.layers import __all__ as layer_names

SCRIPT = Path(sys.executable).parent / "msa-tf"


def test_version_from_the_installed_script():
    run = subprocess.run([str(SCRIPT), "--version"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0
    assert run.stdout.strip() == f"msa-tf {msa_tf.__version__}"


def test_models_lists_every_registered_layer_with_a_description(capsys):
    assert cli.main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    listed = {line.split()[0]: line for line in lines}
    registered = {name for name in layer_names if name[0].isupper()}
    assert registered <= set(listed)
    assert "Text-anchored cross-modal attention" in listed["CrossModalFusion"]
    assert all(len(line.split()) > 2 for line in lines), "every entry has a description"


def test_no_command_prints_help_and_exits_2(capsys):
    assert cli.main([]) == 2
    assert "models" in capsys.readouterr().out


def test_models_help_shows_an_example():
    run = subprocess.run([str(SCRIPT), "models", "--help"], capture_output=True, text=True, timeout=120)
    assert "Example: msa-tf models" in run.stdout
