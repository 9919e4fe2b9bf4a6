"""Positional embeddings added to a sequence: learnable and sinusoidal."""

import math

import keras
from keras import ops

from msa_tf.validation import check_positive_int


def _check_length(layer, inputs_shape):
    length = inputs_shape[1]
    if length is not None and length > layer.max_length:
        raise ValueError(
            f"Input length {length} exceeds `max_length`={layer.max_length} of "
            f"{type(layer).__name__}; accepted: sequences of at most max_length steps"
        )


class AddedPositions(keras.layers.Layer):
    """Base of the positional embeddings: adds to the inputs and keeps their mask."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def compute_mask(self, inputs, previous_mask=None):
        return previous_mask

    def compute_output_shape(self, inputs_shape):
        return inputs_shape


@keras.saving.register_keras_serializable(package="msa_tf")
class LearnablePositionalEmbedding(AddedPositions):
    """Adds a learned vector per position to a sequence.

    The layer holds `max_length` position vectors; a shorter input uses the first
    `time` of them. The mask passes through unchanged.

    Args:
        max_length: the longest sequence the layer accepts.
        initializer: initializer of the position vectors.

    Call arguments:
        inputs: `(batch, time, dim)` with `time <= max_length`.
        mask: optional boolean `(batch, time)`; passed on to the next layer.

    Example:
    >>> layer = LearnablePositionalEmbedding(max_length=10)
    >>> layer(np.zeros((2, 7, 4))).shape
    TensorShape([2, 7, 4])
    """

    def __init__(self, max_length, initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.max_length = check_positive_int("max_length", max_length)
        self.initializer = keras.initializers.serialize(keras.initializers.get(initializer))

    def build(self, inputs_shape):
        _check_length(self, inputs_shape)
        self.position_embeddings = self.add_weight(
            name="position_embeddings",
            shape=(self.max_length, inputs_shape[-1]),
            initializer=keras.initializers.get(self.initializer),
        )

    def call(self, inputs, mask=None):
        _check_length(self, inputs.shape)
        length = ops.shape(inputs)[1]
        positions = ops.slice(self.position_embeddings, (0, 0), (length, ops.shape(inputs)[2]))
        return inputs + ops.cast(positions, inputs.dtype)[None]

    def get_config(self):
        config = super().get_config()
        config.update(max_length=self.max_length, initializer=self.initializer)
        return config


@keras.saving.register_keras_serializable(package="msa_tf")
class SinusoidalPositionalEmbedding(AddedPositions):
    """Adds fixed sine and cosine position encodings to a sequence.

    Position `p`, channel pair `i` gets `sin(p / w**(2i/dim))` and
    `cos(p / w**(2i/dim))` with `w = max_wavelength`, computed in float32 and cast
    to the compute dtype. Any length works; the mask passes through unchanged.

    Args:
        max_wavelength: the longest wavelength of the encoding.
        scale_inputs: if `True`, inputs are multiplied by `sqrt(dim)` first, as in
            the original Transformer and MulT.

    Call arguments:
        inputs: `(batch, time, dim)` with an even or odd `dim`.
        mask: optional boolean `(batch, time)`; passed on to the next layer.

    Example:
    >>> layer = SinusoidalPositionalEmbedding()
    >>> out = layer(np.zeros((1, 3, 4)))
    >>> [round(float(v), 3) for v in out[0, 1]]
    [0.841, 0.01, 0.54, 1.0]

    Reference:
        Vaswani et al., "Attention Is All You Need", NeurIPS 2017.
    """

    def __init__(self, max_wavelength=10000, scale_inputs=False, **kwargs):
        super().__init__(**kwargs)
        self.max_wavelength = check_positive_int("max_wavelength", max_wavelength)
        self.scale_inputs = bool(scale_inputs)

    def call(self, inputs, mask=None):
        length, dim = ops.shape(inputs)[1], inputs.shape[-1]
        half = (dim + 1) // 2
        positions = ops.cast(ops.arange(length), "float32")[:, None]
        frequencies = ops.exp(
            ops.cast(ops.arange(half), "float32") * (-math.log(self.max_wavelength) / half)
        )
        angles = positions * frequencies[None, :]
        encoding = ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)[:, :dim]
        if self.scale_inputs:
            inputs = inputs * ops.cast(math.sqrt(dim), inputs.dtype)
        return inputs + ops.cast(encoding, inputs.dtype)[None]

    def get_config(self):
        config = super().get_config()
        config.update(max_wavelength=self.max_wavelength, scale_inputs=self.scale_inputs)
        return config
