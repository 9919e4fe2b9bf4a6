"""Speed and memory of the synthetic multimodal generator.

Prints, in one run:
- generator samples/s for the MOSEI-aligned preset (length 50; text 768, audio 74,
  vision 35), through `MultimodalGenerator.dataset(..., pad_to=50)`;
- the fill rate of `tf.random.stateless_normal` for the same number of floats per
  sample (the limit for generated data on this machine), and the ratio of the two;
- samples/s of a straightforward per-sample NumPy loop making the same shapes
  (one `SeedSequence([seed, split, index])` generator per example);
- peak resident memory of writing `--memory-samples` examples to shards (in a child
  process, small shapes so that the disk is not the limit).

    python benchmarks/bench_generators.py [--samples 8192] [--memory-samples 1000000]
"""

import argparse
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from generators import MultimodalGenerator  # noqa: E402

BATCH = 256


def generator_rate(num_samples):
    generator = MultimodalGenerator(preset="mosei", num_samples=num_samples)
    data = generator.dataset("train", BATCH, pad_to=50)
    for _ in data.take(2):
        pass
    start = time.perf_counter()
    count = sum(int(inputs["text"].shape[0]) for inputs, _ in data)
    return count / (time.perf_counter() - start), generator


def fill_rate(floats_per_sample, num_samples):
    shape = [BATCH * floats_per_sample]
    tf.random.stateless_normal(shape, seed=[1, 2])
    batches = num_samples // BATCH
    start = time.perf_counter()
    for index in range(batches):
        tf.random.stateless_normal(shape, seed=[1, index])
    return batches * BATCH / (time.perf_counter() - start)


def numpy_loop_rate(generator, num_samples):
    config, lengths, dims = generator.config, generator.layout.lengths, generator.config.dims()
    start = time.perf_counter()
    for index in range(num_samples):
        rng = np.random.default_rng(np.random.SeedSequence([config.seed, 0, index]))
        latents = rng.standard_normal(4, dtype=np.float32)
        example = {}
        for m, (low, high) in lengths.items():
            length = rng.integers(low, high + 1)
            mask = np.arange(high) < length
            values = 0.5 * latents[0] * np.ones(dims[m], np.float32) + 0.87 * rng.standard_normal(
                (high, dims[m]), dtype=np.float32
            )
            example[m] = values * mask[:, None]
            example[f"{m}_mask"] = mask
        example["regression"] = np.clip(1.5 * latents[:1], -3, 3)
    return num_samples / (time.perf_counter() - start)


CHILD = """
import resource, sys, tempfile
from generators import MultimodalGenerator, write_shards
generator = MultimodalGenerator(num_samples=int(sys.argv[1]), text_dim=8, audio_dim=4,
                                vision_dim=4, min_length=2, max_length=8)
with tempfile.TemporaryDirectory() as out:
    write_shards(generator, out, splits=["train"], num_shards=8, block_size=1024, progress=False)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def child_peak_mb(script, *arguments):
    """Runs `script` (Python source that prints its `ru_maxrss` last) in a child process;
    returns `(the child's peak RSS in MB, its printed lines before it, seconds)`."""
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", script, *map(str, arguments)], capture_output=True,
                         text=True, check=True)
    *lines, peak = run.stdout.strip().splitlines()
    return int(peak) / 1024, lines, time.perf_counter() - start


def shard_writing_peak_mb(num_samples):
    peak, _, seconds = child_peak_mb(CHILD, num_samples)
    return peak, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=8192)
    parser.add_argument("--loop-samples", type=int, default=1024)
    parser.add_argument("--memory-samples", type=int, default=1_000_000)
    args = parser.parse_args()

    rate, generator = generator_rate(args.samples)
    floats = sum(high * dim for (_, high), dim in zip(generator.layout.lengths.values(),
                                                      generator.config.dims().values()))
    limit = fill_rate(floats, args.samples)
    loop = numpy_loop_rate(generator, args.loop_samples)
    print(f"MOSEI-aligned preset, {floats} floats per sample, batch {BATCH}, {os.cpu_count()} cores")
    print(f"generator:                 {rate:9.0f} samples/s")
    print(f"stateless_normal fill:     {limit:9.0f} samples/s   "
          f"generator/fill = {rate / limit:.2f}  (target >= 0.5)")
    print(f"per-sample NumPy loop:     {loop:9.0f} samples/s   "
          f"generator/loop = {rate / loop:.1f}  (target >= 20)")
    if args.memory_samples:
        peak, seconds = shard_writing_peak_mb(args.memory_samples)
        print(f"writing {args.memory_samples} samples to 8 shards: peak RSS {peak:.0f} MB "
              f"(target < 1024 MB), {seconds:.0f} s")


if __name__ == "__main__":
    main()
