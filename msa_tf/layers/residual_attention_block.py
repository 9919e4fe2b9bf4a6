"""The shared body of `TransformerBlock` and `CrossAttentionBlock`."""

import keras

from msa_tf.layers.dropout import Dropout
from msa_tf.layers.initializers import dense_initializers, get_initializer, initializers_config
from msa_tf.layers.multi_head_attention import MaskedMultiHeadAttention
from msa_tf.validation import check_divisible, check_number, check_positive_int, check_rate

# The constructor arguments every attention block takes (and its config holds).
BLOCK_ARGUMENTS = (
    "width",
    "num_heads",
    "ff_dim",
    "dropout",
    "norm_first",
    "activation",
    "layer_norm_epsilon",
    "kernel_initializer",
    "bias_initializer",
    "residual_dropout",
)


def checked_block_arguments(
    width,
    num_heads,
    ff_dim=None,
    dropout=0.0,
    norm_first=True,
    activation="gelu",
    layer_norm_epsilon=1e-5,
    kernel_initializer="glorot_uniform",
    bias_initializer="zeros",
    residual_dropout=None,
):
    """The `BLOCK_ARGUMENTS` as a dict of checked values; raises `ValueError`.

    `residual_dropout=None` becomes `dropout`: one rate for attention weights and
    sub-layer outputs unless the two are given apart.
    """
    width = check_positive_int("width", width)
    num_heads = check_positive_int("num_heads", num_heads)
    check_divisible("width", width, "num_heads", num_heads)
    function = keras.activations.get(activation)  # `ValueError` for an unknown name
    dropout = check_rate("dropout", dropout)
    return {
        "width": width,
        "num_heads": num_heads,
        "ff_dim": None if ff_dim is None else check_positive_int("ff_dim", ff_dim),
        "dropout": dropout,
        "norm_first": bool(norm_first),
        # A name stays as given: Keras's serializer imports TensorFlow (if installed) on any
        # backend, seconds for each `.keras` loader process that the JAX tests start.
        "activation": activation if isinstance(activation, str) else keras.activations.serialize(function),
        "layer_norm_epsilon": check_number("layer_norm_epsilon", layer_norm_epsilon, low=0,
                                           low_open=True),
        "kernel_initializer": get_initializer("kernel_initializer", kernel_initializer),
        "bias_initializer": get_initializer("bias_initializer", bias_initializer),
        "residual_dropout": (
            dropout if residual_dropout is None else check_rate("residual_dropout", residual_dropout)
        ),
    }


def block_config(layer):
    """The `BLOCK_ARGUMENTS` of `layer` for its `get_config()`."""
    config = {name: getattr(layer, name) for name in BLOCK_ARGUMENTS}
    config.update(initializers_config(layer))
    return config


class ResidualAttentionBlock(keras.layers.Layer):
    """Attention and feed-forward sub-layers, each wrapped in a residual connection.

    Subclasses build the attention sub-layer and decide what it attends to. With
    `norm_first=True` (pre-norm) each sub-layer sees a normalised input and adds to
    the residual stream; with `norm_first=False` (post-norm, the original
    Transformer) the sum is normalised. Normalisation statistics run in float32.
    The output has the shape of the first input. `dropout` drops attention weights
    and, unless `residual_dropout` is given, each sub-layer output before its residual
    sum.
    """

    def __init__(
        self,
        width,
        num_heads,
        ff_dim=None,
        dropout=0.0,
        norm_first=True,
        activation="gelu",
        layer_norm_epsilon=1e-5,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        residual_dropout=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        arguments = checked_block_arguments(
            width, num_heads, ff_dim, dropout, norm_first, activation, layer_norm_epsilon,
            kernel_initializer, bias_initializer, residual_dropout,
        )
        for name, value in arguments.items():
            setattr(self, name, value)
        self.supports_masking = True

    def _check_width(self, name, shape):
        if shape[-1] != self.width:
            raise ValueError(
                f"The last dimension of `{name}` must equal `width`={self.width}; "
                f"received {name} with shape {tuple(shape)}"
            )

    def _layer_norm(self, name):
        return keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name=name
        )

    def _build_sublayers(self, query_shape, value_shape):
        self._check_width(self._query_name, query_shape)
        self.attention = MaskedMultiHeadAttention(
            self.width,
            self.num_heads,
            self.dropout,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
            dtype=self.dtype_policy,
            name="attention",
        )
        self.attention.build(query_shape, value_shape)
        self.attention_norm = self._layer_norm("attention_norm")
        self.attention_norm.build(query_shape)
        self.ff_hidden = keras.layers.Dense(
            self.ff_dim or 4 * self.width,
            activation=self.activation,
            **dense_initializers(self),
            dtype=self.dtype_policy,
            name="ff_hidden",
        )
        self.ff_hidden.build(query_shape)
        self.ff_output = keras.layers.Dense(
            self.width, **dense_initializers(self), dtype=self.dtype_policy, name="ff_output"
        )
        self.ff_output.build((*query_shape[:-1], self.ff_dim or 4 * self.width))
        self.ff_norm = self._layer_norm("ff_norm")
        self.ff_norm.build(query_shape)
        self.sublayer_dropout = Dropout(self.residual_dropout, dtype=self.dtype_policy)

    def _residual(self, x, norm, sublayer, training):
        if self.norm_first:
            return x + self.sublayer_dropout(sublayer(norm(x)), training=training)
        return norm(x + self.sublayer_dropout(sublayer(x), training=training))

    def _attend_then_feed_forward(self, x, attend, training):
        x = self._residual(x, self.attention_norm, attend, training)
        return self._residual(
            x, self.ff_norm, lambda h: self.ff_output(self.ff_hidden(h)), training
        )

    def compute_mask(self, inputs, previous_mask=None):
        return previous_mask

    def get_config(self):
        config = super().get_config()
        config.update(block_config(self))
        return config
