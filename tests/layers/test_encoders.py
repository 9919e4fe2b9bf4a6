import keras
import numpy as np
import pytest
from keras import ops

from msa_tf.layers import ModalityProjection, SequenceEncoder
from msa_tf.testing import run_layer_checks


def _inputs(rng):
    mask = np.array([[1] * 6, [1] * 4 + [0] * 2, [0] * 3 + [1] * 3], bool)
    return {"inputs": rng.normal(size=(3, 6, 5)).astype("float32"), "mask": mask}


@pytest.mark.parametrize("token_ids", [False, True], ids=["features", "token_ids"])
def test_modality_projection_passes_the_layer_checks(rng, token_ids):
    if token_ids:
        kwargs, inputs = {"width": 4, "vocab_size": 20}, rng.integers(0, 20, size=(3, 6))
    else:
        kwargs, inputs = {"width": 4}, rng.normal(size=(3, 6, 5)).astype("float32")
    run_layer_checks(ModalityProjection, kwargs, {"inputs": inputs})


@pytest.mark.parametrize("max_length", [6, None], ids=["table_of_6", "table_of_the_input"])
def test_sequence_encoder_passes_the_layer_checks(rng, max_length):
    run_layer_checks(
        SequenceEncoder,
        {"width": 8, "num_heads": 2, "ff_dim": 8, "num_layers": 1, "max_length": max_length},
        _inputs(rng),
        output_masks="mask",
    )


def test_without_blocks_the_encoder_projects_and_adds_positions(rng):
    x = _inputs(rng)["inputs"]
    encoder = SequenceEncoder(8, 2, 8, num_layers=0, max_length=10)
    out = ops.convert_to_numpy(encoder(x))
    kernel, bias = (ops.convert_to_numpy(w) for w in encoder.projection.projection.weights)
    table = ops.convert_to_numpy(encoder.positions.position_embeddings)
    np.testing.assert_allclose(out, x @ kernel + bias + table[:6], rtol=1e-5, atol=1e-6)
    assert encoder.blocks == [] and table.shape == (10, 8)


def test_the_mask_reaches_the_blocks_and_passes_on(rng):
    data = _inputs(rng)
    encoder = SequenceEncoder(8, 2, 8, num_layers=2, max_length=6)
    inputs = keras.Input((6, 5))
    mask = keras.Input((6,), dtype="bool")
    outputs = encoder(inputs, mask=mask)
    assert outputs._keras_mask is not None
    model = keras.Model([inputs, mask], outputs)
    np.testing.assert_allclose(
        ops.convert_to_numpy(model([data["inputs"], data["mask"]])),
        ops.convert_to_numpy(encoder(data["inputs"], mask=data["mask"])),
        rtol=1e-5, atol=1e-6,
    )


def test_longer_inputs_than_the_table_raise_value_error(rng):
    with pytest.raises(ValueError, match=r"Input length 6 exceeds `max_length`=4"):
        SequenceEncoder(8, 2, 8, num_layers=1, max_length=4)(_inputs(rng)["inputs"])


def test_unknown_length_needs_max_length():
    with pytest.raises(ValueError, match=r"`max_length` must be given for inputs of unknown length"):
        SequenceEncoder(8, 2, 8, num_layers=1)(keras.Input((None, 5)))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_layers": -1}, r"`num_layers` must be an integer >= 0; received num_layers=-1"),
        ({"num_heads": 3}, r"`width` must be a multiple of `num_heads`=3; received width=8"),
        ({"ff_dim": 0}, r"`ff_dim` must be a positive integer"),
        ({"dropout": 1.5}, r"`dropout` must be a number in \[0, 1\); received dropout=1.5"),
        ({"max_length": 0}, r"`max_length` must be a positive integer; received max_length=0"),
        ({"vocab_size": "20"}, r"`vocab_size` must be a positive integer"),
        ({"embeddings_initializer": "normall"}, r"`embeddings_initializer` must be a Keras initializer"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SequenceEncoder(**dict({"width": 8, "num_heads": 2, "ff_dim": 8, "num_layers": 1}, **kwargs))


def test_modality_projection_rejects_a_bad_width():
    with pytest.raises(ValueError, match=r"`width` must be a positive integer; received width=0"):
        ModalityProjection(0)
