"""Training and generation speed of Pix2Pix and the image/mask VAE, with MFU.

Prints, for each of `--models` (default `pix2pix vae`), at `--image-size` (256) with
RGB images and binary masks of the `shapes` generator (one batch repeated from
memory, so the input pipeline is not measured):

- training images/s of `model.fit` with the `image_synthesis` task's losses and Adam,
  compiled as `msa-tf train` compiles by default (`--jit-compile` overrides it): the
  median of `--windows` windows of `--steps` steps after a 2-step warm-up, measured
  with benchmarks/bench_models.py's `time_fit`. Pix2Pix's step trains the generator
  and the discriminator (pix2pix's sizes: U-Net depth log2(image size), 64 base
  filters, a 70x70 PatchGAN; batch `--pix2pix-batch` 4); the VAE's (5 downsamplings,
  32 base filters, latent 128; batch `--vae-batch` 16) encodes and decodes;
- GFLOP per training step (the dot and convolution FLOPs of the HLO module that XLA
  compiled for that step, benchmarks/flops.py) and MFU % = GFLOP/step x steps/s over
  the machine's float32 matmul GFLOP/s measured at the start (as bench_models.py);
- generation images/s: Pix2Pix's generator on segmentations, the VAE decoding draws
  of its prior, each `predict_on_batch` at the training batch size, the best of
  `--generate-rounds` rounds of `--generate-batches` batches after a warm-up;
- the seed project's own figures on a GPU for reference (Pix2Pix 12 samples/s, VAE
  28 samples/s), which this machine's figures are not comparable with unless it has
  that GPU;
- images/s of the procedural data (`generators.shapes`, each scene, the same size and
  batch 16 through `batches`, after a warm-up batch), next to the training rates that
  it must keep up with when it feeds them on the fly.

With `--precision mixed_float16` (a GPU) the models train and generate under that
policy, the float16 loss scaled (Pix2Pix scales each network's loss with its own
optimizer).

    python benchmarks/bench_image_mask.py
    python benchmarks/bench_image_mask.py --image-size 128 --steps 2 --windows 1
    python benchmarks/bench_image_mask.py --precision mixed_float16    # on a GPU
"""

import argparse
import math
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

# Sets XLA_FLAGS to dump the modules XLA compiles (read at the first XLA compile, not on import).
from bench_models import JIT_CHOICES, matmul_flops_per_second, time_fit  # noqa: E402
from generators.shapes import SCENES, ShapesGenerator  # noqa: E402
from in_memory import repeated  # noqa: E402
from msa_tf import models  # noqa: E402
from msa_tf.tasks import get_task  # noqa: E402
from msa_tf.training.config import TrainingConfig  # noqa: E402

SEED_FIGURES = {"pix2pix": 12, "vae": 28}  # samples/s of the seed project on a GPU
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


class _Source:
    num_segmentation_classes = 1


def model_arguments(name, args):
    if name == "pix2pix":
        return dict(image_size=args.image_size, channels=3, base_filters=64,
                    depth=int(math.log2(args.image_size)), num_downsamples=3)
    return dict(image_size=args.image_size, channels=3, latent_dim=128, base_filters=32,
                num_downsamples=5)


def benchmark(name, args, batch):
    """Builds, compiles and times `name`; returns its figures."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = models.get(name, **model_arguments(name, args))
    model(batch)
    outputs = {"image"} if name == "pix2pix" else {"image", "segmentation"}
    losses, _ = get_task("image_synthesis", _Source()).losses(outputs)
    model.compile(optimizer=keras.optimizers.Adam(2e-4), loss=losses,
                  jit_compile=JIT_CHOICES[args.jit_compile])
    targets = {key: batch[key] for key in outputs}
    timed = time_fit(model, {"cached": repeated((batch, targets))}, args.steps, args.windows)
    size = len(batch["image"])
    generate = (lambda: model.predict_on_batch(batch)) if name == "pix2pix" else (
        lambda: model.decoder(tf.random.normal((size, model.latent_dim)), training=False))
    generate()
    best = 0.0
    for _ in range(args.generate_rounds):
        start = time.perf_counter()
        for _ in range(args.generate_batches):
            result = generate()
        np.asarray(result["image"] if isinstance(result, dict) else result)
        best = max(best, args.generate_batches * size / (time.perf_counter() - start))
    steps_per_second = args.steps / timed["median"]["cached"]
    return dict(params=model.count_params(), batch=size, train=steps_per_second * size,
                flops=timed["flops"], steps_per_second=steps_per_second, generate=best,
                warm_up=timed["warm_up"], source=timed["source"], jit_compile=model.jit_compile)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=sorted(SEED_FIGURES),
                        default=sorted(SEED_FIGURES))
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--pix2pix-batch", type=int, default=4)
    parser.add_argument("--vae-batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--windows", type=int, default=2)
    parser.add_argument("--generate-batches", type=int, default=3)
    parser.add_argument("--generate-rounds", type=int, default=2)
    parser.add_argument("--precision", choices=PRECISIONS, default="float32")
    parser.add_argument("--matmul-size", type=int, default=2048)
    default_jit = {value: key for key, value in JIT_CHOICES.items()}[TrainingConfig.jit_compile]
    parser.add_argument("--jit-compile", choices=tuple(JIT_CHOICES), default=default_jit)
    args = parser.parse_args()
    keras.mixed_precision.set_dtype_policy(args.precision)
    peak = matmul_flops_per_second(args.matmul_size)
    device = "GPU" if tf.config.list_physical_devices("GPU") else f"CPU ({os.cpu_count()} cores)"
    print(f"Image/mask models at {args.image_size}x{args.image_size} RGB + binary mask; {args.precision}; "
          f"{device}; float32 matmul {peak / 1e9:.1f} GFLOP/s; median of {args.windows} windows of "
          f"{args.steps} fit steps after a 2-step warm-up")
    print(f"{'model':<10}{'params':>12}{'batch':>7}{'train img/s':>13}{'GFLOP/step':>12}{'MFU %':>8}"
          f"{'generate img/s':>16}{'seed GPU img/s':>16}")
    for name in args.models:
        generator = ShapesGenerator(image_size=args.image_size, channels=3, seed=0)
        size = args.pix2pix_batch if name == "pix2pix" else args.vae_batch
        batch = {key: value.numpy() for key, value in generator.generate("train", 0, size).items()}
        result = benchmark(name, args, batch)
        mfu = 100 * result["flops"] * result["steps_per_second"] / peak
        print(f"{name:<10}{result['params']:>12,}{result['batch']:>7}{result['train']:>13.2f}"
              f"{result['flops'] / 1e9:>12.1f}{mfu:>8.2f}{result['generate']:>16.2f}"
              f"{SEED_FIGURES[name]:>16}")
        print(f"  jit_compile={result['jit_compile']}; warm-up fit (compile) {result['warm_up']:.0f} s; "
              f"FLOPs from {result['source']}")
    print("procedural data (generators.shapes, batch 16): " + ", ".join(
        f"{scene} {shapes_rate(scene, args.image_size):.0f}" for scene in SCENES) + " images/s")


def shapes_rate(scene, image_size, batches=8, batch_size=16):
    """Images/s of `ShapesGenerator(scene)` at `image_size`, streamed by `batches`."""
    iterator = iter(ShapesGenerator(scene=scene, image_size=image_size, num_samples=None)
                    .batches("train", batch_size).prefetch(2))
    next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch_size / (time.perf_counter() - start)


if __name__ == "__main__":
    main()
