"""Procedural dataset generators: synthetic modality tensors with controllable properties.

This package never imports `msa_tf`.
"""

from generators.av_clips import AVClipGenerator
from generators.av_files import write_clips
from generators.multimodal import PRESETS, MultimodalConfig, MultimodalGenerator
from generators.sequences import FAMILIES, SequenceGenerator, family_names, leakage, make_generator
from generators.shards import read_shards, write_shards

__all__ = ["FAMILIES", "PRESETS", "AVClipGenerator", "MultimodalConfig", "MultimodalGenerator",
           "SequenceGenerator", "family_names", "leakage", "make_generator", "read_shards", "write_clips",
           "write_shards"]
