"""Real-data readers that yield the project's `(inputs, targets)` `tf.data` elements.

- `load_mmsa` (`msa_tf.data.mmsa`, the `tf.data` pipeline) / `read_mmsa`
  (`msa_tf.data.mmsa_features`, parsing and cleaning): the MMSA / MulT feature pickles
  (or `.npz`) of CMU-MOSI, CMU-MOSEI and CH-SIMS, read with a restricted unpickler
  (`msa_tf.data.safe_pickle`).
- `msa_tf.data.tfds_builders`: TFDS builders `cmu_mosi`, `cmu_mosei` and `ch_sims`
  over the same files. Import that module to register them (it imports
  `tensorflow_datasets`, so it is not imported here).
- `msa_tf.data.sources`: one interface over every kind of data (`get_source(name,
  **arguments)`: `synthetic`, `shards`, `mmsa`, `tfds`); its `tfds` source imports
  `tensorflow_datasets` only when it is used.
- `msa_tf.data.sequences`: token-sequence sources for language modelling (`sequences`:
  a `generators.sequences` family; `sequence_shards`, `jsonl`, `text`), registered on
  import of this package; `msa_tf.data.text` reads their files.
- `msa_tf.data.image_sources`: image/segmentation sources (`shapes`, procedural;
  `image_masks`, image and mask folders read by `msa_tf.data.image_masks`, augmented by
  `msa_tf.data.image_augment`), registered on import of this package.
- `msa_tf.data.av_sources`: audio-visual clip sources for deepfake detection
  (`av_clips`, clip files in the layouts of `msa_tf.data.av_datasets`, decoded by
  `msa_tf.data.av_decode` and `msa_tf.data.av_features`, on the fly or pre-extracted
  into shards by `msa_tf.data.av_shards`; `av_shards`; `av_synthetic`), registered on
  import of this package.
- `msa_tf.data.curriculum`: `Curriculum`, stages of token sequences (by length and
  complexity) that `model.fit` moves through by epoch; `msa_tf.data.resolution_curriculum`:
  `ResolutionCurriculum`, image stages from low to high resolution with a fade-in.
- `msa_tf.data.mask_perturbation`: `perturb_masks`, new masks from a real one (elastic,
  morphology, boundary noise), for `msa-tf synthesize`.
"""

from msa_tf.data import av_sources, image_sources, sequences  # noqa: F401  (register their sources)
from msa_tf.data.curriculum import Curriculum
from msa_tf.data.mask_perturbation import perturb_masks
from msa_tf.data.mmsa import load_mmsa
from msa_tf.data.mmsa_features import MMSAFeatures, read_mmsa
from msa_tf.data.resolution_curriculum import ResolutionCurriculum
from msa_tf.data.safe_pickle import RestrictedUnpickler, UnsafePickleError
from msa_tf.data.sources import (
    DataSource,
    get_source,
    register_source,
    source_arguments,
    source_class,
    source_names,
)

__all__ = [
    "Curriculum",
    "DataSource",
    "MMSAFeatures",
    "ResolutionCurriculum",
    "RestrictedUnpickler",
    "UnsafePickleError",
    "get_source",
    "load_mmsa",
    "perturb_masks",
    "read_mmsa",
    "register_source",
    "source_arguments",
    "source_class",
    "source_names",
]
