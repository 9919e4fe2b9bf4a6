"""The Free Transformer: the encoder's latent and KL in training, a fixed prior latent in
inference, latents given by the caller, and its arguments."""

import math

import keras
import numpy as np
import pytest
from keras import ops

from msa_tf.models.sequence import FreeTransformer

from .conftest import LENGTH, MODEL_ARGS, VOCAB, logits, token_batch

ARGS = MODEL_ARGS["free_transformer"]
BITS = ARGS["latent_bits"]


@pytest.fixture(scope="module")
def model(built_models):
    return built_models["free_transformer"]


def test_inference_is_deterministic_and_training_samples_latents(model, batch):
    np.testing.assert_array_equal(logits(model, batch), logits(model, batch, training=False))
    first, second = logits(model, batch, training=True), logits(model, batch, training=True)
    assert np.abs(first - second).max() > 1e-4


def _bit_logits(model, inputs):
    """The encoder's bit logits `(batch, time, latent_bits)` for `inputs`, as NumPy."""
    hidden, mask = model._embed(inputs)
    for block in model.blocks[: model.num_layers // 2]:
        hidden = block(hidden, mask=mask)
    return ops.convert_to_numpy(model._encode(hidden, mask, training=False)), mask


def test_the_encoder_sees_the_whole_sequence(model):
    """The posterior latent at a position reads later tokens (the prior's does not)."""
    inputs = token_batch(lengths=(LENGTH,) * 2)
    changed = {**inputs, "tokens": inputs["tokens"].copy()}
    changed["tokens"][:, -1] = (changed["tokens"][:, -1] + 1) % VOCAB
    before, _ = _bit_logits(model, inputs)
    after, _ = _bit_logits(model, changed)
    assert np.abs(before[:, :-1] - after[:, :-1]).max() > 1e-5
    # The learned positions tell the encoder's positions apart, though its query is one vector.
    assert np.abs(before[:, 1:] - before[:, :1]).max() > 1e-4


def test_a_given_latent_replaces_the_sampled_one(model, batch):
    zeros, fives = ({**batch, "latent": np.full(batch["tokens"].shape, z, "int32")} for z in (0, 5))
    np.testing.assert_array_equal(logits(model, zeros), logits(model, zeros))
    assert np.abs(logits(model, zeros) - logits(model, fives)).max() > 1e-4
    # In training too: the same latent gives the same logits and no KL loss is added.
    np.testing.assert_allclose(logits(model, zeros, training=True), logits(model, zeros), atol=1e-6)
    assert not model.losses


def test_the_kl_is_that_of_the_bits_to_fair_coins(model):
    bit_logits = np.array([[[0.0] * BITS, [2.0, -1.0, 0.5, 30.0]]], "float32")
    p = 1 / (1 + np.exp(-bit_logits.astype("float64")))
    entropy = -(p * np.log(np.maximum(p, 1e-300)) + (1 - p) * np.log(np.maximum(1 - p, 1e-300)))
    expected = (math.log(2) - entropy).sum(-1)
    got = ops.convert_to_numpy(model._kl_per_position(ops.convert_to_tensor(bit_logits)))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert got[0, 0] == 0.0


def test_training_adds_the_free_bits_kl_of_the_real_positions(model, batch):
    model(batch, training=True)
    (loss,) = model.losses
    bit_logits, _ = _bit_logits(model, batch)
    kl = ops.convert_to_numpy(model._kl_per_position(ops.convert_to_tensor(bit_logits)))
    real = batch["tokens_mask"]
    expected = np.maximum(kl - model.kappa, 0.0)[real].mean()
    np.testing.assert_allclose(float(loss), expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(float(model._kl), kl[real].mean(), rtol=1e-5)


@pytest.mark.parametrize("sign, value", [(1.0, 2**BITS - 1), (-1.0, 0)])
def test_the_binary_mapper_reads_saturated_bits_as_the_latent_value(model, sign, value):
    bit_logits = ops.convert_to_tensor(np.full((2, 3, BITS), 50.0 * sign, "float32"))
    projected = ops.convert_to_numpy(model._sample_posterior(bit_logits))
    expected = ops.convert_to_numpy(model.latent_projection(np.full((2, 3), value, "int32")))
    np.testing.assert_allclose(projected, expected, atol=1e-6)


def test_the_straight_through_gradient_reaches_the_bit_logits(model):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the fit steps of the model checks cover the gradient on other backends")
    import tensorflow as tf

    bit_logits = tf.Variable(np.random.default_rng(0).normal(size=(2, 3, BITS)).astype("float32"))
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(model._sample_posterior(bit_logits) ** 2)
    assert np.abs(tape.gradient(total, bit_logits).numpy()).max() > 0


def test_fit_logs_the_kl(batch):
    keras.utils.set_random_seed(0)
    model = FreeTransformer(**ARGS)
    labels = np.where(batch["tokens_mask"], np.roll(batch["tokens"], -1, axis=1), -100).astype("int32")
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-100)
    # Two steps: eager TensorFlow is quicker than tracing them; JAX compiles them quicker
    # than it runs them op by op.
    model.compile(optimizer="adam", loss={"next_token": loss},
                  run_eagerly=keras.backend.backend() == "tensorflow")
    history = model.fit(batch, {"next_token": labels}, epochs=2, verbose=0)
    assert len(history.history["kl"]) == 2 and np.all(np.isfinite(history.history["kl"]))
    assert history.history["kl"][0] > 0
    assert model.evaluate(batch, {"next_token": labels}, verbose=0, return_dict=True)["kl"] > 0


def test_a_fixed_latent_fixes_greedy_generation(model):
    prompt = np.array([[1, 5], [1, 9]], "int32")
    fixed = [model.generate(prompt, 6, temperature=0, seed=s, latent=7) for s in (0, 1)]
    np.testing.assert_array_equal(fixed[0], fixed[1])
    np.testing.assert_array_equal(fixed[0], model.generate(prompt, 6, temperature=0,
                                                           latent=np.full(LENGTH, 7)))
    per_sample = np.array([np.full(LENGTH, 7), np.arange(LENGTH) % 2**BITS])
    assert model.generate(prompt, 6, temperature=0, latent=per_sample).shape == (2, 8)


@pytest.mark.parametrize("latent", [-1, 2**BITS, 1.5, np.zeros(LENGTH - 1, "int32"), "0"])
def test_a_bad_latent_is_named(model, latent):
    with pytest.raises(ValueError, match=rf"`latent` must be None, an int in \[0, {2**BITS}\)"):
        model.generate([1, 5], 2, latent=latent)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_layers": 3}, r"`num_layers` must be an even positive integer .*; received num_layers=3"),
        ({"latent_bits": 0}, r"`latent_bits` must be an integer in \[1, 16\]; received latent_bits=0"),
        ({"latent_bits": 17}, r"received latent_bits=17"),
        ({"kappa": -0.1}, r"`kappa` must be a finite number >= 0; received kappa=-0.1"),
        ({"kappa": float("nan")}, r"received kappa=nan"),
        ({"width": 15}, r"`width` must be a multiple of `num_heads`=2; received width=15"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FreeTransformer(**{**ARGS, **kwargs})


def test_kappa_defaults_to_half_a_bit_per_token():
    assert FreeTransformer(vocab_size=VOCAB, max_length=LENGTH).kappa == pytest.approx(math.log(2) / 2)
