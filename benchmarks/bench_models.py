"""Training throughput, FLOPs per step and MFU of zoo models at MOSEI-aligned shapes.

Shapes follow the aligned CMU-MOSEI features (length 50; text 768, audio 74, vision 35;
batch 32), padded to a fixed length with `drop_remainder=True`, float32, compiled as
`msa-tf train` compiles by default (`TrainingConfig.jit_compile`; `--jit-compile`
overrides it), on `--backend` (TensorFlow or JAX). Prints, for each model name given:

- parameters, and training samples/s of `model.fit` (regression output, MAE loss,
  Adam): the median of `--windows` windows of `--steps` steps (each a `fit` call,
  timed from its epoch's start to its end, so not the shutdown of its data
  iterator), after a 2-step warm-up `fit` that compiles. The data is one batch of the
  synthetic generator (`MultimodalGenerator(preset="mosei")`, `pad_to=length`)
  repeated from memory, so the input pipeline is not the bottleneck;
- with `--data cached synthetic mmsa shards`, the same model also trains on batches
  fed as the runner feeds them (its data source, then `runner.feed`): `synthetic`
  streams the generator, `mmsa` reads an MMSA feature file and `shards` TFRecord
  shards, both written to a temporary folder from the generator first. Each window
  runs every kind of data in turn, so machine noise hits them alike, and each kind's
  rate is printed over the rate from memory. With `--cache` they are fed as the runner
  feeds them with `data.cache: true`, timed after one pass over the split (the runner's
  first epoch) has filled the cache;
- GFLOP per training step: the dot and convolution FLOPs of the optimized HLO module
  that XLA compiled for that same `fit` train step, counted with XLA's
  `HloCostAnalysis` rules (benchmarks/flops.py). The script reads the
  `*after_optimizations.hlo.pb` that XLA dumps while compiling the step
  (`XLA_FLAGS=--xla_dump_to=<temp dir> --xla_dump_hlo_as_proto`, set by this script;
  no extra compile, on either backend). Without XLA (TensorFlow, `--jit-compile false`
  or `auto` on a CPU), or with `--flops-from compiler-ir`, it lowers
  `model.train_step` with `experimental_get_compiler_ir` instead (one more XLA
  compile; the same FLOPs). Element-wise ops, reductions and the optimizer update are
  not counted, the usual convention for MFU;
- achieved GFLOP/s = GFLOP per step x steps/s, the machine's matmul GFLOP/s (a float32
  n x n x n `tf.linalg.matmul` under `tf.function(jit_compile=True)`, 2 n^3 FLOPs per
  call, warmed up, best of 3 timed rounds at the start and 3 at the end of the run, as
  other work on the machine only lowers it) and MFU % = achieved / matmul GFLOP/s.

A name that is not registered in `msa_tf.models` is reported as such. Model sizes:
`msa_seqlevel` defaults to model_dim 64, 4 heads, ff_dim 128; other models use their own
defaults. `--model-dim`, `--num-heads`, `--ff-dim` and `--set [MODEL:]KEY=VALUE` override
them for every model (or only MODEL) whose constructor has that argument.

    python benchmarks/bench_models.py [--models msa_seqlevel mult] [--steps 20]
        [--data cached synthetic mmsa shards] [--cache] [--backend jax] [--jit-compile auto]
"""

import argparse
import ast
import atexit
import contextlib
import glob
import inspect
import os
import shutil
import statistics
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

BACKENDS = ("tensorflow", "jax")
# The backend is chosen before Keras is imported.
_backend_parser = argparse.ArgumentParser(add_help=False)
_backend_parser.add_argument("--backend", choices=BACKENDS, default="tensorflow")
os.environ["KERAS_BACKEND"] = _backend_parser.parse_known_args()[0].backend

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.compiler.xla.service import hlo_pb2  # noqa: E402

from flops import compiler_ir_module, hlo_flops  # noqa: E402
from generators import MultimodalGenerator, write_shards  # noqa: E402
from in_memory import repeated  # noqa: E402
from msa_tf import models  # noqa: E402
from msa_tf.data.sources import get_source  # noqa: E402
from msa_tf.modalities import MODALITIES  # noqa: E402
from msa_tf.training.config import TrainingConfig  # noqa: E402
from msa_tf.training.runner import feed  # noqa: E402

