"""Exporting models for serving: a TensorFlow SavedModel and a TFLite flatbuffer.

Both formats are TensorFlow's: exporting needs the TensorFlow backend, and raises
`RuntimeError` under another one (a `.keras` file loads on any backend).

The inputs of a model are described by a JSON-able spec
`{name: [shape_without_batch, dtype_name]}`, e.g.
`{"text": [[50, 768], "float32"], "text_mask": [[50], "bool"]}` (fixed lengths).
`example_inputs(spec)` makes arrays that fit it.
"""

import numbers
import os
import tempfile
import warnings

import keras
import numpy as np
import tensorflow as tf

from msa_tf.backend import require_backend
from msa_tf.validation import check_positive_int

# The formats a model can be exported in (`msa-tf export --format`).
FORMATS = ("keras", "saved_model", "tflite")


def input_signature(example_inputs, batch_size=None):
    """`{name: tf.TensorSpec}` with the shapes of `example_inputs` and `batch_size` (`None`: any)."""
    return {
        name: tf.TensorSpec((batch_size, *np.shape(value)[1:]), tf.as_dtype(np.asarray(value).dtype),
                            name=name)
        for name, value in example_inputs.items()
    }


def _check_spec(spec):
    """`{name: (shape, numpy dtype)}` from a spec, or `ValueError` naming the bad entry."""
    if not isinstance(spec, dict) or not spec:
        raise ValueError("`spec` must be a non-empty dict {name: [shape_without_batch, dtype_name]}; "
                         f"received spec={spec!r}")
    parsed = {}
    for name, entry in spec.items():
        accepted = ("a pair [shape_without_batch, dtype_name] with positive int lengths and a "
                    "float, int or bool dtype, e.g. [[50, 768], 'float32']")
        try:
            shape, dtype_name = entry
            dtype = np.dtype(tf.as_dtype(dtype_name).as_numpy_dtype)
            shape = tuple(shape)
        except (TypeError, ValueError):
            raise ValueError(f"`spec[{name!r}]` must be {accepted}; received {entry!r}") from None
        bad_length = any(isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1
                         for n in shape)
        if bad_length or dtype.kind not in "fbiu" and dtype != tf.bfloat16.as_numpy_dtype:
            raise ValueError(f"`spec[{name!r}]` must be {accepted}; received {entry!r}")
        parsed[name] = (shape, dtype)
    return parsed


def example_inputs(spec, batch_size=1, seed=0, max_id=9):
    """Arrays `{name: (batch_size, *shape)}` that fit an input spec, for tracing and export.

    Float inputs are standard normal, int inputs uniform ids in [1, `max_id`], bool
    inputs are masks: `True` in even rows, and odd rows keep a random number of
    real first steps (at least one) followed by `False` padding. Where an input
    `name` has a `name_mask`, its padded steps are zeros (id 0), like padded data.
    The same `(spec, batch_size, seed)` gives the same arrays.

    Example:
    >>> spec = {"text": [[4, 3], "float32"], "text_mask": [[4], "bool"]}
    >>> inputs = example_inputs(spec, batch_size=2)
    >>> inputs["text"].shape, inputs["text"].dtype.name
    ((2, 4, 3), 'float32')
    >>> inputs["text_mask"][0].all(), inputs["text_mask"][1].all()
    (np.True_, np.False_)
    """
    parsed = _check_spec(spec)
    batch_size = check_positive_int("batch_size", batch_size)
    max_id = check_positive_int("max_id", max_id)
    rng = np.random.default_rng(seed)
    arrays = {}
    for name, (shape, dtype) in parsed.items():
        full = (batch_size, *shape)
        if dtype.kind == "b":
            arrays[name] = np.ones(full, bool)
            if shape and shape[0] > 1:
                for row in range(1, batch_size, 2):
                    arrays[name][row, rng.integers(1, shape[0]):] = False
        elif dtype.kind in "iu":
            arrays[name] = rng.integers(1, max_id, size=full, endpoint=True).astype(dtype)
        else:
            arrays[name] = rng.standard_normal(full).astype(dtype)
    for name, mask in arrays.items():
        value = arrays.get(name.removesuffix("_mask")) if name.endswith("_mask") else None
        if value is not None and mask.ndim == 2 and value.shape[:2] == mask.shape:
            value[~mask] = 0
    return arrays


