"""The PatchGAN discriminator of pix2pix: one real/fake logit per image patch."""

import keras
from keras import ops

from msa_tf.layers.initializers import clone_initializer, get_initializer, initializers_config
from msa_tf.layers.unet import NORMS, check_image_shape, normalization, pyramid_filters
from msa_tf.validation import check_bool, check_choice, check_positive_int


def receptive_field(num_downsamples):
    """The side of the input patch that one logit of `PatchGANDiscriminator` sees.

    Going back from a logit through each 4x4 convolution of stride `s` turns a field
    of side `r` into `s * r + 4 - s`: two stride-1 convolutions, then
    `num_downsamples` stride-2 ones.

    >>> [receptive_field(n) for n in (1, 2, 3, 4)]
    [16, 34, 70, 142]
    """
    field = 1
    for stride in (1, 1) + (2,) * check_positive_int("num_downsamples", num_downsamples):
        field = stride * field + 4 - stride
    return field


def _unit(vector):
    return vector / ops.maximum(ops.sqrt(ops.sum(ops.square(vector))), 1e-12)


class _SpectralNormalization(keras.layers.SpectralNormalization):
    """`keras.layers.SpectralNormalization` of a convolution, normalised at inference too.

    Keras's wrapper divides the kernel by its spectral norm in training and assigns
    the result to the kernel; at inference it uses the kernel as stored. JAX's `fit`
    keeps only the non-trainable state that a forward pass assigns, so there the
    stored kernel stays unnormalised, and Keras's inference would use a kernel many
    times larger than training did. At inference this wrapper divides the kernel by the norm that
    one power iteration from the stored `vector_u` gives, without updating anything:
    on TensorFlow the stored kernel is already normalised and that norm is about 1.
    """

    def call(self, inputs, training=False):
        if training:
            return super().call(inputs, training=True)
        kernel = ops.cast(self.kernel, "float32")
        weights = ops.reshape(kernel, (-1, self.kernel_shape[-1]))
        vector_v = _unit(ops.matmul(ops.cast(self.vector_u, "float32"), ops.transpose(weights)))
        vector_u = _unit(ops.matmul(vector_v, weights))
        sigma = ops.sum(ops.matmul(vector_v, weights) * vector_u)
        kernel = kernel / ops.where(sigma > 0, sigma, 1.0)  # an all-zero kernel stays zero
        outputs = self.layer.convolution_op(inputs, ops.cast(kernel, inputs.dtype))
        if self.layer.use_bias:
            outputs = outputs + ops.cast(self.layer.bias, outputs.dtype)
        return outputs


