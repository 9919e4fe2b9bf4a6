"""Training throughput, FLOPs per step and MFU of zoo models at MOSEI-aligned shapes.

Shapes follow the aligned CMU-MOSEI features (length 50; text 768, audio 74, vision 35;
batch 32), padded to a fixed length with `drop_remainder=True`, float32,
`jit_compile=True`. Prints, for each model name given:

- parameters, and training samples/s of `model.fit` (regression output, MAE loss,
  Adam) over `--steps` steps, timed after a 2-step warm-up `fit` that compiles. The
  data is one batch of the synthetic generator (`MultimodalGenerator(preset="mosei")`,
  `pad_to=length`) repeated from memory, so the input pipeline is not the bottleneck
  (`--data generator` streams fresh generator batches instead);
- GFLOP per training step: the dot and convolution FLOPs of the optimized HLO module
  that XLA compiled for that same `fit` train step, counted with XLA's
  `HloCostAnalysis` rules (dot: 2 x output elements x contracted size; convolution:
  2 x batch x output features x input features per group x valid kernel positions).
  TensorFlow exposes no Python API for XLA's cost analysis, so the script reads the
  module itself: by default the `*after_optimizations.hlo.pb` that XLA dumps while
  compiling the step (`XLA_FLAGS=--xla_dump_to=<temp dir> --xla_dump_hlo_as_proto`,
  set by this script; no extra compile); with `--flops-from compiler-ir`, or when no
  dump turns up, `tf.function(model.train_step, jit_compile=True)
  .experimental_get_compiler_ir(batch)(stage="optimized_hlo_serialized")`, which lowers
  the same step again (one more XLA compile per model; same FLOPs as the dump).
  Element-wise ops, reductions and the optimizer update are not counted, the usual
  convention for MFU;
- achieved GFLOP/s = GFLOP per step x steps/s, the machine's matmul GFLOP/s (a float32
  n x n x n `tf.linalg.matmul` under `tf.function(jit_compile=True)`, 2 n^3 FLOPs per
  call, warmed up, best of 3 timed rounds at the start and 3 at the end of the run, as
  other work on the machine only lowers it) and MFU % = achieved / matmul GFLOP/s.

A name that is not registered in `msa_tf.models` is reported as such. Model sizes:
`msa_seqlevel` defaults to model_dim 64, 4 heads, ff_dim 128; other models use their own
defaults. `--model-dim`, `--num-heads`, `--ff-dim` and `--set [MODEL:]KEY=VALUE` override
them for every model (or only MODEL) whose constructor has that argument.

    python benchmarks/bench_models.py [--models msa_seqlevel mult] [--steps 20]
"""

import argparse
import ast
import atexit
import contextlib
import glob
import inspect
import os
import shutil
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# XLA writes every module it compiles (after its optimization passes) here: the train
# step whose FLOPs are counted is then exactly the one `fit` runs. Must be set before
# TensorFlow initialises XLA.
DUMP_DIR = tempfile.mkdtemp(prefix="bench_models_xla_")
atexit.register(shutil.rmtree, DUMP_DIR, ignore_errors=True)
os.environ["XLA_FLAGS"] = (
    f"{os.environ.get('XLA_FLAGS', '')} --xla_dump_to={DUMP_DIR} --xla_dump_hlo_as_proto"
).strip()

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.compiler.xla.service import hlo_pb2  # noqa: E402

from flops import compiler_ir_module, hlo_flops  # noqa: E402
from generators import MultimodalGenerator  # noqa: E402
from msa_tf import models  # noqa: E402

DIMS = {"text": 768, "audio": 74, "vision": 35}
MODEL_DEFAULTS = {"msa_seqlevel": dict(model_dim=64, num_heads=4, ff_dim=128)}
DUMP_SUFFIX = "after_optimizations.hlo.pb"


def dumped_modules():
    return set(glob.glob(os.path.join(DUMP_DIR, f"*{DUMP_SUFFIX}")))