def _check_inputs(argument, inputs):
    if not isinstance(inputs, dict) or not inputs:
        raise ValueError(f"`{argument}` must be a non-empty dict of arrays {{name: (batch, ...)}}; "
                         f"received {type(inputs).__name__}")
    for name, value in inputs.items():
        if np.ndim(value) < 1:
            raise ValueError(f"`{argument}[{name!r}]` must be an array with a batch axis; "
                             f"received shape {np.shape(value)}")


def _write_archive(model, path, inputs, batch_size=None):
    """Keras's own SavedModel export (what `model.export` writes), at the shapes of
    `inputs`, with the model's `serving_endpoints` beside `serve`."""
    model(inputs)  # builds the model with these shapes
    archive = keras.export.ExportArchive()
    archive.track_and_add_endpoint("serve", model, [input_signature(inputs, batch_size)])
    for name, (function, spec) in getattr(model, "serving_endpoints", dict)().items():
        archive.add_endpoint(name, function, [input_signature(example_inputs(spec), batch_size)])
    archive.write_out(os.fspath(path), verbose=False)


def export_saved_model(model, path, example_inputs):
    """Writes `model` as a SavedModel with a `serve` endpoint (also `serving_default`).

    The endpoint takes a dict of tensors with the shapes and dtypes of
    `example_inputs` (a dict of arrays; fixed lengths, any batch size) and returns
    the model's output dict in inference mode; a zoo model's `serving_endpoints` (e.g.
    the VAE's `generate`, its decoder alone) are endpoints beside it. Load it with
    `loaded = tf.saved_model.load(path)`, then call `loaded.serve(inputs)`.

    Example:
    >>> import tempfile
    >>> from msa_tf.models import get
    >>> model = get("msa", seq_len=4, text_dim=3, audio_dim=2, vision_dim=2, model_dim=8,
    ...             num_heads=2, ff_dim=8)
    >>> inputs = {"text": np.ones((1, 4, 3), "float32"), "audio": np.ones((1, 4, 2), "float32"),
    ...           "vision": np.ones((1, 4, 2), "float32")}
    >>> path = tempfile.mkdtemp()
    >>> export_saved_model(model, path, inputs)
    >>> loaded = tf.saved_model.load(path)  # keep it: its variables live as long as it does
    >>> served = loaded.serve(inputs)["regression"]
    >>> bool(np.allclose(served, model(inputs)["regression"], atol=1e-6))
    True
    """
    require_backend("SavedModel export", "tensorflow")
    _check_inputs("example_inputs", example_inputs)
    _write_archive(model, path, example_inputs)


def _converter_class():
    converter = getattr(getattr(tf, "lite", None), "TFLiteConverter", None)
    if converter is None:
        raise ImportError(
            f"export_tflite needs `tf.lite.TFLiteConverter`, which TensorFlow {tf.__version__} "
            "does not provide; install a TensorFlow that ships it (e.g. `pip install "
            "'tensorflow-cpu==2.21.*'`, as the `msa-tf[cpu]` extra does)"
        )
    return converter


