"""Image synthesis experiments through the same runner as the other domains: the shipped
configs, made tiny with overrides."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from msa_tf.export import example_inputs
from msa_tf.training import runner
from msa_tf.training.config import load_config
from tests.training.conftest import ROOT

TINY = ["data.num_samples=64", "data.image_size=32", "data.batch_size=16", "model.base_filters=8",
        "training.epochs=2", "training.jit_compile=false", "output.tensorboard=false"]
MODEL = {"pix2pix": ["model.depth=5", "model.num_downsamples=2"],
         "vae": ["model.num_downsamples=3", "model.latent_dim=8"]}


@pytest.fixture(scope="module", params=sorted(MODEL))
def image_run(request, tmp_path_factory):
    name = request.param
    run_dir = str(tmp_path_factory.mktemp(name) / "run")
    path = os.path.join(ROOT, "configs", "image_mask", f"{name}.yaml")
    config = load_config(path, [*TINY, *MODEL[name], f"output.dir={run_dir}"])
    metrics = runner.train(config, verbose=0)
    return name, run_dir, metrics


def test_each_image_model_trains_reports_and_exports_through_the_runner(image_run):
    name, run_dir, metrics = image_run
    for file in ("history.png", "samples.png", "model.keras", "saved_model/saved_model.pb"):
        assert os.path.exists(os.path.join(run_dir, file)), file
    with open(os.path.join(run_dir, "metrics.json")) as handle:
        written = json.load(handle)
    assert written["num_images"] == 64 and set(written) >= {"model", "mean_image"}
    scored = {"l1", "psnr", "ssim"} | ({"iou", "dice"} if name == "vae" else set())
    assert set(written["model"]) == set(written["mean_image"]) == scored
    assert written["model"] == pytest.approx(metrics)
    resolved = load_config(os.path.join(run_dir, "config.yaml"))
    assert resolved.task.name == "image_synthesis"
    assert resolved.model.arguments["image_size"] == [32, 32] and resolved.model.arguments["channels"] == 3
    assert runner.evaluate_run(run_dir) == pytest.approx(metrics, rel=1e-5)


def test_the_saved_model_serves_the_keras_images(image_run):
    _, run_dir, _ = image_run
    with open(os.path.join(run_dir, "signature.json")) as handle:
        inputs = example_inputs(json.load(handle), batch_size=2, seed=3, max_id=1)
    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"), compile=False)
    served = tf.saved_model.load(os.path.join(run_dir, "saved_model")).signatures["serving_default"](
        **{name: tf.constant(value) for name, value in inputs.items()})
    np.testing.assert_allclose(served["image"].numpy(), model(inputs)["image"].numpy(), rtol=1e-5, atol=1e-5)
