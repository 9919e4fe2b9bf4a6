"""The parts of a convolutional VAE: encoder, reparameterised sampling, decoder and the KL term."""

import keras
from keras import ops

from msa_tf.layers.initializers import clone_initializer, get_initializer, initializers_config
from msa_tf.layers.unet import (
    NORMS,
    OUTPUT_ACTIVATIONS,
    UNetDownsample,
    UNetUpsample,
    check_image_shape,
    pyramid_filters,
)
from msa_tf.validation import check_choice, check_divisible, check_int, check_positive_int, optional


def kl_divergence(mean, log_variance):
    """The KL divergence of `N(mean, exp(log_variance))` from `N(0, I)`, per example, in float32.

    `0.5 * sum(mean**2 + exp(log_variance) - 1 - log_variance)` over the last axis;
    the inputs are cast to float32 first, so a float16 variance cannot overflow.

    >>> float(kl_divergence(np.array([[1.0, 0.0]]), np.array([[0.0, 0.0]]))[0])
    0.5
    """
    mean = ops.cast(mean, "float32")
    log_variance = ops.cast(log_variance, "float32")
    return 0.5 * ops.sum(ops.square(mean) + ops.exp(log_variance) - 1.0 - log_variance, axis=-1)


def _check_latent_shapes(layer_name, **shapes):
    for name, shape in shapes.items():
        if not isinstance(shape, (list, tuple)) or len(shape) != 2 or shape[-1] is None:
            raise ValueError(f"`{name}` of {layer_name} must be (batch, latent_dim) vectors with a "
                             f"known latent_dim; received shape {shape}")


