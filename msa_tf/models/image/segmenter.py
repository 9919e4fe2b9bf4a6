"""A small U-Net segmenter: the reference that checks synthetic pairs, and the model that
measures whether they help.

`build_segmenter` makes a Keras functional model from `image` (float32 `(batch,
height, width, channels)` in [-1, 1]) to `{"segmentation": logits}` (one channel for
binary masks, one per class and background otherwise: `segmentation_channels`): a
`UNetGenerator` with a linear output and no dropout. `train_segmenter` fits one on
image/mask arrays for a fixed number of steps (so that training sets of different sizes
get the same compute), optionally with the classical augmentation of
`msa_tf.data.image_augment`; `segment` gives the class ids it finds.

Initial weights come from Keras's global random state: call
`keras.utils.set_random_seed` first for a reproducible segmenter.

Example:
>>> rng = np.random.default_rng(0)
>>> masks = (rng.uniform(size=(4, 16, 16)) > 0.5).astype("int32")
>>> images = np.repeat(2.0 * masks[..., None] - 1.0, 3, axis=-1).astype("float32")
>>> model = train_segmenter(images, masks, steps=2, base_filters=4, depth=2)
>>> segment(model, images).shape
(4, 16, 16)
"""

import keras
import numpy as np
from keras import ops

from msa_tf.data.image_augment import pair_batches
from msa_tf.layers.unet import UNetGenerator
from msa_tf.models.image.components import NORMS, segmentation_channels, segmentation_ids
from msa_tf.validation import check_bool, check_choice, check_number, check_positive_int

__all__ = ["build_segmenter", "segment", "train_segmenter"]


def build_segmenter(image_size, channels=3, num_classes=1, base_filters=16, depth=4, norm="batch"):
    """A U-Net segmenter for images of `image_size` `(height, width)` (module doc); the
    height and width must be multiples of `2**depth`."""
    height, width = image_size
    image = keras.Input((height, width, check_positive_int("channels", channels)), name="image")
    logits = UNetGenerator(segmentation_channels(check_positive_int("num_classes", num_classes)),
                           base_filters=base_filters, depth=depth, norm=check_choice("norm", norm, NORMS),
                           dropout=0.0, output_activation="linear", name="unet")(image)
    return keras.Model({"image": image}, {"segmentation": logits}, name="segmenter")


def train_segmenter(images, segmentations, num_classes=1, *, steps=200, batch_size=8,
                    learning_rate=2e-3, augment=False, seed=0, base_filters=16, depth=None):
    """A segmenter fitted on `images` (float `(count, height, width, channels)` in [-1, 1])
    and `segmentations` (int class ids `(count, height, width)`) for `steps` Adam steps of
    `batch_size` pairs drawn in a reshuffled cycle (the order and augmentation follow
    `seed`). `augment` flips, crops and jitters each drawn pair (`augment_pair`'s
    defaults). `depth` defaults to the most halvings the size allows, at most 4."""
    images, segmentations = np.asarray(images, np.float32), np.asarray(segmentations, np.int32)
    if images.ndim != 4 or segmentations.shape != images.shape[:3] or not len(images):
        raise ValueError(f"`images` must be (count, height, width, channels) and `segmentations` "
                         f"(count, height, width) of the same count and size; received shapes "
                         f"{images.shape} and {segmentations.shape}")
    steps, batch_size = check_positive_int("steps", steps), check_positive_int("batch_size", batch_size)
    check_number("learning_rate", learning_rate, low=0, low_open=True)
    height, width = images.shape[1:3]
    if depth is None:
        depth = max(1, min(4, _halvings(height), _halvings(width)))
    batches = pair_batches(images, segmentations, batch_size, steps, augment=check_bool("augment", augment),
                           seed=seed).map(lambda image, mask: ({"image": image}, {"segmentation": mask}))
    model = build_segmenter((height, width), images.shape[-1], num_classes, base_filters, depth)
    model.compile(keras.optimizers.Adam(learning_rate),
                  {"segmentation": keras.losses.BinaryCrossentropy(from_logits=True) if num_classes == 1
                   else keras.losses.SparseCategoricalCrossentropy(from_logits=True)})
    model.fit(batches, epochs=1, shuffle=False, verbose=0)
    return model


def _halvings(size):
    """How often `size` halves evenly."""
    count = 0
    while size % 2 == 0 and size > 1:
        size, count = size // 2, count + 1
    return count


def segment(model, images, batch_size=32):
    """The class ids `(count, height, width)` that `model` finds in `images`."""
    logits = model.predict({"image": np.asarray(images, np.float32)}, batch_size=batch_size, verbose=0)
    return ops.convert_to_numpy(segmentation_ids(logits["segmentation"]))
