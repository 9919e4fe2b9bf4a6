import numpy as np
import pytest

from msa_tf.models import get
from msa_tf.models.msa.components import MODALITIES
from msa_tf.models.msa.mult import MulT
from msa_tf.testing import (
    check_config_round_trip,
    check_gradients,
    check_mixed_precision,
    check_mixed_precision_training,
    check_padding_invariance,
    run_model_checks,
)

from .conftest import SMALL, left_padded

ARGS = dict(SMALL, d_model=8, num_heads=2, cross_layers=1, self_layers=1)
NO_DROPOUT = dict(ARGS, attn_dropout=0.0, embed_dropout=0.0)


def test_passes_the_model_checks(batch):
    run_model_checks(MulT, dict(ARGS, causal=True, conv_kernel_sizes=3, num_classes=3), batch)


def test_default_options_pass_the_checks_without_export_and_xla(batch):
    # The .keras round trip and the XLA fit step (most of the ~40 s above) do not
    # depend on these options; every other standard check runs.
    call_inputs = {"inputs": batch}
    check_config_round_trip(MulT, ARGS)
    model = MulT(**ARGS)
    check_padding_invariance(model, call_inputs)
    check_gradients(model, call_inputs)
    check_mixed_precision(MulT, ARGS, call_inputs, "float32", large_inputs=False)
    check_mixed_precision_training(MulT, ARGS, call_inputs)


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
    left_inputs = left_padded(batch)
    np.testing.assert_allclose(model(left_inputs)["regression"].numpy(), right, atol=1e-5)
    check_padding_invariance(model, {"inputs": batch})
    check_padding_invariance(model, {"inputs": left_inputs})
    # The last real step counts: changing it changes the prediction (a "valid"
    # convolution drops a text shorter than its kernel, so only longer ones count).
    lengths = batch["text_mask"].sum(axis=1)
    changed = dict(batch, text=batch["text"].copy())
    changed["text"][np.arange(len(lengths)), lengths - 1] += 1.0
    moved = np.abs(model(changed)["regression"].numpy()[:, 0] - right[:, 0]) > 1e-6
    assert (lengths >= 3).sum() >= 3 and moved[lengths >= 3].all()


@pytest.mark.parametrize("causal", [True, False])
def test_causal_self_attention_ignores_later_steps(causal):
    model = MulT(**dict(NO_DROPOUT, causal=causal))
    model.build({m: (2, 8, SMALL[f"{'video' if m == 'vision' else m}_dim"]) for m in MODALITIES})
    x = np.random.default_rng(0).normal(size=(2, 8, 16)).astype("float32")
    later = x.copy()
    later[:, 5:] = np.random.default_rng(1).normal(size=(2, 3, 16))
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
