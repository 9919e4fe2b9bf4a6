"""Per-modality encoders: a projection to the model width, then positions and transformer blocks."""

import keras

from msa_tf.layers.initializers import (
    clone_initializer,
    dense_initializers,
    get_initializer,
    initializers_config,
)
from msa_tf.layers.positional_embedding import LearnablePositionalEmbedding
from msa_tf.layers.residual_attention_block import checked_block_arguments
from msa_tf.layers.transformer_block import TransformerBlock
from msa_tf.validation import check_int, check_positive_int, optional


@keras.saving.register_keras_serializable(package="msa_tf")
class ModalityProjection(keras.layers.Layer):
    """Maps one modality to `width` features: `Dense` for features, `Embedding` for ids.

    Args:
        width: output feature size.
        vocab_size: `None` for feature inputs `(batch, time, dim)`; the vocabulary size
            for token-id inputs `(batch, time)`.
        kernel_initializer, bias_initializer: initializers of the `Dense` projection.

    Call arguments:
        inputs: `(batch, time, dim)` features or `(batch, time)` token ids.

    Returns `(batch, time, width)`; a Keras mask passes through.

    Example:
    >>> ModalityProjection(8)(np.ones((2, 5, 3))).shape
    TensorShape([2, 5, 8])
    >>> ModalityProjection(8, vocab_size=100)(np.ones((2, 5), "int32")).shape
    TensorShape([2, 5, 8])
    """

    def __init__(self, width, vocab_size=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.width = check_positive_int("width", width)
        self.vocab_size = optional(check_positive_int)("vocab_size", vocab_size)
        self.kernel_initializer = get_initializer("kernel_initializer", kernel_initializer)
        self.bias_initializer = get_initializer("bias_initializer", bias_initializer)
        self.supports_masking = True

    def build(self, inputs_shape):
        if self.vocab_size is None:
            self.projection = keras.layers.Dense(
                self.width, **dense_initializers(self), dtype=self.dtype_policy, name="dense"
            )
        else:
            self.projection = keras.layers.Embedding(
                self.vocab_size, self.width, dtype=self.dtype_policy, name="embedding"
            )
        self.projection.build(inputs_shape)

    def call(self, inputs):
        return self.projection(inputs)

    def compute_mask(self, inputs, previous_mask=None):
        return previous_mask

    def compute_output_shape(self, inputs_shape):
        return (*inputs_shape[:2], self.width)

    def get_config(self):
        config = super().get_config()
        config.update(width=self.width, vocab_size=self.vocab_size, **initializers_config(self))
        return config


@keras.saving.register_keras_serializable(package="msa_tf")
class SequenceEncoder(keras.layers.Layer):
    """`ModalityProjection`, learnable positions and `num_layers` pre-norm `TransformerBlock`s.

    Args:
        width, num_heads, ff_dim, dropout: of the transformer blocks (`width` is also
            the output size).
        num_layers: number of blocks (0 keeps projection and positions only).
        max_length: the longest sequence (size of the position table); `None`: the
            length of the inputs the layer is built on.
        vocab_size: for token-id inputs, else `None`.
        kernel_initializer, bias_initializer: of the projection and the blocks.
        embeddings_initializer: of the position table.

    Call arguments:
        inputs: `(batch, time, dim)` features or `(batch, time)` token ids.
        mask: boolean `(batch, time)`, `True` = real step.
        training: Python boolean, enables dropout.

    Returns `(batch, time, width)`.

    Example:
    >>> SequenceEncoder(8, 2, 16, 1, max_length=6)(np.ones((2, 6, 3))).shape
    TensorShape([2, 6, 8])
    """

    def __init__(self, width, num_heads, ff_dim, num_layers, max_length=None, vocab_size=None,
                 dropout=0.0, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 embeddings_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        block = checked_block_arguments(width, num_heads, ff_dim, dropout,
                                        kernel_initializer=kernel_initializer,
                                        bias_initializer=bias_initializer)
        self.width = block["width"]
        self.num_heads = block["num_heads"]
        self.ff_dim = block["ff_dim"]
        self.num_layers = check_int("num_layers", num_layers)
        self.max_length = optional(check_positive_int)("max_length", max_length)
        self.vocab_size = optional(check_positive_int)("vocab_size", vocab_size)
        self.dropout = block["dropout"]
        self.kernel_initializer = block["kernel_initializer"]
        self.bias_initializer = block["bias_initializer"]
        # Cloned now, so an unseeded initializer draws its seed at construction, as this
        # encoder always has: a run seeded with `keras.utils.set_random_seed` keeps its weights.
        self.embeddings_initializer = clone_initializer(
            get_initializer("embeddings_initializer", embeddings_initializer)
        )
        self.supports_masking = True

    def build(self, inputs_shape):
        max_length = self.max_length or inputs_shape[1]
        if max_length is None:
            raise ValueError(
                "`max_length` must be given for inputs of unknown length (it sizes the "
                f"position table); received max_length=None and inputs of shape {inputs_shape}"
            )
        initializers = {"kernel_initializer": self.kernel_initializer,
                        "bias_initializer": self.bias_initializer}
        self.projection = ModalityProjection(self.width, self.vocab_size, **initializers,
                                             dtype=self.dtype_policy)
        self.projection.build(inputs_shape)
        shape = (*inputs_shape[:2], self.width)
        self.positions = LearnablePositionalEmbedding(
            max_length, self.embeddings_initializer, dtype=self.dtype_policy
        )
        self.positions.build(shape)
        self.blocks = []
        for index in range(self.num_layers):
            block = TransformerBlock(self.width, self.num_heads, ff_dim=self.ff_dim,
                                     dropout=self.dropout, **initializers,
                                     dtype=self.dtype_policy, name=f"block_{index}")
            block.build(shape)
            self.blocks.append(block)

    def call(self, inputs, mask=None, training=None):
        x = self.positions(self.projection(inputs))
        for block in self.blocks:
            x = block(x, mask=mask, training=training)
        return x

    def compute_mask(self, inputs, previous_mask=None):
        return previous_mask

    def compute_output_shape(self, inputs_shape):
        return (*inputs_shape[:2], self.width)

    def get_config(self):
        config = super().get_config()
        config.update(
            width=self.width,
            num_heads=self.num_heads,
            ff_dim=self.ff_dim,
            num_layers=self.num_layers,
            max_length=self.max_length,
            vocab_size=self.vocab_size,
            dropout=self.dropout,
            **initializers_config(
                self, ["kernel_initializer", "bias_initializer", "embeddings_initializer"]
            ),
        )
        return config
