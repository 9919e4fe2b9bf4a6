"""Image/segmentation sources (task `image_synthesis`): procedural shapes and real folders.

A batch is `(inputs, targets)`, both `{"image": float32 (batch, height, width, channels)
in [-1, 1], "segmentation": int32 (batch, height, width) class ids}` (0 = background):
each model reads the inputs it needs (Pix2Pix the segmentation, the VAE both) and the
task trains the outputs it makes. Images have one size, `image_size`, so there are no
lengths to pad to (`dataset(..., lengths=None)` only).

Registered sources:

- `shapes(scene="blobs", **options)`: `generators.shapes.ShapesGenerator`, made on the
  fly (its `origin` is the scene). `shuffle` is ignored: examples are independent draws.
- `image_masks(images_dir, masks_dir, image_size=256, channels=3, mask_values=None,
  valid_fraction=0.2, test_fraction=0.2, augment=True, seed=0)`: image and mask folders
  (`msa_tf.data.image_masks.read_image_masks`), read once and held in memory, split by
  `msa_tf.data.image_masks.split_pairs` (a fixed order by a hash of the stems; each
  split with a nonzero fraction gets at least one pair, train the rest). With `augment`,
  training pairs are flipped, cropped and jittered (`msa_tf.data.image_augment`) afresh
  each epoch, the same way for the same `seed`; `shuffle` reshuffles them each epoch.

Their training images can go from low to high resolution: `curriculum(stages)` (the
config's `data.curriculum`) is a `msa_tf.data.resolution_curriculum.ResolutionCurriculum`.

Example:
>>> source = get_source("shapes", scene="cells", image_size=32, num_samples=8)
>>> inputs, targets = next(iter(source.dataset("train", batch_size=4)))
>>> {k: (tuple(v.shape), v.dtype.name) for k, v in sorted(inputs.items())}
{'image': ((4, 32, 32, 3), 'float32'), 'segmentation': ((4, 32, 32), 'int32')}
>>> source.model_arguments(), source.default_task
({'image_size': [32, 32], 'channels': 3, 'num_classes': 1}, 'image_synthesis')
"""

import os

import numpy as np
import tensorflow as tf

from generators.shapes import ShapesGenerator
from msa_tf.data.image_augment import augment_pair
from msa_tf.data.image_masks import read_image_masks, split_pairs
from msa_tf.data.resolution_curriculum import ResolutionCurriculum
from msa_tf.data.sources import SPLITS, DataSource, get_source, register_source
from msa_tf.validation import (
    check_bool,
    check_choice,
    check_int,
    check_positive_int,
    constructor_arguments,
    optional,
)

__all__ = ["ImageMaskSource", "ImageMasksSource", "ShapesSource", "get_source"]


def _pairs(batch):
    pair = {"image": batch["image"], "segmentation": batch["segmentation"]}
    return pair, pair


class ImageMaskSource(DataSource):
    """Base of the image/segmentation sources.

    Attributes:
        image_size: `(height, width)`.
        channels: image channels.
        num_segmentation_classes: object classes (segmentation ids 1 .. this).
    """

    default_task = "image_synthesis"

    def fixed_lengths(self, lengths=None):
        """`None`: images have one size (`image_size`); anything else is an error."""
        if lengths is not None:
            raise ValueError(f"`lengths` must be None for image data (every image is "
                             f"{self.image_size[0]}x{self.image_size[1]}: set the source's "
                             f"image_size); received lengths={lengths!r}")
        return None

    def input_spec(self, lengths=None):
        self.fixed_lengths(lengths)
        height, width = self.image_size
        return {"image": ((height, width, self.channels), "float32"),
                "segmentation": ((height, width), "int32")}

    def model_arguments(self, lengths=None):
        """`image_size`, `channels` and `num_classes` (of the segmentation)."""
        self.fixed_lengths(lengths)
        return {"image_size": list(self.image_size), "channels": self.channels,
                "num_classes": self.num_segmentation_classes}

    def num_classes(self):
        return None

    def pairs(self, split, limit=None):
        """`(images, segmentations, names)` of the first `limit` (all: `None`) examples of
        `split` as NumPy arrays, never augmented: float32 `(count, height, width,
        channels)` in [-1, 1], int32 `(count, height, width)` class ids and a name each."""
        check_choice("split", split, SPLITS)
        images, segmentations, names = self._pairs(split, optional(check_positive_int)("limit", limit))
        return images, segmentations, names

    def curriculum(self, stages):
        """The `msa_tf.data.resolution_curriculum.ResolutionCurriculum` of `stages` (the
        config's `data.curriculum`): training images from low to high resolution."""
        return ResolutionCurriculum(stages, self.image_size)


