"""Speed and memory of the token-sequence generators, and causal-LM training on their data.

Prints, in one run:
- tokens/s of every family of `generators/sequences.py` (`family_names()`, default
  options, `num_samples=None`), streamed as training reads them:
  `generator.batches("train", --batch-size)` (batch 256 x length 512, vocabulary 1024
  by default), each batch a dict of its six tensors (tokens, mask, labels, pattern,
  predictable, condition). Tokens count `batch x seq_length` per batch;
- the limit: the fill rate of `tf.random.stateless_uniform` making the same int32
  `(batch, seq_length)` token block, in a tf.data pipeline of the same structure
  (`Dataset.counter(0, batch).map(..., num_parallel_calls=AUTOTUNE,
  deterministic=True)`, a seed per batch), and each family's rate over it, with
  targets (`random` >= 0.5, every family >= 0.2) and PASS/FAIL. Each of `--rounds`
  rounds times every pipeline in turn (a fresh iterator, 5 warm-up batches, then
  `--batches` batches); each rate is the best round, as other work on the machine only
  lowers it;
- tokens/s of a per-token Python loop making `pattern` sequences (one
  `random.Random` per sequence, so that sequence `i` depends on `(seed, i)` alone as
  in the family; per slot of `pattern_length`, `random.random()` decides span or
  random tokens, and each token is a `randrange` or read from its span's motif), a
  list of ints per sequence: only the tokens, of the same options; and `pattern` over
  it (target >= 20);
- peak resident memory of writing `--write-sequences` `pattern` sequences of
  `--seq-length` to 8 TFRecord shards with `generators.shards.write_shards`, in a
  child process (`ru_maxrss`, as benchmarks/bench_generators.py measures the
  multimodal shards), target < 1 GB, next to its peak before writing (TensorFlow
  imported, the generator traced). The shards go to a temporary folder (`TMPDIR`),
  deleted after: 3.6 GB (3.4 GiB) for the default 1,000,000 sequences of 512 tokens;
- causal-LM training tokens/s and MFU, measured as benchmarks/bench_models.py
  measures them and with its code (`time_fit`, `matmul_flops_per_second`): `model.fit`
  of `--model` (default `causal_lm`, width 256, 4 layers, 4 heads, ff 4 x width) on
  `pattern` sequences of `--train-length` 256, vocabulary `--train-vocab` 1024, batch
  `--train-batch` 16, float32, next-token cross-entropy of the `language_modeling`
  task (ignoring `IGNORE_INDEX`), Adam, `jit_compile` as `msa-tf train`; the median of
  `--windows` windows of `--steps` steps after a 2-step warm-up. `cached` repeats one
  batch from memory (the MFU row); `sequences` streams the `sequences` source as the
  runner feeds it (`runner.feed`), printed over `cached`; `curriculum` streams it
  through a curriculum stage (`CURRICULUM_STAGE`: the sequences of complexity up to 0.5
  cut to half the length), which computes every sequence's complexity and drops about
  half of them, so the generator makes twice the sequences. GFLOP per step are the dot
  and convolution FLOPs of the HLO that XLA compiled for that `fit` step
  (benchmarks/flops.py); MFU % = GFLOP/step x steps/s over the machine's float32
  matmul GFLOP/s measured at the start and end of this part (best of both).

    python benchmarks/bench_sequences.py
    python benchmarks/bench_sequences.py --skip-writing --skip-training   # generators only
    python benchmarks/bench_sequences.py --write-sequences 20000 --steps 5 --windows 1
    python benchmarks/bench_sequences.py --skip-writing --width 512 --num-layers 8 \\
        --num-heads 8 --train-length 512 --train-batch 8 [--model free_transformer]
        [--set KEY=VALUE] [--jit-compile auto]
"""

import argparse
import inspect
import os
import random
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from bench_generators import child_peak_mb  # noqa: E402

