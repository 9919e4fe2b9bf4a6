import numpy as np
import pytest
from keras import ops

from msa_tf.layers import LearnablePositionalEmbedding, SinusoidalPositionalEmbedding
from msa_tf.testing import run_layer_checks


def _inputs(rng, length=6):
    mask = np.array([[1] * length, [1] * (length - 2) + [0] * 2], bool)
    return {"inputs": rng.normal(size=(2, length, 8)).astype("float32"), "mask": mask}


def test_learnable_passes_the_layer_checks(rng):
    run_layer_checks(
        LearnablePositionalEmbedding, {"max_length": 6}, _inputs(rng), output_masks="mask"
    )


def test_sinusoidal_passes_the_layer_checks(rng):
    run_layer_checks(
        SinusoidalPositionalEmbedding, {"max_wavelength": 100}, _inputs(rng), output_masks="mask"
    )


def test_sinusoidal_returns_the_encoding_for_the_caller_to_add(rng):
    x = rng.normal(size=(2, 3, 4)).astype("float32")
    layer = SinusoidalPositionalEmbedding()
    encoding = ops.convert_to_numpy(layer(x))
    assert encoding.shape == x.shape
    # Only the shape of the inputs matters; every sample gets the same encoding.
    np.testing.assert_array_equal(encoding, ops.convert_to_numpy(layer(np.zeros_like(x))))
    np.testing.assert_array_equal(encoding[0], encoding[1])
    assert np.abs(encoding[0, 1:] - encoding[0, :1]).max(axis=-1).min() > 1e-3


def test_shorter_inputs_use_a_prefix_of_the_positions(rng):
    layer = LearnablePositionalEmbedding(max_length=10)
    x = rng.normal(size=(2, 4, 3)).astype("float32")
    out = ops.convert_to_numpy(layer(x))
    table = ops.convert_to_numpy(layer.position_embeddings)
    np.testing.assert_allclose(out, x + table[:4], rtol=1e-6)


def test_longer_inputs_raise_value_error():
    with pytest.raises(ValueError, match=r"Input length 12 exceeds `max_length`=10"):
        LearnablePositionalEmbedding(max_length=10)(np.zeros((1, 12, 3)))


def test_sinusoidal_values_follow_the_formula():
    out = ops.convert_to_numpy(SinusoidalPositionalEmbedding()(np.zeros((1, 5, 6), "float32")))[0]
    position = np.arange(5)[:, None]
    frequency = 10000.0 ** (-np.arange(3) / 3)
    want = np.concatenate([np.sin(position * frequency), np.cos(position * frequency)], axis=-1)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("layer_cls", [LearnablePositionalEmbedding, SinusoidalPositionalEmbedding])
def test_mask_passes_through(layer_cls):
    layer = layer_cls(10) if layer_cls is LearnablePositionalEmbedding else layer_cls()
    mask = np.array([[True, False]])
    assert layer.compute_mask(np.zeros((1, 2, 4)), mask) is mask


def test_bad_arguments_raise_value_error():
    with pytest.raises(ValueError, match=r"`max_length` must be a positive integer; received max_length=-3"):
        LearnablePositionalEmbedding(max_length=-3)
    with pytest.raises(ValueError, match=r"`embeddings_initializer` must be a Keras initializer"):
        LearnablePositionalEmbedding(4, embeddings_initializer=3)
    with pytest.raises(ValueError, match=r"`max_wavelength` must be a positive integer"):
        SinusoidalPositionalEmbedding(max_wavelength=0.5)
