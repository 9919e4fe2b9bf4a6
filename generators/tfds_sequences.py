"""A TFDS builder for the synthetic token sequences: `synthetic_sequences`.

One builder config per family setting, at small sizes for prototyping and smoke
tests: `pattern`, `mqar` and `planted` (see `generators.sequences`). Import this
module to register the builder, then use `tfds.load` as for any data set:

    import generators.tfds_sequences  # registers synthetic_sequences
    data = tfds.load("synthetic_sequences/mqar", split="train", as_supervised=True)

An example holds every field of `SequenceGenerator.batches` at full length
(`seq_length`): `tokens`, `tokens_mask`, `labels`, `pattern`, `predictable` and
`condition`; example `i` of a split is the generator's sequence `i`. With
`as_supervised=True` the elements are those of `SequenceGenerator.dataset`:
`({"tokens", "tokens_mask"}, {"next_token": labels})`.
"""

import numpy as np
import tensorflow_datasets as tfds

from generators.sequences import make_generator
from generators.tfds_synthetic import SPLITS, GeneratorConfig, numbered_examples

SMALL = {"train": 2048, "validation": 256, "test": 256}


class SyntheticSequences(tfds.core.GeneratorBasedBuilder):
    """Synthetic token sequences with known structure (patterns, recall, planted blocks)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    BUILDER_CONFIGS = [
        GeneratorConfig(
            name="pattern",
            description="Random tokens with repetition, alternation, progression and reversal spans.",
            generator_fields={"family": "pattern", "vocab_size": 64, "seq_length": 64,
                              "length_variation": 0.25},
            split_sizes=SMALL,
        ),
        GeneratorConfig(
            name="mqar",
            description="Multi-query associative recall (zoology), 4 key-value pairs.",
            generator_fields={"family": "mqar", "vocab_size": 64, "seq_length": 32, "num_pairs": 4},
            split_sizes=SMALL,
        ),
        GeneratorConfig(
            name="planted",
            description="The planted-block task of the Free Transformer, 8 letters.",
            generator_fields={"family": "planted", "vocab_size": 16, "seq_length": 32,
                              "num_letters": 8, "block_length": 6},
            split_sizes=SMALL,
        ),
    ]

    def _generator(self, num_samples=1):
        return make_generator(**self.builder_config.generator_fields, num_samples=num_samples)

    def _info(self):
        length = self._generator().seq_length
        sequence = {"tokens": np.int32, "tokens_mask": np.bool_, "labels": np.int32, "pattern": np.int32,
                    "predictable": np.bool_}
        features = {key: tfds.features.Tensor(shape=(length,), dtype=dtype)
                    for key, dtype in sequence.items()}
        features["condition"] = tfds.features.Tensor(shape=(), dtype=np.int32)
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(features),
            supervised_keys=({"tokens": "tokens", "tokens_mask": "tokens_mask"}, {"next_token": "labels"}),
            # Keep the generator's order: example i of a split is its sequence i.
            disable_shuffling=True,
            description=__doc__,
        )

    def _split_generators(self, dl_manager):
        return {name: self._generate_examples(name) for name in SPLITS}

    def _generate_examples(self, split):
        size = self.builder_config.split_sizes[split]
        yield from numbered_examples(self._generator(size).batches(SPLITS[split], 256))
