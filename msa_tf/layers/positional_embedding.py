"""Positional embeddings: a learnable table added to a sequence, and sinusoidal encodings."""

import math

import keras
from keras import ops

from msa_tf.layers.initializers import clone_initializer, get_initializer, initializers_config
from msa_tf.validation import check_positive_int


def _check_length(layer, inputs_shape):
    length = inputs_shape[1]
    if length is not None and length > layer.max_length:
        raise ValueError(
            f"Input length {length} exceeds `max_length`={layer.max_length} of "
            f"{type(layer).__name__}; accepted: sequences of at most max_length steps"
        )


class StepwiseLayer(keras.layers.Layer):
    """Base of the positional embeddings: the output has the input's shape and mask."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def compute_mask(self, inputs, previous_mask=None):
        return previous_mask

    def build(self, inputs_shape):
        # Named like `compute_output_shape`'s argument: Keras calls that one with the
        # shapes that `build` received, by name (`model.summary()` does).
        pass

    def compute_output_shape(self, inputs_shape):
        return inputs_shape


@keras.saving.register_keras_serializable(package="msa_tf")
class LearnablePositionalEmbedding(StepwiseLayer):
    """Adds a learned vector per position to a sequence.

    The layer holds `max_length` position vectors; a shorter input uses the first
    `time` of them. The mask passes through unchanged.

    Args:
        max_length: the longest sequence the layer accepts.
        embeddings_initializer: initializer of the position vectors.

    Call arguments:
        inputs: `(batch, time, dim)` with `time <= max_length`.
        mask: optional boolean `(batch, time)`; passed on to the next layer.

    Example:
    >>> layer = LearnablePositionalEmbedding(max_length=10)
    >>> layer(np.zeros((2, 7, 4))).shape
    TensorShape([2, 7, 4])
    """

    def __init__(self, max_length, embeddings_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.max_length = check_positive_int("max_length", max_length)
        self.embeddings_initializer = get_initializer(
            "embeddings_initializer", embeddings_initializer
        )

    def build(self, inputs_shape):
        _check_length(self, inputs_shape)
        self.position_embeddings = self.add_weight(
            name="position_embeddings",
            shape=(self.max_length, inputs_shape[-1]),
            initializer=clone_initializer(self.embeddings_initializer),
        )

    def call(self, inputs, mask=None):
        _check_length(self, inputs.shape)
        length = ops.shape(inputs)[1]
        # `convert_to_tensor`: JAX's `slice` takes an array, not a Keras variable.
        table = ops.convert_to_tensor(self.position_embeddings)
        positions = ops.slice(table, (0, 0), (length, ops.shape(inputs)[2]))
        return inputs + ops.cast(positions, inputs.dtype)[None]

    def get_config(self):
        config = super().get_config()
        config.update(
            max_length=self.max_length, **initializers_config(self, ["embeddings_initializer"])
        )
        return config


@keras.saving.register_keras_serializable(package="msa_tf")
class SinusoidalPositionalEmbedding(StepwiseLayer):
    """Fixed sine and cosine position encodings of a sequence, for the caller to add.

    Position `p`, channel pair `i` gets `sin(p / w**(2i/dim))` (first half of the
    channels) and `cos(p / w**(2i/dim))` (second half) with `w = max_wavelength`,
    computed in float32 and cast to the compute dtype. Only the shape of the input
    is read: the output has that shape (the same encoding for every sample), so
    `inputs + layer(inputs)` adds the positions. Any length works; the mask passes
    through unchanged.

    Args:
        max_wavelength: the longest wavelength of the encoding.

    Call arguments:
        inputs: `(batch, time, dim)` with an even or odd `dim`.
        mask: optional boolean `(batch, time)`; passed on to the next layer.

    Returns the encoding, `(batch, time, dim)`.

    Example:
    >>> x = np.ones((2, 3, 4), "float32")
    >>> encoding = SinusoidalPositionalEmbedding()(x)
    >>> [round(float(v), 3) for v in encoding[1, 1]]
    [0.841, 0.01, 0.54, 1.0]
    >>> x_with_positions = x + encoding

    Reference:
        Vaswani et al., "Attention Is All You Need", NeurIPS 2017.
    """

    def __init__(self, max_wavelength=10000, **kwargs):
        super().__init__(**kwargs)
        self.max_wavelength = check_positive_int("max_wavelength", max_wavelength)

    def call(self, inputs, mask=None):
        length, dim = ops.shape(inputs)[1], inputs.shape[-1]
        half = (dim + 1) // 2
        positions = ops.cast(ops.arange(length), "float32")[:, None]
        frequencies = ops.exp(
            ops.cast(ops.arange(half), "float32") * (-math.log(self.max_wavelength) / half)
        )
        angles = positions * frequencies[None, :]
        encoding = ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)[:, :dim]
        return ops.broadcast_to(ops.cast(encoding, self.compute_dtype)[None], ops.shape(inputs))

    def get_config(self):
        config = super().get_config()
        config.update(max_wavelength=self.max_wavelength)
        return config
