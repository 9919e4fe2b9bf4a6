"""Training throughput of a fusion model built from msa-tf layers.

Shapes follow the aligned CMU-MOSEI features (50 steps; text 768, audio 74, vision 35;
batch 32). Prints samples/s of `model.fit` steps for each (precision, jit_compile)
setting, after two warm-up steps: float32 and mixed_float16 on a GPU, float32 and
mixed_bfloat16 on a CPU.

    python benchmarks/bench_layers.py [--steps 30] [--width 64]
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from in_memory import repeated  # noqa: E402
from msa_tf.layers import (  # noqa: E402
    AdaptiveFusionHead,
    CrossModalFusion,
    LearnablePositionalEmbedding,
    TransformerBlock,
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--length", type=int, default=50)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--num-heads", type=int, default=4)
    args = parser.parse_args()
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
