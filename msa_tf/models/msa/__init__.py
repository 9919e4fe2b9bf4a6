"""Multimodal sentiment models. Importing this package registers them."""

from msa_tf.models.msa.balanced import BalancedMSAModel
from msa_tf.models.msa.early_pooling import MSAModel, UnimodalModel
from msa_tf.models.msa.seq_level import MSASeqLevelModel

__all__ = ["BalancedMSAModel", "MSAModel", "MSASeqLevelModel", "UnimodalModel"]
