"""Augmentation of image/mask pairs: the same flip and crop on both, jitter on the image.

`augment_pair(image, mask, seed, ...)` takes one example, a float32 image `(height,
width, channels)` in [-1, 1] and its int32 mask `(height, width)` of class ids, and a
stateless seed (int32 `(2,)`): the same seed gives the same result, so a pipeline that
derives the seed from the example's index and the epoch is reproducible. In order:

- `flip`: a left-right and an up-down flip, each with probability 1/2;
- `crop`: a random crop of a share of each side drawn from [`crop`, 1], at a random
  place, resized back (bilinear for the image, nearest for the mask, so that it keeps
  class ids); `crop=1` keeps the whole image;
- `brightness` and `contrast`: the image's brightness shifted by up to +/- `brightness`
  (in [0, 1] units) and its contrast scaled by a factor in [1 - `contrast`, 1 +
  `contrast`], clipped back to [-1, 1]. The mask is unchanged.

`pair_batches(images, masks, batch_size, steps, ...)` draws batches from image/mask
arrays in a reshuffled cycle, each pair augmented afresh when `augment` is set.

Example:
>>> import tensorflow as tf
>>> image = tf.linspace(-1.0, 1.0, 16)[None, :, None] * tf.ones([8, 1, 3])
>>> mask = tf.cast(tf.range(16)[None, :] >= 8, tf.int32) * tf.ones([8, 1], tf.int32)
>>> out_image, out_mask = augment_pair(image, mask, tf.constant([1, 2]), crop=0.5)
>>> out_image.shape, out_mask.shape, sorted(set(out_mask.numpy().ravel().tolist())) <= [0, 1]
(TensorShape([8, 16, 3]), TensorShape([8, 16]), True)
"""

import numpy as np
import tensorflow as tf

from msa_tf.validation import check_bool, check_number

__all__ = ["augment_pair", "pair_batches"]


def augment_pair(image, mask, seed, *, flip=True, crop=0.8, brightness=0.1, contrast=0.1):
    """The augmented `(image, mask)` of one example (module doc)."""
    check_bool("flip", flip)
    check_number("crop", crop, low=0, high=1, low_open=True)
    check_number("brightness", brightness, low=0, high=1)
    check_number("contrast", contrast, low=0, high=1)
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int32), 6)
    height, width = image.shape[0], image.shape[1]
    # One tensor, so that every geometric step moves image and mask alike.
    both = tf.concat([image, tf.cast(mask, image.dtype)[..., None]], axis=-1)
    if flip:
        both = tf.image.stateless_random_flip_left_right(both, seeds[0])
        both = tf.image.stateless_random_flip_up_down(both, seeds[1])
    if crop < 1:
        share = tf.random.stateless_uniform([2], seeds[2], minval=crop, maxval=1.0)
        size = tf.maximum(tf.cast(tf.round(share * [height, width]), tf.int32), 1)
        corner = tf.cast(tf.random.stateless_uniform([2], seeds[3]) * tf.cast(
            [height, width] - size + 1, tf.float32), tf.int32)
        both = tf.slice(both, [corner[0], corner[1], 0], [size[0], size[1], -1])
        image = tf.image.resize(both[..., :-1], [height, width], method="bilinear")
        mask = tf.image.resize(both[..., -1:], [height, width], method="nearest")[..., 0]
    else:
        image, mask = both[..., :-1], both[..., -1]
    if brightness > 0:
        image = image + 2 * tf.random.stateless_uniform([], seeds[4], -brightness, brightness)
    if contrast > 0:
        factor = tf.random.stateless_uniform([], seeds[5], 1 - contrast, 1 + contrast)
        mean = tf.reduce_mean(image, axis=[0, 1], keepdims=True)
        image = (image - mean) * factor + mean
    image = tf.ensure_shape(tf.clip_by_value(image, -1.0, 1.0), [height, width, None])
    return image, tf.ensure_shape(tf.cast(tf.round(mask), tf.int32), [height, width])


def pair_batches(images, masks, batch_size, steps, *, augment=False, seed=0, **options):
    """`steps` batches `(images, masks)` of `batch_size` pairs of the arrays `images`
    (float32 `(count, height, width, channels)` in [-1, 1]) and `masks` (int class ids
    `(count, height, width)`), drawn in a cycle reshuffled each pass (the order follows
    `seed`); with `augment`, each drawn pair goes through `augment_pair` with `options`
    and a seed drawn from `seed`."""
    pairs = tf.data.Dataset.from_tensor_slices((np.asarray(images, np.float32),
                                                np.asarray(masks, np.int32)))
    pairs = pairs.repeat().shuffle(len(images), seed=seed)
    if augment:
        seeds = tf.data.Dataset.random(seed=seed).batch(2)
        pairs = tf.data.Dataset.zip(pairs, seeds).map(
            lambda pair, pair_seed: augment_pair(*pair, tf.cast(pair_seed % 2**31, tf.int32), **options))
    return pairs.batch(batch_size).take(steps)
