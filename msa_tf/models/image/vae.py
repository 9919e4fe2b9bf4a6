"""A VAE of image/segmentation pairs: every sample is an image with its mask."""

import keras
import numpy as np
from keras import ops

from msa_tf.layers.vae import VAEDecoder, VAEEncoder, VAESampling, kl_divergence
from msa_tf.models.base import ZooModel
from msa_tf.models.image.components import (
    NORMS,
    check_image_size,
    encode_segmentation,
    segmentation_channels,
    segmentation_ids,
)
from msa_tf.models.registry import register
from msa_tf.validation import (
    check_choice,
    check_int,
    check_number,
    check_positive_int,
    optional,
)

# The encoder's log-variance is softly bounded to +/- this (standard deviations of
# about 0.05 to 20).
LOG_VARIANCE_LIMIT = 6.0


@register("vae")
@keras.saving.register_keras_serializable(package="msa_tf")
class ImageMaskVAE(ZooModel):
    """A convolutional VAE that encodes and generates an image and its segmentation together.

    The encoder (`VAEEncoder`) reads the image with the segmentation coded as channels
    in {-1, 1} (`encode_segmentation`: 4 channels for an RGB image and a binary mask);
    the decoder (`VAEDecoder`) makes both from one latent, so that every sample is a
    consistent pair. Training samples the latent by reparameterisation and adds
    `beta` x the KL divergence from `N(0, I)` per pixel (`add_loss`: the KL summed
    over the latent, divided by `height x width`, so that `beta` weighs it against
    per-pixel reconstruction losses); the mean KL per example, in nats, is the metric
    `kl`. Inference decodes the mean: a deterministic reconstruction. `sample` decodes
    draws from the prior; `variations` decodes draws around an example's posterior.

    Args:
        image_size: `(height, width)` or one int; multiples of `2**num_downsamples`.
        channels: image channels.
        num_classes: object classes of the segmentation (1: binary masks).
        latent_dim: size of the latent vector.
        base_filters: filters of the encoder's first and the decoder's last block.
        num_downsamples: encoder blocks (and decoder doublings).
        beta: weight of the KL term per pixel, >= 0.
        norm: `"batch"`, `"instance"` or `"none"`.
        seed: seed of the training noise (`None`: random).

    Call arguments:
        inputs: dict with `image` float32 `(batch, height, width, channels)` in [-1,
            1] and `segmentation` int `(batch, height, width)` class ids.
        training: Python boolean: sample the latent and add the KL loss.

    Returns `{"image": float32 (batch, height, width, channels) in [-1, 1],
    "segmentation": float32 logits (batch, height, width, segmentation_channels)}`.

    Reference: Kingma and Welling, "Auto-Encoding Variational Bayes", ICLR 2014;
    Higgins et al., "beta-VAE", ICLR 2017.

    Example:
    >>> vae = ImageMaskVAE(image_size=16, channels=3, latent_dim=4, base_filters=4,
    ...                    num_downsamples=2)
    >>> outputs = vae({"image": np.zeros((2, 16, 16, 3), "float32"),
    ...                "segmentation": np.zeros((2, 16, 16), "int32")})
    >>> tuple(outputs["image"].shape), tuple(outputs["segmentation"].shape)
    ((2, 16, 16, 3), (2, 16, 16, 1))
    >>> samples = vae.sample(3, seed=0)
    >>> samples["image"].shape, samples["segmentation"].shape, samples["segmentation"].dtype.name
    ((3, 16, 16, 3), (3, 16, 16), 'int32')
    """

    def __init__(self, image_size, channels=3, num_classes=1, latent_dim=64, base_filters=32,
                 num_downsamples=4, beta=1.0, norm="batch", seed=None, **kwargs):
        super().__init__(**kwargs)
        self.num_downsamples = check_positive_int("num_downsamples", num_downsamples)
        self.image_size = check_image_size(image_size, "num_downsamples", self.num_downsamples)
        self.channels = check_positive_int("channels", channels)
        self.num_classes = check_positive_int("num_classes", num_classes)
        self.latent_dim = check_positive_int("latent_dim", latent_dim)
        self.base_filters = check_positive_int("base_filters", base_filters)
        self.beta = check_number("beta", beta, low=0)
        self.norm = check_choice("norm", norm, NORMS)
        self.seed = optional(check_int)("seed", seed)
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self._kl = None  # the KL of the last training or test call, for `compute_loss`

    @property
    def segmentation_channels(self):
        return segmentation_channels(self.num_classes)

    def build(self, inputs_shape):
        height, width = self.image_size
        policy = self.dtype_policy
        pairs_shape = (None, height, width, self.channels + self.segmentation_channels)
        self.encoder = VAEEncoder(self.latent_dim, self.base_filters, self.num_downsamples,
                                  norm=self.norm, dtype=policy, name="encoder")
        self.encoder.build(pairs_shape)
        self.sampling = VAESampling(self.seed, dtype=policy, name="sampling")
        self.decoder = VAEDecoder(height, width, self.channels + self.segmentation_channels,
                                  self.base_filters, self.num_downsamples, norm=self.norm,
                                  output_activation="linear", dtype=policy, name="decoder")
        self.decoder.build((None, self.latent_dim))

    def call(self, inputs, training=None):
        self._kl = None
        pairs = ops.concatenate([
            ops.cast(inputs["image"], self.compute_dtype),
            encode_segmentation(inputs["segmentation"], self.num_classes, self.compute_dtype),
        ], axis=-1)
        mean, log_variance = self._posterior(pairs, training)
        kl = ops.mean(kl_divergence(mean, log_variance))
        self._kl = kl
        if training:
            self.add_loss(self.beta * kl / (self.image_size[0] * self.image_size[1]))
        return self._split(self.decoder(self.sampling(mean, log_variance, training=training),
                                        training=training))

    def _posterior(self, pairs, training):
        """The encoder's mean and log-variance, the latter softly bounded to
        +/- `LOG_VARIANCE_LIMIT`: an unbounded head can reach variances whose KL swamps
        the step (seen in 3 of 6 seeds in the first epochs)."""
        mean, log_variance = self.encoder(pairs, training=training)
        return mean, LOG_VARIANCE_LIMIT * ops.tanh(log_variance / LOG_VARIANCE_LIMIT)

    def _split(self, decoded):
        """`{"image": tanh of the image channels, "segmentation": the logits}`, float32."""
        decoded = ops.cast(decoded, "float32")
        return {"image": ops.tanh(decoded[..., :self.channels]),
                "segmentation": decoded[..., self.channels:]}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss = super().compute_loss(x, y, y_pred, sample_weight, training=training)
        kl, self._kl = self._kl, None
        if kl is not None:
            self.kl_tracker.update_state(kl)
        return loss

    def generate(self, inputs):
        """The generator alone: the pairs decoded from `inputs["latent"]` float32
        `(batch, latent_dim)`, as `{"image": float32 in [-1, 1], "segmentation": int32
        class ids}`. The SavedModel serves it as the endpoint `generate`."""
        outputs = self._split(self.decoder(ops.cast(inputs["latent"], "float32"), training=False))
        return {"image": outputs["image"], "segmentation": segmentation_ids(outputs["segmentation"])}

    def serving_endpoints(self):
        return {"generate": (self.generate, {"latent": [[self.latent_dim], "float32"]})}

    def _decode(self, latents):
        """NumPy `{"image", "segmentation"}` (class ids) decoded from `latents`."""
        outputs = self.generate({"latent": ops.convert_to_tensor(latents, "float32")})
        return {name: ops.convert_to_numpy(value) for name, value in outputs.items()}

    def sample(self, count, seed=None):
        """`count` new pairs decoded from draws of the prior `N(0, I)`, as NumPy arrays:
        `image` float32 in [-1, 1] and `segmentation` int32 class ids."""
        count = check_positive_int("count", count)
        latents = np.random.default_rng(seed).standard_normal((count, self.latent_dim))
        return self._decode(latents.astype("float32"))

    def variations(self, inputs, count, scale=1.0, seed=None):
        """`count` pairs decoded around the posterior of the first example of `inputs`.

        The latents are `mean + scale * std * eps`: `scale=0` repeats the
        reconstruction, `scale=1` samples the posterior, larger values stray further.
        """
        count = check_positive_int("count", count)
        scale = check_number("scale", scale, low=0)
        first = {key: ops.convert_to_tensor(np.asarray(inputs[key])[:1])
                 for key in ("image", "segmentation")}
        pairs = ops.concatenate([ops.cast(first["image"], self.compute_dtype),
                                 encode_segmentation(first["segmentation"], self.num_classes,
                                                     self.compute_dtype)], axis=-1)
        mean, log_variance = (ops.convert_to_numpy(v) for v in self._posterior(pairs, training=False))
        noise = np.random.default_rng(seed).standard_normal((count, self.latent_dim))
        return self._decode((mean + scale * np.exp(0.5 * log_variance) * noise).astype("float32"))

    def get_config(self):
        config = super().get_config()
        config.update(
            image_size=list(self.image_size), channels=self.channels, num_classes=self.num_classes,
            latent_dim=self.latent_dim, base_filters=self.base_filters,
            num_downsamples=self.num_downsamples, beta=self.beta, norm=self.norm, seed=self.seed,
        )
        return config
