"""Zoo-wide behaviour: registry, learning, missing data, export and distribution."""

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from generators import MultimodalGenerator
from msa_tf import models
from msa_tf.export import export_saved_model
from msa_tf.testing import check_keras_round_trip

from .conftest import DIMS, LEARNING, LENGTH, MODEL_ARGS, msa_batch, regression_only

FIELDS = dict(text_dim=DIMS["text"], audio_dim=DIMS["audio"], vision_dim=DIMS["vision"],
              min_length=3, max_length=LENGTH)


def _data(interaction, num_samples=768, **fields):
    """`(train batches, test inputs, test targets)`: the generator's data is a function of its
    arguments, so the models a test compares (or a module's tests) can share it."""
    generator = MultimodalGenerator(num_samples=num_samples, interaction=interaction,
                                    correlation_strength=0.9, **FIELDS, **fields)
    train = generator.dataset("train", 64, pad_to=LENGTH, drop_remainder=True).map(regression_only)
    test_inputs, test_targets = next(iter(generator.dataset("test", 512, pad_to=LENGTH)))
    return train.cache(), test_inputs, test_targets["regression"].numpy()[:, 0]


def _fit_and_predict(name, data, epochs):
    train, test_inputs, truth = data
    keras.utils.set_random_seed(0)
    model = models.get(name, **MODEL_ARGS[name])
    # Without XLA: its compile costs more than these few steps (the model checks cover it).
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss={"regression": "mse"}, jit_compile=False)
    model.fit(train, epochs=epochs, verbose=0)
    prediction = model.predict(test_inputs, verbose=0)["regression"][:, 0]
    return prediction, truth, model


def test_registry_lists_the_zoo():
    assert set(MODEL_ARGS) <= set(models.names())
    message = r"`name` must be one of .*'msa_seqlevel'.*; received name='msa_seq'"
    with pytest.raises(ValueError, match=message):
        models.get("msa_seq")


@pytest.mark.parametrize("name", sorted(MODEL_ARGS))
def test_summary_lists_every_layer_with_its_output_shape(batch, name):
    model = models.get(name, **MODEL_ARGS[name])
    model(batch)
    lines = []
    model.summary(print_fn=lambda line, **kwargs: lines.append(line))
    assert "Total params" in "".join(lines)


@pytest.fixture(scope="module")
def redundant_data():
    return _data("redundant", missing_rate=0.2)


@LEARNING
@pytest.mark.parametrize("name", sorted(MODEL_ARGS))
def test_beats_the_mean_predictor_on_redundant_data_with_missing_modalities(name, redundant_data):
    prediction, truth, model = _fit_and_predict(name, redundant_data, epochs=3)
    assert np.all(np.isfinite(prediction))
    assert np.mean((prediction - truth) ** 2) < 0.6 * np.var(truth)
    steps_missing, _ = msa_batch(num_samples=16, missing="steps", missing_rate=0.5)
    assert np.all(np.isfinite(model.predict(steps_missing, verbose=0)["regression"]))


SYNERGY_MARGIN = 0.4


@LEARNING
def test_fusion_models_beat_every_unimodal_model_on_synergy_data():
    """Only the product of the audio and vision signals predicts the target.

    With 512 examples and 3 epochs the fusion models reach r = 0.84 (msa_seqlevel) and
    0.73 (mult), the unimodal ones at most 0.05: far from the margin either way.
    """
    correlation, data = {}, _data("synergy", num_samples=512)
    for modality in ("text", "audio", "vision"):
        MODEL_ARGS["unimodal"]["modality"] = modality
        prediction, truth, _ = _fit_and_predict("unimodal", data, epochs=3)
        correlation[f"unimodal_{modality}"] = np.corrcoef(prediction, truth)[0, 1]
    MODEL_ARGS["unimodal"]["modality"] = "text"
    best_unimodal = max(correlation.values())
    for name in [n for n in ("msa_seqlevel", "mult") if n in MODEL_ARGS]:
        prediction, truth, _ = _fit_and_predict(name, data, epochs=3)
        correlation[name] = np.corrcoef(prediction, truth)[0, 1]
        assert correlation[name] > best_unimodal + SYNERGY_MARGIN, correlation


