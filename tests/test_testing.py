"""The harness must catch the faults it exists for: each broken layer here fails one check."""

import keras
import numpy as np
import pytest
from keras import ops

from msa_tf import testing

X = np.random.default_rng(0).normal(size=(2, 4, 8)).astype("float32")
MASK = np.array([[True] * 4, [True, True, False, False]])


class LeakyMean(keras.layers.Layer):
    """Mean over time that forgets the mask."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        return ops.mean(inputs, axis=1)


class DeadWeight(keras.layers.Layer):
    """Has a weight that never touches the output."""

    def build(self, inputs_shape):
        self.used = self.add_weight(shape=(inputs_shape[-1],), initializer="ones")
        self.unused = self.add_weight(shape=(3,), initializer="ones", name="unused")

    def call(self, inputs, mask=None):
        return inputs * self.used


class ForgetfulConfig(keras.layers.Layer):
    """Takes `scale` but does not put it in its config."""

    def __init__(self, scale=2.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale

    def call(self, inputs):
        return inputs * self.scale

    def get_config(self):
        return super().get_config()


class HalfPrecisionScores(keras.layers.Layer):
    """Dot-product scores in the compute dtype: overflow in float16 for large inputs."""

    def call(self, inputs, mask=None):
        scores = ops.einsum("btd,bsd->bts", inputs, inputs)
        return ops.einsum("bts,bsd->btd", ops.softmax(scores, axis=-1), inputs)


class WrongDtype(keras.layers.Layer):
    """Claims to return the compute dtype but returns float64."""

    def call(self, inputs, mask=None):
        return ops.cast(inputs, "float64")


def test_catches_padding_leaking_into_outputs():
    with pytest.raises(AssertionError, match="changed by .* when padding changed"):
        testing.check_padding_invariance(LeakyMean(), {"inputs": X, "mask": MASK})


def test_refuses_inputs_without_padding():
    full = {"inputs": X, "mask": np.ones_like(MASK)}
    with pytest.raises(AssertionError, match="no padded step"):
        testing.check_padding_invariance(LeakyMean(), full)


def test_catches_a_weight_without_gradient():
    with pytest.raises(AssertionError, match=r"no gradient reaches trainable weights \[.*unused"):
        layer = DeadWeight()
        layer.build(X.shape)
        testing.check_gradients(layer, {"inputs": X})


def test_catches_an_argument_missing_from_the_config():
    with pytest.raises(AssertionError, match=r"lacks __init__ arguments \['scale'\]"):
        testing.check_config_round_trip(ForgetfulConfig, {"scale": 3.0})


def test_catches_half_precision_overflow_on_large_inputs():
    with pytest.raises(AssertionError, match="mixed_float16: non-finite outputs for inputs of scale 10000"):
        testing.check_mixed_precision(HalfPrecisionScores, {}, {"inputs": X})


def test_catches_an_undocumented_output_dtype():
    with pytest.raises(AssertionError, match="output dtype float64"):
        testing.check_mixed_precision(WrongDtype, {}, {"inputs": X})


@keras.saving.register_keras_serializable(package="msa_tf_tests")
class UnsavedState(keras.layers.Layer):
    """Draws a factor at construction that neither the config nor the weights keep."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.factor = float(np.random.uniform(1.0, 2.0))

    def call(self, inputs):
        return inputs * self.factor


@pytest.mark.parametrize("backend", [None, "jax"], ids=["same_backend", "jax"])
def test_catches_outputs_that_change_after_a_keras_round_trip(tmp_path, backend):
    model, arrays = testing.wrap_in_model(UnsavedState(), {"inputs": X})
    with pytest.raises(AssertionError, match=r"differs after the \.keras round trip"):
        testing.check_keras_round_trip(model, arrays, tmp_path, modules=[__name__], backend=backend)


class WrongOutputShape(keras.layers.Layer):
    """Pools over time but declares that it keeps the time axis."""

    def call(self, inputs):
        return ops.mean(inputs, axis=1)

    def compute_output_shape(self, inputs_shape):
        return inputs_shape


def test_catches_a_wrong_compute_output_shape():
    with pytest.raises(AssertionError, match=r"output 0 is float32 \(2, 8\), but a symbolic call gives"):
        testing.check_output_spec(WrongOutputShape(), {"inputs": X})


class MeanOfVectors(keras.layers.Layer):
    """Averages a list of vectors, forgetting which are missing."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        return ops.mean(ops.stack(inputs), axis=0)


def test_vectors_are_padded_by_per_sample_masks():
    present = np.array([True, False])
    call_inputs = {"inputs": [X[:, 0], X[:, 1]], "mask": [np.ones(2, bool), present]}
    with pytest.raises(AssertionError, match="changed by .* when padding changed"):
        testing.check_padding_invariance(MeanOfVectors(), call_inputs)


class Doubling(keras.layers.Layer):
    def call(self, inputs):
        return inputs * 2.0


def test_a_layer_without_masks_needs_no_padding():
    testing.check_padding_invariance(Doubling(), {"inputs": X})
