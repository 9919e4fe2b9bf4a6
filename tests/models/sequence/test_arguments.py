"""One argument vocabulary across the language models: bad values raise errors that name them."""

import numpy as np
import pytest

from msa_tf import models
from msa_tf.models.sequence import CausalConvBlock, TokenAndPositionEmbedding
from msa_tf.validation import constructor_arguments

from .conftest import MODEL_ARGS, NAMES

# A value each argument rejects. A new argument needs one here.
BAD_VALUES = {
    "vocab_size": 0, "max_length": -3, "width": 0, "num_heads": 2.0, "num_layers": 0, "ff_dim": 0,
    "kernel_size": 0, "dropout": 1.0, "tie_embeddings": "yes", "latent_bits": 2.5, "kappa": -1.0,
}
ARGUMENTS = [(name, argument) for name in NAMES
             for argument in constructor_arguments(models.model_class(name))]


@pytest.mark.parametrize("name, argument", ARGUMENTS, ids=[f"{n}-{a}" for n, a in ARGUMENTS])
def test_a_bad_value_raises_an_error_that_names_the_argument(name, argument):
    bad = BAD_VALUES[argument]
    with pytest.raises(ValueError, match=rf"^`{argument}` must .*; received {argument}={bad!r}"):
        models.get(name, **{**MODEL_ARGS[name], argument: bad})


@pytest.mark.parametrize("name", ["causal_lm", "free_transformer"])
def test_heads_that_do_not_divide_the_width_are_named_with_the_width(name):
    with pytest.raises(ValueError, match=r"`width` must be a multiple of `num_heads`=4; received width=10"):
        models.get(name, **{**MODEL_ARGS[name], "width": 10, "num_heads": 4})


@pytest.mark.parametrize("name", NAMES)
def test_the_data_arguments_come_first_and_are_required(name):
    arguments = list(constructor_arguments(models.model_class(name)).items())
    assert [key for key, _ in arguments[:2]] == ["vocab_size", "max_length"]
    assert all(default is not None for _, default in arguments[:2])
    with pytest.raises(TypeError):
        models.get(name)


@pytest.mark.parametrize(
    "layer_cls, kwargs, message",
    [
        (TokenAndPositionEmbedding, dict(vocab_size=4, max_length=3, width=0), r"`width` must be a positive"),
        (TokenAndPositionEmbedding, dict(vocab_size=4, max_length=3, width=2, tie_weights=1),
         r"`tie_weights` must be True or False; received tie_weights=1"),
        (CausalConvBlock, dict(width=4, kernel_size=0), r"`kernel_size` must be a positive integer"),
        (CausalConvBlock, dict(width=4, kernel_size=2, dropout=-0.5), r"`dropout` must be a number"),
    ],
)
def test_the_layers_check_their_arguments(layer_cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        layer_cls(**kwargs)


def test_a_conv_block_ignores_padding_on_either_side():
    block = CausalConvBlock(width=8, kernel_size=3)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 6, 8)).astype("float32")
    mask = np.array([[False, False, True, True, True, True], [True] * 4 + [False] * 2])
    noisy = np.where(mask[:, :, None], x, rng.normal(scale=10.0, size=x.shape)).astype("float32")
    np.testing.assert_allclose(np.asarray(block(x, mask=mask))[mask],
                               np.asarray(block(noisy, mask=mask))[mask], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match=r"The last dimension of `inputs` must equal `width`=8"):
        CausalConvBlock(width=8, kernel_size=3)(np.ones((1, 4, 5), "float32"))
