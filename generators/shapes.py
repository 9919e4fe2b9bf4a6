"""Procedural image/mask pairs with known ground truth: small segmentation data sets.

`ShapesGenerator(scene=...)` draws objects on a textured background and renders the
image and its mask together, so every mask is exactly right:

- `blobs`: 1 to 4 smooth irregular blobs (a radius that varies with the angle through
  harmonics 2 to 4), sharp borders;
- `cells`: 6 to 16 small, nearly round cells with textured interiors, some touching;
- `lesions`: 1 or 2 large irregular lesions with soft, low-contrast borders.

An example is `{"image": float32 (height, width, channels) in [-1, 1], "segmentation":
int32 (height, width)}` (the range of the tanh generators; the segmentation mask holds
class ids, 0 = background, objects of classes 1 .. `num_classes`, a later object over an
earlier one; the name keeps it apart from the padding masks `<name>_mask` of other data).
The image is, in order: a background of smooth random texture, each object blended in
with its own texture over a soft edge (`softness`), a Gaussian blur of `blur` pixels,
and Gaussian noise of standard deviation `noise`, in [0, 1] before scaling to [-1, 1].
Objects are `contrast` brighter than the background on average (a colour tint per
scene for `channels=3`), so a threshold segments them when the texture and noise are
weak, and not when they are strong.

Stateless like the other generators: example `i` of split `s` with seed `k` is a pure
function of `(k, s, i)` (`generators.draws`), made by vectorised ops over a batch.

Example:
>>> gen = ShapesGenerator(scene="cells", image_size=32, num_samples=4, seed=1)
>>> batch = gen.generate("train", 0, 4)
>>> batch["image"].shape, batch["image"].dtype.name, batch["segmentation"].shape
(TensorShape([4, 32, 32, 3]), 'float32', TensorShape([4, 32, 32]))
>>> sorted(set(batch["segmentation"].numpy().ravel().tolist()))
[0, 1]
"""

import functools
import math

import numpy as np
import tensorflow as tf

from generators.draws import Draws, block_batches, graph_generate
from generators.multimodal import SPLITS
from generators.validation import check_bool, check_choice, check_int, check_number, invalid

__all__ = ["SCENES", "ShapesGenerator"]

MAX_NUM_SAMPLES = 2**62
# A batch renders at most this many object pixels (batch x objects x height x width).
MAX_BATCH_PIXELS = 2**28
# The scenes and their defaults: objects per image, radius as a share of the shorter
# side, radius harmonics (the largest amplitude of each), aspect ratio range, edge
# softness in pixels, and the colour tint of objects and background for `channels=3`.
SCENES = {
    "blobs": dict(objects=(1, 4), radius=(0.12, 0.25), harmonics=0.18, aspect=(0.6, 1.0),
                  softness=0.5, tint=((0.9, 0.5, 0.3), (0.5, 0.6, 0.8))),
    "cells": dict(objects=(6, 16), radius=(0.05, 0.09), harmonics=0.05, aspect=(0.75, 1.0),
                  softness=0.7, tint=((0.6, 0.3, 0.8), (0.95, 0.85, 0.9))),
    "lesions": dict(objects=(1, 2), radius=(0.18, 0.32), harmonics=0.3, aspect=(0.5, 1.0),
                    softness=2.5, tint=((0.55, 0.25, 0.2), (0.9, 0.7, 0.6))),
}
HARMONICS = (2, 3, 4)
# Background level and texture sizes (pixels of the shorter side per texture cell).
BACKGROUND = 0.3
TEXTURE_COARSE, TEXTURE_FINE = 8, 2
STREAM_OBJECTS, STREAM_TEXTURE, STREAM_NOISE = 0, 1, 2


