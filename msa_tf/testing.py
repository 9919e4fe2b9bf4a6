"""The standard checks for a Keras layer or model, for msa-tf and for your own layers.

`run_layer_checks` runs them all; each check is also a public function. A failed
check raises `AssertionError` naming the layer and what went wrong.

Example (in a pytest test):

    from msa_tf.testing import run_layer_checks

    def test_my_layer(tmp_path):
        x = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")
        mask = np.array([[True] * 5, [True] * 3 + [False] * 2])
        run_layer_checks(MyLayer, {"width": 8}, {"inputs": x, "mask": mask},
                         output_masks="mask", work_dir=tmp_path)

`call_inputs` holds the keyword arguments of `call()`: arrays, lists of arrays, dicts
of arrays, or `None`. A tensor `x` is padded by the mask `x_mask` beside it (`inputs`
by `mask`, element by element for lists, and inside a model's input dict). A mask
covers the leading axes of its tensor: `(batch, time)` marks steps, `(batch,)` whole
samples (a vector that is missing from a sample).
`output_masks` says which mask marks the real steps of each output (a key of
`call_inputs` or of a dict inside it, such as a model's input dict; `None` for outputs
without time). `run_model_checks` does the same for a model that takes one input dict.
"""

import atexit
import copy
import inspect
import json
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import keras
import numpy as np

from msa_tf.backend import require_backend

MIXED_POLICIES = ("mixed_float16", "mixed_bfloat16")
LARGE_MAGNITUDE = 1.0e4

# A separate Python process that imports only the given modules, then loads `.keras`
# files on request (a JSON line each on stdin; the reply is a line starting with `@@`).
_LOADER_SCRIPT = """
import importlib, json, sys, traceback
import keras, numpy as np
for module in json.loads(sys.argv[1]):
    importlib.import_module(module)
for line in sys.stdin:
    spec = json.loads(line)
    try:
        model = keras.saving.load_model(spec["model"])
        data = np.load(spec["inputs"])
        keys = spec["keys"]
        inputs = {key: data[key] for key in keys} if spec["named"] else [data[k] for k in keys]
        outputs = keras.tree.flatten(model(inputs, training=False))
        np.savez(spec["outputs"], *[keras.ops.convert_to_numpy(o) for o in outputs])
        reply = {"error": None}
    except Exception:  # any failure is the check's result: the parent raises it with this text
        reply = {"error": traceback.format_exc()}
    print("@@" + json.dumps(reply), flush=True)
"""
# One loader process per set of modules and backend, started on first use, ended with this process.
_LOADERS = {}


def _fail(layer_name, message):
    raise AssertionError(f"{layer_name}: {message}")


def _flat_outputs(outputs):
    return [np.asarray(keras.ops.convert_to_numpy(o)) for o in keras.tree.flatten(outputs)]


def _is_float(array):
    return np.issubdtype(np.asarray(array).dtype, np.floating)


def _mask_key(key):
    return "mask" if key == "inputs" else f"{key}_mask"


def padded_pairs(structure, path=()):
    """Yields `(path, mask)` for every tensor in `structure` that has a mask.

    Within a dict, the tensor at key `x` is padded by the mask at `x_mask` (`inputs`
    by `mask`), element by element for lists; nested dicts (a model's input dict) are
    searched too. `path` is the tuple of keys and list positions to the tensor.
    """
    for key, value in structure.items():
        masks = None if str(key).endswith("mask") else structure.get(_mask_key(key))
        if masks is None:
            if isinstance(value, dict):
                yield from padded_pairs(value, path + (key,))
        elif isinstance(value, (list, tuple)):
            for index, mask in enumerate(masks):
                if mask is not None:
                    yield path + (key, index), np.asarray(mask, bool)
        else:
            yield path + (key,), np.asarray(masks, bool)


def _expanded(mask, ndim):
    """`mask` with trailing axes of size 1 up to `ndim` axes, to broadcast over features."""
    return mask.reshape(mask.shape + (1,) * (ndim - mask.ndim))


