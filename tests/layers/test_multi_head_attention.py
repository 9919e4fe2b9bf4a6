import keras
import numpy as np
import pytest
from keras import ops

from msa_tf.layers import MaskedMultiHeadAttention
from msa_tf.testing import run_layer_checks


def _inputs(rng):
    query = rng.normal(size=(3, 5, 8)).astype("float32")
    value = rng.normal(size=(3, 7, 6)).astype("float32")
    query_mask = np.array([[1] * 5, [1] * 3 + [0] * 2, [1] * 5], bool)
    value_mask = np.array([[1] * 7, [1] * 4 + [0] * 3, [0] * 7], bool)
    return {"query": query, "value": value, "query_mask": query_mask, "value_mask": value_mask}


def test_passes_the_layer_checks(rng):
    run_layer_checks(
        MaskedMultiHeadAttention,
        {"width": 8, "num_heads": 2},
        _inputs(rng),
        output_masks="query_mask",
    )


def _reference(layer, query, value, value_mask):
    """Attention written out in NumPy from the layer's own weights."""
    wq, bq = [ops.convert_to_numpy(w) for w in layer.query_dense.weights]
    wk = ops.convert_to_numpy(layer.key_dense.weights[0])
    wv, bv = [ops.convert_to_numpy(w) for w in layer.value_dense.weights]
    wo, bo = [ops.convert_to_numpy(w) for w in layer.output_dense.weights]
    q = np.einsum("btd,dhk->bthk", query, wq) + bq
    k = np.einsum("btd,dhk->bthk", value, wk)
    v = np.einsum("btd,dhk->bthk", value, wv) + bv
    scores = np.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(q.shape[-1])
    scores = np.where(value_mask[:, None, None, :], scores, -np.inf)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    context = np.einsum("bhqk,bkhd->bqhd", weights, v)
    return np.einsum("bqhd,hde->bqe", context, wo) + bo


def test_matches_a_numpy_reference(rng):
    data = _inputs(rng)
    layer = MaskedMultiHeadAttention(width=8, num_heads=2)
    out, scores = layer(data["query"], data["value"], value_mask=data["value_mask"],
                        return_attention_scores=True)
    want = _reference(layer, data["query"][:2], data["value"][:2], data["value_mask"][:2])
    np.testing.assert_allclose(ops.convert_to_numpy(out)[:2], want, rtol=1e-4, atol=1e-5)
    scores = ops.convert_to_numpy(scores)
    np.testing.assert_allclose(scores[:2].sum(-1), 1.0, rtol=1e-5)
    assert scores.dtype == np.float32


def test_all_padded_context_gives_zero_context(rng):
    data = _inputs(rng)
    layer = MaskedMultiHeadAttention(width=8, num_heads=2)
    out, scores = layer(data["query"], data["value"], value_mask=data["value_mask"],
                        return_attention_scores=True)
    assert np.all(ops.convert_to_numpy(scores)[2] == 0.0)
    bias = ops.convert_to_numpy(layer.output_dense.weights[1])
    np.testing.assert_allclose(ops.convert_to_numpy(out)[2], np.broadcast_to(bias, (5, 8)))


def test_padded_queries_get_zero_context_and_leave_real_ones_alone(rng):
    data = _inputs(rng)
    layer = MaskedMultiHeadAttention(width=8, num_heads=2)
    query_mask = np.arange(5)[None, :] < np.array([[5], [3], [1]])
    out, scores = layer(data["query"], data["value"], query_mask=query_mask,
                        value_mask=data["value_mask"], return_attention_scores=True)
    unmasked = layer(data["query"], data["value"], value_mask=data["value_mask"])
    out, unmasked, scores = (ops.convert_to_numpy(t) for t in (out, unmasked, scores))
    np.testing.assert_allclose(out[query_mask], unmasked[query_mask], rtol=1e-6)
    bias = ops.convert_to_numpy(layer.output_dense.weights[1])
    np.testing.assert_allclose(out[~query_mask], np.broadcast_to(bias, out[~query_mask].shape))
    assert np.all(scores.transpose(0, 2, 1, 3)[~query_mask] == 0.0)


def test_causal_attention_ignores_future_steps(rng):
    x = rng.normal(size=(1, 6, 8)).astype("float32")
    changed = x.copy()
    changed[:, 4:] = rng.normal(size=(1, 2, 8))
    layer = MaskedMultiHeadAttention(width=8, num_heads=4)
    before = ops.convert_to_numpy(layer(x, x, causal=True))
    after = ops.convert_to_numpy(layer(changed, changed, causal=True))
    np.testing.assert_allclose(before[:, :4], after[:, :4], rtol=1e-6)
    assert np.abs(before[:, 4:] - after[:, 4:]).max() > 1e-2


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"width": 10, "num_heads": 4}, r"`width` must be a multiple of `num_heads`=4; received width=10"),
        ({"width": 8, "num_heads": 0}, r"`num_heads` must be a positive integer; received num_heads=0"),
        ({"width": 8, "num_heads": 2, "dropout": -0.1}, r"`dropout` must be a number in \[0, 1\)"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MaskedMultiHeadAttention(**kwargs)


def test_a_functional_model_gets_the_outputs_and_the_float32_scores():
    query, value = keras.Input((5, 8)), keras.Input((7, 6))
    layer = MaskedMultiHeadAttention(width=8, num_heads=2)
    outputs, scores = layer(query, value, return_attention_scores=True)
    assert (outputs.shape, outputs.dtype) == ((None, 5, 8), "float32")
    assert (scores.shape, scores.dtype) == ((None, 2, 5, 7), "float32")
    assert layer.compute_output_shape((3, 5, 8), (3, 7, 6)) == (3, 5, 8)
