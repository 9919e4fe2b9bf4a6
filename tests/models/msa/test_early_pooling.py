import numpy as np
from keras import ops

from msa_tf.models.msa import MSAModel, UnimodalModel
from msa_tf.testing import run_model_checks

from .conftest import MODEL_ARGS, without_data_arguments

ARGS = dict(MODEL_ARGS["msa"], model_dim=8, ff_dim=16)


def test_msa_model_passes_the_model_checks(batch):
    run_model_checks(MSAModel, dict(ARGS, pooling="attention", num_classes=2), batch)


def test_unimodal_model_passes_the_model_checks(batch):
    kwargs = dict(without_data_arguments(ARGS), modality="vision", pooling="last", num_layers=0)
    run_model_checks(UnimodalModel, kwargs, batch)


def test_unimodal_model_reads_only_its_modality(batch, rng):
    model = UnimodalModel(**dict(ARGS, modality="audio"))
    before = ops.convert_to_numpy(model(batch)["regression"])
    changed = dict(batch, text=rng.normal(size=batch["text"].shape),
                   vision=rng.normal(size=batch["vision"].shape))
    np.testing.assert_array_equal(before, ops.convert_to_numpy(model(changed)["regression"]))
    audio = dict(batch, audio=rng.normal(size=batch["audio"].shape).astype("float32"))
    assert np.abs(before - ops.convert_to_numpy(model(audio)["regression"])).max() > 1e-4