@keras.saving.register_keras_serializable(package="msa_tf")
class PatchGANDiscriminator(keras.layers.Layer):
    """The conditional PatchGAN discriminator of pix2pix: a logit per patch of an image pair.

    The condition and the image are concatenated along the channels and go through
    `num_downsamples` 4x4 stride-2 convolutions with `base_filters * 2**i` filters (at
    most `base_filters * 8`; no normalisation on the first), a 4x4 stride-1
    convolution with normalisation, each followed by LeakyReLU(0.2), and a 4x4
    stride-1 convolution to one channel in float32. With the defaults this is the
    C64-C128-C256-C512 70x70 PatchGAN: each logit sees a 70x70 patch of the input
    (`receptive_field(num_downsamples)`: 16, 34, 70, 142 for 1 to 4). Convolutions
    pad `"same"`, so the logits cover the image at `2**num_downsamples` pixels apart.

    Args:
        base_filters: filters of the first convolution.
        num_downsamples: number of stride-2 convolutions (>= 1).
        norm: `"batch"`, `"instance"` or `"none"`.
        spectral_norm: wraps every convolution in `keras.layers.SpectralNormalization`
            (one power iteration per training call), changed to divide the kernel by
            its spectral norm at inference too: under JAX, `fit` keeps the kernel
            unnormalised (see `_SpectralNormalization`).
        kernel_initializer: of every convolution; pix2pix uses
            `keras.initializers.RandomNormal(stddev=0.02)`.

    Call arguments:
        condition: the conditioning images `(batch, height, width, c_condition)`
            (the generator's input).
        image: the real or generated images `(batch, height, width, c_image)`.
        training: Python boolean: batch statistics and spectral-norm updates.

    Returns float32 logits `(batch, ceil(height / 2**num_downsamples),
    ceil(width / 2**num_downsamples), 1)`.

    References: Isola et al., "Image-to-Image Translation with Conditional
    Adversarial Networks", CVPR 2017; Miyato et al., "Spectral Normalization for
    Generative Adversarial Networks", ICLR 2018.

    Example:
    >>> discriminator = PatchGANDiscriminator(base_filters=4, num_downsamples=2)
    >>> logits = discriminator(np.zeros((2, 32, 32, 3)), np.zeros((2, 32, 32, 1)))
    >>> tuple(logits.shape), keras.backend.standardize_dtype(logits.dtype)
    ((2, 8, 8, 1), 'float32')
    """

    def __init__(self, base_filters=64, num_downsamples=3, norm="batch", spectral_norm=False,
                 kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.base_filters = check_positive_int("base_filters", base_filters)
        self.num_downsamples = check_positive_int("num_downsamples", num_downsamples)
        self.norm = check_choice("norm", norm, NORMS)
        self.spectral_norm = check_bool("spectral_norm", spectral_norm)
        self.kernel_initializer = get_initializer("kernel_initializer", kernel_initializer)

    def _conv(self, filters, strides, use_bias, name, dtype):
        conv = keras.layers.Conv2D(
            filters, 4, strides=strides, padding="same", use_bias=use_bias,
            kernel_initializer=clone_initializer(self.kernel_initializer), dtype=dtype, name=name,
        )
        if self.spectral_norm:
            conv = _SpectralNormalization(conv, dtype=dtype, name=f"{name}_spectral")
        return conv

    def build(self, condition_shape, image_shape):
        condition_shape = check_image_shape("PatchGANDiscriminator", "condition", condition_shape)
        image_shape = check_image_shape("PatchGANDiscriminator", "image", image_shape)
        if condition_shape[1:3] != image_shape[1:3]:
            raise ValueError(
                "`condition` and `image` of PatchGANDiscriminator must have the same height and "
                f"width; received shapes {condition_shape} and {image_shape}"
            )
        shape = (*image_shape[:3], condition_shape[-1] + image_shape[-1])
        policy = self.dtype_policy
        self.convs, self.norms = [], []
        # (filters, strides, normalised) of each convolution followed by LeakyReLU.
        layout = [(pyramid_filters(self.base_filters, i), 2, i > 0)
                  for i in range(self.num_downsamples)]
        layout.append((pyramid_filters(self.base_filters, self.num_downsamples), 1, True))
        for index, (filters, strides, normalised) in enumerate(layout):
            norm = normalization(self.norm if normalised else "none", policy, f"norm_{index}")
            conv = self._conv(filters, strides, norm is None, f"conv_{index}", policy)
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
            if norm is not None:
                norm.build(shape)
            self.convs.append(conv)
            self.norms.append(norm)
        self.logits = self._conv(1, 1, True, "logits", "float32")
        self.logits.build(shape)

    def call(self, condition, image, training=None):
        x = ops.concatenate(
            [ops.cast(condition, self.compute_dtype), ops.cast(image, self.compute_dtype)], axis=-1
        )
        for conv, norm in zip(self.convs, self.norms):
            x = conv(x, training=training)
            if norm is not None:
                x = norm(x, training=training)
            x = ops.leaky_relu(x, negative_slope=0.2)
        return self.logits(x, training=training)

    def compute_output_shape(self, condition_shape, image_shape):
        stride = 2**self.num_downsamples
        sides = [None if s is None else -(-s // stride) for s in image_shape[1:3]]
        return (image_shape[0], *sides, 1)

    def compute_output_spec(self, condition, image, training=None):
        shape = self.compute_output_shape(tuple(condition.shape), tuple(image.shape))
        return keras.KerasTensor(shape, dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            base_filters=self.base_filters, num_downsamples=self.num_downsamples,
            norm=self.norm, spectral_norm=self.spectral_norm,
            **initializers_config(self, ["kernel_initializer"]),
        )
        return config
