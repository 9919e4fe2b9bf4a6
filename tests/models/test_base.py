import keras
import numpy as np
import pytest
import tensorflow as tf

from msa_tf.models.base import ZooModel, input_shapes

X = {"x": np.ones((8, 3), "float32"), "x_mask": np.ones((8,), bool)}
Y = np.zeros((8, 1), "float32")


class CountsTraces(ZooModel):
    """A dense layer on `x` that counts the traces of its training step."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(1)
        self.traces = 0

    def build(self, inputs_shape):
        self.dense.build(inputs_shape["x"])

    def call(self, inputs):
        return self.dense(inputs["x"])

    def train_step(self, *args):
        self.traces += 1
        return super().train_step(*args)


@pytest.mark.parametrize("data", ["arrays", "dataset"])
def test_fit_traces_the_training_step_once(data):
    model = CountsTraces()
    model.compile(optimizer="adam", loss="mse")
    if data == "arrays":
        model.fit(X, Y, batch_size=4, epochs=2, verbose=0)
    else:
        model.fit(tf.data.Dataset.from_tensor_slices((X, Y)).batch(4), epochs=2, verbose=0)
    assert model.traces == 1
    assert model.optimizer.built and model.optimizer.iterations.numpy() == 4


@pytest.mark.tensorflow_only("Keras traces twice on TensorFlow only")
def test_keras_fit_alone_traces_the_step_twice():
    # What ZooModel.fit saves: without it, the step that creates the variables is traced again.
    model = CountsTraces()
    model.compile(optimizer="adam", loss="mse")
    keras.Model.fit(model, X, Y, batch_size=4, verbose=0)
    assert model.traces == 2


def test_input_shapes_of_arrays_and_datasets():
    expected = {"x": (8, 3), "x_mask": (8,)}
    assert input_shapes(X) == expected
    batched = tf.data.Dataset.from_tensor_slices((X, Y)).batch(4)
    assert input_shapes(batched) == {"x": (None, 3), "x_mask": (None,)}
    assert input_shapes(tf.data.Dataset.from_tensors(X)) == expected
    assert input_shapes(np.ones((2, 3))) is None
