"""Image synthesis experiments through the same runner as the other domains (the shipped
configs, made tiny with overrides), and `msa-tf synthesize` on the runs they leave."""

import csv
import json
import os

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf

from generators.shapes import ShapesGenerator
from msa_tf import cli
from msa_tf import synthesis as synthesis_module
from msa_tf.data.image_masks import read_image_masks
from msa_tf.export import example_inputs
from msa_tf.metrics.image_quality import QUALITY_WEIGHTS, quality_score
from msa_tf.synthesis import synthesize
from msa_tf.training import runner
from msa_tf.training.config import load_config
from tests.training.conftest import ROOT
from tests.training.test_plots import read_png

TINY = ["data.num_samples=64", "data.image_size=32", "data.batch_size=16", "model.base_filters=8",
        "training.epochs=2", "training.jit_compile=false", "output.tensorboard=false",
        "task.reference_steps=20"]
MODEL = {"pix2pix": ["model.depth=5", "model.num_downsamples=2"],
         "vae": ["model.num_downsamples=3", "model.latent_dim=8"]}


@pytest.fixture(scope="module")
def image_runs(tmp_path_factory):
    """`{model: (run_dir, metrics)}` of a tiny run of each shipped config (one fixture, so
    that the tests that need both find them on one worker)."""
    runs = {}
    for name in sorted(MODEL):
        run_dir = str(tmp_path_factory.mktemp(name) / "run")
        path = os.path.join(ROOT, "configs", "image_mask", f"{name}.yaml")
        config = load_config(path, [*TINY, *MODEL[name], f"output.dir={run_dir}"])
        runs[name] = run_dir, runner.train(config, verbose=0)
    return runs


def test_each_image_model_trains_reports_and_exports_through_the_runner(image_runs):
    for name, (run_dir, metrics) in image_runs.items():
        files = ["history.png", "samples.png", "model.keras", "saved_model/saved_model.pb"]
        for file in files + (["gan_losses.png"] if name == "pix2pix" else []):
            assert os.path.exists(os.path.join(run_dir, file)), file
        with open(os.path.join(run_dir, "metrics.json")) as handle:
            written = json.load(handle)
        assert written["num_images"] == 64 and set(written) >= {"model", "mean_image"}
        # Pix2Pix's IoU and Dice are those of a reference segmenter on its images.
        scored = {"l1", "psnr", "ssim", "kid", "kid_std", "iou", "dice"}
        assert set(written["model"]) == set(written["mean_image"]) == scored
        assert all(np.isfinite(value) for value in written["model"].values()), name
        assert written["model"] == pytest.approx(metrics)
        resolved = load_config(os.path.join(run_dir, "config.yaml"))
        assert resolved.task.name == "image_synthesis"
        assert resolved.model.arguments["image_size"] == [32, 32]
        assert resolved.model.arguments["channels"] == 3
        assert runner.evaluate_run(run_dir) == pytest.approx(metrics, rel=1e-5)


def test_the_saved_model_serves_the_keras_images(image_runs):
    for run_dir, _ in image_runs.values():
        with open(os.path.join(run_dir, "signature.json")) as handle:
            inputs = example_inputs(json.load(handle), batch_size=2, seed=3, max_id=1)
        model = keras.saving.load_model(os.path.join(run_dir, "model.keras"), compile=False)
        served = tf.saved_model.load(os.path.join(run_dir, "saved_model")).signatures["serving_default"](
            **{name: tf.constant(value) for name, value in inputs.items()})
        np.testing.assert_allclose(served["image"].numpy(), model(inputs)["image"].numpy(),
                                   rtol=1e-5, atol=1e-5)


