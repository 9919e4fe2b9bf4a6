import keras
import numpy as np
import pytest

from generators import MultimodalGenerator
from msa_tf.models.msa import BalancedMSAModel
from msa_tf.testing import run_model_checks

from .conftest import DIMS, LENGTH, MODEL_ARGS, regression_only

ARGS = dict(MODEL_ARGS["msa_balanced"], model_dim=8, ff_dim=16)


def test_passes_the_model_checks(batch):
    # The unimodal heads learn only in `train_step`; the fit step checks they move.
    run_model_checks(BalancedMSAModel, ARGS, batch, call_gradients=False)


def test_unimodal_loss_weights_favour_the_modality_that_lags():
    keras.utils.set_random_seed(0)
    generator = MultimodalGenerator(
        num_samples=512, text_dim=DIMS["text"], audio_dim=DIMS["audio"], vision_dim=DIMS["vision"],
        min_length=4, max_length=LENGTH, interaction="unique", unique_modality="audio",
        correlation_strength=0.9,
    )
    data = generator.dataset("train", 64, pad_to=LENGTH, drop_remainder=True).map(regression_only)
    model = BalancedMSAModel(**dict(ARGS, modality_dropout=0.2, balance=2.0))
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss={"regression": "mae"})
    history = model.fit(data.cache(), epochs=3, verbose=0).history
    weights = dict(zip(("text", "audio", "vision"), keras.ops.convert_to_numpy(model.aux_weights)))
    # Only audio carries the target: its unimodal loss falls fastest, so its weight drops.
    assert history["aux_audio_loss"][-1] < 0.8 * history["aux_audio_loss"][0]
    assert weights["audio"] < min(weights["text"], weights["vision"])
    assert sum(weights.values()) == pytest.approx(3.0, abs=1e-4)
    assert history["weight_audio"][-1] < history["weight_audio"][0]
    assert np.all(np.isfinite(history["loss"]))
    assert set(model.evaluate(data, verbose=0, return_dict=True)) == {"loss"}
