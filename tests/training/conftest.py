import os
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# A run that trains in seconds without XLA: tiny synthetic data and a tiny model (LMF: its
# graph traces in half the time of the attention models', and the runner is model-agnostic).
TINY = {
    "model": {"name": "lmf", "model_dim": {"text": 8, "audio": 4, "vision": 4},
              "post_fusion_dim": 8, "rank": 2, "dropout": 0.0},
    "data": {
        "source": "synthetic", "num_samples": 256, "text_dim": 6, "audio_dim": 4, "vision_dim": 3,
        "min_length": 2, "max_length": 6, "correlation_strength": 0.9, "batch_size": 16,
    },
    "training": {"epochs": 4, "learning_rate": 0.005, "jit_compile": False, "seed": 1},
    "output": {"tensorboard": False, "plots": False, "formats": ["keras"]},
}


def tiny_config(tmp_path, name="tiny", **sections):
    """Writes the tiny config with `sections` merged in; returns (path, run_dir)."""
    values = yaml.safe_load(yaml.safe_dump(TINY))
    for section, changes in sections.items():
        values.setdefault(section, {}).update(changes)
    run_dir = str(tmp_path / "runs" / name)
    values["output"]["dir"] = run_dir
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(values))
    return str(path), run_dir


def msa_tf_command(*args, env=None, **kwargs):
    """Runs `python -m msa_tf.cli ARGS` in a fresh process; returns the CompletedProcess."""
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    return subprocess.run([sys.executable, "-m", "msa_tf.cli", *args], capture_output=True, text=True,
                          env=environment, cwd=ROOT, **kwargs)


@pytest.fixture
def tiny(tmp_path):
    return lambda name="tiny", **sections: tiny_config(tmp_path, name, **sections)
