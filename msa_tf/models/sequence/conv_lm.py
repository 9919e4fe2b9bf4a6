"""A causal convolution language model: a baseline without attention."""

import keras
from keras import ops

from msa_tf.layers import Dropout
from msa_tf.layers.masking import check_mask
from msa_tf.models.registry import register
from msa_tf.models.sequence.components import LanguageModel
from msa_tf.validation import check_positive_int, check_rate, optional


@keras.saving.register_keras_serializable(package="msa_tf")
class CausalConvBlock(keras.layers.Layer):
    """A gated causal convolution and a feed-forward network, each pre-norm and residual.

    The convolution sees the current step and the `kernel_size - 1` steps before it
    (left padding); its `2 * width` outputs are gated, `a * sigmoid(b)` (a GLU), and
    projected back to `width`. Padded steps are zeroed before the convolution, so
    they never reach a real step.

    Args:
        width: feature size of the inputs and outputs.
        kernel_size: convolution width in steps.
        ff_dim: hidden size of the feed-forward network; `None` means `4 * width`.
        dropout: dropout on each sub-layer output, in [0, 1).

    Call arguments:
        inputs: `(batch, time, width)`.
        mask: optional boolean `(batch, time)`, `True` = real step.
        training: Python boolean, enables dropout.

    Returns `(batch, time, width)`.

    Example:
    >>> block = CausalConvBlock(width=8, kernel_size=3)
    >>> block(np.ones((2, 5, 8))).shape
    TensorShape([2, 5, 8])

    Reference:
        Dauphin et al., "Language Modeling with Gated Convolutional Networks", ICML 2017.
    """

    def __init__(self, width, kernel_size, ff_dim=None, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.width = check_positive_int("width", width)
        self.kernel_size = check_positive_int("kernel_size", kernel_size)
        self.ff_dim = optional(check_positive_int)("ff_dim", ff_dim)
        self.dropout = check_rate("dropout", dropout)
        self.supports_masking = True

    def build(self, inputs_shape):
        if inputs_shape[-1] != self.width:
            raise ValueError(f"The last dimension of `inputs` must equal `width`={self.width}; "
                             f"received inputs with shape {tuple(inputs_shape)}")
        policy = self.dtype_policy
        hidden = self.ff_dim or 4 * self.width
        self.conv_norm = keras.layers.LayerNormalization(epsilon=1e-5, dtype=policy, name="conv_norm")
        self.conv = keras.layers.Conv1D(2 * self.width, self.kernel_size, padding="causal",
                                        dtype=policy, name="conv")
        self.conv_output = keras.layers.Dense(self.width, dtype=policy, name="conv_output")
        self.ff_norm = keras.layers.LayerNormalization(epsilon=1e-5, dtype=policy, name="ff_norm")
        self.ff_hidden = keras.layers.Dense(hidden, activation="gelu", dtype=policy, name="ff_hidden")
        self.ff_output = keras.layers.Dense(self.width, dtype=policy, name="ff_output")
        self.sublayer_dropout = Dropout(self.dropout, dtype=policy)
        for layer in (self.conv_norm, self.conv, self.ff_norm, self.ff_hidden):
            layer.build(inputs_shape)
        self.conv_output.build(inputs_shape)
        self.ff_output.build((*inputs_shape[:-1], hidden))

    def call(self, inputs, mask=None, training=None):
        mask = check_mask(mask, inputs, "mask")
        h = self.conv_norm(inputs)
        if mask is not None:
            h = ops.where(mask[:, :, None], h, ops.zeros((), h.dtype))
        values, gates = ops.split(self.conv(h), 2, axis=-1)
        x = inputs + self.sublayer_dropout(
            self.conv_output(values * ops.sigmoid(gates)), training=training
        )
        return x + self.sublayer_dropout(self.ff_output(self.ff_hidden(self.ff_norm(x))),
                                         training=training)

    def compute_mask(self, inputs, previous_mask=None):
        return previous_mask

    def compute_output_shape(self, inputs_shape):
        return inputs_shape

    def get_config(self):
        config = super().get_config()
        config.update(width=self.width, kernel_size=self.kernel_size, ff_dim=self.ff_dim,
                      dropout=self.dropout)
        return config


@register("conv_lm")
@keras.saving.register_keras_serializable(package="msa_tf")
class ConvLM(LanguageModel):
    """Token and position embeddings, gated causal convolution blocks, a tied head.

    A baseline without attention: the logits at position `t` see the
    `num_layers * (kernel_size - 1)` tokens before it at most, so it cannot recall a
    value stored further back (associative recall), which attention can.

    Args:
        vocab_size: number of token ids (from the data).
        max_length: the fixed sequence length (from the data).
        width: model width.
        num_layers: `CausalConvBlock`s.
        kernel_size: convolution width in steps.
        ff_dim: feed-forward width; `None`: `4 * width`.
        dropout: dropout on sub-layer outputs, in [0, 1).
        tie_embeddings: output logits `h @ E^T` with the token table `E` (`True`) or
            from output weights of their own.

    Call arguments:
        inputs: dict with `tokens` int `(batch, length)` and optional boolean
            `tokens_mask` `(batch, length)`, `True` = real token.

    Returns `{"next_token": float32 logits (batch, length, vocab_size)}`.

    Example:
    >>> model = ConvLM(vocab_size=12, max_length=8, width=16)
    >>> model({"tokens": np.ones((2, 8), "int32")})["next_token"].shape
    TensorShape([2, 8, 12])

    Reference:
        Dauphin et al., "Language Modeling with Gated Convolutional Networks", ICML 2017.
    """

    def __init__(self, vocab_size, max_length, width=64, num_layers=2, kernel_size=4, ff_dim=None,
                 dropout=0.0, tie_embeddings=True, **kwargs):
        super().__init__(**kwargs)
        self._set_arguments(
            vocab_size=vocab_size, max_length=max_length, width=width, num_layers=num_layers,
            kernel_size=kernel_size, ff_dim=ff_dim, dropout=dropout, tie_embeddings=tie_embeddings,
        )

    def build(self, inputs_shape):
        hidden_shape = self._build_ends(inputs_shape)
        self.blocks = [
            CausalConvBlock(self.width, self.kernel_size, ff_dim=self.ff_dim, dropout=self.dropout,
                            dtype=self.dtype_policy, name=f"block_{index}")
            for index in range(self.num_layers)
        ]
        for block in self.blocks:
            block.build(hidden_shape)

    def call(self, inputs, training=None):
        x, mask = self._embed(inputs)
        for block in self.blocks:
            x = block(x, mask=mask, training=training)
        return self._outputs(x)
