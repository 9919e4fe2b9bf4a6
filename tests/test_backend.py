"""The TensorFlow-only parts name the backend they need when Keras runs on another one."""

import os
import subprocess
import sys

CALLS = """
from msa_tf import export, models
from msa_tf.training import runner
from msa_tf.training.config import ExperimentConfig

for call in (lambda: runner.train(ExperimentConfig.from_dict({})),
             lambda: runner.export_run("no_run", "saved_model"),
             lambda: export.export_saved_model(models.get("tfn"), "no_path", {})):
    try:
        call()
    except RuntimeError as error:
        print(error)
"""


def test_the_runner_and_saved_model_export_say_they_need_tensorflow_under_jax():
    run = subprocess.run([sys.executable, "-c", CALLS], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, KERAS_BACKEND="jax"))
    assert run.returncode == 0, run.stderr[-3000:]
    needs = "needs the tensorflow backend; KERAS_BACKEND is 'jax'. Set KERAS_BACKEND=tensorflow."
    assert run.stdout.splitlines() == [
        f"The experiment runner {needs}", f"The experiment runner {needs}", f"SavedModel export {needs}",
    ]
