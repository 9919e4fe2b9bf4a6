import numpy as np
import pytest
from keras import ops

from msa_tf.models import get
from msa_tf.models.msa.tensor_fusion import LMF, TFN
from msa_tf.testing import run_model_checks

from .conftest import SMALL, left_padded, without_data_arguments

ARGS = dict(SMALL, model_dim={"text": 6, "audio": 4, "vision": 3}, post_fusion_dim=8, dropout=0.0)


def test_tfn_passes_the_model_checks(batch):
    run_model_checks(TFN, dict(ARGS, num_classes=3), batch)


def test_lmf_passes_the_model_checks(batch):
    run_model_checks(LMF, dict(without_data_arguments(ARGS), model_dim=5, rank=2), batch)


@pytest.mark.parametrize("model_cls, extra", [(TFN, {}), (LMF, {"rank": 2})], ids=["tfn", "lmf"])
def test_left_and_right_padding_give_the_same_outputs(batch, model_cls, extra):
    model = model_cls(**ARGS, **extra)
    right = model(batch)
    left = model(left_padded(batch))
    for key in right:
        np.testing.assert_allclose(ops.convert_to_numpy(left[key]), ops.convert_to_numpy(right[key]),
                                   rtol=1e-5, atol=1e-5)


def test_token_text_input(batch):
    ids = np.random.default_rng(0).integers(1, 50, size=batch["text_mask"].shape) * batch["text_mask"]
    model = TFN(**dict(ARGS, text_vocab_size=50, num_classes=2))
    out = model(dict(batch, text=ids.astype("int32")))
    assert out["regression"].shape == (6, 1) and out["classification"].shape == (6, 2)


def test_registered_names_build_the_models():
    assert isinstance(get("tfn", **ARGS), TFN)
    assert isinstance(get("lmf", **ARGS), LMF)


def test_model_dim_is_one_width_or_one_per_modality(batch):
    one_width = TFN(**dict(ARGS, model_dim=5)).subnetworks(batch)
    per_modality = TFN(**ARGS).subnetworks(batch)
    assert [v.shape[-1] for v in one_width] == [5, 5, 5]
    assert [v.shape[-1] for v in per_modality] == [6, 4, 3]


@pytest.mark.parametrize(
    "model_dim, message",
    [
        ({"text": 8}, r"`model_dim` must be one value or a dict with the keys \('text', 'audio', 'vision'\)"),
        ({"text": 8, "audio": 0, "vision": 4},
         r"`model_dim\['audio'\]` must be a positive integer; received model_dim\['audio'\]=0"),
    ],
)
def test_bad_model_dim_raises_value_error(model_dim, message):
    with pytest.raises(ValueError, match=message):
        TFN(**dict(ARGS, model_dim=model_dim))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"audio_dim": 7},
         r"last dimension of `audio` must equal `audio_dim`=7; received audio with shape \(6, 8, 6\)"),
        ({"seq_len": 4}, r"`text` has 8 steps, more than `seq_len`=4 allows"),
        ({"text_vocab_size": 50},
         r"`text` must be \(batch, time\) token ids; received text with shape"),
    ],
)
def test_inputs_that_contradict_the_arguments_raise_value_error(batch, kwargs, message):
    with pytest.raises(ValueError, match=message):
        LMF(**dict(ARGS, **kwargs))(batch)
