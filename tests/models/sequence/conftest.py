"""A small right-padded token batch and tiny constructor arguments for the language models."""

import numpy as np
import pytest

from msa_tf import models

VOCAB = 20
LENGTH = 10
LENGTHS = (10, 7, 4, 9)
# Small constructor arguments of each registered language model, per name.
MODEL_ARGS = {
    "causal_lm": dict(vocab_size=VOCAB, max_length=LENGTH, width=16, num_heads=2, num_layers=2),
    "conv_lm": dict(vocab_size=VOCAB, max_length=LENGTH, width=16, num_layers=2, kernel_size=3,
                    tie_embeddings=False),
    "free_transformer": dict(vocab_size=VOCAB, max_length=LENGTH, width=16, num_heads=2, num_layers=2,
                             latent_bits=4),
}
NAMES = sorted(MODEL_ARGS)


def token_batch(lengths=LENGTHS, seed=0):
    """`{"tokens", "tokens_mask"}`: BOS, random ids in [4, VOCAB), right-padded with PAD (0)."""
    rng = np.random.default_rng(seed)
    mask = np.arange(LENGTH)[None, :] < np.asarray(lengths)[:, None]
    tokens = rng.integers(4, VOCAB, size=mask.shape)
    tokens[:, 0] = 1
    return {"tokens": np.where(mask, tokens, 0).astype("int32"), "tokens_mask": mask}


@pytest.fixture(scope="module")
def batch():
    inputs = token_batch()
    assert not inputs["tokens_mask"].all(), "the checks need padded steps"
    return inputs


@pytest.fixture(scope="module")
def built_models(batch):
    """One built model per name, shared by the module's tests (called eagerly, never compiled)."""
    built = {}
    for name in NAMES:
        model = models.get(name, **MODEL_ARGS[name])
        model(batch)
        built[name] = model
    return built


def logits(model, inputs, **kwargs):
    """The `next_token` logits of `model` as NumPy."""
    return np.asarray(model(inputs, **kwargs)["next_token"])
