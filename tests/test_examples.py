"""The README's code and the `make demo` quickstart run, and their models learn."""

import re
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _run_readme_section(heading, tmp_path):
    readme = (ROOT / "README.md").read_text()
    example = re.search(rf"## {heading}\n\n```python\n(.*?)```", readme, re.S)
    script = tmp_path / "readme_example.py"
    script.write_text(example.group(1))
    return runpy.run_path(str(script))


def test_readme_python_example_runs_and_learns(tmp_path):
    namespace = _run_readme_section("A fusion model in a few lines", tmp_path)
    losses = namespace["history"].history["loss"]
    assert losses[-1] < losses[0]
    weights = namespace["head"].modality_weights
    assert set(weights) == {"text", "audio", "vision"}
    assert np.isclose(sum(weights.values()), 1.0, atol=1e-5)


def test_quickstart_loss_falls_and_beats_the_mean_predictor():
    run = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "fusion_quickstart.py"), "--epochs", "4",
         "--samples", "1024"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    test_mse, mean_mse = map(
        float, re.search(r"test MSE: ([\d.]+)\s+\(mean predictor: ([\d.]+)\)", run.stdout).groups()
    )
    assert test_mse < 0.5 * mean_mse, run.stdout


def test_readme_synthetic_data_example_runs(tmp_path):
    namespace = _run_readme_section("Synthetic data", tmp_path)
    inputs, targets = namespace["train"].element_spec
    assert inputs["text"].shape.as_list() == [32, 50, 768]
    assert targets["regression"].shape.as_list() == [32, 1]


def test_readme_model_zoo_example_runs(tmp_path):
    namespace = _run_readme_section("A model from the zoo", tmp_path)
    assert np.all(np.isfinite(namespace["history"].history["loss"]))