def _with_padding_replaced(call_inputs, seed=1):
    """Returns a copy of `call_inputs` with random values at every padded step."""
    rng = np.random.default_rng(seed)
    changed = copy.deepcopy(call_inputs)
    for path, mask in padded_pairs(call_inputs):
        holder = changed
        for step in path[:-1]:
            holder = holder[step]
        values = np.array(holder[path[-1]])
        if _is_float(values):
            noise = rng.normal(scale=10.0, size=values.shape)
        else:
            noise = rng.integers(1, 100, size=values.shape)
        pad = ~_expanded(mask, values.ndim)
        holder[path[-1]] = np.where(pad, noise, values).astype(values.dtype)
    return changed


def _scaled(call_inputs, factor):
    """Multiplies every float tensor (not masks, not token ids) by `factor`."""
    return keras.tree.map_structure(
        lambda a: (np.asarray(a) * factor).astype(np.asarray(a).dtype) if _is_float(a) else a,
        call_inputs,
    )


def check_config_round_trip(layer_cls, init_kwargs):
    """Every `__init__` argument is in `get_config()`, and `from_config` reproduces it."""
    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    parameters = inspect.signature(layer_cls.__init__).parameters
    names = [
        name
        for name, p in parameters.items()
        if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    ]
    missing = [name for name in names if name not in config]
    if missing:
        _fail(layer_cls.__name__, f"get_config() lacks __init__ arguments {missing}")
    for name, value in init_kwargs.items():
        if isinstance(value, tuple):
            value = list(value)
        if name in config and config[name] != value:
            _fail(layer_cls.__name__, f"get_config()[{name!r}]={config[name]!r}, given {value!r}")
    clone = layer_cls.from_config(config)
    if clone.get_config() != config:
        _fail(layer_cls.__name__, "from_config(get_config()) gives a different config")
    json.dumps(config)


def _takes_masks(layer):
    parameters = inspect.signature(layer.call).parameters
    return any(name == "mask" or name.endswith("_mask") for name in parameters)


def _find_mask(call_inputs, key):
    """The mask at `key` of `call_inputs`, or of a dict inside it (a model's input dict)."""
    if key in call_inputs:
        return call_inputs[key]
    for value in call_inputs.values():
        if isinstance(value, dict) and key in value:
            return value[key]
    raise KeyError(f"output mask {key!r} is neither a key of call_inputs nor of a dict inside it")


def check_padding_invariance(layer, call_inputs, output_masks=None):
    """Random values written into padded steps leave every real output unchanged.

    A layer whose `call` takes no mask, given no mask, passes: nothing is padded.
    """
    pairs = list(padded_pairs(call_inputs))
    if not pairs and not _takes_masks(layer):
        return
    if not any((~mask).any() for _, mask in pairs):
        _fail(layer.name, "call_inputs has no padded step, so padding invariance is untested")
    before = _flat_outputs(layer(**call_inputs, training=False))
    after = _flat_outputs(layer(**_with_padding_replaced(call_inputs), training=False))
    masks = list(output_masks) if isinstance(output_masks, (list, tuple)) else [output_masks] * len(before)
    for position, (old, new, mask_key) in enumerate(zip(before, after, masks)):
        real = np.ones(old.shape, bool)
        if mask_key is not None:
            mask = np.asarray(_find_mask(call_inputs, mask_key), bool)
            real = np.broadcast_to(_expanded(mask, old.ndim), old.shape)
        if not np.allclose(old[real], new[real], rtol=1e-5, atol=1e-5):
            worst = float(np.max(np.abs(old[real] - new[real])))
            _fail(layer.name, f"output {position} changed by {worst:g} when padding changed")


def check_output_spec(layer, call_inputs):
    """A symbolic call, as in a functional model, gives the real outputs' shapes and dtypes.

    The symbolic inputs have an unknown batch size. A layer that defines
    `compute_output_shape` (or `compute_output_spec`) is checked through it.
    """
    symbolic = keras.tree.map_structure(
        lambda a: keras.KerasTensor((None, *np.shape(a)[1:]), dtype=str(np.asarray(a).dtype)),
        call_inputs,
    )
    specs = keras.tree.flatten(layer(**symbolic))
    outputs = keras.tree.flatten(layer(**call_inputs, training=False))
    if len(specs) != len(outputs):
        _fail(layer.name, f"a symbolic call gives {len(specs)} outputs, a real call {len(outputs)}")
    for position, (spec, output) in enumerate(zip(specs, outputs)):
        shape, dtype = tuple(output.shape), keras.backend.standardize_dtype(output.dtype)
        fits = len(spec.shape) == len(shape) and all(
            s is None or s == d for s, d in zip(spec.shape, shape)
        )
        if not fits or spec.dtype != dtype:
            _fail(layer.name, f"output {position} is {dtype} {shape}, but a symbolic call "
                              f"gives {spec.dtype} {tuple(spec.shape)}")


