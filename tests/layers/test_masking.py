import numpy as np
import pytest
from keras import ops

from msa_tf.layers import create_padding_mask
from msa_tf.layers.masking import attention_mask, check_mask


@pytest.mark.parametrize(
    "padding, expected",
    [
        ("right", [[1, 1, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0]]),
        ("left", [[0, 0, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0]]),
    ],
)
def test_mask_from_lengths(padding, expected):
    mask = create_padding_mask(lengths=np.array([2, 4, 0]), max_length=4, padding=padding)
    assert ops.convert_to_numpy(mask).astype(int).tolist() == expected


@pytest.mark.parametrize(
    "padding, expected",
    [
        ("right", [True, True, True, True, False, False]),
        ("left", [False, True, True, True, True, True]),
    ],
)
def test_mask_from_zero_rows_keeps_interior_zero_rows(padding, expected):
    rows = [0.0, 1.0, 0.0, 2.0, 0.0, 0.0] if padding == "right" else [0, 1, 0, 2, 0, 3]
    x = np.zeros((1, 6, 3), "float32")
    x[0, :, 1] = rows
    mask = create_padding_mask(x, padding=padding)
    assert ops.convert_to_numpy(mask)[0].tolist() == expected


def test_mask_from_token_ids():
    ids = np.array([[5, 9, 0, 0], [0, 0, 0, 0]])
    mask = ops.convert_to_numpy(create_padding_mask(ids))
    assert mask.tolist() == [[True, True, False, False], [False] * 4]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "exactly one of `inputs` or `lengths`"),
        ({"inputs": np.ones((1, 2, 3)), "lengths": [1]}, "exactly one"),
        ({"lengths": [1]}, "`max_length` is required"),
        ({"lengths": [1], "max_length": 3, "padding": "middle"}, "`padding` must be one of"),
        ({"inputs": np.ones((2,))}, "`inputs` must have shape"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        create_padding_mask(**kwargs)


def test_check_mask_rejects_mismatched_shape():
    with pytest.raises(ValueError, match=r"`audio_mask`.*\(2, 5\).*\(2, 4\)"):
        check_mask(np.ones((2, 4), bool), np.ones((2, 5, 3)), "audio_mask")


def test_attention_mask_combines_padding_and_causality():
    query_mask = np.array([[True, True, False]])
    key_mask = np.array([[True, False, True]])
    mask = ops.convert_to_numpy(attention_mask(query_mask, key_mask, 3, 3, causal=True))
    expected = np.array([[[1, 0, 0], [1, 0, 0], [0, 0, 0]]], bool)
    np.testing.assert_array_equal(mask, expected)
    assert attention_mask(None, None, 3, 3) is None
