import numpy as np
import pytest
from keras import ops

from msa_tf.layers import Dropout
from msa_tf.layers.dropout import random_bits
from msa_tf.testing import run_layer_checks


def test_passes_the_layer_checks():
    x = np.random.default_rng(0).normal(size=(2, 5, 4)).astype("float32")
    run_layer_checks(Dropout, {"rate": 0.3, "seed": 2}, {"inputs": x})


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.9])
def test_drops_each_element_with_probability_rate_and_rescales_the_rest(rate):
    outputs = ops.convert_to_numpy(Dropout(rate, seed=1)(np.ones((200, 500), "float32"), training=True))
    dropped = outputs == 0
    # 100,000 draws: the standard deviation of the fraction is at most 0.0016.
    assert abs(dropped.mean() - rate) < 0.008
    np.testing.assert_allclose(outputs[~dropped], 1 / (1 - rate), rtol=1e-6)
    assert abs(dropped[:, :250].mean() - dropped[:, 250:].mean()) < 0.02  # no drift along a row


def test_masks_are_independent_between_neighbours_and_between_calls():
    layer = Dropout(0.5, seed=3)
    first, second = (ops.convert_to_numpy(layer(np.ones((100, 1000), "float32"), training=True)) == 0
                     for _ in range(2))
    assert 0.2 < (first & second).mean() < 0.3  # rate**2 when independent, rate when repeated
    assert 0.2 < (first[:, 1:] & first[:, :-1]).mean() < 0.3
    assert 0.2 < (first[1:] & first[:-1]).mean() < 0.3


def test_the_same_seed_gives_the_same_masks_and_inference_changes_nothing():
    x = np.ones((4, 64), "float32")
    masks = [ops.convert_to_numpy(Dropout(0.5, seed=7)(x, training=True)) for _ in range(2)]
    np.testing.assert_array_equal(*masks)
    np.testing.assert_array_equal(ops.convert_to_numpy(Dropout(0.5, seed=7)(x)), x)


def test_noise_shape_shares_a_mask_along_its_unit_axes():
    outputs = ops.convert_to_numpy(
        Dropout(0.5, noise_shape=(None, 1, 8), seed=0)(np.ones((3, 5, 8), "float32"), training=True)
    )
    np.testing.assert_array_equal(outputs, np.broadcast_to(outputs[:, :1], outputs.shape))
    assert 0 < (outputs == 0).mean() < 1


def test_random_bits_are_uniform_over_the_whole_32_bit_range():
    bits = ops.convert_to_numpy(random_bits((256, 256), np.array([5, 9])))
    assert bits.dtype == np.uint32
    counts = np.bincount((bits.ravel() >> 28).astype(int), minlength=16)  # the top 4 bits
    assert counts.min() > 3600 and counts.max() < 4600  # 4096 expected per bin
    assert len(np.unique(bits)) > 65000
