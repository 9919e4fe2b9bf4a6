"""The multimodal input dict: `text`, `audio`, `vision` and their optional masks.

>>> inputs = {"text": np.ones((2, 3, 4)), "audio": np.ones((2, 5, 2)),
...           "vision": np.ones((2, 4, 3)),
...           "audio_mask": create_padding_mask(lengths=[5, 2], max_length=5)}
>>> {m: tuple(mask.shape) for m, (sequence, mask) in modality_inputs(inputs).items()}
{'text': (2, 3), 'audio': (2, 5), 'vision': (2, 4)}
>>> modality_inputs({"text": np.ones((2, 3, 4))})
Traceback (most recent call last):
...
ValueError: The input dict has no 'audio'; received keys ['text']
"""

from keras import ops

from msa_tf.layers.masking import check_mask
from msa_tf.modalities import MODALITIES, mask_key


def check_shape_list(layer_name, inputs_shape, rank, what):
    """Raises `ValueError` unless `inputs_shape` is a non-empty list of rank-`rank` shapes
    with known last dimensions; `what` describes them (e.g. "(batch, dim) vectors").

    >>> check_shape_list("TensorFusion", [(2, 3), (2, 3, 4)], 2, "(batch, dim) vectors")
    Traceback (most recent call last):
    ...
    ValueError: `inputs` of TensorFusion must be a list of (batch, dim) vectors with known sizes; \
received shapes [(2, 3), (2, 3, 4)]
    """
    if not isinstance(inputs_shape, (list, tuple)) or not inputs_shape or not all(
        isinstance(shape, (list, tuple)) and len(shape) == rank and shape[-1] is not None
        for shape in inputs_shape
    ):
        raise ValueError(f"`inputs` of {layer_name} must be a list of {what} with known sizes; "
                         f"received shapes {inputs_shape}")


def check_modalities(inputs, modalities=MODALITIES):
    """Raises `ValueError` unless `inputs` (tensors or shapes) is a dict with `modalities`."""
    if not isinstance(inputs, dict):
        raise ValueError(
            f"The inputs must be a dict with the keys {tuple(modalities)} and their masks; "
            f"received {type(inputs).__name__}"
        )
    for modality in modalities:
        if modality not in inputs:
            raise ValueError(f"The input dict has no {modality!r}; received keys {sorted(inputs)}")


def modality_inputs(inputs, modalities=MODALITIES):
    """`{modality: (sequence, mask)}` from the input dict.

    The dict holds each of `modalities` and optionally its boolean mask at
    `mask_key(modality)` (`"<modality>_mask"`, `True` = real step); a missing mask
    means every step is real. Raises `ValueError` naming a missing modality or a mask
    that does not fit its sequence.
    """
    check_modalities(inputs, modalities)
    parsed = {}
    for modality in modalities:
        sequence = inputs[modality]
        mask = check_mask(inputs.get(mask_key(modality)), sequence, mask_key(modality))
        if mask is None:
            mask = ops.ones(ops.shape(sequence)[:2], dtype="bool")
        parsed[modality] = (sequence, mask)
    return parsed
