"""A decoder-only Transformer language model (GPT)."""

import keras

from msa_tf.layers import TransformerBlock
from msa_tf.models.registry import register
from msa_tf.models.sequence.components import LanguageModel
from msa_tf.validation import check_divisible


def causal_blocks(model, count, prefix="block"):
    """`count` pre-norm causal `TransformerBlock`s made from `model`'s arguments."""
    return [
        TransformerBlock(model.width, model.num_heads, ff_dim=model.ff_dim, dropout=model.dropout,
                         causal=True, dtype=model.dtype_policy, name=f"{prefix}_{index}")
        for index in range(count)
    ]


@register("causal_lm")
@keras.saving.register_keras_serializable(package="msa_tf")
class CausalLM(LanguageModel):
    """Token and position embeddings, causal pre-norm Transformer blocks, a tied head.

    The logits at position `t` depend on the real tokens at positions `<= t` only:
    attention is causal and masked to real tokens, and padded ids are read as PAD.

    Args:
        vocab_size: number of token ids (from the data).
        max_length: the fixed sequence length (from the data), the size of the
            position table and the longest `generate` output.
        width: model width; a multiple of `num_heads`.
        num_heads: attention heads.
        num_layers: Transformer blocks.
        ff_dim: feed-forward width; `None`: `4 * width`.
        dropout: dropout on attention weights and sub-layer outputs, in [0, 1).
        tie_embeddings: output logits `h @ E^T` with the token table `E` (`True`) or
            from output weights of their own.

    Call arguments:
        inputs: dict with `tokens` int `(batch, length)` and optional boolean
            `tokens_mask` `(batch, length)`, `True` = real token.

    Returns `{"next_token": float32 logits (batch, length, vocab_size)}`.

    Example:
    >>> model = CausalLM(vocab_size=12, max_length=8, width=16, num_heads=2)
    >>> model({"tokens": np.ones((2, 8), "int32")})["next_token"].shape
    TensorShape([2, 8, 12])
    >>> model.generate([1, 5, 6], max_new_tokens=4, temperature=0).shape
    (7,)

    Reference:
        Radford et al., "Improving Language Understanding by Generative Pre-Training", 2018.
    """

    def __init__(self, vocab_size, max_length, width=64, num_heads=4, num_layers=2, ff_dim=None,
                 dropout=0.0, tie_embeddings=True, **kwargs):
        super().__init__(**kwargs)
        self._set_arguments(
            vocab_size=vocab_size, max_length=max_length, width=width, num_heads=num_heads,
            num_layers=num_layers, ff_dim=ff_dim, dropout=dropout, tie_embeddings=tie_embeddings,
        )
        check_divisible("width", self.width, "num_heads", self.num_heads)

    def build(self, inputs_shape):
        hidden_shape = self._build_ends(inputs_shape)
        self.blocks = causal_blocks(self, self.num_layers)
        for block in self.blocks:
            block.build(hidden_shape)

    def call(self, inputs, training=None):
        x, mask = self._embed(inputs)
        for block in self.blocks:
            x = block(x, mask=mask, training=training)
        return self._outputs(x)
