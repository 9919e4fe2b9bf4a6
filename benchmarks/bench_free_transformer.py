"""How the Free Transformer's latent fills its free bits on the paper's planted task.

Trains `free_transformer` (width 64, 4 layers, 4 heads, `--latent-bits` 4) with `fit`
on the `planted` family (vocabulary 16, length 24, 4 letters, blocks of 4, 4,096
training sequences, batches of 32, Adam at 0.003, XLA) as
tests/models/sequence/test_learning.py does, for `--epochs` epochs, and prints after
each epoch the mean KL per token of the encoder's latent (the `kl` metric, nats) on
the training and validation splits and its ratio to `--kappa` (default: the model's,
log(2) / 2). Then, for 64 samples of one letter's prompt, the share of pairs whose
block starts at the same position with one fixed latent and with a latent drawn per
sample (the latent carries the block's position when the first is larger).

With free bits, a KL below kappa costs nothing, so training fills that budget from
below and settles at about kappa; it goes above only when what the latent would add
is worth more to the cross-entropy than the KL it costs.

    python benchmarks/bench_free_transformer.py
    python benchmarks/bench_free_transformer.py --epochs 8 --kappa 0.1733
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from generators.sequences import SEP, make_generator  # noqa: E402
from msa_tf import models  # noqa: E402
from msa_tf.models.sequence.free_transformer import HALF_A_BIT  # noqa: E402
from msa_tf.tasks.language_modeling import LanguageModelingTask  # noqa: E402

LETTER = 6
SAMPLES = 64


class PrintKL(keras.callbacks.Callback):
    def __init__(self, kappa):
        super().__init__()
        self.kappa, self.start = kappa, time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        print(f"{epoch + 1:>5}{logs['kl']:>10.4f}{logs['val_kl']:>10.4f}{logs['val_kl'] / self.kappa:>10.2f}"
              f"{time.perf_counter() - self.start:>9.0f}", flush=True)


def block_agreement(model, generator, latent=None):
    """The share of pairs of `SAMPLES` generated lines whose letter block starts at the same place."""
    prompt = np.array([[LETTER, SEP]] * SAMPLES)
    lines = model.generate(prompt, generator.seq_length - 2, seed=1, latent=latent)
    starts = np.argmax(lines[:, 2:] == LETTER, axis=1)
    return float(np.mean(starts[:, None] == starts[None, :]))


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=24)
    parser.add_argument("--kappa", type=float, default=HALF_A_BIT, help="free bits, nats per token")
    parser.add_argument("--latent-bits", type=int, default=4)
    args = parser.parse_args()
    generator = make_generator("planted", vocab_size=16, seq_length=24, num_letters=4, block_length=4,
                               num_samples=4096, seed=1)
    keras.utils.set_random_seed(0)
    model = models.get("free_transformer", vocab_size=16, max_length=24, width=64, num_heads=4, num_layers=4,
                       latent_bits=args.latent_bits, kappa=args.kappa)
    losses, _ = LanguageModelingTask(generator).losses(["next_token"])
    model.compile(optimizer=keras.optimizers.Adam(0.003), loss=losses, jit_compile=True)
    print(f"free_transformer on planted sequences: kappa {args.kappa:.4f} nats per token, "
          f"{args.latent_bits} latent bits, {args.epochs} epochs")
    print(f"{'epoch':>5}{'kl':>10}{'val_kl':>10}{'/ kappa':>10}{'seconds':>9}")
    model.fit(generator.dataset("train", 32, drop_remainder=True).cache(), epochs=args.epochs, verbose=0,
              validation_data=generator.dataset("valid", 64).cache(), callbacks=[PrintKL(args.kappa)])
    latent = np.random.default_rng(0).integers(0, 2**args.latent_bits, size=generator.seq_length)
    print(f"block position agreement over {SAMPLES} samples: one fixed latent "
          f"{block_agreement(model, generator, latent):.3f}, a latent per sample "
          f"{block_agreement(model, generator):.3f}")


if __name__ == "__main__":
    main()
