"""Export: example inputs from a spec, TFLite flatbuffers, and the SavedModel served by `saved_model_cli`."""

import re
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from msa_tf import models
from msa_tf.export import example_inputs, export_saved_model, export_tflite, run_tflite

LENGTH = 6
SPEC = {
    "text": [[LENGTH, 5], "float32"], "audio": [[LENGTH, 4], "float32"], "vision": [[LENGTH, 3], "float32"],
    "text_mask": [[LENGTH], "bool"], "audio_mask": [[LENGTH], "bool"], "vision_mask": [[LENGTH], "bool"],
}
SIZES = dict(seq_len=LENGTH, text_dim=5, audio_dim=4, vision_dim=3)
MODELS = {
    "msa_seqlevel": dict(SIZES, model_dim=8, num_heads=2, ff_dim=8, num_layers=1, num_cross_layers=1),
    "mult": dict(SIZES, model_dim=8, num_heads=2, num_cross_layers=1, num_layers=1),
}


@pytest.fixture(scope="module")
def inputs():
    arrays = example_inputs(SPEC, batch_size=3, seed=1)
    assert not arrays["audio_mask"].all(), "the checks need padded steps"
    return arrays


@pytest.fixture(scope="module")
def built(inputs):
    """One tiny model per name, built once, with its inference outputs on `inputs`."""
    keras.utils.set_random_seed(0)
    result = {}
    for name, kwargs in MODELS.items():
        model = models.get(name, **kwargs)
        result[name] = model, {k: v.numpy() for k, v in model(inputs, training=False).items()}
    return result


def test_example_inputs_match_the_spec():
    spec = dict(SPEC, ids=[[LENGTH], "int32"], ids_mask=[[LENGTH], "bool"])
    arrays = example_inputs(spec, batch_size=4, seed=3, max_id=5)
    for name, (shape, dtype) in spec.items():
        assert arrays[name].shape == (4, *shape), name
        assert arrays[name].dtype == np.dtype(dtype), name
    for mask_name in ("text_mask", "ids_mask"):
        mask = arrays[mask_name]
        assert mask[:, 0].all() and mask[::2].all() and not mask[1::2].all()
        # Real steps come first: a mask row never goes from False back to True.
        assert np.all(mask[:, 1:] <= mask[:, :-1])
    assert np.all(arrays["text"][~arrays["text_mask"]] == 0)
    assert np.all(arrays["text"][arrays["text_mask"]] != 0)
    real_ids = arrays["ids"][arrays["ids_mask"]]
    assert real_ids.min() >= 1 and real_ids.max() <= 5 and len(np.unique(real_ids)) > 1
    assert np.all(arrays["ids"][~arrays["ids_mask"]] == 0)
    again = example_inputs(spec, batch_size=4, seed=3, max_id=5)
    assert all(np.array_equal(arrays[k], again[k]) for k in spec)
    assert not np.array_equal(arrays["text"], example_inputs(spec, batch_size=4, seed=4)["text"])


@pytest.mark.parametrize("spec, batch_size, message", [
    ({}, 1, r"`spec` must be a non-empty dict"),
    ({"text": [[None, 5], "float32"]}, 1,
     r"`spec\['text'\]` must be a pair .* received \[\[None, 5\], 'float32'\]"),
    ({"text": [[6, 5], "string"]}, 1, r"`spec\['text'\]` must be a pair"),
    ({"text": [[6, 5], "floaty"]}, 1, r"`spec\['text'\]` must be a pair"),
    ({"text": [6, 5]}, 1, r"`spec\['text'\]` must be a pair"),
    ({"text": [[6, 5], "float32"]}, 0, r"`batch_size` must be a positive integer; received batch_size=0"),
])
def test_example_inputs_reject_a_bad_spec(spec, batch_size, message):
    with pytest.raises(ValueError, match=message):
        example_inputs(spec, batch_size=batch_size)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_tflite_gives_the_keras_predictions(name, built, inputs, tmp_path):
    model, expected = built[name]
    path = export_tflite(model, tmp_path / "sub" / f"{name}.tflite", inputs)
    assert path == str(tmp_path / "sub" / f"{name}.tflite")
    outputs = run_tflite(path, inputs)
    assert set(outputs) == set(expected)
    for key in expected:
        assert outputs[key].shape == expected[key].shape
        np.testing.assert_allclose(outputs[key], expected[key], rtol=1e-4, atol=1e-4, err_msg=key)
    # The exported file has fixed shapes: float64 inputs are cast, another batch size is refused.
    as_float64 = {k: v.astype("float64") if v.dtype == np.float32 else v for k, v in inputs.items()}
    np.testing.assert_allclose(run_tflite(path, as_float64)["regression"], expected["regression"],
                               rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match=r"`inputs\['text'\]` must have the exported shape \(3, 6, 5\); "
                                         r"received \(2, 6, 5\)"):
        run_tflite(path, {k: v[:2] for k, v in inputs.items()})
    with pytest.raises(ValueError, match=r"`inputs` must have the keys .*'vision_mask'.*; received"):
        run_tflite(path, {k: v for k, v in inputs.items() if k != "vision_mask"})


