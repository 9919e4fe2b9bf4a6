"""Padding and cutting sequences, with their masks, to a number of steps.

One helper for every pipeline: the generator's batches, shards read back, MMSA files
(`msa_tf.data.load_mmsa`) and TFDS data sets. `inputs` is a dict with a
`(batch, steps, ...)` array per modality and its `(batch, steps)` bool mask under
`"<modality>_mask"` (`True` = real step); TensorFlow tensors or NumPy arrays.

Example:
>>> import numpy as np
>>> inputs = {"audio": np.arange(1, 5, dtype="float32").reshape(1, 4, 1),
...           "audio_mask": np.array([[True, True, False, False]])}
>>> fitted = fit_lengths(inputs, {"audio": 6})
>>> fitted["audio"].numpy()[0, :, 0].tolist(), fitted["audio_mask"].numpy()[0].tolist()
([1.0, 2.0, 3.0, 4.0, 0.0, 0.0], [True, True, False, False, False, False])
>>> fit_lengths(inputs, {"audio": None})["audio_mask"].numpy().tolist()
[[True, True]]
"""

import tensorflow as tf


def fit_lengths(inputs, lengths, left=False):
    """`inputs` with each modality named in `lengths` (and its mask) fit to a length.

    Args:
        inputs: a dict of `(batch, steps, ...)` sequences and their `"<name>_mask"`;
            other keys pass through.
        lengths: `{modality: steps or None}`. An int pads (zeros, `False`) or cuts at
            the padded side to that many steps: a static shape (the inputs' steps
            must be static). `None` cuts the steps after the batch's last real step
            (before its first when `left`), keeping at least one.
        left: whether the sequences are padded on the left (real steps at the end).

    Returns:
        A new dict; the sequences and masks named in `lengths` are tensors.
    """
    fitted = dict(inputs)
    for name, length in lengths.items():
        values, mask = tf.convert_to_tensor(inputs[name]), tf.convert_to_tensor(inputs[f"{name}_mask"])
        steps = mask.shape[1]
        if length is None:
            keep = tf.maximum(tf.reduce_max(_real_extent(mask, left)), 1)
            values, mask = _cut(values, mask, keep, left)
        elif steps is None:
            raise ValueError(f"`{name}` needs a static number of steps to be fit to {length}; "
                             f"received shape {values.shape}")
        elif length < steps:
            values, mask = _cut(values, mask, length, left)
        elif length > steps:
            padding = [length - steps, 0] if left else [0, length - steps]
            values = tf.pad(values, [[0, 0], padding] + [[0, 0]] * (len(values.shape) - 2))
            mask = tf.pad(mask, [[0, 0], padding])
        fitted[name], fitted[f"{name}_mask"] = values, mask
    return fitted


def _real_extent(mask, left):
    """Per row, how many steps from the unpadded end reach its last real step."""
    length = tf.shape(mask)[1]
    steps = tf.range(1, length + 1)
    distance = (length + 1 - steps) if left else steps
    return tf.reduce_max(tf.where(mask, distance[None, :], 0), axis=1)


def _cut(values, mask, keep, left):
    if left:
        return values[:, -keep:], mask[:, -keep:]
    return values[:, :keep], mask[:, :keep]
