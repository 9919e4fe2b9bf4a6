"""Training throughput of MulT side by side: msa_tf's `mult` against MMSA's `MULT` (PyTorch).

The peer is MMSA 2.2.1's own `MULT`, built from MMSA's regression config for `mult` on
MOSEI (30 wide, 6 heads, nlevels 4, convolution kernels 5/1/3 for text/audio/vision with
no padding, its dropouts and causal attention masks), trained as MMSA's trainer does it:
L1 loss, `clip_grad_value_` with its `grad_clip` (0.6), Adam at its learning rate
(5e-4), float32, `torch.set_num_threads(2)`. It runs in benchmarks/peer/.venv, which
`make peer` builds (see benchmarks/peer/README.md). Ours is `models.get("mult", ...)`
with the same settings (`our_settings` says how each maps), trained with `model.fit` on
the `regression` output: MAE loss, `keras.optimizers.Adam` at the same learning rate with
`clipvalue` = `grad_clip`, TensorFlow on 2 threads, in each mode of `--ours`:

- `xla`: float32, `jit_compile=True`, what `msa-tf train` does by default
  (`TrainingConfig.jit_compile`); the main row;
- `no-xla`: float32, `jit_compile=False`, what Keras's default `jit_compile="auto"`
  gives on a machine without a GPU;
- `bf16`: the `mixed_bfloat16` policy, compiled as `msa-tf train` compiles.

Both sides train on one random float32 batch (NumPy, made once and shared), repeated
from memory, at aligned MOSEI shapes: length 50; text 768, audio 74, vision 35. Each side
(and each of our modes) is its own worker process (benchmarks/peer/*_worker.py), which
builds its model once per batch size. After a warm-up window (graph tracing, XLA
compiles) the parent runs `--windows` timed windows of `--steps` training steps,
alternating window by window (peer, ours, peer, ours, ...) so that machine noise hits
every side alike. It prints per batch size and side: training samples/s (the median of
the windows, and the slowest and fastest window), ours/peer, parameters, and MFLOP per
sample: the dot/matmul and convolution FLOPs of one training step (forward and backward)
over the batch size, counted once at the first batch size (the count is linear in the
batch) by `torch.utils.flop_counter.FlopCounterMode` for the peer and by counting XLA's
HLO of the train step (benchmarks/flops.py) for ours.

Measure on a quiet machine: PyTorch's OpenMP threads spin while they wait for each
other, and when other processes take the cores a step can take ten times as long
(TensorFlow's thread pool loses far less). The header shows the 1-minute load average
before and after; on a busy machine `OMP_WAIT_POLICY=PASSIVE` (inherited by the
workers) keeps the peer's threads from spinning.

Without benchmarks/peer/.venv, or with MMSA not importable there, it says what is
missing and how to build it, runs our side alone, and exits 0.

    python benchmarks/bench_peer.py [--batch-sizes 32 64 128] [--windows 5] [--steps 5]
                                    [--ours xla no-xla bf16]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEER_PYTHON = os.path.join(ROOT, "benchmarks", "peer", ".venv", "bin", "python")
OUR_MODES = ("xla", "no-xla", "bf16")
DIMS = {"text": 768, "audio": 74, "vision": 35}
# MMSA 2.2.1's `get_config_regression("mult", "mosei")` (MMSA/config/config_regression.json),
# for our side when the peer cannot run; with the peer, its own config is used.
MMSA_MULT_MOSEI = dict(
    dst_feature_dim_nheads=[30, 6], nlevels=4, conv1d_kernel_size_l=5, conv1d_kernel_size_a=1,
    conv1d_kernel_size_v=3, attn_dropout=0.4, attn_dropout_a=0.0, attn_dropout_v=0.0,
    embed_dropout=0.0, res_dropout=0.0, text_dropout=0.3, output_dropout=0.5,
    attn_mask=True, learning_rate=0.0005, grad_clip=0.6,
)


def our_settings(config):
    """Our `mult` arguments, learning rate and `clipvalue` for an MMSA MulT config.

    MMSA's cross-modal transformers have `nlevels` layers and its self-attention
    ("memory") transformers `max(nlevels, 3)`; its convolutions have no padding
    (`"valid"`); `attn_mask` makes attention causal (ours: the self-attention only).
    Every dropout maps to its own: `attn_dropout`, `attn_dropout_a` and `attn_dropout_v`
    to the rates of the cross-modal stacks that read text, audio and vision
    (`attention_dropout` as a dict; the self-attention stacks take the text rate in
    both), `res_dropout` to `residual_dropout`, `embed_dropout` to `embedding_dropout`,
    `text_dropout` and `output_dropout` to theirs. Ours has no `relu_dropout` (dropout
    inside the feed-forward networks; 0 for MOSEI).
    """
    width, heads = config["dst_feature_dim_nheads"]
    model = dict(
        model_dim=width, num_heads=heads, num_cross_layers=config["nlevels"],
        num_layers=max(config["nlevels"], 3),
        conv_kernel_sizes={"text": config["conv1d_kernel_size_l"],
                           "audio": config["conv1d_kernel_size_a"],
                           "vision": config["conv1d_kernel_size_v"]},
        conv_padding="valid",
        attention_dropout={"text": config["attn_dropout"], "audio": config["attn_dropout_a"],
                           "vision": config["attn_dropout_v"]},
        residual_dropout=config["res_dropout"], embedding_dropout=config["embed_dropout"],
        text_dropout=config["text_dropout"], output_dropout=config["output_dropout"],
        causal=bool(config["attn_mask"]),
    )
    return dict(model=model, learning_rate=config["learning_rate"], clipvalue=config["grad_clip"])


class Worker:
    """A worker process and its line protocol (benchmarks/peer/protocol.py)."""

    def __init__(self, name, command, is_peer=False):
        self.name, self.is_peer = name, is_peer
        self.process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)

    def send(self, line):
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def receive(self):
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.name} worker exited (its error is printed above)")
        return json.loads(line)

    def close(self):
        self.process.stdin.close()
        self.process.wait()


def write_data(path, batch_size, length):
    """One random batch: standard normal features, labels uniform in [-3, 3]."""
    rng = np.random.default_rng(0)
    arrays = {m: rng.standard_normal((batch_size, length, dim), dtype=np.float32)
              for m, dim in DIMS.items()}
    arrays["labels"] = rng.uniform(-3, 3, (batch_size, 1)).astype(np.float32)
    np.savez(path, **arrays)


def start_peer(data_path, threads):
    """The peer worker and its `ready` info, or `(None, None)` after saying what is missing."""
    build = ("build it with `make peer` (PyTorch 2.13.0 for CPUs and MMSA 2.2.1; "
             "benchmarks/peer/README.md)")
    if not os.path.exists(PEER_PYTHON):
        print(f"The peer environment benchmarks/peer/.venv is missing: {build}. "
              "Running our side alone.\n")
        return None, None
    peer = Worker("MMSA MULT (torch)", [PEER_PYTHON, "-m", "benchmarks.peer.mmsa_worker",
                                        data_path, str(threads)], is_peer=True)
    hello = peer.receive()
    if "missing" in hello:
        peer.close()
        print(f"MMSA's MULT cannot be imported in benchmarks/peer/.venv ({hello['missing']}): "
              f"re{build}. Running our side alone.\n")
        return None, None
    return peer, hello["ready"]


def timed_windows(sides, batch_size, args):
    """Samples/s of each side in each window, the sides taking turns window by window."""
    rates = {side: [] for side in sides}
    for _ in range(args.windows):
        for side in sides:
            side.send(f"train {args.steps}")
            rates[side].append(args.steps * batch_size / side.receive()["seconds"])
            print(f"batch {batch_size}: {side.name}: {rates[side][-1]:.1f} samples/s",
                  file=sys.stderr)
    return rates


def prepare(sides, batch_size, args, count_flops):
    """Builds and warms up every side at once (untimed); returns params and, if asked, FLOPs.

    Each worker gets its commands at once and works through them while the others do;
    FLOPs (per sample) come from the peer and the first of our modes.
    """
    counted = ([sides[0]] if sides[0].is_peer else []) + [next(s for s in sides if not s.is_peer)]
    for side in sides:
        side.send(f"build {batch_size}")
        side.send(f"train {args.warmup_steps}")
        if count_flops and side in counted:
            side.send("flops")
    params, flops = {}, {}
    for side in sides:
        params[side] = side.receive()["params"]
        side.receive()
        if count_flops and side in counted:
            reply = side.receive()
            flops[side.is_peer] = (reply["flops"] / batch_size, reply["notes"])
    return params, flops


def run(sides, args):
    """FLOPs per sample `{is_peer: (flops, notes)}` and `{batch_size: (params, rates)}` per side.

    FLOPs are counted at the first batch size only: every dot and convolution scales with it.
    """
    start, flops, results = time.perf_counter(), {}, {}
    for batch_size in args.batch_sizes:
        params, counted = prepare(sides, batch_size, args, count_flops=not flops)
        flops = flops or counted
        print(f"batch {batch_size}: built and warmed up after {time.perf_counter() - start:.0f} s",
              file=sys.stderr)
        results[batch_size] = params, timed_windows(sides, batch_size, args)
        print(f"batch {batch_size}: timed after {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return flops, results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--windows", type=int, default=5, help="timed windows per side")
    parser.add_argument("--steps", type=int, default=5, help="training steps per window")
    parser.add_argument("--warmup-steps", type=int, default=2)
    parser.add_argument("--ours", nargs="+", choices=OUR_MODES, default=list(OUR_MODES),
                        help="our modes, each its own row; the first is the main row")
    parser.add_argument("--length", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    for name in ("windows", "steps", "warmup_steps", "length", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1; received {getattr(args, name)}")
    if min(args.batch_sizes) < 1:
        parser.error(f"--batch-sizes must be at least 1; received {args.batch_sizes}")

    load_before = os.getloadavg()[0]
    sides = []  # the workers, the peer first
    with tempfile.TemporaryDirectory(prefix="bench_peer_") as folder:
        data_path = os.path.join(folder, "batch.npz")
        write_data(data_path, max(args.batch_sizes), args.length)
        try:
            peer, peer_info = start_peer(data_path, args.threads)
            sides += [peer] if peer else []
            settings = our_settings(peer_info["config"] if peer else MMSA_MULT_MOSEI)
            for mode in dict.fromkeys(args.ours):
                sides.append(Worker(f"ours {mode}", [
                    sys.executable, "-m", "benchmarks.peer.msa_tf_worker", data_path, mode,
                    str(args.threads), json.dumps(settings)]))
            ready = [side.receive()["ready"] for side in sides if not side.is_peer]
            versions = {**(peer_info["versions"] if peer else {}), **ready[0]["versions"]}
            flops, results = run(sides, args)
        finally:
            for side in sides:
                side.close()

    print(f"MulT, aligned MOSEI shapes: length {args.length}; text {DIMS['text']}, audio "
          f"{DIMS['audio']}, vision {DIMS['vision']}; float32 data; {args.threads} threads a side; "
          f"{os.cpu_count()} CPU cores; {args.windows} windows of {args.steps} steps a side after "
          f"{args.warmup_steps} warm-up steps; " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print(f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after; OMP_WAIT_POLICY="
          f"{os.environ.get('OMP_WAIT_POLICY', '(unset)')}")
    print(f"\n{'batch':>5}  {'side':<20}{'samples/s':>10}  {'(slowest-fastest)':<19}{'ours/peer':>9}"
          f"{'params':>11}{'MFLOP/sample':>14}")
    for batch_size, (params, rates) in results.items():
        peer_rate = statistics.median(rates[peer]) if peer else None
        for side in sides:
            rate = statistics.median(rates[side])
            ratio = "-" if side.is_peer or peer_rate is None else f"{rate / peer_rate:.2f}"
            spread = f"({min(rates[side]):.1f}-{max(rates[side]):.1f})"
            print(f"{batch_size:>5}  {side.name:<20}{rate:>10.1f}  {spread:<19}{ratio:>9}"
                  f"{params[side]:>11,}{flops[side.is_peer][0] / 1e6:>14.1f}")
    print(f"\nours: mult with {json.dumps(settings['model'])}; Adam({settings['learning_rate']}, "
          f"clipvalue={settings['clipvalue']}); from "
          + ("the peer's MMSA config" if peer else "MMSA 2.2.1's config (copied in this script)"))
    for is_peer, (_, notes) in flops.items():
        for note in notes:
            print(f"FLOPs of {'the peer' if is_peer else 'ours'}: {note}")

if __name__ == "__main__":
    main()
