"""Procedural dataset generators: synthetic modality tensors with controllable properties."""
