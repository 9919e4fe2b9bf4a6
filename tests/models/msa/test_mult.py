import numpy as np
import pytest
from keras import ops

from msa_tf.modalities import MODALITIES
from msa_tf.models import get
from msa_tf.models.msa.mult import MulT
from msa_tf.testing import (
    check_config_round_trip,
    check_gradients,
    check_mixed_precision,
    check_mixed_precision_training,
    check_padding_invariance,
    run_model_checks,
)

from .conftest import SMALL, left_padded, without_data_arguments

ARGS = dict(SMALL, model_dim=8, num_heads=2, num_cross_layers=1, num_layers=1)
NO_DROPOUT = dict(ARGS, attention_dropout=0.0, embedding_dropout=0.0)


def test_passes_the_model_checks(batch):
    dropouts = dict(attention_dropout={"text": 0.2, "audio": 0.0, "vision": 0.1},
                    residual_dropout=0.0, text_dropout=0.3)
    run_model_checks(MulT, dict(ARGS, causal=True, conv_kernel_sizes=3, num_classes=3, **dropouts),
                     batch)


def test_dropout_rates_reach_their_stacks_as_in_mult():
    model = MulT(**dict(ARGS, attention_dropout={"text": 0.4, "audio": 0.1, "vision": 0.0},
                        residual_dropout=0.05, embedding_dropout=0.0, text_dropout=0.3))
    rates = {direction: blocks[0].dropout for direction, blocks in model.cross_blocks.items()}
    assert rates == {"text_from_audio": 0.1, "text_from_vision": 0.0, "audio_from_text": 0.4,
                     "audio_from_vision": 0.0, "vision_from_text": 0.4, "vision_from_audio": 0.1}
    self_blocks = [blocks[0] for blocks in model.self_blocks.values()]
    assert {block.dropout for block in self_blocks} == {0.4}
    every_block = self_blocks + [blocks[0] for blocks in model.cross_blocks.values()]
    assert {block.residual_dropout for block in every_block} == {0.05}
    assert (model.text_features_dropout.rate, model.embedded_dropout.rate) == (0.3, 0.0)
    default = MulT(**dict(ARGS, attention_dropout=0.2, embedding_dropout=0.1))
    assert default.self_blocks["text"][0].residual_dropout == 0.2
    assert default.text_features_dropout.rate == 0.1


def test_default_options_pass_the_checks_without_export_and_xla(batch):
    # The .keras round trip and the XLA fit step (most of the ~40 s above) do not
    # depend on these options; every other standard check runs.
    call_inputs, args = {"inputs": batch}, without_data_arguments(ARGS)
    check_config_round_trip(MulT, args)
    model = MulT(**args)
    check_padding_invariance(model, call_inputs)
    check_gradients(model, call_inputs)
    check_mixed_precision(MulT, args, call_inputs, "float32", large_inputs=False)
    check_mixed_precision_training(MulT, args, call_inputs)


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
    right = ops.convert_to_numpy(model(batch)["regression"])
    left_inputs = left_padded(batch)
    np.testing.assert_allclose(ops.convert_to_numpy(model(left_inputs)["regression"]), right, atol=1e-5)
    check_padding_invariance(model, {"inputs": batch})
    check_padding_invariance(model, {"inputs": left_inputs})
    # The last real step counts: changing it changes the prediction (a "valid"
    # convolution drops a text shorter than its kernel, so only longer ones count).
    lengths = batch["text_mask"].sum(axis=1)
    changed = dict(batch, text=batch["text"].copy())
    changed["text"][np.arange(len(lengths)), lengths - 1] += 1.0
    moved = np.abs(ops.convert_to_numpy(model(changed)["regression"])[:, 0] - right[:, 0]) > 1e-6
    assert (lengths >= 3).sum() >= 3 and moved[lengths >= 3].all()


@pytest.mark.parametrize("causal", [True, False])
def test_causal_self_attention_ignores_later_steps(causal):
    model = MulT(**dict(NO_DROPOUT, causal=causal))
    model.build({m: (2, 8, SMALL[f"{m}_dim"]) for m in MODALITIES})
    x = np.random.default_rng(0).normal(size=(2, 8, 16)).astype("float32")
    later = x.copy()
    later[:, 5:] = np.random.default_rng(1).normal(size=(2, 3, 16))
    for block in model.self_blocks["audio"]:
        before, after = ops.convert_to_numpy(block(x)), ops.convert_to_numpy(block(later))
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
        ({"conv_kernel_sizes": {"text": 3}},
         r"`conv_kernel_sizes` must be one value or a dict with the keys"),
        ({"conv_kernel_sizes": 9, "conv_padding": "valid"},
         r"`conv_kernel_sizes\['text'\]` must be at most seq_len\['text'\]=8; received conv_kernel_sizes"),
        ({"conv_padding": "full"}, r"`conv_padding` must be one of 'same', 'valid', 'causal'"),
        ({"attention_dropout": {"text": 0.1}},
         r"`attention_dropout` must be one value or a dict with the keys"),
        ({"residual_dropout": 1.5}, r"`residual_dropout`.*received residual_dropout=1.5"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MulT(**dict(ARGS, **kwargs))


def test_a_valid_convolution_longer_than_the_inputs_raises_value_error(batch):
    model = MulT(**dict(without_data_arguments(ARGS), conv_kernel_sizes=9, conv_padding="valid"))
    with pytest.raises(ValueError, match=r"`conv_kernel_sizes\['text'\]` must be at most the text length 8"):
        model(batch)


def test_missing_modality_key_is_named(batch):
    with pytest.raises(ValueError, match=r"The input dict has no 'vision'"):
        MulT(**ARGS)({k: v for k, v in batch.items() if not k.startswith("vision")})
