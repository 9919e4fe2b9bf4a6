"""Training throughput of a fusion model built from msa-tf layers, and of single blocks.

Shapes follow the aligned CMU-MOSEI features (50 steps; text 768, audio 74, vision 35;
batch 32). Prints samples/s of `model.fit` steps for each (precision, jit_compile)
setting, after two warm-up steps: float32 and mixed_float16 on a GPU, float32 and
mixed_bfloat16 on a CPU.

With `--blocks`, it prints instead the milliseconds of one training step (forward and
the gradients of every weight, compiled with XLA, float32) of each attention block
alone, at batch 32 and 50 steps with random padding: MulT's blocks at MMSA's MOSEI
settings (`CrossAttentionBlock` 30 wide and the causal `TransformerBlock` 60 wide, 6
heads, ReLU, dropout 0.4) and `msa_seqlevel`'s `TransformerBlock` (64 wide, 4 heads,
GELU). The median of 5 windows of `--steps` steps: the figure to compare before and
after a change to the layers.

    python benchmarks/bench_layers.py [--steps 30] [--width 64] [--blocks]
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from in_memory import repeated  # noqa: E402
from msa_tf.layers import (  # noqa: E402
    AdaptiveFusionHead,
    CrossAttentionBlock,
    CrossModalFusion,
    LearnablePositionalEmbedding,
    TransformerBlock,
    create_padding_mask,
)

DIMS = {"text": 768, "audio": 74, "vision": 35}


def build_model(length, width, num_heads):
    inputs, encoded, masks = {}, [], []
    for name, dim in DIMS.items():
        inputs[name] = keras.Input((length, dim), name=name)
        inputs[f"{name}_mask"] = keras.Input((length,), dtype="bool", name=f"{name}_mask")
        x = LearnablePositionalEmbedding(length)(keras.layers.Dense(width)(inputs[name]))
        encoded.append(TransformerBlock(width, num_heads)(x, mask=inputs[f"{name}_mask"]))
        masks.append(inputs[f"{name}_mask"])
    fused = CrossModalFusion(width, num_heads, num_layers=2)(*encoded, *masks)
    pooled = AdaptiveFusionHead("attention")(list(fused), mask=masks)
    return keras.Model(inputs, keras.layers.Dense(1, dtype="float32")(pooled))


def samples_per_second(policy, jit_compile, args):
    keras.mixed_precision.set_global_policy(policy)
    rng = np.random.default_rng(0)
    batch, length = args.batch_size, args.length
    data = {name: rng.normal(size=(batch, length, dim)).astype("float32") for name, dim in DIMS.items()}
    for name in DIMS:
        data[f"{name}_mask"] = np.arange(length)[None, :] < rng.integers(length // 2, length + 1, (batch, 1))
    target = rng.normal(size=(batch, 1)).astype("float32")
    dataset = repeated((data, target))
    model = build_model(length, args.width, args.num_heads)
    model.compile(optimizer="adam", loss="mse", jit_compile=jit_compile)
    model.fit(dataset, steps_per_epoch=2, epochs=1, verbose=0, shuffle=False)  # compile and warm up
    start = time.perf_counter()
    model.fit(dataset, steps_per_epoch=args.steps, epochs=1, verbose=0, shuffle=False)
    return args.steps * batch / (time.perf_counter() - start)


def blocks(batch, length):
    """`{name: (block, inputs, mask arguments)}` for `--blocks`."""
    rng = np.random.default_rng(0)
    mask = create_padding_mask(lengths=rng.integers(length // 2, length + 1, batch), max_length=length)

    def sequence(width):
        return tf.constant(rng.normal(size=(batch, length, width)).astype("float32"))

    mult = dict(num_heads=6, dropout=0.4, activation="relu")
    return {
        "MulT CrossAttentionBlock, 30 wide": (
            CrossAttentionBlock(30, **mult), (sequence(30), sequence(30)),
            dict(query_mask=mask, context_mask=mask)),
        "MulT TransformerBlock, 60 wide, causal": (
            TransformerBlock(60, causal=True, **mult), (sequence(60),), dict(mask=mask)),
        "msa_seqlevel TransformerBlock, 64 wide": (
            TransformerBlock(64, 4, ff_dim=128), (sequence(64),), dict(mask=mask)),
    }


def block_step_milliseconds(block, inputs, masks, steps, windows=5):
    """The median milliseconds of one XLA-compiled training step of `block` alone."""

    @tf.function(jit_compile=True)
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(block(*inputs, **masks, training=True)))
        return tape.gradient(loss, block.trainable_variables)

    block(*inputs, **masks)  # builds
    step()  # compiles
    times = []
    for _ in range(windows):
        start = time.perf_counter()
        for _ in range(steps):
            gradients = step()
        gradients[0].numpy()
        times.append((time.perf_counter() - start) / steps * 1000)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--length", type=int, default=50)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--num-heads", type=int, default=4)
    parser.add_argument("--blocks", action="store_true", help="time single attention blocks")
    args = parser.parse_args()
    if args.blocks:
        print(f"one training step of each block alone, XLA, float32, batch {args.batch_size}, "
              f"length {args.length}")
        for name, (block, inputs, masks) in blocks(args.batch_size, args.length).items():
            milliseconds = block_step_milliseconds(block, inputs, masks, args.steps)
            print(f"{name:<40} {milliseconds:7.2f} ms")
        return
    on_gpu = bool(tf.config.list_physical_devices("GPU"))
    policies = ["float32", "mixed_float16" if on_gpu else "mixed_bfloat16"]
    device = "GPU" if on_gpu else f"CPU ({os.cpu_count()} cores)"
    print(f"fusion model, width {args.width}, batch {args.batch_size}, length {args.length}, {device}")
    for policy in policies:
        for jit_compile in (False, True):
            rate = samples_per_second(policy, jit_compile, args)
            print(f"{policy:<14} jit_compile={str(jit_compile):<5}  {rate:9.1f} samples/s")


if __name__ == "__main__":
    main()
