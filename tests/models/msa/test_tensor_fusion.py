import numpy as np
import pytest
from keras import ops

from msa_tf.models import get
from msa_tf.models.msa.tensor_fusion import LMF, TFN, LowRankFusion, TensorFusion
from msa_tf.testing import run_model_checks

from .conftest import SMALL, left_padded

ARGS = dict(SMALL, text_hidden=6, audio_hidden=4, vision_hidden=3, post_fusion_dim=8, dropout=0.0)


def _numpy(tensors):
    return [np.asarray(ops.convert_to_numpy(t), "float64") for t in tensors]


def test_tfn_passes_the_model_checks(batch):
    run_model_checks(TFN, dict(ARGS, num_classes=3), batch)


def test_lmf_passes_the_model_checks(batch):
    run_model_checks(LMF, dict(ARGS, rank=2), batch)


def test_tensor_fusion_is_the_outer_product_of_vectors_with_a_one(rng):
    vectors = [rng.normal(size=(4, d)).astype("float32") for d in (3, 2, 4)]
    fused = ops.convert_to_numpy(TensorFusion()(vectors))
    t, a, v = (np.concatenate([np.ones((4, 1)), x], axis=1) for x in vectors)
    expected = np.einsum("bi,bj,bk->bijk", t, a, v).reshape(4, -1)
    assert fused.shape == (4, 4 * 3 * 5)
    np.testing.assert_allclose(fused, expected, rtol=1e-5, atol=1e-6)


def test_lmf_fusion_is_the_rank_r_contraction_of_its_weights(batch):
    model = LMF(**dict(ARGS, rank=2))
    model(batch)
    vectors = _numpy(model.subnetworks(batch))
    fused = ops.convert_to_numpy(model.fusion(vectors))
    factors = _numpy(model.fusion.factors)
    weights, bias = _numpy([model.fusion.fusion_weights, model.fusion.fusion_bias])
    with_ones = [np.concatenate([np.ones((len(h), 1)), h], axis=1) for h in vectors]
    # Low-rank form: project each modality by its factors, multiply, sum over the rank.
    projected = [np.einsum("bd,rdo->rbo", z, w) for z, w in zip(with_ones, factors)]
    expected = np.einsum("r,rbo->bo", weights, projected[0] * projected[1] * projected[2]) + bias
    np.testing.assert_allclose(fused, expected, rtol=1e-4, atol=1e-5)
    # The same map as TFN's outer product times the full rank-r weight tensor.
    full = np.einsum("r,rio,rjo,rko->ijko", weights, *factors).reshape(-1, fused.shape[-1])
    outer = ops.convert_to_numpy(TensorFusion()(vectors)).astype("float64")
    np.testing.assert_allclose(fused, outer @ full + bias, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("model_cls, extra", [(TFN, {}), (LMF, {"rank": 2})], ids=["tfn", "lmf"])
def test_left_and_right_padding_give_the_same_outputs(batch, model_cls, extra):
    model = model_cls(**ARGS, **extra)
    right = model(batch)
    left = model(left_padded(batch))
    for key in right:
        np.testing.assert_allclose(ops.convert_to_numpy(left[key]), ops.convert_to_numpy(right[key]),
                                   rtol=1e-5, atol=1e-5)


def test_missing_modality_reads_as_zeros(batch):
    model = TFN(**ARGS)
    missing = dict(batch, text_mask=np.zeros_like(batch["text_mask"]))
    text_vector = ops.convert_to_numpy(model.subnetworks(missing)[0])
    # An LSTM that never stepped leaves a zero state: only the Dense bias is left.
    bias = ops.convert_to_numpy(model.subnetworks.text_dense.bias)
    np.testing.assert_allclose(text_vector, np.broadcast_to(bias, text_vector.shape), atol=1e-6)


def test_token_text_input(batch):
    ids = np.random.default_rng(0).integers(1, 50, size=batch["text_mask"].shape) * batch["text_mask"]
    model = TFN(**dict(ARGS, text_vocab_size=50, num_classes=2))
    out = model(dict(batch, text=ids.astype("int32")))
    assert out["regression"].shape == (6, 1) and out["classification"].shape == (6, 2)


def test_registered_names_build_the_models():
    assert isinstance(get("tfn", **ARGS), TFN)
    assert isinstance(get("lmf", **ARGS), LMF)


@pytest.mark.parametrize(
    "model_cls, kwargs, message",
    [
        (TFN, {"text_hidden": 0}, r"`text_hidden` must be a positive integer; received text_hidden=0"),
        (TFN, {"post_fusion_dim": None}, r"`post_fusion_dim` must be a positive integer"),
        (TFN, {"dropout": 1.5}, r"`dropout` must be a number in \[0, 1\); received dropout=1.5"),
        (TFN, {"audio_dim": "6"}, r"`audio_dim` must be a positive integer"),
        (TFN, {"seq_len": {"text": 8}}, r"`seq_len` must be one value or a dict with the keys"),
        (LMF, {"rank": 0}, r"`rank` must be a positive integer; received rank=0"),
        (LMF, {"num_classes": 0}, r"`num_classes` must be a positive integer"),
    ],
)
def test_bad_arguments_raise_value_error(model_cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        model_cls(**dict(ARGS, **kwargs))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"audio_dim": 7},
         r"last dimension of `audio` must equal `audio_dim`=7; received audio with shape \(6, 8, 6\)"),
        ({"seq_len": 4}, r"`text` has 8 steps, more than `seq_len`=4 allows"),
        ({"text_vocab_size": 50},
         r"`text` must be \(batch, time\) token ids; received text with shape"),
    ],
)
def test_inputs_that_contradict_the_arguments_raise_value_error(batch, kwargs, message):
    with pytest.raises(ValueError, match=message):
        LMF(**dict(ARGS, **kwargs))(batch)


def test_fusion_layers_reject_bad_arguments():
    with pytest.raises(ValueError, match=r"`output_dim` must be a positive integer"):
        LowRankFusion(rank=2, output_dim=0)
    with pytest.raises(ValueError, match=r"must be a list of \(batch, dim\) vectors"):
        TensorFusion()(np.ones((2, 3, 4)))
