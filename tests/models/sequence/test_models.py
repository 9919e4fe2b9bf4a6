"""What every language model of the zoo shares: the standard checks, causality, padding,
the registry and the output contract."""

import keras
import numpy as np
import pytest

from msa_tf import models
from msa_tf.models.sequence import CausalLM, ConvLM, FreeTransformer, LanguageModel
from msa_tf.testing import check_padding_invariance, run_model_checks

from .conftest import LENGTH, MODEL_ARGS, NAMES, VOCAB, logits, token_batch

CLASSES = {"causal_lm": CausalLM, "conv_lm": ConvLM, "free_transformer": FreeTransformer}


@pytest.mark.parametrize("name", NAMES)
def test_passes_the_model_checks(batch, name):
    # The Free Transformer's encoder only acts in training (the fit step checks that its
    # weights move); inference uses a latent from the prior.
    run_model_checks(CLASSES[name], MODEL_ARGS[name], batch, output_masks="tokens_mask",
                     call_gradients=name != "free_transformer")


def test_the_registry_builds_every_language_model():
    assert set(NAMES) <= set(models.names())
    for name in NAMES:
        model = models.get(name, **MODEL_ARGS[name])
        assert isinstance(model, CLASSES[name]) and isinstance(model, LanguageModel)


@pytest.mark.parametrize("name", NAMES)
def test_summary_lists_every_layer_with_its_output_shape(built_models, name):
    lines = []
    built_models[name].summary(print_fn=lambda line, **kwargs: lines.append(line))
    assert "Total params" in "".join(lines)


@pytest.mark.parametrize("name", NAMES)
def test_outputs_next_token_logits_in_float32(built_models, batch, name):
    outputs = built_models[name](batch)
    assert list(outputs) == ["next_token"]
    assert tuple(outputs["next_token"].shape) == (len(batch["tokens"]), LENGTH, VOCAB)
    assert keras.backend.standardize_dtype(outputs["next_token"].dtype) == "float32"
    # No Keras mask rides on the logits: the loss sees the labels' ignored value only.
    assert getattr(outputs["next_token"], "_keras_mask", None) is None


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("position", [1, 5, 8])
def test_a_token_changes_no_logits_before_it(built_models, name, position):
    model = built_models[name]
    inputs = token_batch(lengths=(LENGTH,) * 3)
    changed = {**inputs, "tokens": inputs["tokens"].copy()}
    changed["tokens"][:, position] = (changed["tokens"][:, position] + 1) % VOCAB
    before, after = logits(model, inputs), logits(model, changed)
    np.testing.assert_allclose(before[:, :position], after[:, :position], rtol=1e-5, atol=1e-6)
    # The test can fail: the changed token does reach its own position.
    assert np.abs(before[:, position] - after[:, position]).max() > 1e-4


@pytest.mark.parametrize("name", NAMES)
def test_padded_ids_are_read_as_padding(built_models, batch, name):
    """Ids outside the vocabulary at padded steps (a padded batch of any origin) are ignored."""
    model = built_models[name]
    garbage = {**batch, "tokens": np.where(batch["tokens_mask"], batch["tokens"], 10 * VOCAB)}
    np.testing.assert_array_equal(logits(model, batch), logits(model, garbage))


@pytest.mark.parametrize("name", NAMES)
def test_without_a_mask_every_step_is_real(built_models, name):
    inputs = token_batch(lengths=(LENGTH,) * 2)
    np.testing.assert_allclose(logits(built_models[name], inputs),
                               logits(built_models[name], {"tokens": inputs["tokens"]}), atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_an_input_dict_without_tokens_is_named(name):
    model = models.get(name, **MODEL_ARGS[name])
    with pytest.raises(ValueError, match=r"The input dict has no 'tokens'; received \['text'\]"):
        model({"text": np.ones((2, LENGTH), "int32")})


@pytest.mark.parametrize("name", NAMES)
def test_sequences_longer_than_max_length_are_refused(name):
    model = models.get(name, **MODEL_ARGS[name])
    with pytest.raises(ValueError, match=rf"`tokens` has {LENGTH + 1} steps, more than `max_length`"):
        model({"tokens": np.ones((2, LENGTH + 1), "int32")})


def test_tied_logits_are_hidden_states_times_the_token_table(built_models, batch):
    model = built_models["causal_lm"]
    hidden = np.random.default_rng(0).normal(size=(2, 3, 16)).astype("float32")
    table = keras.ops.convert_to_numpy(model.embedding.token_embeddings)
    np.testing.assert_allclose(np.asarray(model.embedding(hidden, reverse=True)), hidden @ table.T,
                               rtol=1e-5, atol=1e-6)
    assert not hasattr(model.embedding, "output_kernel")
    assert built_models["conv_lm"].embedding.output_kernel.shape == (16, VOCAB)


class _TokenLogits(keras.Model):
    """Logits from each step's own embedding; with `leak`, plus the mean over all steps."""

    def __init__(self, leak=False, **kwargs):
        super().__init__(**kwargs)
        self.leak = leak

    def build(self, inputs_shape):
        self.embedding = keras.layers.Embedding(200, VOCAB)
        self.embedding.build(inputs_shape["tokens"])

    def call(self, inputs, training=None):
        embedded = self.embedding(inputs["tokens"])
        if self.leak:
            embedded = embedded + keras.ops.mean(embedded, axis=1, keepdims=True)
        return {"next_token": embedded}


def test_the_harness_compares_the_real_steps_named_by_a_mask_in_the_input_dict(batch):
    # Outputs at padded steps may change (the model reads the padded ids), if masked.
    check_padding_invariance(_TokenLogits(), {"inputs": batch}, output_masks="tokens_mask")
    with pytest.raises(AssertionError, match=r"output 0 changed by .* when padding changed"):
        check_padding_invariance(_TokenLogits(), {"inputs": batch})
    # Real steps must not change.
    with pytest.raises(AssertionError, match=r"output 0 changed by .* when padding changed"):
        check_padding_invariance(_TokenLogits(leak=True), {"inputs": batch}, output_masks="tokens_mask")