DIMS = {"text": 768, "audio": 74, "vision": 35}
MODEL_DEFAULTS = {"msa_seqlevel": dict(model_dim=64, num_heads=4, ff_dim=128)}
DUMP_SUFFIX = "after_optimizations.hlo.pb"
DATA_KINDS = ("cached", "synthetic", "mmsa", "shards")
# Examples per split of the written MMSA file and shards (MOSEI has 16,326 train samples).
WRITTEN_SAMPLES = 1024
JIT_CHOICES = {"auto": "auto", "true": True, "false": False}


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


def _write_mmsa(generator, path):
    """The train split of `generator` as an MMSA feature file (`.npz`, MMSA's keys)."""
    inputs, targets = next(iter(generator.dataset("train", WRITTEN_SAMPLES)))
    arrays = {f"train/{m}": inputs[m].numpy() for m in MODALITIES}
    arrays.update({f"train/{m}_lengths": inputs[f"{m}_mask"].numpy().sum(axis=1)
                   for m in ("audio", "vision")})
    arrays["train/regression_labels"] = targets["regression"].numpy()
    for split in ("valid", "test"):  # a file has every split; two samples each suffice here
        arrays.update({f"{split}/{key[6:]}": value[:2] for key, value in arrays.items()
                       if key.startswith("train/")})
    np.savez(path, **arrays)


def training_data(kinds, args, directory):
    """`{kind: dataset}` of endless regression-target batches, fed as the runner feeds them."""
    generator = MultimodalGenerator(preset="mosei", num_samples=WRITTEN_SAMPLES)
    datasets = {}
    for kind in kinds:
        if kind == "mmsa":
            path = os.path.join(directory, "mosei_aligned_50.npz")
            _write_mmsa(generator, path)
            source = get_source("mmsa", path=path)
        elif kind == "shards":
            write_shards(generator, directory, splits=("train",), progress=False)
            source = get_source("shards", path=directory)
        else:
            source = get_source("synthetic", preset="mosei")
        data = source.dataset("train", args.batch_size, lengths=args.length, shuffle=True,
                              drop_remainder=True)
        if kind == "cached":
            data = repeated(next(iter(data)))
        fed = feed(data, ["regression"], cache=args.cache and kind != "cached")
        if args.cache and kind != "cached":
            for _ in fed:  # the runner's first epoch, which fills the cache
                pass
        datasets[kind] = fed.repeat()
    return datasets


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


class _EpochTimer(keras.callbacks.Callback):
    """The seconds of the last epoch of `fit`, without the shutdown of its data iterator.

    An autotuned tf.data iterator can take 0.3-0.45 s to shut down when `fit` returns;
    a timed window of a few steps would count it each time.
    """

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.start


def _fit_seconds(model, dataset, steps):
    timer = _EpochTimer()
    model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False,
              callbacks=[timer])
    return timer.seconds


def time_fit(model, datasets, steps, windows, flops_from="executable"):
    """Times a compiled `model`'s `fit` on every dataset and counts its step's FLOPs.

    `datasets` is `{kind: endless dataset}` with a `"cached"` one, on which a 2-step
    warm-up `fit` compiles. Each of `windows` windows runs `steps` steps of every kind
    in turn. Returns `median` (`{kind: median seconds of a window}`), `warm_up`
    (seconds), `flops` (`dots + convolutions` per step), `dots`, `convolutions`,
    `notes`, `source` (where the HLO came from) and `module` (its name).
    """
    before = dumped_modules()
    warm_up = _fit_seconds(model, datasets["cached"], 2)  # traces and compiles
    new = dumped_modules() - before
    seconds = {kind: [] for kind in datasets}
    for _ in range(windows):
        for kind, dataset in datasets.items():
            seconds[kind].append(_fit_seconds(model, dataset, steps))
    batch = next(iter(datasets["cached"]))
    if flops_from == "executable" and new:
        module, source = read_dumped_module(new), "the module XLA compiled for fit (dumped)"
    else:
        module = compiler_ir_module(model, batch)
        source = "experimental_get_compiler_ir of model.train_step"
    dots, convolutions, notes = hlo_flops(module)
    return dict(
        median={kind: statistics.median(values) for kind, values in seconds.items()},
        warm_up=warm_up, flops=dots + convolutions, dots=dots, convolutions=convolutions,
        notes=notes, source=source, module=module.name,
    )


