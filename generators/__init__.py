"""Procedural dataset generators: synthetic modality tensors with controllable properties.

This package never imports `msa_tf`.
"""

from generators.multimodal import PRESETS, MultimodalConfig, MultimodalGenerator
from generators.sequences import FAMILIES, SequenceGenerator, family_names, leakage, make_generator
from generators.shards import read_shards, write_shards

__all__ = ["FAMILIES", "PRESETS", "MultimodalConfig", "MultimodalGenerator", "SequenceGenerator",
           "family_names", "leakage", "make_generator", "read_shards", "write_shards"]