def test_the_vae_saved_model_serves_its_generator_alone(image_runs):
    run_dir = image_runs["vae"][0]
    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"), compile=False)
    latent = np.random.default_rng(0).standard_normal((5, model.latent_dim)).astype("float32")
    loaded = tf.saved_model.load(os.path.join(run_dir, "saved_model"))  # keeps the variables alive
    generated = loaded.generate({"latent": latent})
    expected = model.sample(5, seed=0)  # the same standard normal draws
    np.testing.assert_allclose(generated["image"].numpy(), expected["image"], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(generated["segmentation"].numpy(), expected["segmentation"])
    assert generated["segmentation"].dtype == tf.int32 and expected["image"].std() > 0


@pytest.fixture(scope="module")
def masks_dir(tmp_path_factory):
    """Three binary masks of the run's size as 0/255 PNGs."""
    folder = tmp_path_factory.mktemp("masks")
    masks = ShapesGenerator(image_size=32, num_samples=3, seed=7).generate("test", 0, 3)["segmentation"]
    for index, mask in enumerate(masks.numpy()):
        cv2.imwrite(str(folder / f"mask_{index}.png"), (mask * 255).astype(np.uint8))
    return str(folder)


def _synthesize(*arguments):
    return cli.main(["synthesize", *arguments, "--reference-steps", "20"])


def test_synthesize_writes_the_kept_pairs_their_scores_and_plots(image_runs, masks_dir, tmp_path, capsys):
    out = tmp_path / "synthetic"
    code = _synthesize(image_runs["pix2pix"][0], "--masks", masks_dir, "--variations", "3", "--out", str(out),
                       "--min-quality", "0.2", "--perturb", "elastic=0.8")
    assert code == 0
    with open(out / "scores.csv") as handle:
        rows = list(csv.DictReader(handle))
    with open(out / "summary.json") as handle:
        summary = json.load(handle)
    assert len(rows) == summary["generated"] == 9
    assert [row["origin"] for row in rows] == [f"mask_{index}" for index in range(3) for _ in range(3)]
    assert summary["method"] == "pix2pix" and summary["weights"] == QUALITY_WEIGHTS
    kept = [row["name"] for row in rows if row["kept"] == "1"]
    # Scores are written with 6 decimals.
    assert all((float(row["score"]) >= 0.2) == (row["kept"] == "1") for row in rows
               if abs(float(row["score"]) - 0.2) > 1e-6)
    for row in rows:
        measures = {key: np.array([float(row[key])]) for key in QUALITY_WEIGHTS}
        assert float(row["score"]) == pytest.approx(quality_score(measures)[0], abs=1e-5)
    assert summary["kept"] == len(kept) and kept, "nothing kept at 0.2"
    # The kept pairs are a folder pair that the image_masks source reads back.
    pairs = read_image_masks(out / "images", out / "masks", 32, mask_values=summary["mask_values"])
    assert sorted(pairs.stems) == sorted(kept)
    assert np.isfinite(summary["kid"]) or len(kept) < 2
    assert read_png(out / "samples.png")[1]["Title"].startswith("Synthetic pairs")
    assert read_png(out / "scores.png")[1]["Title"] == "Quality of 9 pix2pix pairs"
    assert f"kept {len(kept)} of 9 pairs" in capsys.readouterr().out


def test_synthesize_hybrid_joins_the_vae_pairs(image_runs, masks_dir, tmp_path):
    out = tmp_path / "hybrid"
    synthesis = synthesize(image_runs["pix2pix"][0], out, masks_dir=masks_dir,
                           vae_run=image_runs["vae"][0], variations=1, min_quality=0.0,
                           reference_steps=20, progress=False)
    # Pix2Pix paints each of the 3 masks; the VAE varies each of its 64 real training pairs.
    assert synthesis.origins == ["mask_0", "mask_1", "mask_2"] + [f"train_{i:05d}" for i in range(64)]
    assert synthesis.kept.all() and synthesis.images.shape == (67, 32, 32, 3)
    # The VAE's pairs are scored against their own masks, which it decodes with the images.
    vae_masks = synthesis.masks[3:]
    assert vae_masks.dtype == np.int32 and set(np.unique(vae_masks)) <= {0, 1}
    with open(out / "summary.json") as handle:
        assert json.load(handle)["method"] == "hybrid"
    assert len(os.listdir(out / "images")) == len(os.listdir(out / "masks")) == 67


def test_synthesize_refuses_bad_input_before_writing(image_runs, masks_dir, tmp_path, capsys):
    run_dir, _ = image_runs["pix2pix"]
    empty = tmp_path / "empty"
    empty.mkdir()
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    cases = [
        (["--masks", masks_dir, "--min-quality", "1.5"], "`min_quality` must be a number in [0, 1]"),
        (["--masks", str(empty)], "empty"),
        (["--masks", masks_dir, "--perturb", "elastik=0.5"], "did you mean 'elastic'"),
        (["--masks", masks_dir, "--perturb", "noise=2"], "`noise`"),
        (["--masks", masks_dir, "--variations", "0"], "`variations`"),
        ([], "`masks_dir` must name a folder of masks"),
    ]
    vae_dir, _ = image_runs["vae"]
    assert _synthesize(vae_dir, "--out", str(tmp_path / "out"), "--masks", masks_dir) == 2
    assert "`masks_dir` is for Pix2Pix runs" in capsys.readouterr().err
    for arguments, message in cases:
        out = tmp_path / "out"
        assert _synthesize(run_dir, "--out", str(out), *arguments) == 2, arguments
        assert message in capsys.readouterr().err, arguments
        assert not out.exists()
    assert _synthesize(run_dir, "--masks", masks_dir, "--out", str(full)) == 2
    assert "`out` must be a new or empty folder" in capsys.readouterr().err
    assert os.listdir(full) == ["keep.txt"]


def test_synthesize_leaves_nothing_half_written(image_runs, masks_dir, tmp_path, monkeypatch):
    run_dir, _ = image_runs["pix2pix"]
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(synthesis_module.plots, "plot_score_distribution", fail)
    with pytest.raises(OSError, match="disk full"):
        synthesize(run_dir, out, masks_dir=masks_dir, variations=1, reference_steps=20,
                   overwrite=True, progress=False)
    assert sorted(os.listdir(tmp_path)) == ["out"] and os.listdir(out) == ["old.txt"]
    monkeypatch.undo()
    synthesize(run_dir, out, masks_dir=masks_dir, variations=1, reference_steps=20, overwrite=True,
               progress=False)
    assert sorted(os.listdir(out)) == ["images", "masks", "samples.png", "scores.csv", "scores.png",
                                       "summary.json"]
    assert sorted(os.listdir(tmp_path)) == ["out"]