# Sets XLA_FLAGS to dump the modules XLA compiles (read at the first XLA compile, not on import).
from bench_models import (  # noqa: E402
    JIT_CHOICES,
    matmul_flops_per_second,
    parse_set,
    time_fit,
)
from generators.sequences import NUM_SPECIAL_TOKENS, family_names, make_generator  # noqa: E402
from in_memory import repeated  # noqa: E402
from msa_tf import models  # noqa: E402
from msa_tf.data.curriculum import Curriculum  # noqa: E402
from msa_tf.data.sources import get_source  # noqa: E402
from msa_tf.tasks import get_task  # noqa: E402
from msa_tf.training.config import TrainingConfig  # noqa: E402
from msa_tf.training.runner import feed  # noqa: E402

LIMIT = "stateless_uniform"
TARGETS = {"random": 0.5}
FAMILY_TARGET = 0.2
LOOP_TARGET = 20
MEMORY_TARGET_MB = 1024
WARM_UP_BATCHES = 5
NUM_SHARDS = 8
TRAIN_KINDS = ("cached", "sequences", "curriculum")
# The `curriculum` data: a stage that keeps the less complex half of the `pattern`
# sequences (their complexity is about 0.5), each cut to half its length.
CURRICULUM_STAGE = {"complexity": [0.0, 0.5]}


# --- Generators against the fill rate ---


def limit_batches(batch_size, seq_length, vocab_size):
    """The fill of `tf.random.stateless_uniform` int32 token blocks, as `batches` is built."""
    def block(first):
        return tf.random.stateless_uniform([batch_size, seq_length], seed=[first, 0], minval=0,
                                           maxval=vocab_size, dtype=tf.int32)

    return tf.data.Dataset.counter(0, batch_size).map(block, num_parallel_calls=tf.data.AUTOTUNE,
                                                      deterministic=True)


def token_rate(dataset, batches, tokens_per_batch):
    """Tokens/s of `batches` batches of a fresh iterator, after warm-up batches."""
    iterator = iter(dataset)
    for _ in range(WARM_UP_BATCHES):
        next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * tokens_per_batch / (time.perf_counter() - start)


def generation_rates(args):
    """`({name: best tokens/s}, {family: error})` of the limit and of every family."""
    datasets, failed = {LIMIT: limit_batches(args.batch_size, args.seq_length, args.vocab_size)}, {}
    for family in args.families:
        try:
            generator = make_generator(family, vocab_size=args.vocab_size, seq_length=args.seq_length,
                                       num_samples=None)
        except ValueError as error:  # a size the family rejects
            failed[family] = str(error)
            continue
        datasets[family] = generator.batches("train", args.batch_size)
    tokens = args.batch_size * args.seq_length
    rates = {name: 0.0 for name in datasets}
    for _ in range(args.rounds):
        for name, dataset in datasets.items():
            rates[name] = max(rates[name], token_rate(dataset, args.batches, tokens))
    return rates, failed


# --- A per-token Python loop ---


