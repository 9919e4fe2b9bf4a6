import numpy as np
import pytest

from msa_tf.models.msa import MSASeqLevelModel
from msa_tf.testing import run_model_checks

from .conftest import SMALL, without_data_arguments

ARGS = dict(SMALL, model_dim=8, num_heads=2, ff_dim=16, dropout=0.0)


@pytest.mark.parametrize(
    "kwargs",
    [dict(ARGS, pooling="attention", num_classes=3),
     dict(without_data_arguments(ARGS), pooling="mean", bidirectional_fusion=True)],
    ids=["attention_pooling_two_heads", "mean_pooling_bidirectional_sizes_from_the_inputs"],
)
def test_passes_the_model_checks(batch, kwargs):
    run_model_checks(MSASeqLevelModel, kwargs, batch)


def test_token_text_input(batch):
    ids = np.random.default_rng(0).integers(1, 50, size=batch["text_mask"].shape) * batch["text_mask"]
    model = MSASeqLevelModel(**dict(ARGS, text_vocab_size=50))
    out = model(dict(batch, text=ids.astype("int32")))
    assert out["regression"].shape == (6, 1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"pooling": "max"}, r"`pooling` must be one of 'mean', 'attention'; received pooling='max'"),
        ({"seq_len": {"text": 8}}, r"`seq_len` must be one value or a dict with the keys"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MSASeqLevelModel(**dict(ARGS, **kwargs))


def test_missing_modality_key_is_named(batch):
    model = MSASeqLevelModel(**ARGS)
    with pytest.raises(ValueError, match=r"The input dict has no 'vision'"):
        model({k: v for k, v in batch.items() if not k.startswith("vision")})