@pytest.mark.tensorflow_only("saves under TensorFlow to load under JAX")
@pytest.mark.parametrize("name", sorted(MODEL_ARGS))
def test_a_keras_file_saved_under_tensorflow_predicts_the_same_under_jax(batch, name, tmp_path):
    model = models.get(name, **MODEL_ARGS[name])
    check_keras_round_trip(model, batch, tmp_path, modules=["msa_tf"], backend="jax")


EXPORTED = """
import json, sys
import numpy as np, tensorflow as tf
spec = json.loads(sys.argv[1])
data = dict(np.load(spec["inputs"]))
results = {}
for name, path in spec["models"].items():
    loaded = tf.saved_model.load(path)
    results[name] = loaded.serve(data)["regression"].numpy().tolist()
print(json.dumps(results))
"""


@pytest.mark.tensorflow_only("SavedModel export")
def test_saved_models_give_the_keras_predictions_in_a_fresh_process(tmp_path):
    inputs, _ = msa_batch(num_samples=5, seed=3)
    np.savez(tmp_path / "inputs.npz", **inputs)
    expected, paths = {}, {}
    for name, kwargs in sorted(MODEL_ARGS.items()):
        model = models.get(name, **kwargs)
        paths[name] = str(tmp_path / name)
        export_saved_model(model, paths[name], inputs)
        expected[name] = model(inputs, training=False)["regression"].numpy()
    spec = json.dumps({"inputs": str(tmp_path / "inputs.npz"), "models": paths})
    run = subprocess.run([sys.executable, "-c", EXPORTED, spec], capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    served = json.loads(run.stdout.strip().splitlines()[-1])
    for name in MODEL_ARGS:
        np.testing.assert_allclose(served[name], expected[name], rtol=1e-5, atol=1e-6, err_msg=name)


MIRRORED = """
import json, sys
import numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from msa_tf import models
spec = json.loads(sys.argv[1])
# Keras 3.15 averages the first distributed batch to build the model, which fails for
# boolean tensors: masks go in as int32 (the models read any nonzero value as real).
data = {k: v.astype("int32") if v.dtype == bool else v for k, v in np.load(spec["inputs"]).items()}
target = {"regression": np.linspace(-1, 1, len(data["text"]), dtype="float32")[:, None]}
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
losses = {}
for name, kwargs in spec["models"].items():
    with strategy.scope():
        model = models.get(name, **kwargs)
        model.compile(optimizer="adam", loss={"regression": "mse"})
    history = model.fit(data, target, batch_size=8, epochs=1, verbose=0)
    losses[name] = history.history["loss"]
print(json.dumps({"replicas": strategy.num_replicas_in_sync, "losses": losses}))
"""


# One model per distinct training code path: Keras's own `train_step` (LMF; the runner's
# MirroredStrategy and MultiWorkerMirroredStrategy tests cover it too) and the custom
# `train_step` of the balanced model.
DISTRIBUTED = ("lmf", "msa_balanced")


@pytest.mark.tensorflow_only("tf.distribute strategies")
def test_each_training_code_path_runs_under_mirrored_strategy_on_two_devices(tmp_path):
    inputs, _ = msa_batch(num_samples=16, seed=4)
    np.savez(tmp_path / "inputs.npz", **inputs)
    spec = json.dumps({"inputs": str(tmp_path / "inputs.npz"),
                       "models": {name: MODEL_ARGS[name] for name in DISTRIBUTED}})
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(MIRRORED), spec],
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert set(result["losses"]) == set(DISTRIBUTED)
    for name, losses in result["losses"].items():
        assert np.all(np.isfinite(losses)), name
