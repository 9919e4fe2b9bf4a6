"""A cross-attention block: one sequence attends to another."""

import keras

from msa_tf.layers.masking import check_mask
from msa_tf.layers.residual_attention_block import ResidualAttentionBlock


@keras.saving.register_keras_serializable(package="msa_tf")
class CrossAttentionBlock(ResidualAttentionBlock):
    """Cross-attention from `query` to `context`, then a feed-forward network.

    Queries come from `query`; keys and values from `context`, which may have another
    length and feature size. With `norm_first=True` both sequences are normalised
    (each with its own layer normalisation) before the attention, as in MulT.

    Args:
        width: feature size of `query` and of the outputs; a multiple of `num_heads`.
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

    Call arguments:
        query: `(batch, query_time, width)`.
        context: `(batch, context_time, context_dim)`.
        query_mask: optional boolean `(batch, query_time)`, `True` = real step.
        context_mask: optional boolean `(batch, context_time)`, `True` = real step.
            A query whose context is all padding receives no attention context.
        training: Python boolean, enables dropout.

    Returns the updated query sequence, `(batch, query_time, width)`.

    Example:
    >>> block = CrossAttentionBlock(width=16, num_heads=2)
    >>> text, audio = np.ones((2, 6, 16)), np.ones((2, 9, 5))
    >>> audio_mask = create_padding_mask(lengths=[9, 4], max_length=9)
    >>> block(text, audio, context_mask=audio_mask).shape
    TensorShape([2, 6, 16])

    Reference:
        Tsai et al., "Multimodal Transformer for Unaligned Multimodal Language
        Sequences", ACL 2019.
    """

    _query_name = "query"

    def build(self, query_shape, context_shape):
        self._build_sublayers(query_shape, context_shape)
        if self.norm_first:
            self.context_norm = self._layer_norm("context_norm")
            self.context_norm.build(context_shape)

    def compute_output_shape(self, query_shape, context_shape):
        return query_shape

    def call(self, query, context, query_mask=None, context_mask=None, training=None):
        query_mask = check_mask(query_mask, query, "query_mask")
        context_mask = check_mask(context_mask, context, "context_mask")
        if self.norm_first:
            context = self.context_norm(context)

        def attend(h):
            return self.attention(
                h, context, query_mask=query_mask, value_mask=context_mask, training=training
            )

        return self._attend_then_feed_forward(query, attend, training)