@register_source("shapes")
class ShapesSource(ImageMaskSource):
    """Procedural image/segmentation pairs of `generators.shapes` (module doc)."""

    def __init__(self, scene="blobs", **options):
        self.generator = ShapesGenerator(scene=scene, **options)
        self.image_size = self.generator.image_size
        self.channels = self.generator.channels
        self.num_segmentation_classes = self.generator.num_classes
        self.origin = scene

    @classmethod
    def arguments(cls):
        return tuple(constructor_arguments(ShapesGenerator))

    def _pairs(self, split, limit):
        counts = [count for count in (limit, self.generator.num_samples) if count is not None]
        if not counts:
            raise ValueError("`limit` must be a positive integer for a shapes source that streams "
                             "(num_samples=None); received limit=None")
        count = min(counts)
        pairs = self.generator.generate(split, 0, count)
        return (pairs["image"].numpy(), pairs["segmentation"].numpy(),
                [f"{split}_{index:05d}" for index in range(count)])

    def _batches(self, split, batch_size, lengths, shuffle, seed, drop_remainder):
        return self.generator.batches(split, batch_size, drop_remainder=drop_remainder).map(
            _pairs, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


@register_source("image_masks")
class ImageMasksSource(ImageMaskSource):
    """Real image/mask folders, split, held in memory, augmented in training (module doc)."""

    def __init__(self, images_dir, masks_dir, image_size=256, channels=3, mask_values=None,
                 valid_fraction=0.2, test_fraction=0.2, augment=True, seed=0):
        pairs = read_image_masks(images_dir, masks_dir, image_size, channels, mask_values)
        parts = split_pairs(pairs.stems, valid_fraction, test_fraction)
        self.augment = check_bool("augment", augment)
        self.seed = check_int("seed", seed)
        self.image_size = pairs.images.shape[1:3]
        self.channels = channels
        self.num_segmentation_classes = pairs.num_classes
        self.origin = os.fspath(images_dir)
        self.stems = {split: [pairs.stems[i] for i in parts[split]] for split in SPLITS}
        self.splits = {split: (pairs.images[parts[split]], pairs.masks[parts[split]]) for split in SPLITS}

    def _pairs(self, split, limit):
        images, masks = (array[:limit] for array in self.splits[split])
        return (images.astype(np.float32) / 127.5 - 1.0, masks.astype(np.int32),
                self.stems[split][:limit])

    def _batches(self, split, batch_size, lengths, shuffle, seed, drop_remainder):
        images, masks = self.splits[split]
        examples = tf.data.Dataset.from_tensor_slices((images, masks.astype(np.int32)))
        if shuffle:
            examples = examples.shuffle(len(images), seed=int(seed), reshuffle_each_iteration=True)
        examples = examples.map(lambda image, mask: (tf.cast(image, tf.float32) / 127.5 - 1.0, mask))
        if self.augment and split == "train":
            seeds = tf.data.Dataset.random(seed=self.seed, rerandomize_each_iteration=True).batch(2)
            examples = tf.data.Dataset.zip(examples, seeds).map(
                lambda pair, pair_seed: augment_pair(*pair, pair_seed),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        batches = examples.batch(batch_size, drop_remainder=bool(drop_remainder))
        batches = batches.map(lambda image, mask: _pairs({"image": image, "segmentation": mask}))
        return batches.prefetch(tf.data.AUTOTUNE)
