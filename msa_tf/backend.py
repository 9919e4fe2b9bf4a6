"""Which Keras backend a part of msa-tf needs.

The layers, models and metrics run on the TensorFlow and JAX backends. The parts
built on TensorFlow itself (tf.data pipelines, the experiment runner, SavedModel
export) call `require_backend` first, so that another backend fails with a message
that says what to set, rather than deep inside TensorFlow.

>>> require_backend("ONNX export", "torch")
Traceback (most recent call last):
...
RuntimeError: ONNX export needs the torch backend; KERAS_BACKEND is 'tensorflow'. \
Set KERAS_BACKEND=torch.
"""

import keras


def require_backend(what, *backends):
    """Raises `RuntimeError` naming `what` unless Keras runs on one of `backends`."""
    backend = keras.backend.backend()
    if backend not in backends:
        raise RuntimeError(
            f"{what} needs the {' or '.join(backends)} backend; KERAS_BACKEND is {backend!r}. "
            f"Set KERAS_BACKEND={backends[0]}."
        )
    return backend