@keras.saving.register_keras_serializable(package="msa_tf")
class VAEEncoder(keras.layers.Layer):
    """A convolutional VAE encoder: images to the mean and log-variance of a Gaussian latent.

    `num_downsamples` `UNetDownsample` blocks (4x4 stride-2 convolutions with
    `base_filters * 2**i` filters, at most `base_filters * 8`, LeakyReLU; no
    normalisation on the first), flattened, then two float32 `Dense(latent_dim)`
    heads.

    Args:
        latent_dim: size of the latent vector.
        base_filters: filters of the first block.
        num_downsamples: number of blocks.
        norm: `"batch"`, `"instance"` or `"none"`, for every block but the first.
        kernel_initializer: of the convolutions and the heads.

    Call arguments:
        inputs: images `(batch, height, width, channels)` with known height and width.
        training: Python boolean: batch statistics.

    Returns `(mean, log_variance)`, both float32 `(batch, latent_dim)`.

    Reference: Kingma and Welling, "Auto-Encoding Variational Bayes", ICLR 2014.

    Example:
    >>> encoder = VAEEncoder(latent_dim=4, base_filters=4, num_downsamples=2)
    >>> mean, log_variance = encoder(np.zeros((2, 16, 16, 1), "float32"))
    >>> tuple(mean.shape), tuple(log_variance.shape)
    ((2, 4), (2, 4))
    """

    def __init__(self, latent_dim, base_filters=32, num_downsamples=3, norm="batch",
                 kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = check_positive_int("latent_dim", latent_dim)
        self.base_filters = check_positive_int("base_filters", base_filters)
        self.num_downsamples = check_positive_int("num_downsamples", num_downsamples)
        self.norm = check_choice("norm", norm, NORMS)
        self.kernel_initializer = get_initializer("kernel_initializer", kernel_initializer)

    def build(self, inputs_shape):
        shape = check_image_shape("VAEEncoder", "inputs", inputs_shape)
        if shape[1] is None or shape[2] is None:
            raise ValueError("`inputs` of VAEEncoder must have a known height and width (the "
                             f"heads are dense); received shape {shape}")
        self.blocks = []
        for index in range(self.num_downsamples):
            block = UNetDownsample(
                pyramid_filters(self.base_filters, index), norm="none" if index == 0 else self.norm,
                kernel_initializer=self.kernel_initializer, dtype=self.dtype_policy,
                name=f"down_{index}",
            )
            block.build(shape)
            shape = block.compute_output_shape(shape)
            self.blocks.append(block)
        self.flat_size = shape[1] * shape[2] * shape[3]
        self.mean_head, self.log_variance_head = (
            keras.layers.Dense(
                self.latent_dim, kernel_initializer=clone_initializer(self.kernel_initializer),
                dtype="float32", name=name,
            )
            for name in ("mean", "log_variance")
        )
        for head in (self.mean_head, self.log_variance_head):
            head.build((shape[0], self.flat_size))

    def call(self, inputs, training=None):
        x = inputs
        for block in self.blocks:
            x = block(x, training=training)
        x = ops.reshape(x, (-1, self.flat_size))
        return self.mean_head(x), self.log_variance_head(x)

    def compute_output_shape(self, inputs_shape):
        shape = (inputs_shape[0], self.latent_dim)
        return shape, shape

    def compute_output_spec(self, inputs, training=None):
        return tuple(keras.KerasTensor(shape, dtype="float32")
                     for shape in self.compute_output_shape(tuple(inputs.shape)))

    def get_config(self):
        config = super().get_config()
        config.update(
            latent_dim=self.latent_dim, base_filters=self.base_filters,
            num_downsamples=self.num_downsamples, norm=self.norm,
            **initializers_config(self, ["kernel_initializer"]),
        )
        return config


@keras.saving.register_keras_serializable(package="msa_tf")
class VAESampling(keras.layers.Layer):
    """Draws a latent by reparameterisation: `mean + exp(0.5 * log_variance) * eps`.

    `eps` is standard normal noise from `keras.random.normal` with the layer's
    `keras.random.SeedGenerator`, so a draw is differentiable in `mean` and
    `log_variance`, and two layers with the same `seed` draw the same sequence. It
    samples in training only; at inference it returns `mean`, so a trained VAE
    reconstructs deterministically (to generate, decode draws from `N(0, I)`). It
    computes and returns float32.

    Args:
        seed: integer seed of the noise, or `None` for a random one.

    Call arguments:
        mean, log_variance: `(batch, latent_dim)`, as `VAEEncoder` gives them.
        training: Python boolean: sample (`True`) or return the mean.

    Returns float32 `(batch, latent_dim)`.

    Reference: Kingma and Welling, "Auto-Encoding Variational Bayes", ICLR 2014.

    Example:
    >>> sampling = VAESampling(seed=1)
    >>> mean, log_variance = np.zeros((1000, 2)), np.full((1000, 2), np.log(4.0))
    >>> z = ops.convert_to_numpy(sampling(mean, log_variance, training=True))
    >>> bool(abs(z.std() - 2.0) < 0.1)
    True
    >>> float(sampling(mean, log_variance)[0, 0])
    0.0
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = optional(check_int)("seed", seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed, name="seed_generator")

    def build(self, mean_shape, log_variance_shape):
        _check_latent_shapes("VAESampling", mean=mean_shape, log_variance=log_variance_shape)
        if tuple(mean_shape)[1:] != tuple(log_variance_shape)[1:]:
            raise ValueError("`mean` and `log_variance` of VAESampling must have the same shape; "
                             f"received shapes {mean_shape} and {log_variance_shape}")

    def call(self, mean, log_variance, training=None):
        mean = ops.cast(mean, "float32")
        if not training:
            return mean
        noise = keras.random.normal(ops.shape(mean), dtype="float32", seed=self.seed_generator)
        return mean + ops.exp(0.5 * ops.cast(log_variance, "float32")) * noise

    def compute_output_shape(self, mean_shape, log_variance_shape):
        return tuple(mean_shape)

    def compute_output_spec(self, mean, log_variance, training=None):
        return keras.KerasTensor(tuple(mean.shape), dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update(seed=self.seed)
        return config


@keras.saving.register_keras_serializable(package="msa_tf")
class VAEDecoder(keras.layers.Layer):
    """A convolutional VAE decoder: a latent vector to an image of a fixed size.

    A `Dense` layer with ReLU makes a `(height / 2**num_upsamples, width /
    2**num_upsamples)` feature map with `base_filters * 2**(num_upsamples - 1)`
    channels (at most `base_filters * 8`); `num_upsamples - 1` `UNetUpsample` blocks
    halve the channels as they double the size; a final 4x4 stride-2 transposed
    convolution gives `channels`, and the output activation runs in float32.

    Args:
        height, width: of the output images; multiples of `2**num_upsamples`.
        channels: channels of the output images.
        base_filters: filters of the last block.
        num_upsamples: number of size doublings (>= 1).
        norm: `"batch"`, `"instance"` or `"none"`, in the `UNetUpsample` blocks.
        output_activation: `"tanh"` (images in [-1, 1]), `"sigmoid"` (in [0, 1]) or
            `"linear"`.
        kernel_initializer: of the dense layer and the convolutions.

    Call arguments:
        inputs: latent vectors `(batch, latent_dim)`.
        training: Python boolean: batch statistics.

    Returns float32 `(batch, height, width, channels)`.

    Reference: Kingma and Welling, "Auto-Encoding Variational Bayes", ICLR 2014.

    Example:
    >>> decoder = VAEDecoder(height=16, width=8, channels=3, base_filters=4, num_upsamples=2)
    >>> tuple(decoder(np.zeros((2, 6), "float32")).shape)
    (2, 16, 8, 3)
    """

    def __init__(self, height, width, channels, base_filters=32, num_upsamples=3, norm="batch",
                 output_activation="tanh", kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.num_upsamples = check_positive_int("num_upsamples", num_upsamples)
        size = 2**self.num_upsamples
        self.height = check_divisible("height", check_positive_int("height", height),
                                      "2**num_upsamples", size)
        self.width = check_divisible("width", check_positive_int("width", width),
                                     "2**num_upsamples", size)
        self.channels = check_positive_int("channels", channels)
        self.base_filters = check_positive_int("base_filters", base_filters)
        self.norm = check_choice("norm", norm, NORMS)
        self.output_activation = check_choice("output_activation", output_activation,
                                              OUTPUT_ACTIVATIONS)
        self.kernel_initializer = get_initializer("kernel_initializer", kernel_initializer)

    def build(self, inputs_shape):
        _check_latent_shapes("VAEDecoder", inputs=inputs_shape)
        size = 2**self.num_upsamples
        filters = pyramid_filters(self.base_filters, self.num_upsamples - 1)
        self.initial_shape = (self.height // size, self.width // size, filters)
        self.dense = keras.layers.Dense(
            self.initial_shape[0] * self.initial_shape[1] * filters, activation="relu",
            kernel_initializer=clone_initializer(self.kernel_initializer),
            dtype=self.dtype_policy, name="dense",
        )
        self.dense.build(inputs_shape)
        shape = (inputs_shape[0], *self.initial_shape)
        self.blocks = []
        for index in range(self.num_upsamples - 1):
            block = UNetUpsample(
                pyramid_filters(self.base_filters, self.num_upsamples - 2 - index), norm=self.norm,
                kernel_initializer=self.kernel_initializer, dtype=self.dtype_policy,
                name=f"up_{index}",
            )
            block.build(shape)
            shape = block.compute_output_shape(shape)
            self.blocks.append(block)
        self.output_conv = keras.layers.Conv2DTranspose(
            self.channels, 4, strides=2, padding="same",
            kernel_initializer=clone_initializer(self.kernel_initializer),
            dtype=self.dtype_policy, name="output_conv",
        )
        self.output_conv.build(shape)
        self.activation = keras.layers.Activation(
            self.output_activation, dtype="float32", name="output_activation"
        )

    def call(self, inputs, training=None):
        x = ops.reshape(self.dense(inputs), (-1, *self.initial_shape))
        for block in self.blocks:
            x = block(x, training=training)
        return self.activation(self.output_conv(x))

    def compute_output_shape(self, inputs_shape):
        return (inputs_shape[0], self.height, self.width, self.channels)

    def compute_output_spec(self, inputs, training=None):
        return keras.KerasTensor(self.compute_output_shape(tuple(inputs.shape)), dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            height=self.height, width=self.width, channels=self.channels,
            base_filters=self.base_filters, num_upsamples=self.num_upsamples, norm=self.norm,
            output_activation=self.output_activation,
            **initializers_config(self, ["kernel_initializer"]),
        )
        return config
