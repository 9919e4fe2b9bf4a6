"""Reusable Keras 3 layers for multimodal models. They use `keras.ops` only."""

from msa_tf.layers.cross_attention_block import CrossAttentionBlock
from msa_tf.layers.dropout import Dropout
from msa_tf.layers.encoders import ModalityProjection, SequenceEncoder
from msa_tf.layers.fusion import AdaptiveFusionHead, CrossModalFusion, ModalityWeighting
from msa_tf.layers.masked_pooling import MaskedPooling
from msa_tf.layers.masking import create_padding_mask
from msa_tf.layers.modality_inputs import check_modalities, modality_inputs
from msa_tf.layers.multi_head_attention import MaskedMultiHeadAttention
from msa_tf.layers.patchgan import PatchGANDiscriminator
from msa_tf.layers.positional_embedding import (
    LearnablePositionalEmbedding,
    SinusoidalPositionalEmbedding,
)
from msa_tf.layers.tensor_fusion import LowRankFusion, TensorFusion, UnimodalSubnetworks
from msa_tf.layers.transformer_block import TransformerBlock
from msa_tf.layers.unet import UNetDownsample, UNetGenerator, UNetUpsample
from msa_tf.layers.vae import VAEDecoder, VAEEncoder, VAESampling, kl_divergence

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
    "PatchGANDiscriminator",
    "SequenceEncoder",
    "SinusoidalPositionalEmbedding",
    "TensorFusion",
    "TransformerBlock",
    "UNetDownsample",
    "UNetGenerator",
    "UNetUpsample",
    "UnimodalSubnetworks",
    "VAEDecoder",
    "VAEEncoder",
    "VAESampling",
    "check_modalities",
    "create_padding_mask",
    "kl_divergence",
    "modality_inputs",
]
