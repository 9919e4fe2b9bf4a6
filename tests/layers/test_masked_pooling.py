import numpy as np
import pytest
from keras import ops

from msa_tf.layers import MaskedPooling
from msa_tf.layers.masked_pooling import POOLING_METHODS
from msa_tf.testing import run_layer_checks

# Sample 0 is right-padded, sample 1 left-padded, sample 2 empty.
X = np.array(
    [
        [[1.0, -2.0], [3.0, 4.0], [50.0, 50.0]],
        [[60.0, 60.0], [-1.0, 5.0], [2.0, 0.0]],
        [[7.0, 7.0], [8.0, 8.0], [9.0, 9.0]],
    ],
    "float32",
)
MASK = np.array([[1, 1, 0], [0, 1, 1], [0, 0, 0]], bool)
EXPECTED = {
    "mean": [[2.0, 1.0], [0.5, 2.5], [0.0, 0.0]],
    "max": [[3.0, 4.0], [2.0, 5.0], [0.0, 0.0]],
    "last": [[3.0, 4.0], [2.0, 0.0], [0.0, 0.0]],
}


@pytest.mark.parametrize("method", POOLING_METHODS)
def test_passes_the_layer_checks(method):
    run_layer_checks(MaskedPooling, {"method": method}, {"inputs": X, "mask": MASK})


@pytest.mark.parametrize("method", sorted(EXPECTED))
def test_pools_only_real_steps(method):
    out = ops.convert_to_numpy(MaskedPooling(method)(X, mask=MASK))
    np.testing.assert_allclose(out, EXPECTED[method])


def test_attention_pooling_is_a_weighted_average_of_real_steps():
    constant = np.broadcast_to(np.array([2.0, -3.0], "float32"), (3, 3, 2))
    out = ops.convert_to_numpy(MaskedPooling("attention")(constant, mask=MASK))
    np.testing.assert_allclose(out[:2], [[2.0, -3.0]] * 2, rtol=1e-6)
    np.testing.assert_array_equal(out[2], [0.0, 0.0])


def test_without_a_mask_every_step_is_real():
    out = ops.convert_to_numpy(MaskedPooling("mean")(X[:1]))
    np.testing.assert_allclose(out, X[:1].mean(axis=1), rtol=1e-6)


def test_unknown_method_names_the_choices():
    message = r"`method` must be one of 'mean', 'max', 'attention', 'last'; received method='avg'"
    with pytest.raises(ValueError, match=message):
        MaskedPooling("avg")
