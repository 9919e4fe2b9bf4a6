import numpy as np
import pytest
from keras import ops

from msa_tf.layers import LowRankFusion, TensorFusion, UnimodalSubnetworks
from msa_tf.testing import run_layer_checks


def _modalities(rng):
    return {
        "text": rng.normal(size=(3, 5, 6)).astype("float32"),
        "audio": rng.normal(size=(3, 6, 4)).astype("float32"),
        "vision": rng.normal(size=(3, 4, 3)).astype("float32"),
        "text_mask": np.array([[1] * 5, [1] * 3 + [0] * 2, [0] * 2 + [1] * 3], bool),
        # Sample 2 has no audio at all.
        "audio_mask": np.array([[1] * 6, [0] * 2 + [1] * 4, [0] * 6], bool),
        "vision_mask": np.array([[1] * 4, [1] * 2 + [0] * 2, [1] * 4], bool),
    }


def _vectors(rng, dims=(3, 2, 4)):
    return [rng.normal(size=(4, d)).astype("float32") for d in dims]


def _numpy(tensors):
    return [np.asarray(ops.convert_to_numpy(t), "float64") for t in tensors]


def test_unimodal_subnetworks_pass_the_layer_checks(rng):
    run_layer_checks(
        UnimodalSubnetworks, {"text_hidden": 4, "audio_hidden": 3, "vision_hidden": 2},
        {"inputs": _modalities(rng)}, large_inputs=False,
    )


# A product of three vectors of magnitude 1e4 (1e12) cannot fit float16: no large inputs.
def test_tensor_fusion_passes_the_layer_checks(rng):
    run_layer_checks(TensorFusion, {}, {"inputs": _vectors(rng)}, large_inputs=False)


def test_low_rank_fusion_passes_the_layer_checks(rng):
    run_layer_checks(
        LowRankFusion, {"rank": 2, "output_dim": 4}, {"inputs": _vectors(rng)}, large_inputs=False
    )


def test_tensor_fusion_is_the_outer_product_of_vectors_with_a_one(rng):
    vectors = _vectors(rng)
    fused = ops.convert_to_numpy(TensorFusion()(vectors))
    t, a, v = (np.concatenate([np.ones((4, 1)), x], axis=1) for x in vectors)
    expected = np.einsum("bi,bj,bk->bijk", t, a, v).reshape(4, -1)
    assert fused.shape == (4, 4 * 3 * 5)
    np.testing.assert_allclose(fused, expected, rtol=1e-5, atol=1e-6)


def test_low_rank_fusion_is_the_rank_r_contraction_of_its_weights(rng):
    vectors = _vectors(rng)
    fusion = LowRankFusion(rank=2, output_dim=5)
    fused = ops.convert_to_numpy(fusion(vectors))
    vectors = _numpy(vectors)
    factors = _numpy(fusion.factors)
    weights, bias = _numpy([fusion.fusion_weights, fusion.fusion_bias])
    with_ones = [np.concatenate([np.ones((len(h), 1)), h], axis=1) for h in vectors]
    # Low-rank form: project each modality by its factors, multiply, sum over the rank.
    projected = [np.einsum("bd,rdo->rbo", z, w) for z, w in zip(with_ones, factors)]
    expected = np.einsum("r,rbo->bo", weights, projected[0] * projected[1] * projected[2]) + bias
    np.testing.assert_allclose(fused, expected, rtol=1e-4, atol=1e-5)
    # The same map as TFN's outer product times the full rank-r weight tensor.
    full = np.einsum("r,rio,rjo,rko->ijko", weights, *factors).reshape(-1, fused.shape[-1])
    outer = ops.convert_to_numpy(TensorFusion()(vectors)).astype("float64")
    np.testing.assert_allclose(fused, outer @ full + bias, rtol=1e-4, atol=1e-5)


def test_missing_modality_reads_as_zeros(rng):
    data = _modalities(rng)
    layer = UnimodalSubnetworks(4, 3, 2)
    missing = dict(data, text_mask=np.zeros_like(data["text_mask"]))
    text_vector = ops.convert_to_numpy(layer(missing)[0])
    # An LSTM that never stepped leaves a zero state: only the Dense bias is left.
    bias = ops.convert_to_numpy(layer.text_dense.bias)
    np.testing.assert_allclose(text_vector, np.broadcast_to(bias, text_vector.shape), atol=1e-6)


def test_text_as_token_ids(rng):
    data = _modalities(rng)
    data["text"] = rng.integers(1, 20, size=data["text_mask"].shape).astype("int32")
    layer = UnimodalSubnetworks(4, 3, 2, text_vocab_size=20)
    assert [tuple(v.shape) for v in layer(data)] == [(3, 4), (3, 3), (3, 2)]
    assert layer.text_embedding.embeddings.shape == (20, 4)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: LowRankFusion(rank=2, output_dim=0), r"`output_dim` must be a positive integer"),
        (lambda: LowRankFusion(rank=2, output_dim=3, bias_initializer="onez"),
         r"`bias_initializer` must be a Keras initializer"),
        (lambda: UnimodalSubnetworks(4, 0, 2), r"`audio_hidden` must be a positive integer"),
        (lambda: UnimodalSubnetworks(4, 3, 2, dropout=1.0), r"`dropout` must be a number in \[0, 1\)"),
        (lambda: TensorFusion()(np.ones((2, 3, 4))), r"must be a list of \(batch, dim\) vectors"),
        (lambda: UnimodalSubnetworks(4, 3, 2)({"text": np.ones((2, 3, 4))}),
         r"The input dict has no 'audio'"),
    ],
)
def test_bad_arguments_and_inputs_raise_value_error(make, message):
    with pytest.raises(ValueError, match=message):
        make()
