"""Pix2Pix: a U-Net that turns a segmentation into an image, trained against a PatchGAN."""

import keras
from keras import ops

from msa_tf.backend import require_backend
from msa_tf.layers.patchgan import PatchGANDiscriminator
from msa_tf.layers.unet import UNetGenerator
from msa_tf.models.base import ZooModel
from msa_tf.models.image.components import NORMS, check_image_size, encode_segmentation
from msa_tf.models.registry import register
from msa_tf.validation import check_bool, check_choice, check_number, check_positive_int, optional

GAN_LOSSES = ("bce", "least_squares")


@register("pix2pix")
@keras.saving.register_keras_serializable(package="msa_tf")
class Pix2Pix(ZooModel):
    """Conditional GAN from segmentation to image (pix2pix), trained with `model.fit`.

    The generator (`UNetGenerator`) reads the segmentation coded as channels in {-1,
    1} (`encode_segmentation`) and makes an image in [-1, 1]; calling the model runs it
    alone. Training (`train_step`, TensorFlow) updates two networks in one step:

    - the discriminator (`PatchGANDiscriminator` on the pair (segmentation, image))
      learns to give real pairs the label 1 and generated ones 0 (`gan_loss`: binary
      cross-entropy of its patch logits, or least squares), with its own optimizer
      (`discriminator_optimizer`, which `fit` makes): a copy of the compiled one, at
      `discriminator_learning_rate` when given;
    - the generator minimises the adversarial loss (the discriminator calling its
      images real) plus `l1_weight` x the compiled loss of `image` (an L1 loss, as
      pix2pix's lambda x L1), with the compiled optimizer.

    Under `mixed_float16` Keras wraps only the compiled optimizer in a
    `LossScaleOptimizer`; the discriminator's copy is wrapped here, and each loss is
    scaled by its own optimizer. Each epoch logs `loss` (the generator's objective),
    `generator_adversarial`, `discriminator_loss` and the compiled metrics; validation
    (`test_step`) runs the generator and the compiled loss and metrics.

    Args:
        image_size: `(height, width)` or one int; multiples of `2**depth`.
        channels: channels of the generated images.
        num_classes: object classes of the segmentation (1: binary masks).
        base_filters: filters of the first generator and discriminator block.
        depth: U-Net downsampling blocks (8 for 256x256 as in pix2pix).
        num_downsamples: the discriminator's stride-2 blocks (3: 70x70 patches).
        norm: `"batch"`, `"instance"` or `"none"`.
        dropout: dropout of the U-Net's first three decoder blocks.
        gan_loss: `"bce"` or `"least_squares"`.
        l1_weight: the weight of the compiled image loss in the generator's objective.
        discriminator_learning_rate: the discriminator's learning rate (`None`: that of
            the compiled optimizer).
        spectral_norm: spectral normalisation in the discriminator.

    Call arguments:
        inputs: dict with `segmentation` int `(batch, height, width)` class ids (an
            `image` entry is ignored: it is the training target).
        training: Python boolean: dropout and batch statistics.

    Returns `{"image": float32 (batch, height, width, channels) in [-1, 1]}`.

    Reference: Isola et al., "Image-to-Image Translation with Conditional Adversarial
    Networks", CVPR 2017.

    Example:
    >>> model = Pix2Pix(image_size=16, channels=3, base_filters=4, depth=2, num_downsamples=1)
    >>> images = model({"segmentation": np.zeros((2, 16, 16), "int32")})["image"]
    >>> tuple(images.shape)
    (2, 16, 16, 3)
    """

    def __init__(self, image_size, channels=3, num_classes=1, base_filters=64, depth=8,
                 num_downsamples=3, norm="batch", dropout=0.5, gan_loss="bce", l1_weight=100.0,
                 discriminator_learning_rate=None, spectral_norm=False, **kwargs):
        super().__init__(**kwargs)
        self.depth = check_positive_int("depth", depth)
        self.image_size = check_image_size(image_size, "depth", self.depth)
        self.channels = check_positive_int("channels", channels)
        self.num_classes = check_positive_int("num_classes", num_classes)
        self.base_filters = check_positive_int("base_filters", base_filters)
        self.num_downsamples = check_positive_int("num_downsamples", num_downsamples)
        self.norm = check_choice("norm", norm, NORMS)
        self.dropout = check_number("dropout", dropout, low=0, high=1, high_open=True)
        self.gan_loss = check_choice("gan_loss", gan_loss, GAN_LOSSES)
        self.l1_weight = check_number("l1_weight", l1_weight, low=0)
        self.discriminator_learning_rate = optional(
            lambda name, value: check_number(name, value, low=0, low_open=True)
        )("discriminator_learning_rate", discriminator_learning_rate)
        self.spectral_norm = check_bool("spectral_norm", spectral_norm)
        self.adversarial_tracker = keras.metrics.Mean(name="generator_adversarial")
        self.discriminator_tracker = keras.metrics.Mean(name="discriminator_loss")
        self.discriminator_optimizer = None  # made by `fit` from the compiled optimizer
        self._paired_optimizer = None

    def build(self, inputs_shape):
        height, width = self.image_size
        condition_shape = (None, height, width, 1 if self.num_classes == 1 else self.num_classes + 1)
        self.generator = UNetGenerator(self.channels, self.base_filters, self.depth, norm=self.norm,
                                       dropout=self.dropout, dtype=self.dtype_policy, name="generator")
        self.generator.build(condition_shape)
        self.discriminator = PatchGANDiscriminator(
            self.base_filters, self.num_downsamples, norm=self.norm, spectral_norm=self.spectral_norm,
            dtype=self.dtype_policy, name="discriminator")
        self.discriminator.build(condition_shape, (None, height, width, self.channels))

    def _condition(self, inputs):
        return encode_segmentation(inputs["segmentation"], self.num_classes, self.compute_dtype)

    def call(self, inputs, training=None):
        return {"image": self.generator(self._condition(inputs), training=training)}

    def fit(self, x=None, *args, **kwargs):
        """`ZooModel.fit`, with the discriminator's optimizer made (and built) first."""
        if self.compiled:
            self._pair_discriminator_optimizer()
        return super().fit(x, *args, **kwargs)

    def _pair_discriminator_optimizer(self):
        """Makes `discriminator_optimizer`, a copy of the compiled optimizer (see the
        class doc), unless it was made for this one already."""
        if self._paired_optimizer is self.optimizer:
            return
        inner = getattr(self.optimizer, "inner_optimizer", self.optimizer)
        copy = inner.__class__.from_config(inner.get_config())
        if self.discriminator_learning_rate is not None:
            copy.learning_rate = self.discriminator_learning_rate
        if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
            copy = keras.optimizers.LossScaleOptimizer(copy, name="discriminator_loss_scale_optimizer")
        if keras.backend.backend() == "tensorflow" and self.built:
            # Built here, its variables exist before `fit` traces the step (traced once).
            with self.distribute_strategy.scope():
                copy.build(self.discriminator.trainable_variables)
        self.discriminator_optimizer, self._paired_optimizer = copy, self.optimizer

    def _adversarial(self, logits, real):
        """The GAN loss of patch `logits` against the label `real` (1) or fake (0), float32."""
        logits = ops.cast(logits, "float32")
        target = ops.ones_like(logits) if real else ops.zeros_like(logits)
        if self.gan_loss == "least_squares":
            return ops.mean(ops.square(ops.sigmoid(logits) - target))
        return ops.mean(ops.binary_crossentropy(target, logits, from_logits=True))

    def train_step(self, *args):
        # Keras calls `train_step(data)` on TensorFlow, `train_step(state, data)` on JAX.
        require_backend("Pix2Pix training", "tensorflow")
        import tensorflow as tf

        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(args[0])
        if not self.built:  # `fit` may trace this step before anything called the model
            self.build({key: tuple(value.shape) for key, value in x.items()})
        condition = self._condition(x)
        real = ops.cast(y["image"], self.compute_dtype)
        with tf.GradientTape() as generator_tape, tf.GradientTape() as discriminator_tape:
            generated = self.generator(condition, training=True)
            fake_logits = self.discriminator(condition, generated, training=True)
            real_logits = self.discriminator(condition, real, training=True)
            adversarial = self._adversarial(fake_logits, real=True)
            reconstruction = self.compute_loss(x, y, {"image": generated}, sample_weight, training=True)
            generator_loss = adversarial + self.l1_weight * reconstruction
            discriminator_loss = 0.5 * (self._adversarial(real_logits, real=True)
                                        + self._adversarial(fake_logits, real=False))
            scaled_generator = self.optimizer.scale_loss(generator_loss)
            scaled_discriminator = self.discriminator_optimizer.scale_loss(discriminator_loss)
        generator_weights = self.generator.trainable_weights
        discriminator_weights = self.discriminator.trainable_weights
        self.optimizer.apply(generator_tape.gradient(scaled_generator, generator_weights),
                             generator_weights)
        self.discriminator_optimizer.apply(
            discriminator_tape.gradient(scaled_discriminator, discriminator_weights),
            discriminator_weights)
        self.adversarial_tracker.update_state(adversarial)
        self.discriminator_tracker.update_state(discriminator_loss)
        own = (self.adversarial_tracker, self.discriminator_tracker)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(generator_loss)
            elif metric not in own:
                metric.update_state(y, {"image": generated}, sample_weight=sample_weight)
        return {metric.name: metric.result() for metric in self.metrics}

    def test_step(self, *args):
        """Keras's step, without the adversarial losses, which validation does not compute."""
        result = super().test_step(*args)
        logs, state = (result, None) if isinstance(result, dict) else result  # JAX: (logs, state)
        own = (self.adversarial_tracker.name, self.discriminator_tracker.name)
        logs = {name: value for name, value in logs.items() if name not in own}
        return logs if state is None else (logs, state)

    def get_config(self):
        config = super().get_config()
        config.update(
            image_size=list(self.image_size), channels=self.channels, num_classes=self.num_classes,
            base_filters=self.base_filters, depth=self.depth, num_downsamples=self.num_downsamples,
            norm=self.norm, dropout=self.dropout, gan_loss=self.gan_loss, l1_weight=self.l1_weight,
            discriminator_learning_rate=self.discriminator_learning_rate,
            spectral_norm=self.spectral_norm,
        )
        return config
