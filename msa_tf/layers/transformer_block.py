"""A Transformer encoder block: self-attention and feed-forward."""

import keras

from msa_tf.layers.masking import check_mask
from msa_tf.layers.residual_attention_block import ResidualAttentionBlock


@keras.saving.register_keras_serializable(package="msa_tf")
class TransformerBlock(ResidualAttentionBlock):
    """Self-attention and a feed-forward network, pre-norm or post-norm.

    Args:
        width: feature size of the inputs and outputs; a multiple of `num_heads`.
        num_heads: number of attention heads.
        ff_dim: hidden size of the feed-forward network; `None` means `4 * width`.
        dropout: dropout rate on attention weights and sub-layer outputs, in [0, 1).
        residual_dropout: dropout rate on sub-layer outputs instead (MulT's
            `res_dropout`), in [0, 1); `None`: `dropout`.
        norm_first: `True` for pre-norm, `False` for post-norm.
        activation: activation of the feed-forward hidden layer.
        layer_norm_epsilon: epsilon of the layer normalisations.
        kernel_initializer: initializer of every kernel (attention and feed-forward).
        bias_initializer: initializer of every bias.
        causal: if `True`, step `i` attends to steps `<= i` only.

    Call arguments:
        inputs: `(batch, time, width)`.
        mask: optional boolean `(batch, time)`, `True` = real step; also taken from
            Keras implicit masking. Padded steps never change the outputs at real
            steps.
        training: Python boolean, enables dropout.

    Example:
    >>> block = TransformerBlock(width=16, num_heads=4)
    >>> x = np.random.normal(size=(2, 6, 16))
    >>> mask = create_padding_mask(lengths=[6, 3], max_length=6)
    >>> block(x, mask=mask).shape
    TensorShape([2, 6, 16])

    Reference:
        Vaswani et al., "Attention Is All You Need", NeurIPS 2017;
        Xiong et al., "On Layer Normalization in the Transformer Architecture", ICML 2020.
    """

    _query_name = "inputs"

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
        causal=False,
        **kwargs,
    ):
        super().__init__(
            width,
            num_heads,
            ff_dim=ff_dim,
            dropout=dropout,
            norm_first=norm_first,
            activation=activation,
            layer_norm_epsilon=layer_norm_epsilon,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            residual_dropout=residual_dropout,
            **kwargs,
        )
        self.causal = bool(causal)

    def build(self, inputs_shape):
        self._build_sublayers(inputs_shape, inputs_shape)

    def compute_output_shape(self, inputs_shape):
        return inputs_shape

    def call(self, inputs, mask=None, training=None):
        mask = check_mask(mask, inputs, "mask")

        def attend(h):
            return self.attention(
                h, h, query_mask=mask, value_mask=mask, causal=self.causal, training=training
            )

        return self._attend_then_feed_forward(inputs, attend, training)

    def get_config(self):
        config = super().get_config()
        config.update(causal=self.causal)
        return config
