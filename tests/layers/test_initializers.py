import random

import keras
import numpy as np
import pytest
from keras import ops

from msa_tf.layers import (
    AdaptiveFusionHead,
    CrossAttentionBlock,
    CrossModalFusion,
    LearnablePositionalEmbedding,
    LowRankFusion,
    MaskedMultiHeadAttention,
    MaskedPooling,
    ModalityProjection,
    ModalityWeighting,
    SequenceEncoder,
    TransformerBlock,
    UnimodalSubnetworks,
)
from msa_tf.layers.initializers import clone_initializer, get_initializer

X = np.random.default_rng(0).normal(size=(2, 5, 4)).astype("float32")
V = X[:, 0]
MODALITIES = {"text": X, "audio": X[:, :3], "vision": X[..., :2]}
BOTH = ("kernel_initializer", "bias_initializer")
# (layer class, constructor arguments, call arguments, its initializer arguments)
LAYERS = [
    (MaskedMultiHeadAttention, {"width": 4, "num_heads": 2}, (X, X), BOTH),
    (TransformerBlock, {"width": 4, "num_heads": 2}, (X,), BOTH),
    (CrossAttentionBlock, {"width": 4, "num_heads": 2}, (X, X[:, :3]), BOTH),
    (CrossModalFusion, {"width": 4, "num_heads": 2, "bidirectional": True}, (X, X, X), BOTH),
    (MaskedPooling, {"method": "attention"}, (X,), ("kernel_initializer",)),
    (AdaptiveFusionHead, {"pooling": "attention"}, ([X, X],), ("kernel_initializer",)),
    (ModalityWeighting, {"hidden_dim": 3}, ([V, V],), BOTH),
    (LowRankFusion, {"rank": 2, "output_dim": 3}, ([V, V],), BOTH),
    (UnimodalSubnetworks, {"text_hidden": 4, "audio_hidden": 3, "vision_hidden": 2},
     (MODALITIES,), BOTH),
    (ModalityProjection, {"width": 3}, (X,), BOTH),
    (SequenceEncoder, {"width": 4, "num_heads": 2, "ff_dim": 4, "num_layers": 1},
     (X,), (*BOTH, "embeddings_initializer")),
    (LearnablePositionalEmbedding, {"max_length": 5}, (X,), ("embeddings_initializer",)),
]
GIVEN = {"kernel_initializer": "zeros", "bias_initializer": "ones",
         "embeddings_initializer": keras.initializers.Constant(0.5)}
FILL = {"kernel_initializer": 0.0, "bias_initializer": 1.0, "embeddings_initializer": 0.5}


def _argument_of(weight):
    """The initializer argument that fills `weight`, or `None`."""
    if weight.name == "kernel" or weight.name.startswith("factor_"):  # LowRankFusion's kernels
        return "kernel_initializer"
    if weight.name.endswith("bias"):
        return "bias_initializer"
    if weight.name == "position_embeddings":
        return "embeddings_initializer"
    return None


@pytest.mark.parametrize("layer_cls, kwargs, args, arguments", LAYERS,
                         ids=[entry[0].__name__ for entry in LAYERS])
def test_initializers_reach_every_weight_and_survive_the_config(layer_cls, kwargs, args, arguments):
    layer = layer_cls(**kwargs, **{name: GIVEN[name] for name in arguments})
    clone = layer_cls.from_config(layer.get_config())
    for each in (layer, clone):
        each(*args)
        reached = set()
        for weight in each.weights:
            argument = _argument_of(weight)
            if argument in arguments:
                reached.add(argument)
                np.testing.assert_array_equal(ops.convert_to_numpy(weight), FILL[argument],
                                              err_msg=weight.path)
        assert reached == set(arguments)
    assert clone.get_config() == layer.get_config()


def test_default_initializers_give_each_weight_its_own_values():
    layer = MaskedMultiHeadAttention(width=4, num_heads=2)
    layer(X, X)
    query, value = (ops.convert_to_numpy(d.kernel) for d in (layer.query_dense, layer.value_dense))
    assert np.abs(query - value).max() > 1e-3
    np.testing.assert_array_equal(ops.convert_to_numpy(layer.query_dense.bias), 0.0)


def test_a_seeded_layer_gets_the_same_weights_whatever_initializers_it_stores():
    def weights(**kwargs):
        keras.utils.set_random_seed(3)
        block = TransformerBlock(4, 2, **kwargs)
        block(X)
        return [ops.convert_to_numpy(w) for w in block.weights]

    default = weights()
    for given, want in zip(weights(kernel_initializer=keras.initializers.GlorotUniform()), default):
        np.testing.assert_array_equal(given, want)


def test_get_initializer_draws_no_seed_and_clones_do():
    state = random.getstate()
    initializer = get_initializer("kernel_initializer", "glorot_uniform")
    assert random.getstate() == state
    clone = clone_initializer(initializer)
    assert random.getstate() != state
    assert type(clone) is type(initializer) and clone is not initializer
