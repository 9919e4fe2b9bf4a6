"""Decoder language models for token sequences. Importing this package registers them."""

from msa_tf.models.sequence.causal_lm import CausalLM
from msa_tf.models.sequence.components import LanguageModel, TokenAndPositionEmbedding
from msa_tf.models.sequence.conv_lm import CausalConvBlock, ConvLM
from msa_tf.models.sequence.free_transformer import FreeTransformer

__all__ = [
    "CausalConvBlock",
    "CausalLM",
    "ConvLM",
    "FreeTransformer",
    "LanguageModel",
    "TokenAndPositionEmbedding",
]