def _gradients(loss_fn, variables):
    """The gradient of the scalar `loss_fn()` for each of `variables`, on the current backend.

    TensorFlow records `loss_fn()` on a `GradientTape`; JAX differentiates it as a
    function of the variables' values, which a `keras.StatelessScope` puts in place,
    and compiles it whole (op by op, JAX would compile every op of the backward pass).
    """
    values = [v.value for v in variables]
    if require_backend("check_gradients", "tensorflow", "jax") == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_fn()
        return tape.gradient(loss, values)
    import jax

    def loss_of(values):
        with keras.StatelessScope(state_mapping=list(zip(variables, values))):
            return loss_fn()

    return jax.jit(jax.grad(loss_of))(values)


def check_gradients(layer, call_inputs, seed=0):
    """Every trainable weight receives a non-zero gradient (TensorFlow and JAX backends)."""
    if not layer.built:
        layer(**call_inputs, training=False)

    def loss_fn():
        rng = np.random.default_rng(seed)
        loss = 0.0
        for output in keras.tree.flatten(layer(**call_inputs, training=False)):
            weights = rng.normal(size=output.shape).astype("float32")
            loss += keras.ops.sum(keras.ops.cast(output, "float32") * weights)
        return loss

    gradients = _gradients(loss_fn, layer.trainable_weights)
    dead = [
        w.path
        for w, g in zip(layer.trainable_weights, gradients)
        if g is None or not np.any(keras.ops.convert_to_numpy(g))
    ]
    if dead:
        _fail(layer.name, f"no gradient reaches trainable weights {dead}")


def wrap_in_model(layer, call_inputs):
    """A functional model whose inputs are the flattened `call_inputs`."""
    flat = keras.tree.flatten(call_inputs)
    inputs = [
        keras.Input(shape=np.shape(a)[1:], dtype=str(np.asarray(a).dtype), name=f"input_{i}")
        for i, a in enumerate(flat)
    ]
    outputs = layer(**keras.tree.pack_sequence_as(call_inputs, inputs))
    return keras.Model(inputs, outputs), [np.asarray(a) for a in flat]


