import keras
import numpy as np
import pytest
from keras import ops

from msa_tf.modalities import MODALITIES
from msa_tf.models import get
from msa_tf.models.msa.maft import MAFT
from msa_tf.testing import run_model_checks

from .conftest import LEARNING, SMALL, left_padded, msa_batch

ARGS = dict(SMALL, model_dim=6, quality_dim=4, dropout=0.0)


def _weights(model, inputs):
    weights = model.quality_weights(inputs)
    return np.stack([ops.convert_to_numpy(weights[m]) for m in MODALITIES], axis=1)


def test_passes_the_model_checks(batch):
    run_model_checks(MAFT, dict(ARGS, pooling="attention"), batch)


def test_outputs_both_heads_by_default(batch):
    out = MAFT(**ARGS)(batch)
    assert sorted(out) == ["classification", "regression"]
    assert out["regression"].shape == (6, 1) and out["classification"].shape == (6, 3)
    assert out["regression"].dtype == "float32" and out["classification"].dtype == "float32"


def test_missing_modality_gets_quality_weight_zero(batch):
    missing = dict(batch)
    missing["vision_mask"] = batch["vision_mask"].copy()
    missing["vision_mask"][0] = False
    missing["text_mask"] = batch["text_mask"].copy()
    missing["text_mask"][1] = False
    model = MAFT(**ARGS)
    weights = _weights(model, missing)
    assert weights[0, 2] == 0.0 and weights[1, 0] == 0.0
    assert (weights[2:] > 0).all()
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-6)
    # The scores come from each sample's own vectors: the weights differ by sample.
    assert np.ptp(weights[2:, 1]) > 1e-4
    # What a missing modality holds cannot change the output.
    noisy = dict(missing, vision=missing["vision"].copy())
    noisy["vision"][0] = np.random.default_rng(0).normal(scale=10.0, size=noisy["vision"][0].shape)
    np.testing.assert_allclose(ops.convert_to_numpy(model(noisy)["regression"]),
                               ops.convert_to_numpy(model(missing)["regression"]), atol=1e-5)


def test_a_sample_with_no_modality_gets_finite_outputs_and_zero_weights(batch):
    empty = dict(batch, **{f"{m}_mask": np.zeros_like(batch[f"{m}_mask"]) for m in MODALITIES})
    model = MAFT(**ARGS)
    np.testing.assert_array_equal(_weights(model, empty), 0.0)
    out = model(empty)
    assert all(np.isfinite(ops.convert_to_numpy(v)).all() for v in out.values())


@pytest.mark.parametrize("pooling", ["mean", "max", "attention", "last"])
def test_left_and_right_padding_give_the_same_outputs(batch, pooling):
    model = MAFT(**dict(ARGS, pooling=pooling))
    left = left_padded(batch)
    assert not (left["text_mask"] == batch["text_mask"]).all(), "the padding moved"
    right_out, left_out = model(batch), model(left)
    for key in right_out:
        np.testing.assert_allclose(ops.convert_to_numpy(left_out[key]),
                                   ops.convert_to_numpy(right_out[key]), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_weights(model, left), _weights(model, batch), rtol=1e-5, atol=1e-6)


@LEARNING
def test_regression_and_classification_train_together():
    inputs, targets = msa_batch(num_samples=12, seed=3, num_classes=3)
    keras.utils.set_random_seed(0)
    model = MAFT(**ARGS)
    model.compile(
        optimizer=keras.optimizers.Adam(0.02), run_eagerly=True,
        loss={"regression": "mae",
              "classification": keras.losses.SparseCategoricalCrossentropy(from_logits=True)},
    )
    history = model.fit(inputs, targets, batch_size=12, epochs=5, verbose=0).history
    for key in ("regression_loss", "classification_loss"):
        assert history[key][-1] < history[key][0], (key, history[key])


def test_token_text_input(batch):
    ids = np.random.default_rng(0).integers(1, 50, size=batch["text_mask"].shape) * batch["text_mask"]
    out = MAFT(**dict(ARGS, text_vocab_size=50))(dict(batch, text=ids.astype("int32")))
    assert out["regression"].shape == (6, 1)


def test_registered_name_builds_the_model():
    assert isinstance(get("maft", **ARGS), MAFT)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_classes": None}, r"`num_classes` must be an integer >= 2; received num_classes=None"),
        ({"num_classes": 1}, r"`num_classes` must be an integer >= 2; received num_classes=1"),
        ({"pooling": "avg"}, r"`pooling` must be one of 'mean', 'max', 'attention', 'last'"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MAFT(**dict(ARGS, **kwargs))


def test_inputs_that_contradict_the_arguments_raise_value_error(batch):
    with pytest.raises(ValueError, match=r"`vision` must equal `vision_dim`=9; received vision"):
        MAFT(**dict(ARGS, vision_dim=9))(batch)
