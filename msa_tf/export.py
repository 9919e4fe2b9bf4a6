"""Exporting models to a TensorFlow SavedModel for serving."""

import keras
import numpy as np
import tensorflow as tf


def input_signature(example_inputs):
    """`{name: tf.TensorSpec}` with the shapes of `example_inputs` and any batch size."""
    return {
        name: tf.TensorSpec((None, *np.shape(value)[1:]), tf.as_dtype(np.asarray(value).dtype), name=name)
        for name, value in example_inputs.items()
    }


def export_saved_model(model, path, example_inputs):
    """Writes `model` as a SavedModel with a `serve` endpoint (also `serving_default`).

    The endpoint takes a dict of tensors with the shapes and dtypes of
    `example_inputs` (a dict of arrays; fixed lengths, any batch size) and returns
    the model's output dict in inference mode. Load it with
    `loaded = tf.saved_model.load(path)`, then call `loaded.serve(inputs)`.

    Example:
    >>> import tempfile
    >>> from msa_tf.models import get
    >>> model = get("msa", seq_len=4, text_dim=3, audio_dim=2, video_dim=2, model_dim=8,
    ...             num_heads=2, ff_dim=8)
    >>> inputs = {"text": np.ones((1, 4, 3), "float32"), "audio": np.ones((1, 4, 2), "float32"),
    ...           "vision": np.ones((1, 4, 2), "float32")}
    >>> path = tempfile.mkdtemp()
    >>> export_saved_model(model, path, inputs)
    >>> loaded = tf.saved_model.load(path)  # keep it: its variables live as long as it does
    >>> served = loaded.serve(inputs)["regression"]
    >>> bool(np.allclose(served, model(inputs)["regression"], atol=1e-6))
    True
    """
    model(example_inputs)  # builds the model with these shapes
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serve",
        fn=lambda inputs: model(inputs, training=False),
        input_signature=[input_signature(example_inputs)],
    )
    archive.write_out(path, verbose=False)
