"""`generate`: shapes, seeds, greedy decoding, top-k and its errors, for every language model."""

import numpy as np
import pytest

from .conftest import LENGTH, NAMES, VOCAB, logits

PROMPT = np.array([[1, 5, 6], [1, 7, 4]], "int32")


@pytest.mark.parametrize("name", NAMES)
def test_returns_the_prompt_followed_by_the_new_tokens(built_models, name):
    model = built_models[name]
    out = model.generate(PROMPT, max_new_tokens=4, seed=0)
    assert out.shape == (2, 7) and out.dtype == np.int32
    np.testing.assert_array_equal(out[:, :3], PROMPT)
    assert out.min() >= 0 and out.max() < VOCAB
    single = model.generate(PROMPT[0], max_new_tokens=LENGTH - 3, seed=0)
    assert single.shape == (LENGTH,) and single.dtype == np.int32
    np.testing.assert_array_equal(model.generate(PROMPT[0].tolist(), max_new_tokens=0), PROMPT[0])


@pytest.mark.parametrize("name", NAMES)
def test_a_seed_makes_sampling_reproducible(built_models, name):
    model = built_models[name]
    # A high temperature flattens the distribution: other seeds give other tokens.
    first = model.generate(PROMPT, max_new_tokens=6, temperature=5.0, seed=3)
    np.testing.assert_array_equal(first, model.generate(PROMPT, max_new_tokens=6, temperature=5.0,
                                                        seed=3))
    others = [model.generate(PROMPT, max_new_tokens=6, temperature=5.0, seed=s) for s in (4, 5)]
    assert any(not np.array_equal(first, other) for other in others)


def test_greedy_decoding_takes_the_argmax_at_each_step(built_models):
    model = built_models["causal_lm"]
    out = model.generate(PROMPT, max_new_tokens=5, temperature=0)
    # The logits are causal, so one call on the result gives every step's logits.
    padded = np.zeros((2, LENGTH), "int32")
    padded[:, :8] = out
    mask = np.broadcast_to(np.arange(LENGTH) < 8, padded.shape)
    steps = logits(model, {"tokens": padded, "tokens_mask": mask})
    np.testing.assert_array_equal(out[:, 3:], np.argmax(steps[:, 2:7], axis=-1))


@pytest.mark.parametrize("name", NAMES)
def test_top_k_of_one_is_greedy(built_models, name):
    model = built_models[name]
    greedy = model.generate(PROMPT, max_new_tokens=5, temperature=0, seed=1)
    np.testing.assert_array_equal(
        model.generate(PROMPT, max_new_tokens=5, temperature=2.0, top_k=1, seed=1), greedy
    )


def test_top_k_samples_among_the_k_most_likely_tokens(built_models):
    model = built_models["conv_lm"]
    prompt = np.repeat(PROMPT[:1], 64, axis=0)
    out = model.generate(prompt, max_new_tokens=1, temperature=10.0, top_k=3, seed=0)
    step = logits(model, {"tokens": np.pad(prompt, ((0, 0), (0, LENGTH - 3)))})[0, 2]
    assert set(out[:, 3].tolist()) == set(np.argsort(-step)[:3].tolist())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(prompt=[1] * (LENGTH - 1), max_new_tokens=2), r"`max_new_tokens` plus the prompt's 9 tokens "
                                                            rf"must be at most `max_length`={LENGTH}"),
        (dict(max_new_tokens=-1), r"`max_new_tokens` must be an integer >= 0; received max_new_tokens=-1"),
        (dict(temperature=-0.5), r"`temperature` must be a finite number >= 0; received temperature=-0.5"),
        (dict(top_k=0), rf"`top_k` must be None or an integer in \[1, vocab_size={VOCAB}\]; "
                        r"received top_k=0"),
        (dict(top_k=VOCAB + 1), r"`top_k` must be None .*; received top_k=21"),
        (dict(prompt=[1, VOCAB]), rf"`prompt` ids must be in \[0, vocab_size={VOCAB}\); received ids from 1"),
        (dict(prompt=[1.0, 2.0]), r"`prompt` must hold integer token ids; received dtype float64"),
        (dict(prompt=[]), r"`prompt` must be token ids of shape \(length,\) or \(batch, length\)"),
        (dict(prompt=np.ones((1, 2, 3), "int32")), r"received prompt with shape \(1, 2, 3\)"),
        (dict(seed=-1), r"`seed` must be an integer >= 0; received seed=-1"),
    ],
)
def test_bad_arguments_raise_value_error(built_models, kwargs, message):
    kwargs = {"prompt": [1, 5], "max_new_tokens": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        built_models["causal_lm"].generate(**kwargs)
