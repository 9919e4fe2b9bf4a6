"""A TFDS builder for your own image/mask folders: `image_masks`.

It reads `images/` and `masks/` from `manual_dir` with
`msa_tf.data.image_masks.read_image_masks` (paired by stem, PNG, JPEG or TIFF), resized
to the config's `image_size`, and splits the pairs as the `image_masks` data source does
(`split_pairs`: valid and test fractions of 0.2). Import this module to register it:

    import msa_tf.data.tfds_image_masks  # registers image_masks
    builder = tfds.builder("image_masks/256", data_dir=...)
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
        manual_dir="my_pairs"))            # my_pairs/images/*.png, my_pairs/masks/*.png
    data = builder.as_dataset(split="train")

An example holds `image` (uint8 `(height, width, 3)`), `segmentation` (uint8 `(height,
width)` class ids, 0 = background) and `stem` (the file stem). Configs: `64`, `128`
and `256` (RGB, binary masks); `ImageMasksConfig(name, image_size, channels,
mask_values)` makes others.
"""

import dataclasses
import os

import numpy as np
import tensorflow_datasets as tfds

from msa_tf.data.image_masks import read_image_masks, split_pairs

SPLITS = {"train": "train", "validation": "valid", "test": "test"}


@dataclasses.dataclass(eq=False)
class ImageMasksConfig(tfds.core.BuilderConfig):
    """The size, channels and mask coding of the pairs (see `read_image_masks`)."""

    image_size: int = 256
    channels: int = 3
    mask_values: tuple | None = None


class ImageMasks(tfds.core.GeneratorBasedBuilder):
    """Image/segmentation pairs from your own folders (`manual_dir/images`, `manual_dir/masks`)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    BUILDER_CONFIGS = [ImageMasksConfig(name=str(size), image_size=size,
                                        description=f"RGB images and binary masks at {size}x{size}.")
                       for size in (64, 128, 256)]
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Put your images in `manual_dir/images/` and their masks, one per image with the same "
        "file stem, in `manual_dir/masks/` (PNG, JPEG or TIFF; masks binary, or coded by the "
        "config's `mask_values`).")

    def _info(self):
        config = self.builder_config
        size = config.image_size
        features = {"image": tfds.features.Tensor(shape=(size, size, config.channels), dtype=np.uint8),
                    "segmentation": tfds.features.Tensor(shape=(size, size), dtype=np.uint8),
                    "stem": tfds.features.Text()}
        return self.dataset_info_from_configs(
            description=__doc__, features=tfds.features.FeaturesDict(features),
            # The split's pairs in the order of their stems.
            disable_shuffling=True)

    def _split_generators(self, dl_manager):
        config = self.builder_config
        root = os.fspath(dl_manager.manual_dir)
        pairs = read_image_masks(os.path.join(root, "images"), os.path.join(root, "masks"),
                                 config.image_size, config.channels,
                                 None if config.mask_values is None else list(config.mask_values))
        parts = split_pairs(pairs.stems)
        return {name: self._generate_examples(pairs, parts[split]) for name, split in SPLITS.items()}

    def _generate_examples(self, pairs, indices):
        for index in indices:
            yield pairs.stems[index], {"image": pairs.images[index], "segmentation": pairs.masks[index],
                                       "stem": pairs.stems[index]}