class ShapesGenerator:
    """Streams procedural image/mask pairs of one scene through `tf.data` (module doc).

    Args:
        scene: `"blobs"`, `"cells"` or `"lesions"`.
        image_size: the image's side, or `(height, width)`; at least 8 pixels.
        channels: 1 (grey) or 3 (RGB).
        num_classes: object classes (mask values 1 .. `num_classes`).
        min_objects, max_objects: objects per image (`None`: the scene's range).
        contrast: how much brighter objects are than the background, in [0, 0.7].
        texture: the amplitude of the textures, in [0, 1].
        noise: the standard deviation of the pixel noise, >= 0.
        blur: the Gaussian blur's standard deviation in pixels, >= 0 (0: none).
        num_samples: examples per split; `None` streams forever.
        seed: the data set's seed.
    """

    def __init__(self, scene="blobs", image_size=64, channels=3, num_classes=1, min_objects=None,
                 max_objects=None, contrast=0.4, texture=0.15, noise=0.03, blur=0.7, num_samples=1000,
                 seed=0):
        self.scene = check_choice("scene", scene, tuple(SCENES))
        self.image_size = _check_size(image_size)
        self.channels = check_choice("channels", channels, (1, 3))
        self.num_classes = check_int("num_classes", num_classes, high=255)
        low, high = SCENES[scene]["objects"]
        self.min_objects = check_int("min_objects", low if min_objects is None else min_objects,
                                     low=0, high=64)
        self.max_objects = check_int("max_objects", high if max_objects is None else max_objects,
                                     low=max(self.min_objects, 1), high=64,
                                     accepted="an integer in [max(1, min_objects), 64]")
        self.contrast = check_number("contrast", contrast, low=0, high=0.7)
        self.texture = check_number("texture", texture, low=0, high=1)
        self.noise = check_number("noise", noise, low=0)
        self.blur = check_number("blur", blur, low=0, high=(min(self.image_size) - 1) / 3,
                                 accepted=f"a number in [0, (shorter side - 1) / 3] = "
                                          f"[0, {(min(self.image_size) - 1) / 3:g}]")
        self.num_samples = None if num_samples is None else check_int("num_samples", num_samples,
                                                                      high=MAX_NUM_SAMPLES)
        self.seed = check_int("seed", seed, low=0, high=2**64 - 1)
        self._functions = {}  # split: `_generate` as a graph function

    def to_dict(self):
        """The JSON-able arguments: `ShapesGenerator(**d)` remakes the generator."""
        names = ("scene", "image_size", "channels", "num_classes", "min_objects", "max_objects",
                 "contrast", "texture", "noise", "blur", "num_samples", "seed")
        values = {name: getattr(self, name) for name in names}
        values["image_size"] = list(self.image_size)
        return values

    def _check_count(self, name, value, available=None):
        check_int(name, value, high=MAX_NUM_SAMPLES)
        rows = value if available is None else min(value, available)
        height, width = self.image_size
        per_example = self.max_objects * height * width
        if rows * per_example > MAX_BATCH_PIXELS:
            raise invalid(name, value, f"at most {MAX_BATCH_PIXELS // per_example} for images of "
                                       f"{height}x{width} with up to {self.max_objects} objects")
        return value

    def generate(self, split, start, count):
        """Examples `start .. start + count - 1` of `split`: `{"image", "segmentation"}` tensors.

        Runs as a graph function, traced once per split.
        """
        index = SPLITS[check_choice("split", split, tuple(SPLITS))]
        check_int("start", start, low=0, high=MAX_NUM_SAMPLES)
        self._check_count("count", count)
        return graph_generate(self._functions, self._generate, index, start, count)

    def batches(self, split, batch_size, start=0, stop=None, drop_remainder=False):
        """A dataset of batches (dicts as `generate` returns) of examples `start .. stop - 1`.

        `stop=None` means `num_samples`, or forever when that is `None`; `drop_remainder`
        drops a last, smaller batch and makes the batch dimension static.
        """
        index = SPLITS[check_choice("split", split, tuple(SPLITS))]
        check_int("start", start, low=0, high=MAX_NUM_SAMPLES)
        stop = self.num_samples if stop is None else check_int("stop", stop, low=start,
                                                                high=MAX_NUM_SAMPLES)
        self._check_count("batch_size", batch_size, None if stop is None else stop - start)
        check_bool("drop_remainder", drop_remainder)
        return block_batches(functools.partial(self._generate, index), start, stop, batch_size,
                             drop_remainder)

    def _generate(self, split, start, count):
        scene = SCENES[self.scene]
        height, width = self.image_size
        objects = Draws(self.seed, split, STREAM_OBJECTS, start, count)
        k = self.max_objects
        (number, x, y, radius, aspect, angle, level, classes, *harmonics) = objects(
            1, k, k, k, k, k, k, k, *[k] * (2 * len(HARMONICS)))
        present = tf.range(k, dtype=tf.float32)[None, :] < tf.floor(
            self.min_objects + number * (self.max_objects - self.min_objects + 1))
        side = float(min(height, width))
        low, high = scene["radius"]
        radius = (low + radius * (high - low)) * side
        aspect = scene["aspect"][0] + aspect * (scene["aspect"][1] - scene["aspect"][0])
        margin = high * side * 0.5
        x = margin + x * (width - 2 * margin)
        y = margin + y * (height - 2 * margin)
        angle = angle * math.pi
        amplitudes = [scene["harmonics"] * h for h in harmonics[:len(HARMONICS)]]
        phases = [2 * math.pi * h for h in harmonics[len(HARMONICS):]]
        distance = _signed_distance(x, y, radius, aspect, angle, amplitudes, phases, height, width)
        inside = tf.logical_and(distance < 0, present[:, :, None, None])
        # The mask holds the class of the last object over each pixel.
        order = tf.range(1, k + 1, dtype=tf.int32)[None, :, None, None]
        top = tf.reduce_max(tf.where(inside, order, 0), axis=1)
        object_class = 1 + tf.minimum(tf.cast(classes * self.num_classes, tf.int32), self.num_classes - 1)
        mask = tf.where(top > 0, tf.gather(object_class, tf.maximum(top - 1, 0), batch_dims=1), 0)

        textures = Draws(self.seed, split, STREAM_TEXTURE, start, count)
        background = BACKGROUND + self.texture * _texture(textures, height, width)
        foreground = self.texture * _texture(textures, height, width)
        alpha = tf.sigmoid(-distance / scene["softness"]) * tf.cast(present, tf.float32)[:, :, None, None]
        brightness = BACKGROUND + self.contrast * (0.75 + 0.5 * level)  # (count, k): mean `contrast` above
        grey = background
        for i in range(k):
            grey = grey * (1 - alpha[:, i]) + (brightness[:, i, None, None] + foreground) * alpha[:, i]
        covered = tf.reduce_max(alpha, axis=1)
        image = _tinted(grey, covered, scene["tint"], self.channels)
        if self.blur > 0:
            image = _gaussian_blur(image, self.blur)
        if self.noise > 0:
            noise = Draws(self.seed, split, STREAM_NOISE, start, count)
            image = image + self.noise * tf.reshape(noise.normals(height * width * self.channels),
                                                    tf.shape(image))
        image = tf.clip_by_value(image, 0.0, 1.0) * 2.0 - 1.0
        return {"image": tf.ensure_shape(image, [None, height, width, self.channels]),
                "segmentation": tf.ensure_shape(mask, [None, height, width])}


