import numpy as np
import pytest
from keras import ops

from msa_tf.models.msa import MSAModel, UnimodalModel
from msa_tf.testing import run_model_checks

from .conftest import MODEL_ARGS

ARGS = dict(MODEL_ARGS["msa"], model_dim=8, ff_dim=16)


def test_msa_model_passes_the_model_checks(batch):
    run_model_checks(MSAModel, dict(ARGS, pooling="attention", num_classes=2), batch)


def test_unimodal_model_passes_the_model_checks(batch):
    run_model_checks(UnimodalModel, dict(ARGS, modality="vision", pooling="last"), batch)


def test_unimodal_model_reads_only_its_modality(batch, rng):
    model = UnimodalModel(**dict(ARGS, modality="audio"))
    before = ops.convert_to_numpy(model(batch)["regression"])
    changed = dict(batch, text=rng.normal(size=batch["text"].shape), vision=rng.normal(size=batch["vision"].shape))
    np.testing.assert_array_equal(before, ops.convert_to_numpy(model(changed)["regression"]))
    audio = dict(batch, audio=rng.normal(size=batch["audio"].shape).astype("float32"))
    assert np.abs(before - ops.convert_to_numpy(model(audio)["regression"])).max() > 1e-4


@pytest.mark.parametrize(
    "model_cls, kwargs, message",
    [
        (MSAModel, {"pooling": "median"}, r"`pooling` must be one of 'mean', 'max', 'attention', 'last'"),
        (MSAModel, {"modalities": ("text", "smell")}, r"`modalities` must be distinct names"),
        (UnimodalModel, {"modality": "video"}, r"`modality` must be one of 'text', 'audio', 'vision'; received modality='video'"),
    ],
)
def test_bad_arguments_raise_value_error(model_cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        model_cls(**dict(ARGS, **kwargs))
