import keras
import numpy as np
import pytest
from keras import ops

from msa_tf.layers import MaskedPooling, TransformerBlock
from msa_tf.testing import run_layer_checks


def _inputs(rng):
    x = rng.normal(size=(3, 6, 16)).astype("float32")
    mask = np.array([[1] * 6, [1] * 3 + [0] * 3, [0] * 2 + [1] * 4], bool)
    return {"inputs": x, "mask": mask}


@pytest.mark.parametrize(
    "options",
    [{"norm_first": True}, {"norm_first": False, "activation": "relu"}, {"causal": True, "ff_dim": 8}],
    ids=["pre_norm", "post_norm", "causal"],
)
def test_passes_the_layer_checks(rng, options):
    run_layer_checks(
        TransformerBlock, {"width": 16, "num_heads": 4, **options}, _inputs(rng), output_masks="mask"
    )


def test_post_norm_outputs_are_normalised(rng):
    block = TransformerBlock(width=16, num_heads=4, norm_first=False)
    out = ops.convert_to_numpy(block(_inputs(rng)["inputs"] * 50.0))
    np.testing.assert_allclose(out.mean(-1), 0.0, atol=1e-4)
    np.testing.assert_allclose(out.std(-1), 1.0, atol=1e-2)


def test_causal_block_ignores_future_steps(rng):
    x = _inputs(rng)["inputs"]
    changed = x.copy()
    changed[:, 3:] += 5.0
    block = TransformerBlock(width=16, num_heads=4, causal=True)
    before, after = ops.convert_to_numpy(block(x)), ops.convert_to_numpy(block(changed))
    np.testing.assert_allclose(before[:, :3], after[:, :3], rtol=1e-5, atol=1e-6)


def test_keras_implicit_masking_matches_explicit_mask(rng):
    ids = np.array([[4, 7, 2, 0, 0], [3, 0, 0, 0, 0]])
    embed = keras.layers.Embedding(10, 8, mask_zero=True)
    block = TransformerBlock(width=8, num_heads=2)
    pool = MaskedPooling("mean")
    inputs = keras.Input((5,), dtype="int32")
    model = keras.Model(inputs, pool(block(embed(inputs))))
    implicit = ops.convert_to_numpy(model(ids))
    mask = ids != 0
    explicit = ops.convert_to_numpy(pool(block(embed(ids), mask=mask), mask=mask))
    np.testing.assert_allclose(implicit, explicit, rtol=1e-5, atol=1e-6)
    # Looked up by hand, the vectors carry no Keras mask.
    vectors = ops.take(embed.embeddings, ids, axis=0)
    unmasked = ops.convert_to_numpy(MaskedPooling("mean")(block(vectors)))
    assert np.abs(implicit - unmasked).max() > 1e-2


def test_residual_dropout_is_its_own_rate_and_defaults_to_dropout(rng):
    x = _inputs(rng)["inputs"]
    residual_only = TransformerBlock(width=16, num_heads=4, residual_dropout=0.5)
    inference = ops.convert_to_numpy(residual_only(x))
    assert not np.allclose(ops.convert_to_numpy(residual_only(x, training=True)), inference)
    weights_only = TransformerBlock.from_config(
        TransformerBlock(width=16, num_heads=4, dropout=0.5, residual_dropout=0.0).get_config())
    weights_only(x)
    assert (weights_only.attention.dropout, weights_only.sublayer_dropout.rate) == (0.5, 0.0)
    assert TransformerBlock(width=16, num_heads=4, dropout=0.3).residual_dropout == 0.3


def test_rejects_inputs_of_another_width():
    message = r"`inputs` must equal `width`=16; received inputs with shape \(2, 3, 8\)"
    with pytest.raises(ValueError, match=message):
        TransformerBlock(width=16, num_heads=4)(np.ones((2, 3, 8)))


def test_rejects_a_mask_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"`mask` must be a boolean \(batch, time\) mask"):
        TransformerBlock(width=8, num_heads=2)(np.ones((2, 3, 8)), mask=np.ones((2, 4), bool))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"width": 30, "num_heads": 4}, r"`width` must be a multiple of `num_heads`=4; received width=30"),
        ({"width": 8, "num_heads": 2, "dropout": -0.5}, r"`dropout`.*received dropout=-0.5"),
        ({"width": 8, "num_heads": 2, "dropout": 1.0}, r"`dropout`.*received dropout=1.0"),
        ({"width": 8, "num_heads": 2, "ff_dim": 0}, r"`ff_dim` must be a positive integer"),
        ({"width": 8, "num_heads": 2, "residual_dropout": 1.0},
         r"`residual_dropout`.*received residual_dropout=1.0"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TransformerBlock(**kwargs)