def _check_size(value):
    accepted = "an integer >= 8 or [height, width] of integers >= 8"
    sizes = [value, value] if not isinstance(value, (list, tuple)) else list(value)
    if len(sizes) != 2 or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 8 for s in sizes):
        raise invalid("image_size", value, accepted)
    return tuple(sizes)


def _signed_distance(x, y, radius, aspect, angle, amplitudes, phases, height, width):
    """`(count, k, height, width)`: a pixel's distance outside each object's border, in
    pixels along the ray from its centre (negative inside)."""
    rows = tf.range(height, dtype=tf.float32)[None, None, :, None] + 0.5
    cols = tf.range(width, dtype=tf.float32)[None, None, None, :] + 0.5
    dx, dy = cols - x[:, :, None, None], rows - y[:, :, None, None]
    cos, sin = tf.cos(angle)[:, :, None, None], tf.sin(angle)[:, :, None, None]
    u = dx * cos + dy * sin
    v = (dy * cos - dx * sin) / aspect[:, :, None, None]
    rho = tf.sqrt(u * u + v * v)
    phi = tf.atan2(v, u)
    border = tf.ones_like(phi)
    for harmonic, amplitude, phase in zip(HARMONICS, amplitudes, phases):
        border += amplitude[:, :, None, None] * tf.cos(harmonic * phi + phase[:, :, None, None])
    return rho - radius[:, :, None, None] * border


def _texture(draws, height, width):
    """Smooth random texture `(count, height, width)`, zero on average: a coarse and a
    fine layer of normal noise, upsampled bilinearly."""
    layers = []
    for cell, weight in ((TEXTURE_COARSE, 0.8), (TEXTURE_FINE, 0.6)):
        rows, cols = -(-height // cell) + 1, -(-width // cell) + 1
        noise = tf.reshape(draws.normals(rows * cols), [-1, rows, cols, 1])
        layers.append(weight * tf.image.resize(noise, [height, width], method="bilinear")[..., 0])
    return 0.5 * (layers[0] + layers[1])


def _tinted(grey, covered, tint, channels):
    """`(count, height, width, channels)`: grey levels, tinted per channel by how much
    object (`covered`) or background each pixel shows."""
    if channels == 1:
        return grey[..., None]
    objects, background = (tf.constant(t, tf.float32) for t in tint)
    colour = covered[..., None] * objects + (1 - covered[..., None]) * background
    return grey[..., None] * colour / tf.reduce_mean(colour, axis=-1, keepdims=True)


def _gaussian_blur(images, sigma):
    """`images` convolved with a separable Gaussian of `sigma` pixels (edges reflected)."""
    radius = max(1, int(math.ceil(3 * sigma)))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps = tf.constant(taps / taps.sum(), tf.float32)
    channels = images.shape[-1]
    padded = tf.pad(images, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="REFLECT")
    across = tf.tile(tf.reshape(taps, [1, -1, 1, 1]), [1, 1, channels, 1])
    down = tf.tile(tf.reshape(taps, [-1, 1, 1, 1]), [1, 1, channels, 1])
    blurred = tf.nn.depthwise_conv2d(padded, across, [1, 1, 1, 1], "VALID")
    return tf.nn.depthwise_conv2d(blurred, down, [1, 1, 1, 1], "VALID")