def python_pattern_tokens(rng, generator):
    """One `pattern` sequence (the options of `generator`), a token at a time, as a list of ints."""
    size, span_length, motif_length = generator.sampled_size, generator.pattern_length, generator.motif_length
    tokens = []
    while len(tokens) < generator.seq_length:
        span = min(span_length, generator.seq_length - len(tokens))
        kind = None
        if rng.random() < generator.pattern_probability:
            kind = rng.choice(generator.pattern_types)
        if kind == "repetition":
            motif = [rng.randrange(size) for _ in range(motif_length)]
            ranks = [motif[offset % motif_length] for offset in range(span)]
        elif kind == "alternation":
            pair = [rng.randrange(size), rng.randrange(size)]
            ranks = [pair[offset % 2] for offset in range(span)]
        elif kind == "progression":
            first = rng.randrange(size)
            ranks = [(first + offset) % size for offset in range(span)]
        elif kind == "reversal":
            half = [rng.randrange(size) for _ in range((span_length + 1) // 2)]
            ranks = [half[min(offset, span_length - 1 - offset)] for offset in range(span)]
        else:
            ranks = [rng.randrange(size) for _ in range(span)]
        tokens.extend(NUM_SPECIAL_TOKENS + rank for rank in ranks)
    return tokens


def python_loop_rate(args):
    generator = make_generator("pattern", vocab_size=args.vocab_size, seq_length=args.seq_length,
                               num_samples=None)
    start = time.perf_counter()
    for index in range(args.loop_sequences):
        python_pattern_tokens(random.Random(generator.seed << 64 | index), generator)
    return args.loop_sequences * args.seq_length / (time.perf_counter() - start)


# --- Memory of writing shards ---


CHILD = """
import os, resource, sys, tempfile, time
from generators.sequences import make_generator
from generators.shards import write_shards
num_samples, seq_length, vocab_size, num_shards = map(int, sys.argv[1:])
generator = make_generator("pattern", vocab_size=vocab_size, seq_length=seq_length,
                           num_samples=num_samples)
generator.generate("train", 0, 256)  # TensorFlow started, the family traced
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
with tempfile.TemporaryDirectory(prefix="bench_sequences_shards_") as out:
    start = time.perf_counter()
    write_shards(generator, out, splits=["train"], num_shards=num_shards, progress=False)
    print(time.perf_counter() - start)
    print(sum(entry.stat().st_size for entry in os.scandir(out)))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def shard_writing(args):
    """`(peak MB, peak MB before writing, bytes written, seconds of write_shards)` of the child."""
    peak, (before, seconds, written), _ = child_peak_mb(CHILD, args.write_sequences, args.seq_length,
                                                        args.vocab_size, NUM_SHARDS)
    return peak, int(before) / 1024, int(written), float(seconds)


# --- Causal-LM training ---


def model_kwargs(args):
    """Constructor arguments of `--model` that its signature accepts, and the ignored ones."""
    accepted = inspect.signature(models.model_class(args.model).__init__).parameters
    explicit = dict(width=args.width, num_heads=args.num_heads, num_layers=args.num_layers)
    explicit.update({key: value for target, key, value in args.set if target in (None, args.model)})
    wanted = dict(vocab_size=args.train_vocab, max_length=args.train_length, **explicit)
    kwargs = {key: value for key, value in wanted.items() if key in accepted}
    return kwargs, sorted(key for key in explicit if key not in accepted)


def training(args):
    """Builds, compiles and times `--model` on `pattern` data; returns the figures."""
    source = get_source("sequences", family="pattern", vocab_size=args.train_vocab,
                        seq_length=args.train_length, num_samples=None)
    data = source.dataset("train", args.train_batch, lengths=args.train_length, shuffle=True,
                          drop_remainder=True)
    datasets = {"cached": feed(repeated(next(iter(data))), ["next_token"]).repeat()}
    if "sequences" in args.data:
        datasets["sequences"] = feed(data, ["next_token"]).repeat()
    if "curriculum" in args.data:
        curriculum = Curriculum([dict(CURRICULUM_STAGE, max_length=args.train_length // 2)])
        datasets["curriculum"] = feed(data, ["next_token"], curriculum=curriculum).repeat()
        print(f"curriculum stage {curriculum.stages[0]} keeps {curriculum.shares[0]:.2f} of the sequences")
    kwargs, skipped = model_kwargs(args)
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = models.get(args.model, **kwargs)
    losses, loss_weights = get_task("language_modeling", source).losses({"next_token"})
    model.compile(optimizer=keras.optimizers.Adam(), loss=losses, loss_weights=loss_weights,
                  jit_compile=JIT_CHOICES[args.jit_compile])
    timed = time_fit(model, datasets, args.steps, args.windows, args.flops_from)
    tokens = args.steps * args.train_batch * args.train_length
    return dict(params=model.count_params(), kwargs=kwargs, skipped=skipped,
                jit_compile=model.jit_compile,
                tokens={kind: tokens / seconds for kind, seconds in timed["median"].items()},
                steps_per_second=args.steps / timed["median"]["cached"], **timed)


# --- Report ---


def print_generation(args, rates, failed, loop):
    limit = rates[LIMIT]
    print(f"Generation: batch {args.batch_size} x length {args.seq_length}, vocabulary {args.vocab_size}, "
          f"generator.batches('train', {args.batch_size}); best of {args.rounds} rounds of "
          f"{args.batches} batches after {WARM_UP_BATCHES} warm-up batches")
    print(f"{'pipeline':<18}{'M tokens/s':>12}{'/ limit':>9}{'target':>9}")
    print(f"{LIMIT:<18}{limit / 1e6:>12.1f}{1:>9.2f}{'(limit)':>9}")
    for family in args.families:
        if family in failed:
            print(f"{family:<18}  failed: {failed[family]}")
            continue
        ratio, target = rates[family] / limit, TARGETS.get(family, FAMILY_TARGET)
        verdict = "PASS" if ratio >= target else "FAIL"
        print(f"{family:<18}{rates[family] / 1e6:>12.1f}{ratio:>9.2f}{'>= ' + str(target):>9}  {verdict}")
    if loop is not None:
        print()
        print(f"per-token Python loop (pattern, {args.loop_sequences} sequences): "
              f"{loop / 1e6:.2f} M tokens/s")
        if "pattern" in rates:
            ratio = rates["pattern"] / loop
            verdict = "PASS" if ratio >= LOOP_TARGET else "FAIL"
            print(f"pattern / loop = {ratio:.1f}  (target >= {LOOP_TARGET})  {verdict}")


def print_writing(args, peak, before, written, seconds):
    verdict = "PASS" if peak < MEMORY_TARGET_MB else "FAIL"
    print(f"Writing {args.write_sequences:,} pattern sequences of {args.seq_length} tokens to "
          f"{NUM_SHARDS} shards (child process):")
    print(f"  peak RSS {peak:.0f} MB (target < {MEMORY_TARGET_MB} MB)  {verdict}; "
          f"{before:.0f} MB before writing")
    print(f"  {written / 1e6:,.0f} MB written in {seconds:.1f} s, "
          f"{args.write_sequences / seconds:,.0f} sequences/s")


def print_training(args, result, peaks):
    first, last = peaks
    peak = max(peaks)
    device = "GPU" if tf.config.list_physical_devices("GPU") else f"CPU ({os.cpu_count()} cores)"
    print(f"Training {args.model} on pattern sequences: length {args.train_length}, vocabulary "
          f"{args.train_vocab}, batch {args.train_batch}; float32; backend {keras.backend.backend()}; "
          f"jit_compile={result['jit_compile']}; {device}")
    print(f"median of {args.windows} windows of {args.steps} fit steps each, after a 2-step warm-up")
    print(f"machine matmul: float32 {args.matmul_size}^3 under XLA, {peak / 1e9:.1f} GFLOP/s "
          f"(best of start {first / 1e9:.1f}, end {last / 1e9:.1f})")
    achieved = result["flops"] * result["steps_per_second"]
    print(f"{'model':<18}{'params':>11}{'tokens/s':>11}{'GFLOP/step':>12}{'GFLOP/s':>10}"
          f"{'matmul GFLOP/s':>16}{'MFU %':>8}")
    print(f"{args.model:<18}{result['params']:>11,}{result['tokens']['cached']:>11,.0f}"
          f"{result['flops'] / 1e9:>12.3f}{achieved / 1e9:>10.2f}{peak / 1e9:>16.1f}"
          f"{100 * achieved / peak:>8.2f}")
    if len(result["tokens"]) > 1:
        print(f"{'data':<18}{'tokens/s':>11}{'/ from memory':>15}")
        for kind, rate in result["tokens"].items():
            print(f"{kind:<18}{rate:>11,.0f}{rate / result['tokens']['cached']:>15.2f}")
    detail = ", ".join(f"{key}={value}" for key, value in result["kwargs"].items())
    print(f"{args.model}: {detail}; warm-up fit (compile) {result['warm_up']:.0f} s, "
          f"median timed window {result['median']['cached']:.2f} s")
    print(f"  FLOPs from {result['source']} (module {result['module']}): dot "
          f"{result['dots'] / 1e9:.3f} + convolution {result['convolutions'] / 1e9:.3f} GFLOP per step")
    for note in result["notes"]:
        print(f"  note: {note}")
    if result["skipped"]:
        print(f"  not accepted by {args.model}, ignored: {', '.join(result['skipped'])}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_argument_group("generation")
    group.add_argument("--families", nargs="+", default=family_names(), choices=family_names())
    group.add_argument("--batch-size", type=int, default=256)
    group.add_argument("--seq-length", type=int, default=512, help="also of the written sequences")
    group.add_argument("--vocab-size", type=int, default=1024, help="also of the written sequences")
    group.add_argument("--batches", type=int, default=100, help="timed batches per round")
    group.add_argument("--rounds", type=int, default=5)
    group.add_argument("--loop-sequences", type=int, default=1000,
                       help="sequences of the per-token Python loop; 0 skips it")
    group = parser.add_argument_group("writing")
    group.add_argument("--write-sequences", type=int, default=1_000_000)
    group.add_argument("--skip-writing", action="store_true")
    group = parser.add_argument_group("training")
    group.add_argument("--skip-training", action="store_true")
    group.add_argument("--model", default="causal_lm")
    group.add_argument("--width", type=int, default=256)
    group.add_argument("--num-layers", type=int, default=4)
    group.add_argument("--num-heads", type=int, default=4)
    group.add_argument("--set", action="append", default=[], type=parse_set, metavar="[MODEL:]KEY=VALUE",
                       help="any other constructor argument, e.g. --set ff_dim=512")
    group.add_argument("--train-length", type=int, default=256)
    group.add_argument("--train-vocab", type=int, default=1024)
    group.add_argument("--train-batch", type=int, default=16)
    group.add_argument("--steps", type=int, default=20)
    group.add_argument("--windows", type=int, default=3)
    group.add_argument("--data", nargs="+", choices=TRAIN_KINDS, default=list(TRAIN_KINDS),
                       help="one batch from memory (cached, always) and the streamed source")
    default_jit = {value: key for key, value in JIT_CHOICES.items()}[TrainingConfig.jit_compile]
    group.add_argument("--jit-compile", choices=tuple(JIT_CHOICES), default=default_jit,
                       help=f"as model.compile; default {default_jit!r}, as `msa-tf train`")
    group.add_argument("--flops-from", choices=("executable", "compiler-ir"), default="executable")
    group.add_argument("--matmul-size", type=int, default=2048)
    args = parser.parse_args()

    print(f"{os.cpu_count()} cores")
    rates, failed = generation_rates(args)
    loop = python_loop_rate(args) if args.loop_sequences else None
    print()
    print_generation(args, rates, failed, loop)
    if not args.skip_writing:
        print()
        print_writing(args, *shard_writing(args))
    if not args.skip_training:
        if args.model not in models.names():
            print(f"\n{args.model}: not registered (registered: {', '.join(models.names())})")
            return
        keras.mixed_precision.set_global_policy("float32")
        first = matmul_flops_per_second(args.matmul_size)
        try:
            result = training(args)
        except ValueError as error:  # a size the model rejects, e.g. heads not dividing width
            print(f"\n{args.model}: failed: {error}")
            return
        last = matmul_flops_per_second(args.matmul_size)
        print()
        print_training(args, result, (first, last))


if __name__ == "__main__":
    main()
