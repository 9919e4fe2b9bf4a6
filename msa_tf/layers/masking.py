"""Padding masks: one convention everywhere.

A mask is a boolean `(batch, time)` tensor, `True` for a real step and `False` for
padding. These helpers make masks, check them against their inputs and combine them
for attention. They use `keras.ops` only.
"""

from keras import ops

from msa_tf.validation import check_choice

PADDING_SIDES = ("right", "left")


def create_padding_mask(inputs=None, *, lengths=None, max_length=None, padding="right"):
    """Makes a boolean `(batch, time)` padding mask.

    Give exactly one of `inputs` or `lengths`.

    Args:
        inputs: padded features `(batch, time, dim)` or token ids `(batch, time)`.
            A step is padding when its row is all zeros (token id 0) and it lies
            in the padded end: after the last non-zero step for `padding="right"`,
            before the first non-zero step for `padding="left"`. All-zero rows
            inside the sequence stay valid.
        lengths: integer `(batch,)` valid lengths.
        max_length: the time dimension of the mask; required with `lengths`.
        padding: `"right"` (padding at the end) or `"left"` (at the start).

    Returns:
        A boolean tensor `(batch, time)`.

    Example:
    >>> create_padding_mask(lengths=[1, 3], max_length=3).numpy().tolist()
    [[True, False, False], [True, True, True]]
    >>> create_padding_mask(lengths=[1], max_length=3, padding="left").numpy().tolist()
    [[False, False, True]]
    >>> x = [[[0.0], [2.0], [0.0], [3.0], [0.0]]]
    >>> create_padding_mask(x).numpy().tolist()
    [[True, True, True, True, False]]
    """
    check_choice("padding", padding, PADDING_SIDES)
    if (inputs is None) == (lengths is None):
        raise ValueError(
            "`create_padding_mask` needs exactly one of `inputs` or `lengths`; "
            f"received inputs={'None' if inputs is None else 'a tensor'}, "
            f"lengths={'None' if lengths is None else 'a tensor'}"
        )
    if lengths is not None:
        if max_length is None:
            raise ValueError("`max_length` is required with `lengths`; received max_length=None")
        lengths = ops.convert_to_tensor(lengths)
        if len(lengths.shape) != 1:
            raise ValueError(
                f"`lengths` must have shape (batch,); received shape {tuple(lengths.shape)}"
            )
        positions = ops.arange(max_length)[None, :]
        lengths = ops.cast(lengths, positions.dtype)[:, None]
        if padding == "right":
            return positions < lengths
        return positions >= max_length - lengths

    inputs = ops.convert_to_tensor(inputs)
    if len(inputs.shape) not in (2, 3):
        raise ValueError(
            "`inputs` must have shape (batch, time) or (batch, time, dim); "
            f"received shape {tuple(inputs.shape)}"
        )
    nonzero = ops.not_equal(inputs, ops.zeros((), inputs.dtype))
    if len(inputs.shape) == 3:
        nonzero = ops.any(nonzero, axis=-1)
    # A step is valid when a non-zero step lies at or beyond it (right padding),
    # or at or before it (left padding): cumulative "any" from the padded end.
    as_int = ops.cast(nonzero, "int32")
    if padding == "right":
        return ops.flip(ops.cumsum(ops.flip(as_int, axis=1), axis=1), axis=1) > 0
    return ops.cumsum(as_int, axis=1) > 0


def check_mask(mask, inputs, name="mask"):
    """Checks that `mask` fits `inputs` `(batch, time, ...)` and returns it as bool.

    Returns `None` for `mask=None`. Raises `ValueError` naming `name` when the rank
    or a known dimension differs.
    """
    if mask is None:
        return None
    mask_shape = tuple(mask.shape)
    expected = tuple(inputs.shape[:2])
    fits = len(mask_shape) == 2 and all(
        m is None or e is None or m == e for m, e in zip(mask_shape, expected)
    )
    if not fits:
        raise ValueError(
            f"`{name}` must be a boolean (batch, time) mask matching its inputs, "
            f"shape {expected}; received {name} with shape {mask_shape}"
        )
    if mask.dtype != "bool":
        mask = ops.cast(mask, "bool")
    return mask


def attention_mask(query_mask, key_mask, query_length, key_length, causal=False):
    """Combines padding masks (and a causal mask) into a boolean attention mask.

    Returns `None` when there is nothing to mask, else a tensor broadcastable to
    `(batch, query_length, key_length)`; `True` lets a query step attend to a key step.
    """
    mask = None
    if key_mask is not None:
        mask = key_mask[:, None, :]
    if query_mask is not None:
        query_part = query_mask[:, :, None]
        mask = query_part if mask is None else ops.logical_and(mask, query_part)
    if causal:
        rows = ops.arange(query_length)[:, None]
        cols = ops.arange(key_length)[None, :]
        lower = (cols <= rows)[None, :, :]
        mask = lower if mask is None else ops.logical_and(mask, lower)
    return mask
