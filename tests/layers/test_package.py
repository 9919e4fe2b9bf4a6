"""What every layer of msa_tf.layers shares: registered, sub-layers made in build, output shapes."""

import keras
import pytest

import msa_tf.layers

LAYER_CLASSES = [
    obj
    for obj in (getattr(msa_tf.layers, name) for name in msa_tf.layers.__all__)
    if isinstance(obj, type) and issubclass(obj, keras.layers.Layer)
]
# The smallest constructor arguments of each layer that has required ones.
REQUIRED = {
    "CrossAttentionBlock": {"width": 4, "num_heads": 2},
    "CrossModalFusion": {"width": 4, "num_heads": 2},
    "Dropout": {"rate": 0.1},
    "LearnablePositionalEmbedding": {"max_length": 3},
    "LowRankFusion": {"rank": 2, "output_dim": 3},
    "MaskedMultiHeadAttention": {"width": 4, "num_heads": 2},
    "ModalityProjection": {"width": 4},
    "SequenceEncoder": {"width": 4, "num_heads": 2, "ff_dim": 4, "num_layers": 1},
    "TransformerBlock": {"width": 4, "num_heads": 2},
    "UNetDownsample": {"filters": 4},
    "UNetGenerator": {"output_channels": 1},
    "UNetUpsample": {"filters": 4},
    "UnimodalSubnetworks": {"text_hidden": 4, "audio_hidden": 3, "vision_hidden": 2},
    "VAEDecoder": {"height": 8, "width": 8, "channels": 1},
    "VAEEncoder": {"latent_dim": 2},
}
IDS = [cls.__name__ for cls in LAYER_CLASSES]


@pytest.mark.parametrize("layer_cls", LAYER_CLASSES, ids=IDS)
def test_registered_under_msa_tf_and_the_class_name(layer_cls):
    name = f"msa_tf>{layer_cls.__name__}"
    assert keras.saving.get_registered_name(layer_cls) == name
    assert keras.saving.get_registered_object(name) is layer_cls


@pytest.mark.parametrize("layer_cls", LAYER_CLASSES, ids=IDS)
def test_sub_layers_are_made_in_build(layer_cls):
    assert layer_cls(**REQUIRED.get(layer_cls.__name__, {}))._layers == []


@pytest.mark.parametrize("layer_cls", LAYER_CLASSES, ids=IDS)
def test_defines_compute_output_shape(layer_cls):
    # `run_layer_checks` compares it with the real outputs (`check_output_spec`).
    assert layer_cls.compute_output_shape is not keras.layers.Layer.compute_output_shape
