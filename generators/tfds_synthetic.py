"""A TFDS builder for the synthetic multimodal sentiment data: `synthetic_multimodal`.

One builder config per preset (`mosi`, `mosi_unaligned`, `mosei`, `mosei_unaligned`,
`sims`, with the real data sets' split sizes) and `tiny` for smoke tests. Import this
module to register the builder, then use `tfds.load` as for any data set:

    import generators.tfds_synthetic  # registers synthetic_multimodal
    data = tfds.load("synthetic_multimodal/mosei", split="train", as_supervised=True)

Examples are full length (each modality's `max_length`) with their masks; the
`(inputs, targets)` structure is that of `MultimodalGenerator`, and example `i` of a
split is the generator's example `i`.
"""

import operator

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from generators.multimodal import PRESETS, MultimodalGenerator

# TFDS split names and the generator's.
SPLITS = {"train": "train", "validation": "valid", "test": "test"}
SPLIT_SIZES = {
    "mosi": {"train": 1284, "validation": 229, "test": 686},
    "mosei": {"train": 16326, "validation": 1871, "test": 4659},
    "sims": {"train": 1368, "validation": 456, "test": 457},
}


class GeneratorConfig(tfds.core.BuilderConfig):
    """A generator setting (`generator_fields`) and split sizes (by TFDS split name)."""

    def __init__(self, *, generator_fields, split_sizes, **kwargs):
        super().__init__(**kwargs)
        self.generator_fields = dict(generator_fields)
        self.split_sizes = dict(split_sizes)


class SyntheticMultimodalConfig(GeneratorConfig):
    """A generator setting (`generator_fields`, as for `MultimodalGenerator`) and split sizes."""


def numbered_examples(batches):
    """`(index, example)` for every example of a dataset of batches, numbered from 0.

    An example is row `r` of every tensor of a batch (nested dicts and tuples kept).
    """
    index = 0
    for batch in tfds.as_numpy(batches):
        for row in range(len(tf.nest.flatten(batch)[0])):
            yield index, tf.nest.map_structure(operator.itemgetter(row), batch)
            index += 1


def _preset_config(preset):
    return SyntheticMultimodalConfig(
        name=preset,
        description=f"Synthetic data with the shapes of the {preset} feature files.",
        generator_fields={"preset": preset},
        split_sizes=SPLIT_SIZES[preset.split("_")[0]],
    )


class SyntheticMultimodal(tfds.core.GeneratorBasedBuilder):
    """Synthetic multimodal sentiment data with known cross-modal structure."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    BUILDER_CONFIGS = [_preset_config(preset) for preset in PRESETS] + [
        SyntheticMultimodalConfig(
            name="tiny",
            description="Small shapes and few examples, for smoke tests.",
            generator_fields={"text_dim": 8, "audio_dim": 4, "vision_dim": 3, "min_length": 2,
                              "max_length": 6},
            split_sizes={"train": 64, "validation": 16, "test": 16},
        )
    ]

    def _generator(self, num_samples=1):
        return MultimodalGenerator(**self.builder_config.generator_fields, num_samples=num_samples)

    def _info(self):
        generator = self._generator()
        config = generator.config
        inputs = {}
        for modality, (_, length) in generator.layout.lengths.items():
            if modality == "text" and config.text == "tokens":
                inputs[modality] = tfds.features.Tensor(shape=(length,), dtype=np.int32)
            else:
                shape = (length, config.dims()[modality])
                inputs[modality] = tfds.features.Tensor(shape=shape, dtype=np.float32)
            inputs[f"{modality}_mask"] = tfds.features.Tensor(shape=(length,), dtype=np.bool_)
        targets = {
            "regression": tfds.features.Tensor(shape=(1,), dtype=np.float32),
            "classification": tfds.features.Tensor(shape=(), dtype=np.int32),
        }
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict({"inputs": inputs, "targets": targets}),
            supervised_keys=("inputs", "targets"),
            # Keep the generator's order: example i of a split is its example i.
            disable_shuffling=True,
            description=__doc__,
        )

    def _split_generators(self, dl_manager):
        return {name: self._generate_examples(name) for name in SPLITS}

    def _generate_examples(self, split):
        size = self.builder_config.split_sizes[split]
        batches = self._generator(size).batches(SPLITS[split], 256)
        yield from numbered_examples(batches.map(lambda inputs, targets: {"inputs": inputs,
                                                                          "targets": targets}))
