"""Deepfake detection through the generic runner: the shipped config made tiny goes
generate -> pre-extract -> train -> evaluate -> export, and `msa-tf evaluate --data`
scores other clips with the run's decoding settings."""

import csv
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from msa_tf import cli
from msa_tf.export import example_inputs
from msa_tf.metrics.detection import DETECTION_METRICS
from msa_tf.training import runner
from msa_tf.training.config import load_config
from tests.training.conftest import ROOT

TINY = ["data.generator={num_samples: {train: 16, valid: 8, test: 8}, image_size: 48, duration: 0.8}",
        "data.num_frames=4", "data.face_size=32", "data.clip_seconds=0.8", "data.n_mels=16",
        "data.batch_size=8", "model.width=16", "model.num_heads=2", "model.cnn_filters=4",
        "training.epochs=2", "training.jit_compile=false", "output.tensorboard=false"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """`(run_dir, metrics, clips_dir)` of a tiny run of configs/deepfake/av_detector.yaml."""
    root = tmp_path_factory.mktemp("deepfake")
    config = load_config(os.path.join(ROOT, "configs", "deepfake", "av_detector.yaml"),
                         [*TINY, f"data.path={root / 'clips'}", f"data.preextracted={root / 'features'}",
                          f"output.dir={root / 'run'}"])
    return str(root / "run"), runner.train(config, verbose=0), root


def test_a_run_reports_the_forensics_metrics_per_clip_and_video_and_exports(run):
    run_dir, metrics, _ = run
    for file in ("metrics.json", "predictions.csv", "roc.png", "history.png", "model.keras",
                 "saved_model/saved_model.pb"):
        assert os.path.exists(os.path.join(run_dir, file)), file
    with open(os.path.join(run_dir, "metrics.json")) as handle:
        written = json.load(handle)
    assert written["num_clips"] == 8 and set(written) >= {"model", "prior"}
    expected = {*DETECTION_METRICS, *(f"video_level_{name}" for name in DETECTION_METRICS),
                "video_label_auc", "audio_label_auc"}
    assert set(written["model"]) == expected
    assert written["prior"]["auc"] == 0.5 and written["model"]["log_loss"] > 0
    with open(os.path.join(run_dir, "predictions.csv")) as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 8 and all(os.path.exists(row["file"]) for row in rows)
    assert {"label", "score", "video_label_score", "audio_label_score", "category"} <= set(rows[0])
    scores = np.array([float(row["score"]) for row in rows])
    assert ((scores >= 0) & (scores <= 1)).all()


def test_the_saved_model_serves_the_keras_scores(run):
    run_dir = run[0]
    with open(os.path.join(run_dir, "signature.json")) as handle:
        spec = json.load(handle)
    assert spec == {"frames": [[4, 32, 32, 3], "float32"], "mel": [[41, 16], "float32"]}
    inputs = example_inputs(spec, batch_size=2)
    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"), compile=False)
    loaded = tf.saved_model.load(os.path.join(run_dir, "saved_model"))
    served = loaded.serve(inputs)
    np.testing.assert_allclose(served["label"].numpy(), model(inputs)["label"].numpy(), atol=1e-5)


@pytest.mark.parametrize("data", ["clips", "features"])
def test_evaluate_scores_other_data_with_the_runs_settings(run, data, tmp_path, capsys):
    run_dir, _, root = run
    out = tmp_path / "evaluation"
    code = cli.main(["evaluate", run_dir, "--data", str(root / data), "--aggregation", "max",
                     "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    with open(out / "metrics.json") as handle:
        written = json.load(handle)
    with open(os.path.join(run_dir, "metrics.json")) as handle:
        trained = json.load(handle)
    # The same test clips: the same clip metrics; per video, `max` of one clip is that clip.
    assert written["model"]["auc"] == pytest.approx(trained["model"]["auc"])
    assert written["model"]["video_level_auc"] == pytest.approx(trained["model"]["auc"])
    assert (out / "predictions.csv").exists() and (out / "roc.png").exists()