@keras.saving.register_keras_serializable(package="msa_tf_tests")
class CumulativeProduct(keras.Model):
    """A dict-in, dict-out model with an op (`Cumprod`) that TFLite has no builtin for."""

    def build(self, inputs_shape):
        self.dense = keras.layers.Dense(4)
        self.dense.build(inputs_shape["x"])

    def call(self, inputs, training=None):
        return {"y": keras.ops.cumprod(self.dense(inputs["x"]), axis=-1)}


def test_tflite_falls_back_to_select_tf_ops_and_says_so(tmp_path):
    data = example_inputs({"x": [[3], "float32"]}, batch_size=2)
    model = CumulativeProduct()
    with pytest.warns(UserWarning, match="SELECT_TF_OPS"):
        path = export_tflite(model, tmp_path / "cumprod.tflite", data)
    assert b"FlexCumprod" in Path(path).read_bytes()
    # The tf.lite.Interpreter of the TensorFlow 2.21 wheels has no Flex delegate to run it.


def test_run_tflite_rejects_a_missing_file(tmp_path, inputs):
    with pytest.raises(ValueError, match=r"`path` must be a TFLite file .*received path='.*none.tflite'"):
        run_tflite(str(tmp_path / "none.tflite"), inputs)


def _saved_model_cli(*args):
    """Runs the `saved_model_cli` command line of this environment; returns its stdout."""
    script = Path(sys.executable).with_name("saved_model_cli")
    command = [sys.executable, str(script)] if script.exists() else ["saved_model_cli"]
    run = subprocess.run([*command, *args], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout


def test_saved_model_cli_serves_the_keras_predictions(built, inputs, tmp_path):
    model, expected = built["msa_seqlevel"]
    export_saved_model(model, tmp_path / "model", inputs)
    shown = _saved_model_cli("show", "--dir", str(tmp_path / "model"), "--all")
    serving = shown.split("signature_def['serving_default']:")[1].split("signature_def[")[0]
    declared = {name: (dtype, shape) for name, dtype, shape in re.findall(
        r"inputs\['(\w+)'\] tensor_info:\s+dtype: (\w+)\s+shape: (\([-\d, ]+\))", serving)}
    # Named inputs with the fixed lengths of the spec and any batch size (-1).
    assert declared == {
        name: ({"float32": "DT_FLOAT", "bool": "DT_BOOL"}[dtype], str((-1, *shape)))
        for name, (shape, dtype) in SPEC.items()
    }
    for name, value in inputs.items():
        np.save(tmp_path / f"{name}.npy", value)  # bool masks go in as bool .npy files
    _saved_model_cli(
        "run", "--dir", str(tmp_path / "model"), "--tag_set", "serve", "--signature_def", "serving_default",
        "--inputs", ";".join(f"{name}={tmp_path / name}.npy" for name in inputs),
        "--outdir", str(tmp_path / "served"),
    )
    served = np.load(tmp_path / "served" / "regression.npy")
    np.testing.assert_allclose(served, expected["regression"], rtol=1e-5, atol=1e-6)


def test_export_tflite_says_what_to_install_without_a_converter(built, inputs, tmp_path, monkeypatch):
    import tensorflow as tf

    monkeypatch.delattr(tf.lite, "TFLiteConverter")
    with pytest.raises(ImportError, match=r"needs `tf.lite.TFLiteConverter`.*pip install"):
        export_tflite(built["msa_seqlevel"][0], tmp_path / "model.tflite", inputs)
    assert not (tmp_path / "model.tflite").exists()