def benchmark(name, args, datasets):
    """Builds, compiles and times `name` on every dataset; returns the figures."""
    kwargs, skipped = model_kwargs(name, args)
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = models.get(name, **kwargs)
    jit_compile = JIT_CHOICES[args.jit_compile]
    model.compile(optimizer=keras.optimizers.Adam(), loss={"regression": "mae"},
                  jit_compile=jit_compile)
    timed = time_fit(model, datasets, args.steps, args.windows, args.flops_from)
    median = timed.pop("median")
    return dict(
        params=model.count_params(),
        samples={kind: args.steps * args.batch_size / value for kind, value in median.items()},
        steps_per_second=args.steps / median["cached"], kwargs=kwargs, skipped=skipped,
        seconds=median["cached"], jit_compile=model.jit_compile, **timed,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["msa_seqlevel", "mult"])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--windows", type=int, default=3)
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
    parser.add_argument("--data", nargs="+", choices=DATA_KINDS, default=["cached"],
                        help="batches from memory (cached) and as the runner feeds them")
    parser.add_argument("--cache", action="store_true",
                        help="feed the --data kinds as `data.cache: true` does, after a first pass")
    parser.add_argument("--backend", choices=BACKENDS, default="tensorflow")
    default_jit = {value: key for key, value in JIT_CHOICES.items()}[TrainingConfig.jit_compile]
    parser.add_argument("--jit-compile", choices=tuple(JIT_CHOICES), default=default_jit,
                        help=f"as model.compile; default {default_jit!r}, as `msa-tf train`")
    parser.add_argument("--flops-from", choices=("executable", "compiler-ir"), default="executable")
    parser.add_argument("--matmul-size", type=int, default=2048)
    args = parser.parse_args()
    kinds = ["cached", *(kind for kind in args.data if kind != "cached")]

    keras.mixed_precision.set_global_policy("float32")
    on_gpu = bool(tf.config.list_physical_devices("GPU"))
    device = "GPU" if on_gpu else f"CPU ({os.cpu_count()} cores)"
    print(f"MOSEI-aligned shapes: length {args.length}; text {DIMS['text']}, audio {DIMS['audio']}, "
          f"vision {DIMS['vision']}; batch {args.batch_size}; float32; backend {args.backend}; "
          f"jit_compile={JIT_CHOICES[args.jit_compile]!r}; {device}")
    cache = " (data.cache: true)" if args.cache else ""
    print(f"data: {', '.join(kinds)}{cache}; median of {args.windows} windows of {args.steps} fit steps "
          f"each, after a 2-step warm-up")
    first_peak = matmul_flops_per_second(args.matmul_size)

    results, rows, footnotes = {}, [], []
    with tempfile.TemporaryDirectory(prefix="bench_models_data_") as directory:
        datasets = training_data(kinds, args, directory)
        for name in args.models:
            if name not in models.names():
                continue
            try:
                results[name] = benchmark(name, args, datasets)
            except ValueError as error:  # a size the model rejects, e.g. heads not dividing width
                results[name] = f"failed: {error}"
    last_peak = matmul_flops_per_second(args.matmul_size)
    peak = max(first_peak, last_peak)
    print(f"machine matmul: float32 {args.matmul_size}^3 under XLA, {peak / 1e9:.1f} GFLOP/s "
          f"(best of start {first_peak / 1e9:.1f}, end {last_peak / 1e9:.1f})")
    header = (f"{'model':<14}{'params':>11}{'samples/s':>11}{'GFLOP/step':>12}"
              f"{'GFLOP/s':>10}{'matmul GFLOP/s':>16}{'MFU %':>8}")
    data_rows = []
    for name in args.models:
        result = results.get(name, f"not registered (registered: {', '.join(models.names())})")
        if isinstance(result, str):
            rows.append(f"{name:<14}  {result}")
            continue
        achieved = result["flops"] * result["steps_per_second"]
        rows.append(f"{name:<14}{result['params']:>11,}{result['samples']['cached']:>11.1f}"
                    f"{result['flops'] / 1e9:>12.3f}{achieved / 1e9:>10.2f}{peak / 1e9:>16.1f}"
                    f"{100 * achieved / peak:>8.2f}")
        for kind in kinds[1:]:
            rate = result["samples"][kind]
            data_rows.append(f"{name:<14}{kind:>10}{rate:>11.1f}"
                             f"{rate / result['samples']['cached']:>17.2f}")
        detail = ", ".join(f"{k}={v}" for k, v in result["kwargs"].items())
        footnotes.append(f"{name}: {detail}; compiled with jit_compile={result['jit_compile']}; "
                         f"warm-up fit (compile) {result['warm_up']:.0f} s, "
                         f"median timed window {result['seconds']:.1f} s")
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
    if data_rows:
        print()
        print(f"{'model':<14}{'data':>10}{'samples/s':>11}{'/ from memory':>17}")
        for row in data_rows:
            print(row)
    print()
    for line in footnotes:
        print(line)


if __name__ == "__main__":
    main()
