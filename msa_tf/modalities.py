"""The modality names of the multimodal inputs, and the key of each one's mask.

Every part of msa_tf that reads or writes multimodal inputs uses these names: a data
set yields `{"text": ..., "audio": ..., "vision": ..., "text_mask": ..., ...}`.
(`generators` defines the same names itself: it imports nothing of msa_tf.)

>>> MODALITIES, mask_key("audio"), INPUT_KEYS[-1]
(('text', 'audio', 'vision'), 'audio_mask', 'vision_mask')
"""

MODALITIES = ("text", "audio", "vision")


def mask_key(modality):
    """The input key of `modality`'s boolean padding mask: `"<modality>_mask"`."""
    return f"{modality}_mask"


INPUT_KEYS = (*MODALITIES, *(mask_key(m) for m in MODALITIES))
