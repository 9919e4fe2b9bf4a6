"""Real-data readers that yield the project's `(inputs, targets)` `tf.data` elements.

- `load_mmsa` / `read_mmsa`: the MMSA / MulT feature pickles (or `.npz`) of CMU-MOSI,
  CMU-MOSEI and CH-SIMS, read with a restricted unpickler.
- `msa_tf.data.tfds_builders`: TFDS builders `cmu_mosi`, `cmu_mosei` and `ch_sims`
  over the same files. Import that module to register them (it imports
  `tensorflow_datasets`, so it is not imported here).
"""

from msa_tf.data.mmsa import (
    MMSAFeatures,
    RestrictedUnpickler,
    UnsafePickleError,
    load_mmsa,
    read_mmsa,
)

__all__ = [
    "MMSAFeatures",
    "RestrictedUnpickler",
    "UnsafePickleError",
    "load_mmsa",
    "read_mmsa",
]
