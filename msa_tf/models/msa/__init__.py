"""Multimodal sentiment models. Importing this package registers them."""

from msa_tf.models.msa.balanced import BalancedMSAModel
from msa_tf.models.msa.early_pooling import MSAModel, UnimodalModel
from msa_tf.models.msa.maft import MAFT
from msa_tf.models.msa.mult import MulT
from msa_tf.models.msa.seq_level import MSASeqLevelModel
from msa_tf.models.msa.tensor_fusion import LMF, TFN

__all__ = [
    "LMF",
    "MAFT",
    "TFN",
    "BalancedMSAModel",
    "MSAModel",
    "MSASeqLevelModel",
    "MulT",
    "UnimodalModel",
]
