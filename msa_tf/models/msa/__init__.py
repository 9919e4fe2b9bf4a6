"""Multimodal sentiment models. Importing this package registers them."""

from msa_tf.models.msa.seq_level import MSASeqLevelModel

__all__ = ["MSASeqLevelModel"]
