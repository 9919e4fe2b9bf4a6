"""The README's code runs, its models learn, and its quickstart config is the shipped one."""

import re
import runpy
from pathlib import Path

import numpy as np
import yaml

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


def test_readme_experiment_config_is_the_quickstart_config():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```yaml\n# configs/quickstart.yaml\n(.*?)```", readme, re.S).group(1)
    shipped = yaml.safe_load((ROOT / "configs" / "quickstart.yaml").read_text())
    assert yaml.safe_load(block) == shipped


def test_readme_synthetic_data_example_runs(tmp_path):
    namespace = _run_readme_section("Synthetic data", tmp_path)
    inputs, targets = namespace["train"].element_spec
    assert inputs["text"].shape.as_list() == [32, 50, 768]
    assert targets["regression"].shape.as_list() == [32, 1]


def test_readme_model_zoo_example_runs(tmp_path):
    namespace = _run_readme_section("A model from the zoo", tmp_path)
    assert np.all(np.isfinite(namespace["history"].history["loss"]))


def test_readme_sequence_example_runs_and_learns(tmp_path):
    namespace = _run_readme_section("Token sequences and language models", tmp_path)
    history = namespace["history"].history
    assert history["loss"][-1] < history["loss"][0] and history["curriculum_stage"] == [0, 1]
    assert namespace["model"].generate([[1, 5, 6, 7]], max_new_tokens=8, temperature=0).shape == (1, 12)


def test_readme_image_mask_example_runs_and_samples_pairs(tmp_path):
    namespace = _run_readme_section("Image-mask synthesis", tmp_path)
    losses = namespace["history"].history["loss"]
    assert losses[-1] < losses[0]
    pairs = namespace["pairs"]
    assert pairs["image"].shape == (4, 32, 32, 1) and pairs["segmentation"].shape == (4, 32, 32)


def test_readme_deepfake_example_runs_and_reports_the_forensics_metrics(tmp_path):
    namespace = _run_readme_section("Audio-visual deepfake detection", tmp_path)
    assert np.all(np.isfinite(namespace["history"].history["loss"]))
    predictions, metrics = namespace["predictions"], namespace["metrics"]
    scores = predictions["score"]
    assert len(scores) == 8 and ((scores >= 0) & (scores <= 1)).all()
    assert {"auc", "eer", "fpr_at_95_tpr", "video_label_auc", "audio_label_auc"} <= set(metrics)

