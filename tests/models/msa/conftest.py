"""Small fixed-length MSA batches shared by the model tests."""

import numpy as np
import pytest

from generators import MultimodalGenerator
from msa_tf.modalities import MODALITIES

LENGTH = 8
DIMS = {"text": 12, "audio": 6, "vision": 5}
# The data arguments of the shared batches (every model also takes them from the inputs).
SMALL = dict(seq_len=LENGTH, text_dim=DIMS["text"], audio_dim=DIMS["audio"], vision_dim=DIMS["vision"])
_TRANSFORMER = dict(SMALL, model_dim=16, num_heads=2, ff_dim=32, dropout=0.0)
_SUBNETWORKS = dict(SMALL, model_dim={"text": 16, "audio": 8, "vision": 8}, post_fusion_dim=16, dropout=0.0)
# Small constructor arguments that fit the shared data, per registered model name.
MODEL_ARGS = {
    "msa": _TRANSFORMER,
    "msa_seqlevel": _TRANSFORMER,
    "msa_balanced": dict(_TRANSFORMER, modality_dropout=0.1),
    "unimodal": dict(_TRANSFORMER, modality="text"),
    "mult": dict(SMALL, model_dim=16, num_heads=2, num_cross_layers=1, num_layers=1,
                 attention_dropout=0.0, embedding_dropout=0.0),
    "tfn": _SUBNETWORKS,
    "lmf": dict(_SUBNETWORKS, rank=4),
    "maft": dict(SMALL, model_dim=16, quality_dim=8, dropout=0.0),
}

# What a model learns does not depend on the backend; under JAX these fits would take
# minutes (the model checks train there).
LEARNING = pytest.mark.tensorflow_only("learning is backend-independent; the TensorFlow run checks it")


def without_data_arguments(kwargs):
    """`kwargs` without `seq_len`, `text_dim`, `audio_dim`, `vision_dim`."""
    return {key: value for key, value in kwargs.items() if key not in SMALL}


def regression_only(inputs, targets):
    """Keeps the `regression` target, for models without a classification output."""
    return inputs, {"regression": targets["regression"]}


def msa_batch(num_samples=6, seed=0, **fields):
    """One batch of generator data at fixed lengths, as NumPy arrays."""
    generator = MultimodalGenerator(
        num_samples=num_samples, seed=seed, text_dim=DIMS["text"], audio_dim=DIMS["audio"],
        vision_dim=DIMS["vision"], min_length=2, max_length=LENGTH, **fields,
    )
    inputs, targets = next(iter(generator.dataset("train", num_samples, pad_to=LENGTH)))
    return {k: v.numpy() for k, v in inputs.items()}, {k: v.numpy() for k, v in targets.items()}


@pytest.fixture(scope="session")
def batch():
    inputs, _ = msa_batch()
    assert not inputs["audio_mask"].all(), "the checks need padded steps"
    return inputs


def left_padded(inputs):
    """The same sequences with their real steps moved to the end (padding in front)."""
    moved = dict(inputs)
    for name in MODALITIES:
        mask = inputs[f"{name}_mask"]
        # A stable sort of the mask puts the padded steps first, the real ones in order.
        order = np.argsort(mask, axis=1, kind="stable")
        moved[name] = np.take_along_axis(
            inputs[name], order.reshape(order.shape + (1,) * (inputs[name].ndim - 2)), axis=1
        )
        moved[f"{name}_mask"] = np.take_along_axis(mask, order, axis=1)
    return moved
