"""Reusable Keras 3 layers for multimodal models. They use `keras.ops` only."""

from msa_tf.layers.cross_attention_block import CrossAttentionBlock
from msa_tf.layers.dropout import Dropout
from msa_tf.layers.encoders import ModalityProjection, SequenceEncoder
from msa_tf.layers.fusion import AdaptiveFusionHead, CrossModalFusion, ModalityWeighting
from msa_tf.layers.masked_pooling import MaskedPooling
from msa_tf.layers.masking import create_padding_mask
from msa_tf.layers.modality_inputs import check_modalities, modality_inputs
from msa_tf.layers.multi_head_attention import MaskedMultiHeadAttention
from msa_tf.layers.positional_embedding import (
    LearnablePositionalEmbedding,
    SinusoidalPositionalEmbedding,
)
from msa_tf.layers.tensor_fusion import LowRankFusion, TensorFusion, UnimodalSubnetworks
from msa_tf.layers.transformer_block import TransformerBlock

__all__ = [
    "AdaptiveFusionHead",
    "CrossAttentionBlock",
    "CrossModalFusion",
    "Dropout",
    "LearnablePositionalEmbedding",
    "LowRankFusion",
    "MaskedMultiHeadAttention",
    "MaskedPooling",
    "ModalityProjection",
    "ModalityWeighting",
    "SequenceEncoder",
    "SinusoidalPositionalEmbedding",
    "TensorFusion",
    "TransformerBlock",
    "UnimodalSubnetworks",
    "check_modalities",
    "create_padding_mask",
    "modality_inputs",
]