def read_dumped_module(paths):
    """The train step among modules XLA dumped (Keras names it `one_step_on_data`)."""
    steps = [p for p in paths if "one_step_on_data" in os.path.basename(p)]
    path = max(steps or paths, key=os.path.getsize)
    proto = hlo_pb2.HloProto()
    with open(path, "rb") as file:
        proto.ParseFromString(file.read())
    return proto.hlo_module


# --- Measurements ---


def matmul_flops_per_second(size, rounds=3, min_seconds=0.5):
    """Best float32 FLOP/s of an XLA-compiled size^3 matmul over `rounds` timed rounds."""
    matmul = tf.function(tf.linalg.matmul, jit_compile=True)
    a = tf.random.stateless_normal((size, size), seed=[0, 1])
    b = tf.random.stateless_normal((size, size), seed=[0, 2])
    for _ in range(2):
        matmul(a, b).numpy()
    best = 0.0
    for _ in range(rounds):
        calls, start = 0, time.perf_counter()
        while True:
            result = matmul(a, b)
            calls += 1
            if time.perf_counter() - start >= min_seconds and calls >= 2:
                break
        result.numpy()
        best = max(best, 2 * size**3 * calls / (time.perf_counter() - start))
    return best


def training_data(args):
    streamed = args.data == "generator"
    generator = MultimodalGenerator(preset="mosei",
                                    num_samples=None if streamed else args.batch_size)
    data = generator.dataset("train", args.batch_size, pad_to=args.length, drop_remainder=True)
    data = data.map(lambda inputs, targets: (inputs, {"regression": targets["regression"]}))
    batch = next(iter(data))
    if streamed:
        return data, batch
    return tf.data.Dataset.from_tensors(batch).repeat(), batch


def model_kwargs(name, args):
    """Constructor arguments of `name` that its signature accepts, and the ignored ones."""
    # The registry keeps the classes; `get` would build a model just to read its signature.
    accepted = inspect.signature(models.model_class(name).__init__).parameters
    wanted = dict(seq_len=args.length, text_dim=DIMS["text"], audio_dim=DIMS["audio"],
                  vision_dim=DIMS["vision"])
    wanted.update(MODEL_DEFAULTS.get(name, {}))
    explicit = {key: getattr(args, key) for key in ("model_dim", "num_heads", "ff_dim")
                if getattr(args, key) is not None}
    explicit.update({key: value for target, key, value in args.set if target in (None, name)})
    wanted.update(explicit)
    kwargs = {key: value for key, value in wanted.items() if key in accepted}
    return kwargs, sorted(key for key in explicit if key not in accepted)


def parse_set(item):
    """`[MODEL:]KEY=VALUE` as `(MODEL or None, KEY, VALUE)`, VALUE a Python literal or a string."""
    name, sep, value = item.partition("=")
    target, _, key = name.rpartition(":")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"--set takes [MODEL:]KEY=VALUE; received {item!r}")
    with contextlib.suppress(ValueError, SyntaxError):  # a bare string such as same or attention
        value = ast.literal_eval(value)
    return target or None, key, value


