import numpy as np
import pytest

from msa_tf.models import get
from msa_tf.models.msa.components import MODALITIES
from msa_tf.models.msa.mult import MulT
from msa_tf.testing import check_padding_invariance, run_model_checks

from .conftest import SMALL

ARGS = dict(SMALL, d_model=8, num_heads=2, cross_layers=1, self_layers=1)
NO_DROPOUT = dict(ARGS, attn_dropout=0.0, embed_dropout=0.0)


@pytest.mark.parametrize(
    "options",
    [{}, {"causal": True, "conv_kernel_sizes": 3, "num_classes": 3}],
    ids=["default_options", "causal_kernel3_two_heads"],
)
def test_passes_the_model_checks(batch, options):
    run_model_checks(MulT, dict(ARGS, **options), batch)


def _left_padded(inputs):
    """The same sequences with their real steps moved to the end of each row."""
    moved = dict(inputs)
    for m in MODALITIES:
        mask = inputs[f"{m}_mask"]
        lengths = mask.sum(axis=1)
        moved[m] = np.stack([np.roll(x, n, axis=0) for x, n in zip(inputs[m], mask.shape[1] - lengths)])
        moved[f"{m}_mask"] = np.stack([np.roll(row, n) for row, n in zip(mask, mask.shape[1] - lengths)])
    return moved


@pytest.mark.parametrize(
    "conv",
    [
        {"conv_kernel_sizes": 1},
        {"conv_kernel_sizes": {"text": 3, "audio": 2, "vision": 1}},
        {"conv_kernel_sizes": 3, "conv_padding": "valid"},
        {"conv_kernel_sizes": 2, "conv_padding": "causal"},
    ],
    ids=["kernel1", "same_kernels_per_modality", "valid_kernel3", "causal_conv_kernel2"],
)
def test_prediction_reads_the_last_real_step_whatever_the_padding_side(batch, conv):
    assert batch["text_mask"][:, 0].all() and not batch["text_mask"][:, -1].all(), "right padding"
    model = MulT(**dict(NO_DROPOUT, **conv))
    right = model(batch)["regression"].numpy()
    left_inputs = _left_padded(batch)
    np.testing.assert_allclose(model(left_inputs)["regression"].numpy(), right, atol=1e-5)
    check_padding_invariance(model, {"inputs": left_inputs})
    # The last real step counts: changing it changes the prediction.
    last = batch["text_mask"].sum(axis=1) - 1
    changed = dict(batch, text=batch["text"].copy())
    changed["text"][np.arange(len(last)), last] += 1.0
    assert np.all(np.abs(model(changed)["regression"].numpy() - right) > 1e-6)


@pytest.mark.parametrize("causal", [True, False])
def test_causal_self_attention_ignores_later_steps(causal):
    model = MulT(**dict(NO_DROPOUT, causal=causal))
    model.build({m: (2, 8, SMALL[f"{'video' if m == 'vision' else m}_dim"]) for m in MODALITIES})
    x = np.random.default_rng(0).normal(size=(2, 8, 16)).astype("float32")
    later = x.copy()
    later[:, 5:] += 3.0
    for block in model.self_blocks["audio"]:
        before, after = block(x).numpy(), block(later).numpy()
        assert np.allclose(before[:, :5], after[:, :5], atol=1e-5) == causal
        assert not np.allclose(before[:, 5:], after[:, 5:])


def test_token_text_input_ignores_padded_ids(batch):
    mask = batch["text_mask"]
    ids = np.random.default_rng(0).integers(1, 50, size=mask.shape) * mask
    inputs = dict(batch, text=ids.astype("int32"))
    model = MulT(**dict(NO_DROPOUT, text_vocab_size=50))
    assert model(inputs)["regression"].shape == (6, 1)
    # Padded ids may be anything, even outside the vocabulary.
    check_padding_invariance(model, {"inputs": inputs})


def test_is_registered_as_mult():
    assert isinstance(get("mult", **ARGS), MulT)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"d_model": 10, "num_heads": 4}, r"`d_model` must be a multiple of `num_heads`=4; received d_model=10"),
        ({"conv_kernel_sizes": 0}, r"`conv_kernel_sizes\['text'\]` must be a positive integer; received"),
        ({"conv_kernel_sizes": {"text": 3}}, r"`conv_kernel_sizes` must be one value or a dict with the keys"),
        ({"conv_kernel_sizes": 9, "conv_padding": "valid"}, r"`conv_kernel_sizes\['text'\]` must be at most"),
        ({"conv_padding": "full"}, r"`conv_padding` must be one of 'same', 'valid', 'causal'"),
        ({"attn_dropout": -0.1}, r"`attn_dropout` must be a number in \[0, 1\); received attn_dropout=-0.1"),
        ({"embed_dropout": 1.0}, r"`embed_dropout` must be a number in \[0, 1\)"),
        ({"cross_layers": 0}, r"`cross_layers` must be a positive integer; received cross_layers=0"),
        ({"num_classes": 0}, r"`num_classes` must be a positive integer"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MulT(**dict(ARGS, **kwargs))


def test_missing_modality_key_is_named(batch):
    with pytest.raises(ValueError, match=r"The input dict has no 'vision'"):
        MulT(**ARGS)({k: v for k, v in batch.items() if not k.startswith("vision")})