def export_tflite(model, path, example_inputs):
    """Writes `model`'s inference function as a TFLite flatbuffer at `path`; returns `path`.

    Shapes are fixed to those of `example_inputs` (a dict of arrays), batch size
    included. The model goes through a Keras `model.export` SavedModel in a
    temporary folder and `tf.lite.TFLiteConverter.from_saved_model`, which freezes
    the weights into the file. Only TFLite builtin ops are used; if a model needs
    others, the converter is run again allowing `SELECT_TF_OPS` and a `UserWarning`
    says so: that file needs an interpreter linked with the Flex delegate, which the
    `tf.lite.Interpreter` of the tensorflow(-cpu) 2.21 wheels is not, so `run_tflite`
    cannot run it. The signature is `serving_default`, with the input and output
    names of the model's dicts; run it with `run_tflite`.

    Example:
    >>> import tempfile, keras
    >>> features = keras.Input((4,), name="features")
    >>> model = keras.Model({"features": features}, {"regression": keras.layers.Dense(1)(features)})
    >>> inputs = example_inputs({"features": [[4], "float32"]}, batch_size=2)
    >>> path = export_tflite(model, tempfile.mkdtemp() + "/model.tflite", inputs)
    >>> outputs = run_tflite(path, inputs)
    >>> bool(np.allclose(outputs["regression"], model(inputs)["regression"], atol=1e-5))
    True
    """
    require_backend("TFLite export", "tensorflow")
    _check_inputs("example_inputs", example_inputs)
    converter_class = _converter_class()
    batch_size = int(np.shape(next(iter(example_inputs.values())))[0])
    with tempfile.TemporaryDirectory() as folder:
        _write_archive(model, folder, example_inputs, batch_size=batch_size)
        converter = converter_class.from_saved_model(folder)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        try:
            flatbuffer = converter.convert()
        except Exception as error:  # a ConverterError, which tf.lite does not export
            if "TF Select ops" not in str(error):  # ops that no TFLite kernel covers at all
                raise
            warnings.warn(f"{type(model).__name__} needs TensorFlow ops that TFLite has no builtin "
                          "for: the flatbuffer uses SELECT_TF_OPS and runs only on an interpreter "
                          "linked with the Flex delegate", stacklevel=2)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS,
                                                   tf.lite.OpsSet.SELECT_TF_OPS]
            flatbuffer = converter.convert()
    path = os.fspath(path)
    if os.path.dirname(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as file:
        file.write(flatbuffer)
    return path


def _interpreter(path):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        with warnings.catch_warnings():
            # TF 2.21 still ships it, with a warning that points to ai_edge_litert.
            warnings.filterwarnings("ignore", message=r"(?s).*tf\.lite\.Interpreter is deprecated")
            return tf.lite.Interpreter(model_path=path)
    return Interpreter(model_path=path)


def run_tflite(path, inputs):
    """Runs a flatbuffer from `export_tflite` on a dict of arrays; returns the output dict.

    Uses `ai_edge_litert.interpreter.Interpreter` when that package is installed,
    else `tf.lite.Interpreter` (deprecated in favour of LiteRT, still in TF 2.21),
    through the file's only signature, so input and output names are the model's
    dict keys. `inputs` must have every input name with the exported shape (batch
    size included); numbers are cast to the exported dtype where that is safe. A file
    with `SELECT_TF_OPS` raises the interpreter's `RuntimeError` (no Flex delegate).
    See `export_tflite` for an example.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"`path` must be a TFLite file written by export_tflite; received path={path!r}")
    _check_inputs("inputs", inputs)
    interpreter = _interpreter(path)
    signatures = interpreter.get_signature_list()
    if len(signatures) != 1:
        raise ValueError(f"`path` must hold a TFLite model with one signature (export_tflite writes "
                         f"`serving_default`); received path={path!r} with {sorted(signatures)}")
    runner = interpreter.get_signature_runner(next(iter(signatures)))
    expected = runner.get_input_details()
    if set(inputs) != set(expected):
        raise ValueError(f"`inputs` must have the keys {sorted(expected)}; received {sorted(inputs)}")
    feed = {}
    for name, value in inputs.items():
        value, details = np.asarray(value), expected[name]
        if tuple(value.shape) != tuple(details["shape"]):
            raise ValueError(f"`inputs[{name!r}]` must have the exported shape "
                             f"{tuple(int(n) for n in details['shape'])}; received {value.shape}")
        if not np.can_cast(value.dtype, details["dtype"], casting="same_kind"):
            raise ValueError(f"`inputs[{name!r}]` must have dtype {np.dtype(details['dtype']).name}; "
                             f"received {value.dtype.name}")
        feed[name] = value.astype(details["dtype"], copy=False)
    return {name: np.array(value) for name, value in runner(**feed).items()}
