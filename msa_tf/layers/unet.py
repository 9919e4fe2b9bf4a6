"""The pix2pix U-Net: its downsampling and upsampling blocks and the generator made of them."""

import keras
from keras import ops

from msa_tf.layers.dropout import Dropout
from msa_tf.layers.initializers import clone_initializer, get_initializer, initializers_config
from msa_tf.validation import check_choice, check_positive_int, check_rate

NORMS = ("batch", "instance", "none")
# The output activations of the generator and decoder (in float32).
OUTPUT_ACTIVATIONS = ("tanh", "sigmoid", "linear")
# The decoder blocks of pix2pix that use dropout: the first three.
DROPOUT_BLOCKS = 3


def normalization(norm, dtype_policy, name):
    """The normalisation layer that `norm` names, or `None` for `"none"`.

    `"batch"` is `BatchNormalization` (momentum 0.9 and epsilon 1e-5, PyTorch's
    defaults, which pix2pix uses); `"instance"` is `GroupNormalization(groups=-1)`:
    each channel of each image normalised over its own height and width, with a
    learned scale and offset. Under a mixed policy both compute their statistics in
    float32 (they upcast float16 and bfloat16 inputs themselves) and return the compute
    dtype; the moving mean and variance of batch normalisation are float32 variables.
    """
    if norm == "batch":
        return keras.layers.BatchNormalization(
            momentum=0.9, epsilon=1e-5, dtype=dtype_policy, name=name
        )
    if norm == "instance":
        return keras.layers.GroupNormalization(
            groups=-1, epsilon=1e-5, dtype=dtype_policy, name=name
        )
    return None


def check_image_shape(layer_name, name, shape):
    """Raises `ValueError` unless `shape` is `(batch, height, width, channels)` with known channels."""
    if not isinstance(shape, (list, tuple)) or len(shape) != 4 or shape[-1] is None:
        raise ValueError(
            f"`{name}` of {layer_name} must be images (batch, height, width, channels) with a "
            f"known number of channels; received shape {shape}"
        )
    return tuple(shape)