def benchmark(name, args, dataset, batch):
    kwargs, skipped = model_kwargs(name, args)
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = models.get(name, **kwargs)
    model.compile(optimizer=keras.optimizers.Adam(), loss={"regression": "mae"}, jit_compile=True)
    before = dumped_modules()
    start = time.perf_counter()
    model.fit(dataset, steps_per_epoch=2, epochs=1, verbose=0, shuffle=False)  # compile, warm up
    warm_up = time.perf_counter() - start
    start = time.perf_counter()
    model.fit(dataset, steps_per_epoch=args.steps, epochs=1, verbose=0, shuffle=False)
    seconds = time.perf_counter() - start
    new = dumped_modules() - before
    if args.flops_from == "executable" and new:
        module, source = read_dumped_module(new), "the module XLA compiled for fit (dumped)"
    else:
        module = compiler_ir_module(model, batch)
        source = "experimental_get_compiler_ir of model.train_step"
    dots, convolutions, notes = hlo_flops(module)
    return dict(
        params=model.count_params(), samples=args.steps * args.batch_size / seconds,
        steps_per_second=args.steps / seconds, flops=dots + convolutions,
        dots=dots, convolutions=convolutions, notes=notes, source=source,
        module=module.name, kwargs=kwargs, skipped=skipped, warm_up=warm_up, seconds=seconds,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["msa_seqlevel", "mult"])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--length", type=int, default=50)
    parser.add_argument("--model-dim", type=int, default=None,
                        help="for models with a `model_dim` argument (msa_seqlevel default 64)")
    parser.add_argument("--num-heads", type=int, default=None,
                        help="for models with a `num_heads` argument (msa_seqlevel default 4)")
    parser.add_argument("--ff-dim", type=int, default=None,
                        help="for models with an `ff_dim` argument (msa_seqlevel default 128)")
    parser.add_argument("--set", action="append", default=[], type=parse_set,
                        metavar="[MODEL:]KEY=VALUE",
                        help="any other constructor argument, e.g. --set mult:model_dim=40")
    parser.add_argument("--data", choices=("cached", "generator"), default="cached")
    parser.add_argument("--flops-from", choices=("executable", "compiler-ir"), default="executable")
    parser.add_argument("--matmul-size", type=int, default=2048)
    args = parser.parse_args()

    keras.mixed_precision.set_global_policy("float32")
    on_gpu = bool(tf.config.list_physical_devices("GPU"))
    device = "GPU" if on_gpu else f"CPU ({os.cpu_count()} cores)"
    dataset, batch = training_data(args)
    print(f"MOSEI-aligned shapes: length {args.length}; text {DIMS['text']}, audio {DIMS['audio']}, "
          f"vision {DIMS['vision']}; batch {args.batch_size}; float32; jit_compile=True; {device}")
    print("data: " + ("one MultimodalGenerator(preset='mosei') batch repeated from memory"
                      if args.data == "cached" else "MultimodalGenerator(preset='mosei') streamed")
          + f"; {args.steps} timed fit steps after a 2-step warm-up")
    first_peak = matmul_flops_per_second(args.matmul_size)

    header = (f"{'model':<14}{'params':>11}{'samples/s':>11}{'GFLOP/step':>12}"
              f"{'GFLOP/s':>10}{'matmul GFLOP/s':>16}{'MFU %':>8}")
    results, rows, footnotes = {}, [], []
    for name in args.models:
        if name not in models.names():
            continue
        try:
            results[name] = benchmark(name, args, dataset, batch)
        except ValueError as error:  # a size the model rejects, e.g. heads not dividing width
            results[name] = f"failed: {error}"
    last_peak = matmul_flops_per_second(args.matmul_size)
    peak = max(first_peak, last_peak)
    print(f"machine matmul: float32 {args.matmul_size}^3 under XLA, {peak / 1e9:.1f} GFLOP/s "
          f"(best of start {first_peak / 1e9:.1f}, end {last_peak / 1e9:.1f})")
    for name in args.models:
        result = results.get(name, f"not registered (registered: {', '.join(models.names())})")
        if isinstance(result, str):
            rows.append(f"{name:<14}  {result}")
            continue
        achieved = result["flops"] * result["steps_per_second"]
        rows.append(f"{name:<14}{result['params']:>11,}{result['samples']:>11.1f}"
                    f"{result['flops'] / 1e9:>12.3f}{achieved / 1e9:>10.2f}{peak / 1e9:>16.1f}"
                    f"{100 * achieved / peak:>8.2f}")
        detail = ", ".join(f"{k}={v}" for k, v in result["kwargs"].items())
        footnotes.append(f"{name}: {detail}; warm-up fit (compile) {result['warm_up']:.0f} s, "
                         f"timed fit {result['seconds']:.1f} s")
        footnotes.append(f"  FLOPs from {result['source']} (module {result['module']}): "
                         f"dot {result['dots'] / 1e9:.3f} + convolution "
                         f"{result['convolutions'] / 1e9:.3f} GFLOP per step")
        for note in result["notes"]:
            footnotes.append(f"  note: {note}")
        if result["skipped"]:
            footnotes.append(f"  not accepted by {name}, ignored: {', '.join(result['skipped'])}")
    print()
    print(header)
    for row in rows:
        print(row)
    print()
    for line in footnotes:
        print(line)


if __name__ == "__main__":
    main()
