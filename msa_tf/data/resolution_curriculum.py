"""Progressive resolution: `model.fit` trains on coarse images first, then on finer ones.

The depth of a U-Net fixes the size of its input, so the image models cannot grow
layer by layer as in ProGAN; the data grow instead (progressive resizing). A
`ResolutionCurriculum` is a list of stages, each a mapping with

- `epochs`: how many epochs the stage lasts. The last stage may leave it out; it
  lasts, or the last stage with it goes on, to the end of training.
- `resolution`: the stage's images are area-averaged down to this size
  (`tf.image.resize(..., method="area")`) and enlarged back to the full size
  (bilinear), so they keep their shape and lose their detail: the model learns the
  coarse structure first, the detail later. An integer from 4 to the image's size;
  for an image that is not square, the size of its shorter side (the longer one is
  scaled alike, rounded). `None` (or the image's size) is full resolution: the
  images as they are.
- `fade_in`: `False` (the default): the stage's resolution from its first batch.
  `True`: the images blend from the previous stage's resolution to this one over
  the stage's epochs, `image = (1 - alpha) * previous + alpha * current`, `alpha`
  rising linearly batch by batch; a number `n`: over the stage's first `n` epochs
  (at most its `epochs`), then this resolution alone. Batch `k` (counted from 1) of
  a fade of `N` batches has `alpha = k / N`: the first differs from the previous
  stage, the last is this stage's resolution. A last stage without `epochs` and
  with `fade_in: true` fades over the rest of training (to `fit`'s `epochs`); the
  first stage has nothing to fade from and cannot fade in.

Only the `image` of the inputs and of the targets changes; the `segmentation` (class
ids) stays as it is, at full size, and each model trains as it would without a
curriculum: Pix2Pix learns to make the stage's images from the sharp masks, the VAE
to encode and reconstruct them. A stage may have a lower resolution than the one
before it (to return to coarse structure); a fade then blends downwards.

Like `msa_tf.data.curriculum.Curriculum` (whose stage and epoch machinery,
`StagedCurriculum`, it shares), the curriculum is a Keras callback: passed to
`model.fit(..., callbacks=[curriculum])`, it sets each epoch's stage when the epoch
begins (a resumed run gets the stage of the epoch it resumes at) and adds it to the
epoch's logs as `curriculum_stage`. `alpha` is exact for every batch, whatever the
prefetching: the pipeline of `apply` computes it from the batch's index in its epoch
(`Dataset.enumerate`) and two `tf.Variable`s that the callback sets when the epoch
begins (the epoch's place in its stage and the epochs of the fade), so the batches
per epoch must be known and finite, and each epoch one pass over them (`fit` without
`steps_per_epoch`, as the runner calls it). In an experiment config, `data.curriculum` of an
image source (`msa_tf.data.image_sources`) takes the list of stages; the runner
applies it to the training batches and passes it to `fit`.

Example:
>>> import numpy as np
>>> from msa_tf.data import get_source
>>> source = get_source("shapes", image_size=16, num_samples=8)
>>> curriculum = source.curriculum([{"epochs": 1, "resolution": 4},
...                                 {"epochs": 1, "resolution": 8, "fade_in": True}, {}])
>>> curriculum.sizes
[(4, 4), (8, 8), (16, 16)]
>>> plain = source.dataset("train", batch_size=4)
>>> batches = curriculum.apply(plain)
>>> for epoch in range(3):  # each batch's mean distance from the original images
...     curriculum.on_epoch_begin(epoch)
...     print(epoch, curriculum.stage, [
...         round(float(np.abs(inputs["image"] - original["image"]).mean()), 2)
...         for (inputs, _), (original, _) in zip(batches, plain)])
0 0 [0.1, 0.1]
1 1 [0.08, 0.06]
2 2 [0.0, 0.0]

In epoch 1 the two batches fade from 4x4 to 8x8 with `alpha` 0.5 and 1.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from msa_tf.data.curriculum import CurriculumStage, StagedCurriculum
from msa_tf.validation import is_integer

__all__ = ["MIN_RESOLUTION", "ResolutionCurriculum", "ResolutionStage"]

# The smallest `resolution` of a stage.
MIN_RESOLUTION = 4


@dataclasses.dataclass(frozen=True)
class ResolutionStage(CurriculumStage):
    """One stage of a `ResolutionCurriculum` (see the module doc)."""

    resolution: int | None = None
    fade_in: bool | int = False

    @classmethod
    def _checked(cls, values, name, shorter_side=None):
        """Checks `resolution` (at most `shorter_side`, when given) and `fade_in`."""
        resolution = values.get("resolution")
        if resolution is not None:
            if not is_integer(resolution) or not MIN_RESOLUTION <= resolution <= (shorter_side or resolution):
                side = f" ({shorter_side})" if shorter_side else ""
                raise ValueError(f"`{name}.resolution` must be an integer from {MIN_RESOLUTION} to the "
                                 f"image's size{side}, or null for full resolution; received "
                                 f"{name}.resolution={resolution!r}")
            values["resolution"] = int(resolution)
        fade_in, epochs = values.get("fade_in"), values.get("epochs")
        if fade_in is None:
            values["fade_in"] = False
        elif isinstance(fade_in, (bool, np.bool_)):
            values["fade_in"] = bool(fade_in)
        elif is_integer(fade_in) and 1 <= fade_in <= (epochs or fade_in):
            values["fade_in"] = int(fade_in)
        else:
            most = f" from 1 to the stage's epochs ({epochs})" if epochs else " (a positive integer)"
            raise ValueError(f"`{name}.fade_in` must be true, false or a number of epochs{most}; "
                             f"received {name}.fade_in={fade_in!r}")
        return values


class ResolutionCurriculum(StagedCurriculum):
    """Stages of image resolution, moved by epoch, with fades between them (module doc).

    Args:
        stages: a non-empty list of stages: mappings with `epochs`, `resolution` and
            `fade_in`, or `ResolutionStage`s. Every stage but the last needs `epochs`.
        image_size: the images' `(height, width)`, or one int for squares.

    Attributes:
        stages: the checked `ResolutionStage`s.
        stage: the index of the current stage.
        image_size: `(height, width)`.
        sizes: the `(height, width)` that each stage's images are averaged down to
            (`image_size` for full resolution).
    """

    stage_class = ResolutionStage

    def __init__(self, stages, image_size):
        sizes = list(image_size) if isinstance(image_size, (list, tuple)) else [image_size] * 2
        if len(sizes) != 2 or not all(is_integer(size) and size >= 1 for size in sizes):
            raise ValueError(f"`image_size` must be a positive int or (height, width); received "
                             f"image_size={image_size!r}")
        self.image_size = tuple(int(size) for size in sizes)
        super().__init__(stages, shorter_side=min(self.image_size))
        if self.stages[0].fade_in is not False:
            raise ValueError(f"`curriculum[0].fade_in` must be false: the first stage has no earlier "
                             f"resolution to fade from; received curriculum[0].fade_in="
                             f"{self.stages[0].fade_in!r}")
        self.sizes = [self._size(stage.resolution) for stage in self.stages]
        self._sizes = tf.constant(self.sizes, tf.int32)
        with tf.init_scope(), tf.device("/CPU:0"):  # read by tf.data, which runs on the host
            self._epoch_in_stage = tf.Variable(0, trainable=False, dtype=tf.int64,
                                               name="curriculum_epoch_in_stage")
            self._fade_epochs = tf.Variable(0, trainable=False, dtype=tf.int64,
                                            name="curriculum_fade_epochs")

    def _size(self, resolution):
        """The `(height, width)` of `resolution` on the shorter side."""
        height, width = self.image_size
        if resolution is None:
            return height, width
        scale = resolution / min(height, width)
        return max(1, round(height * scale)), max(1, round(width * scale))

    def fade_epochs(self, index):
        """The epochs over which stage `index` fades in (0: it does not).

        For a last stage without `epochs` and with `fade_in: true`, the rest of
        training: it needs `fit`'s `epochs` (the callback's `params`).
        """
        stage = self.stages[index]
        if stage.fade_in is False:
            return 0
        if stage.fade_in is not True:
            return stage.fade_in
        if stage.epochs is not None:
            return stage.epochs
        total = (self.params or {}).get("epochs")
        if total is None:
            raise ValueError(f"`curriculum[{index}].fade_in` = true on a last stage without epochs "
                             "fades over the rest of training, whose epochs `fit` sets in the "
                             "callback's params; received params without epochs (call "
                             "set_params({'epochs': N}) when not training with fit)")
        return max(1, total - self.first_epoch(index))

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        index = self.stage
        self._epoch_in_stage.assign(epoch - self.first_epoch(index))
        self._fade_epochs.assign(self.fade_epochs(index))

    def apply(self, batches):
        """`batches` (`(inputs, targets)` of an image source) that follow the curriculum.

        Raises `ValueError` for batches of unknown or infinite number: a fade counts
        the batches of each epoch.
        """
        steps = int(batches.cardinality())
        if steps < 0:
            kind = "infinite" if steps == tf.data.INFINITE_CARDINALITY else "unknown"
            raise ValueError("`batches` must have a known, finite number of batches for a resolution "
                             "curriculum (a fade counts each epoch's batches); received a dataset of "
                             f"{kind} cardinality")
        full = all(size == self.image_size for size in self.sizes)
        if full:  # every stage at full resolution: nothing to change, nothing to fade
            return batches
        return batches.enumerate().map(lambda index, batch: self._progressive(index, steps, *batch),
                                       num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    def _alpha(self, index, steps):
        """The blend coefficient of batch `index` (from 0) of the epoch: 1 outside a fade."""
        fade = self._fade_epochs.read_value() * steps
        done = self._epoch_in_stage.read_value() * steps + index + 1
        alpha = tf.cast(tf.minimum(done, fade), tf.float64) / tf.cast(tf.maximum(fade, 1), tf.float64)
        return tf.where(fade > 0, tf.cast(alpha, tf.float32), 1.0)

    def _progressive(self, index, steps, inputs, targets):
        stage = self._stage.read_value()
        size = tf.gather(self._sizes, stage)
        previous = tf.gather(self._sizes, tf.maximum(stage - 1, 0))
        alpha = self._alpha(index, steps)

        def blend(images):
            if tuple(images.shape[1:3]) != self.image_size:
                raise ValueError(f"`batches` must hold images of the curriculum's image_size "
                                 f"{self.image_size}; received images of shape {tuple(images.shape)}")
            current = self._resample(images, size)
            return tf.cond(alpha < 1.0,
                           lambda: (1.0 - alpha) * self._resample(images, previous) + alpha * current,
                           lambda: current)

        inputs, targets = (dict(part, **({"image": blend(part["image"])} if "image" in part else {}))
                           for part in (inputs, targets))
        return inputs, targets

    def _resample(self, images, size):
        """`images` averaged down to `size` and enlarged back (unchanged for the full size)."""
        return tf.cond(
            tf.reduce_all(size == self.image_size),
            lambda: images,
            lambda: tf.image.resize(tf.image.resize(images, size, method="area"), self.image_size,
                                    method="bilinear"))