def _halved(size):
    return None if size is None else -(-size // 2)


def _doubled(size):
    return None if size is None else 2 * size


def pyramid_filters(base_filters, level):
    """The filters of level `level` of an encoder: `base_filters * 2**level`, at most `base_filters * 8`."""
    return base_filters * 2 ** min(level, 3)


@keras.saving.register_keras_serializable(package="msa_tf")
class UNetDownsample(keras.layers.Layer):
    """A pix2pix encoder block: a 4x4 stride-2 convolution, normalisation, LeakyReLU(0.2).

    The convolution pads `"same"`, so the height and width are halved (rounded up).
    It has a bias only without normalisation (a normalisation's offset replaces it).

    Args:
        filters: output channels.
        norm: `"batch"`, `"instance"` or `"none"`. Instance normalisation of a 1x1
            output would make every channel constant, so it raises `ValueError` there.
        kernel_initializer: of the convolution; pix2pix uses
            `keras.initializers.RandomNormal(stddev=0.02)`.

    Call arguments:
        inputs: images `(batch, height, width, channels)`.
        training: Python boolean: batch statistics (and their moving averages) in
            training, the moving averages otherwise.

    Returns `(batch, ceil(height / 2), ceil(width / 2), filters)`.

    Reference: Isola et al., "Image-to-Image Translation with Conditional Adversarial
    Networks", CVPR 2017.

    Example:
    >>> block = UNetDownsample(8)
    >>> tuple(block(np.ones((2, 16, 16, 3), "float32")).shape)
    (2, 8, 8, 8)
    """

    def __init__(self, filters, norm="batch", kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.filters = check_positive_int("filters", filters)
        self.norm = check_choice("norm", norm, NORMS)
        self.kernel_initializer = get_initializer("kernel_initializer", kernel_initializer)

    def build(self, inputs_shape):
        inputs_shape = check_image_shape("UNetDownsample", "inputs", inputs_shape)
        if self.norm == "instance" and _halved(inputs_shape[1]) == 1 and _halved(inputs_shape[2]) == 1:
            raise ValueError(
                f"UNetDownsample with norm='instance' would normalise a 1x1 output for input "
                f"shape {inputs_shape}, making every channel constant; use norm='batch' or "
                f"'none' there, or larger images"
            )
        self.conv = keras.layers.Conv2D(
            self.filters, 4, strides=2, padding="same", use_bias=self.norm == "none",
            kernel_initializer=clone_initializer(self.kernel_initializer),
            dtype=self.dtype_policy, name="conv",
        )
        self.conv.build(inputs_shape)
        self.normalization = normalization(self.norm, self.dtype_policy, "norm")
        if self.normalization is not None:
            self.normalization.build(self.compute_output_shape(inputs_shape))

    def call(self, inputs, training=None):
        x = self.conv(inputs)
        if self.normalization is not None:
            x = self.normalization(x, training=training)
        return ops.leaky_relu(x, negative_slope=0.2)

    def compute_output_shape(self, inputs_shape):
        batch, height, width, _ = inputs_shape
        return (batch, _halved(height), _halved(width), self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, norm=self.norm,
                      **initializers_config(self, ["kernel_initializer"]))
        return config


@keras.saving.register_keras_serializable(package="msa_tf")
class UNetUpsample(keras.layers.Layer):
    """A pix2pix decoder block: a 4x4 stride-2 transposed convolution, normalisation, dropout, ReLU.

    The height and width are doubled. The convolution has a bias only without
    normalisation.

    Args:
        filters: output channels.
        norm: `"batch"`, `"instance"` or `"none"`.
        dropout: dropout rate in [0, 1), applied in training (pix2pix: 0.5 in the first
            three decoder blocks, its only source of noise).
        kernel_initializer: of the transposed convolution.

    Call arguments:
        inputs: feature maps `(batch, height, width, channels)`.
        training: Python boolean: enables dropout and batch statistics.

    Returns `(batch, 2 * height, 2 * width, filters)`.

    Reference: Isola et al., "Image-to-Image Translation with Conditional Adversarial
    Networks", CVPR 2017.

    Example:
    >>> block = UNetUpsample(4, dropout=0.5)
    >>> tuple(block(np.ones((2, 8, 8, 6), "float32")).shape)
    (2, 16, 16, 4)
    """

    def __init__(self, filters, norm="batch", dropout=0.0, kernel_initializer="glorot_uniform",
                 **kwargs):
        super().__init__(**kwargs)
        self.filters = check_positive_int("filters", filters)
        self.norm = check_choice("norm", norm, NORMS)
        self.dropout = check_rate("dropout", dropout)
        self.kernel_initializer = get_initializer("kernel_initializer", kernel_initializer)

    def build(self, inputs_shape):
        inputs_shape = check_image_shape("UNetUpsample", "inputs", inputs_shape)
        self.conv = keras.layers.Conv2DTranspose(
            self.filters, 4, strides=2, padding="same", use_bias=self.norm == "none",
            kernel_initializer=clone_initializer(self.kernel_initializer),
            dtype=self.dtype_policy, name="conv",
        )
        self.conv.build(inputs_shape)
        self.normalization = normalization(self.norm, self.dtype_policy, "norm")
        if self.normalization is not None:
            self.normalization.build(self.compute_output_shape(inputs_shape))
        self.dropout_layer = None
        if self.dropout > 0:
            self.dropout_layer = Dropout(self.dropout, dtype=self.dtype_policy, name="dropout")

    def call(self, inputs, training=None):
        x = self.conv(inputs)
        if self.normalization is not None:
            x = self.normalization(x, training=training)
        if self.dropout_layer is not None:
            x = self.dropout_layer(x, training=training)
        return ops.relu(x)

    def compute_output_shape(self, inputs_shape):
        batch, height, width, _ = inputs_shape
        return (batch, _doubled(height), _doubled(width), self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, norm=self.norm, dropout=self.dropout,
                      **initializers_config(self, ["kernel_initializer"]))
        return config


@keras.saving.register_keras_serializable(package="msa_tf")
class UNetGenerator(keras.layers.Layer):
    """The pix2pix U-Net generator: images in, images in [-1, 1] out, at the same size.

    The encoder has `depth` `UNetDownsample` blocks with `base_filters * 2**i`
    filters (at most `base_filters * 8`); the first and the innermost (the
    bottleneck) have no normalisation, as in pix2pix. The decoder has `depth - 1`
    `UNetUpsample` blocks that mirror the encoder; the output of each is
    concatenated with the encoder output of the same size (the skip connections
    that carry fine detail past the bottleneck), and the first three use dropout. A
    final 4x4 stride-2 transposed convolution gives `output_channels`, and the output
    activation (a tanh by default) in float32 the output. With `depth=8` and
    `base_filters=64` this is pix2pix's generator for 256x256 images (a 1x1 bottleneck).

    Args:
        output_channels: channels of the output images.
        base_filters: filters of the first block.
        depth: number of downsampling blocks; the height and width of the input
            must be multiples of `2**depth`.
        norm: `"batch"`, `"instance"` or `"none"`, for every block but the first and
            the innermost.
        dropout: dropout rate of the first three decoder blocks, in [0, 1).
        output_activation: `"tanh"` (images in [-1, 1]), `"sigmoid"` (in [0, 1]) or
            `"linear"` (logits, as a segmenter's).
        kernel_initializer: of every convolution; pix2pix uses
            `keras.initializers.RandomNormal(stddev=0.02)`.

    Call arguments:
        inputs: images `(batch, height, width, channels)`, typically in [-1, 1].
        training: Python boolean: enables dropout and batch statistics.

    Returns float32 `(batch, height, width, output_channels)`, in [-1, 1] with the tanh.

    References: Ronneberger et al., "U-Net: Convolutional Networks for Biomedical
    Image Segmentation", MICCAI 2015; Isola et al., "Image-to-Image Translation with
    Conditional Adversarial Networks", CVPR 2017.

    Example:
    >>> generator = UNetGenerator(output_channels=1, base_filters=4, depth=3)
    >>> images = generator(np.zeros((2, 32, 32, 3), "float32"))
    >>> tuple(images.shape), keras.backend.standardize_dtype(images.dtype)
    ((2, 32, 32, 1), 'float32')
    >>> UNetGenerator(output_channels=1, depth=3)(np.zeros((1, 20, 20, 3)))
    Traceback (most recent call last):
    ...
    ValueError: UNetGenerator with depth=3 needs images whose height and width are \
multiples of 2**depth=8 (at least 8x8); received input shape (1, 20, 20, 3)
    """

    def __init__(self, output_channels, base_filters=64, depth=8, norm="batch", dropout=0.5,
                 output_activation="tanh", kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.output_channels = check_positive_int("output_channels", output_channels)
        self.base_filters = check_positive_int("base_filters", base_filters)
        self.depth = check_positive_int("depth", depth)
        self.norm = check_choice("norm", norm, NORMS)
        self.dropout = check_rate("dropout", dropout)
        self.output_activation = check_choice("output_activation", output_activation,
                                              OUTPUT_ACTIVATIONS)
        self.kernel_initializer = get_initializer("kernel_initializer", kernel_initializer)

    def build(self, inputs_shape):
        shape = check_image_shape("UNetGenerator", "inputs", inputs_shape)
        size = 2**self.depth
        if any(s is None or s < size or s % size for s in shape[1:3]):
            raise ValueError(
                f"UNetGenerator with depth={self.depth} needs images whose height and width are "
                f"multiples of 2**depth={size} (at least {size}x{size}); received input shape {shape}"
            )
        policy, initializer = self.dtype_policy, self.kernel_initializer
        self.down_blocks, skip_shapes = [], []
        for index in range(self.depth):
            plain = index == 0 or index == self.depth - 1
            block = UNetDownsample(
                pyramid_filters(self.base_filters, index), norm="none" if plain else self.norm,
                kernel_initializer=initializer, dtype=policy, name=f"down_{index}",
            )
            block.build(shape)
            shape = block.compute_output_shape(shape)
            skip_shapes.append(shape)
            self.down_blocks.append(block)
        self.up_blocks = []
        for index, skip_shape in enumerate(reversed(skip_shapes[:-1])):
            block = UNetUpsample(
                skip_shape[-1], norm=self.norm,
                dropout=self.dropout if index < DROPOUT_BLOCKS else 0.0,
                kernel_initializer=initializer, dtype=policy, name=f"up_{index}",
            )
            block.build(shape)
            shape = (*block.compute_output_shape(shape)[:3], skip_shape[-1] * 2)
            self.up_blocks.append(block)
        self.output_conv = keras.layers.Conv2DTranspose(
            self.output_channels, 4, strides=2, padding="same",
            kernel_initializer=clone_initializer(initializer), dtype=policy, name="output_conv",
        )
        self.output_conv.build(shape)
        self.activation = keras.layers.Activation(self.output_activation, dtype="float32",
                                                  name="output_activation")

    def call(self, inputs, training=None):
        skips = []
        x = inputs
        for block in self.down_blocks:
            x = block(x, training=training)
            skips.append(x)
        for block, skip in zip(self.up_blocks, reversed(skips[:-1])):
            x = ops.concatenate([block(x, training=training), skip], axis=-1)
        return self.activation(self.output_conv(x))

    def compute_output_shape(self, inputs_shape):
        return (*inputs_shape[:3], self.output_channels)

    def compute_output_spec(self, inputs, training=None):
        return keras.KerasTensor(self.compute_output_shape(tuple(inputs.shape)), dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            output_channels=self.output_channels, base_filters=self.base_filters,
            depth=self.depth, norm=self.norm, dropout=self.dropout,
            output_activation=self.output_activation, **initializers_config(self, ["kernel_initializer"]),
        )
        return config