def _loader(modules, backend):
    """The loader process of `modules` (a tuple) on `backend`, started if it is not running."""
    entry = _LOADERS.get((modules, backend))
    if entry is None or entry[0].poll() is not None:
        log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (open as long as the loader runs)
        env = dict(
            os.environ, KERAS_BACKEND=backend, PYTHONPATH=os.pathsep.join(p for p in sys.path if p)
        )
        process = subprocess.Popen(
            [sys.executable, "-c", _LOADER_SCRIPT, json.dumps(list(modules))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, env=env,
        )
        entry = _LOADERS[(modules, backend)] = (process, log)
    return entry


@atexit.register
def _stop_loaders():
    for process, log in _LOADERS.values():
        process.stdin.close()
        process.wait(timeout=60)
        log.close()


def _load_elsewhere(spec, modules, backend):
    """Runs one load request in the loader of `modules` on `backend`; returns `None` or the error text."""
    process, log = _loader(tuple(modules), backend)
    process.stdin.write(json.dumps(spec) + "\n")
    process.stdin.flush()
    for line in process.stdout:
        if line.startswith("@@"):
            return json.loads(line[2:])["error"]
    process.wait()
    log.seek(0)
    return f"the process ended with code {process.returncode}:\n{log.read()[-3000:]}"


def check_keras_round_trip(model, inputs, work_dir, modules=(), backend=None):
    """A `.keras` file loaded in another Python process gives the same outputs.

    That process imports only `modules` (to register the classes), so the file loads
    without anything the test process defined; one such process serves every check
    with the same `modules` and `backend`. `inputs` is what the model is called with:
    a list of arrays or a dict of arrays. `backend` is the Keras backend of that
    process (`None`: this one's): on the same backend the outputs must be identical,
    on another one equal within rtol 1e-5 (atol 1e-6 for values near zero).

    Example (a model saved under TensorFlow predicts the same under JAX):

        check_keras_round_trip(model, inputs, tmp_path, modules=["msa_tf"], backend="jax")
    """
    backend = backend or keras.backend.backend()
    work_dir = Path(work_dir)
    model_path = work_dir / "model.keras"
    expected = _flat_outputs(model(inputs, training=False))  # also builds the model
    model.save(model_path)
    named = isinstance(inputs, dict)
    arrays = inputs if named else {f"input_{i}": a for i, a in enumerate(inputs)}
    np.savez(work_dir / "inputs.npz", **arrays)
    spec = {
        "model": str(model_path),
        "inputs": str(work_dir / "inputs.npz"),
        "outputs": str(work_dir / "outputs.npz"),
        "named": named,
        "keys": list(arrays),
    }
    error = _load_elsewhere(spec, modules, backend)
    if error is not None:
        _fail(model.name, f"loading the .keras file in another process failed:\n{error}")
    loaded = np.load(spec["outputs"])
    for i, want in enumerate(expected):
        got = loaded[f"arr_{i}"]
        if backend == keras.backend.backend():
            close = np.array_equal(got, want)
        else:
            close = np.allclose(got, want, rtol=1e-5, atol=1e-6)
        if got.shape != want.shape or not close:
            _fail(model.name, f"output {i} differs after the .keras round trip to {backend}")


def check_fit_step(model, inputs, jit_compile=True, loss_scale=False, seed=0):
    """One `fit` step runs, gives a finite loss and moves the weights.

    `jit_compile=True` compiles the step with XLA, `False` runs it eagerly (no
    tracing: quicker for one step); `loss_scale=True` wraps the optimizer in
    `LossScaleOptimizer`, as `mixed_float16` training needs. A loss-scaled step whose
    gradients overflow is skipped (and the scale halved) by design, so that case gets
    four steps to move the weights.
    """
    rng = np.random.default_rng(seed)
    outputs = model(inputs)
    targets = keras.tree.map_structure(
        lambda o: rng.normal(size=o.shape).astype("float32"), outputs
    )
    before = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    optimizer = keras.optimizers.SGD(0.01)
    if loss_scale:
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(
        optimizer=optimizer, loss="mse", jit_compile=jit_compile, run_eagerly=not jit_compile
    )
    # Its variables made before the step is traced, TensorFlow traces it once, not twice.
    optimizer.build(model.trainable_variables)
    with warnings.catch_warnings():
        # A layer without weights (a pooling) still has to compile and run.
        warnings.filterwarnings("ignore", "The model does not have any trainable weights")
        history = model.fit(
            inputs,
            targets,
            batch_size=len(keras.tree.flatten(inputs)[0]),
            epochs=4 if loss_scale else 1,
            verbose=0,
        )
    loss = history.history["loss"][-1]
    if not np.isfinite(loss):
        _fail(model.name, f"fit (jit_compile={jit_compile}) gave loss {loss}")
    after = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    unchanged = [
        w.path for w, b, a in zip(model.trainable_weights, before, after) if np.array_equal(b, a)
    ]
    if unchanged:
        _fail(model.name, f"fit (jit_compile={jit_compile}) did not change weights {unchanged}")


def _trainable(layer, call_inputs):
    """`(model, inputs)` to fit: a model that takes one input dict as it is (so its own
    `train_step` runs), anything else wrapped in a functional model."""
    if isinstance(layer, keras.Model) and list(call_inputs) == ["inputs"]:
        return layer, call_inputs["inputs"]
    return wrap_in_model(layer, call_inputs)


def check_mixed_precision_training(layer_cls, init_kwargs, call_inputs):
    """A fit step under each mixed policy gives a finite loss (with loss scaling in float16)."""
    for policy in MIXED_POLICIES:
        model, inputs = _trainable(layer_cls(**init_kwargs, dtype=policy), call_inputs)
        check_fit_step(model, inputs, jit_compile=False, loss_scale=policy == "mixed_float16")


def check_mixed_precision(layer_cls, init_kwargs, call_inputs, expected_output_dtype=None,
                          large_inputs=True):
    """Under each mixed policy: float32 variables, finite outputs, the documented dtype.

    Inputs are checked as given and, with `large_inputs`, scaled to magnitudes around
    1e4. `expected_output_dtype=None` means the policy's compute dtype.
    """
    for policy in MIXED_POLICIES:
        layer = layer_cls(**init_kwargs, dtype=policy)
        for scale in (1.0, LARGE_MAGNITUDE) if large_inputs else (1.0,):
            outputs = keras.tree.flatten(layer(**_scaled(call_inputs, scale), training=False))
            want = expected_output_dtype or layer.compute_dtype
            for output in outputs:
                got = keras.backend.standardize_dtype(output.dtype)
                if got != want:
                    _fail(layer.name, f"{policy}: output dtype {got}, documented {want}")
                values = keras.ops.convert_to_numpy(keras.ops.cast(output, "float32"))
                if not np.all(np.isfinite(values)):
                    _fail(layer.name, f"{policy}: non-finite outputs for inputs of scale {scale:g}")
        wrong = [w.path for w in layer.weights if w.dtype != "float32"]
        if wrong:
            _fail(layer.name, f"{policy}: variables not in float32: {wrong}")


def run_layer_checks(
    layer_cls,
    init_kwargs,
    call_inputs,
    *,
    output_masks=None,
    expected_output_dtype=None,
    large_inputs=True,
    train_mixed=False,
    call_gradients=True,
    work_dir=None,
    modules=None,
):
    """Runs every standard check on `layer_cls(**init_kwargs)`.

    Args:
        layer_cls: the layer (or model) class.
        init_kwargs: constructor arguments.
        call_inputs: keyword arguments of `call()`, NumPy arrays (see module doc).
        output_masks: for each output, the key of the mask in `call_inputs` (or in a
            dict inside it) that marks its real steps, or `None` (compare the whole
            output).
        expected_output_dtype: output dtype under mixed precision; `None` means
            the compute dtype.
        large_inputs: also check finite outputs under mixed precision for inputs
            scaled to around 1e4.
        train_mixed: also run a fit step under each mixed policy.
        call_gradients: check that the outputs of `call()` send a gradient to every
            trainable weight. A model whose `train_step` trains weights that `call()`
            does not use (auxiliary heads) sets `False`; the fit step still checks
            that every weight moves.
        work_dir: a folder for the `.keras` file; a temporary one by default.
        modules: modules the loading process imports to register the classes;
            default the module that defines `layer_cls`.

    Returns the float32 layer after the checks, built.
    """
    check_config_round_trip(layer_cls, init_kwargs)
    layer = layer_cls(**init_kwargs)
    check_padding_invariance(layer, call_inputs, output_masks)
    if not isinstance(layer, keras.Model):
        check_output_spec(layer, call_inputs)
    if call_gradients:
        check_gradients(layer, call_inputs)
    check_mixed_precision(layer_cls, init_kwargs, call_inputs, expected_output_dtype, large_inputs)
    if train_mixed:
        check_mixed_precision_training(layer_cls, init_kwargs, call_inputs)
    model, inputs = _trainable(layer_cls(**init_kwargs), call_inputs)
    with tempfile.TemporaryDirectory() as temporary:
        check_keras_round_trip(
            model,
            inputs,
            work_dir or temporary,
            modules or [layer_cls.__module__],
        )
    check_fit_step(model, inputs)
    return layer


def run_model_checks(model_cls, init_kwargs, inputs, *, output_masks=None, call_gradients=True,
                     work_dir=None, modules=None):
    """The standard checks for a model that takes one input dict.

    As `run_layer_checks` with `call_inputs={"inputs": inputs}`, float32 outputs under
    mixed precision, and a fit step under each mixed policy. `inputs` should have
    fixed lengths (the XLA step needs static shapes) and some padded steps.
    `output_masks` names, for outputs with a time axis, the mask in `inputs` that marks
    their real steps (e.g. `"tokens_mask"`); `None` compares whole outputs.

    Example (in a pytest test):

        run_model_checks(MSASeqLevelModel, {"seq_len": 8, ...}, data)
    """
    return run_layer_checks(
        model_cls,
        init_kwargs,
        {"inputs": inputs},
        output_masks=output_masks,
        expected_output_dtype="float32",
        large_inputs=False,
        train_mixed=True,
        call_gradients=call_gradients,
        work_dir=work_dir,
        modules=modules,
    )
