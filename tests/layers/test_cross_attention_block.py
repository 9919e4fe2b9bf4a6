import numpy as np
import pytest
from keras import ops

from msa_tf.layers import CrossAttentionBlock
from msa_tf.testing import run_layer_checks


def _inputs(rng):
    return {
        "query": rng.normal(size=(3, 5, 16)).astype("float32"),
        "context": rng.normal(size=(3, 7, 6)).astype("float32"),
        "query_mask": np.array([[1] * 5, [1] * 2 + [0] * 3, [1] * 5], bool),
        # The third sample's context is missing altogether.
        "context_mask": np.array([[1] * 7, [0] * 3 + [1] * 4, [0] * 7], bool),
    }


@pytest.mark.parametrize("norm_first", [True, False], ids=["pre_norm", "post_norm"])
def test_passes_the_layer_checks(rng, norm_first):
    run_layer_checks(
        CrossAttentionBlock,
        {"width": 16, "num_heads": 2, "norm_first": norm_first},
        _inputs(rng),
        output_masks="query_mask",
    )


def test_output_depends_on_the_context(rng):
    data = _inputs(rng)
    block = CrossAttentionBlock(width=16, num_heads=2)
    first = ops.convert_to_numpy(block(data["query"], data["context"]))
    other_context = rng.normal(size=data["context"].shape).astype("float32")
    second = ops.convert_to_numpy(block(data["query"], other_context))
    assert np.abs(first - second).max() > 1e-2


def test_rejects_a_context_mask_of_the_wrong_shape(rng):
    data = _inputs(rng)
    with pytest.raises(ValueError, match=r"`context_mask`.*\(3, 7\).*\(3, 5\)"):
        CrossAttentionBlock(width=16, num_heads=2)(
            data["query"], data["context"], context_mask=data["query_mask"]
        )


def test_rejects_a_query_of_another_width():
    with pytest.raises(ValueError, match=r"`query` must equal `width`=16"):
        CrossAttentionBlock(width=16, num_heads=2)(np.ones((1, 2, 4)), np.ones((1, 3, 16)))
