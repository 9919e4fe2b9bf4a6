"""Dropout whose random mask is cheap to compute when XLA compiles it for a CPU."""

import math

import keras
from keras import ops

# The golden-ratio increment of a Weyl sequence and the multipliers of MurmurHash3's
# 32-bit finaliser (as in SplitMix): each output bit depends on every input bit.
_GOLDEN = 0x9E3779B9
_MIX = (0x85EBCA6B, 0xC2B2AE35)


def _uint32(value):
    return ops.convert_to_tensor(value, dtype="uint32")


def _mix(bits):
    """MurmurHash3's 32-bit finaliser of a `uint32` tensor."""
    bits = ops.bitwise_xor(bits, ops.right_shift(bits, 16)) * _uint32(_MIX[0])
    bits = ops.bitwise_xor(bits, ops.right_shift(bits, 13)) * _uint32(_MIX[1])
    return ops.bitwise_xor(bits, ops.right_shift(bits, 16))


def random_bits(shape, seed):
    """Uniform `uint32` bits of `shape`, a function of `seed` (two integers) only.

    Element `i` (in row-major order) is `mix(i * golden ^ key)`, the key a hash of the
    seed: a counter-based generator of a dozen integer operations per element, which
    XLA fuses into one vectorised loop. It is also a short graph: every node costs
    time when a training step is traced and compiled.
    """
    key = _mix(ops.sum(ops.cast(seed, "uint32") * _uint32([_GOLDEN, 1])))
    counter = ops.cast(ops.reshape(ops.arange(math.prod(shape), dtype="int32"), shape), "uint32")
    return _mix(ops.bitwise_xor(counter * _uint32(_GOLDEN), key))


@keras.saving.register_keras_serializable(package="msa_tf")
class Dropout(keras.layers.Dropout):
    """`keras.layers.Dropout` with a counter-based hash as its random generator.

    The backends' own generators (Philox or ThreeFry) compile under XLA on a CPU into
    long scalar code, which made MulT's XLA train step slower than without XLA. This
    layer hashes each element's position with the seed (`random_bits`): a few vectorised
    integer operations per element, the same on every backend. A fresh seed comes
    from the layer's `SeedGenerator` on each call, so the masks change from step to
    step; each element is dropped with probability `rate` (to 2^-32) and kept
    elements are scaled by `1 / (1 - rate)`.
    Arguments and config are those of `keras.layers.Dropout`.

    Example:
    >>> layer = Dropout(0.5, seed=1)
    >>> outputs = np.asarray(layer(np.ones((2, 1000)), training=True))
    >>> sorted(set(outputs.ravel().tolist()))
    [0.0, 2.0]
    >>> bool(abs((outputs == 0).mean() - 0.5) < 0.05)
    True
    """

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        shape = tuple(ops.shape(inputs))
        if self.noise_shape is not None:
            shape = tuple(s if n is None else n for s, n in zip(shape, self.noise_shape))
        threshold = ops.cast(min(round(self.rate * 2**32), 2**32 - 1), "uint32")
        keep = random_bits(shape, self.seed_generator.next()) >= threshold
        scale = ops.cast(1.0 / (1.0 - self.rate), inputs.dtype)
        return ops.where(keep, inputs * scale, ops.zeros((), inputs.dtype))
