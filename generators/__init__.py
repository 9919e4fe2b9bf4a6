"""Procedural dataset generators: synthetic modality tensors with controllable properties.

This package never imports `msa_tf`.
"""

from generators.multimodal import PRESETS, MultimodalConfig, MultimodalGenerator
from generators.shards import read_shards, write_shards

__all__ = ["PRESETS", "MultimodalConfig", "MultimodalGenerator", "read_shards", "write_shards"]
