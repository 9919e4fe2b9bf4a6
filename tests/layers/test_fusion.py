import keras
import numpy as np
import pytest
from keras import ops

from msa_tf.layers import AdaptiveFusionHead, CrossModalFusion, ModalityWeighting
from msa_tf.testing import run_layer_checks


def _modalities(rng, width=16, audio_dim=16, vision_dim=16):
    return {
        "text": rng.normal(size=(3, 5, width)).astype("float32"),
        "audio": rng.normal(size=(3, 7, audio_dim)).astype("float32"),
        "vision": rng.normal(size=(3, 4, vision_dim)).astype("float32"),
        "text_mask": np.array([[1] * 5, [1] * 3 + [0] * 2, [1] * 5], bool),
        # Sample 2 has no audio at all; sample 1's audio is left-padded.
        "audio_mask": np.array([[1] * 7, [0] * 2 + [1] * 5, [0] * 7], bool),
        "vision_mask": np.array([[1] * 4, [1] * 2 + [0] * 2, [1] * 1 + [0] * 3], bool),
    }


@pytest.mark.parametrize("bidirectional", [False, True], ids=["text_anchored", "bidirectional"])
def test_cross_modal_fusion_passes_the_layer_checks(rng, bidirectional):
    run_layer_checks(
        CrossModalFusion,
        {"width": 16, "num_heads": 2, "num_layers": 2, "bidirectional": bidirectional, "ff_dim": 16},
        _modalities(rng),
        output_masks=("text_mask", "audio_mask", "vision_mask"),
    )


def test_text_anchored_fusion_changes_only_the_text(rng):
    data = _modalities(rng, audio_dim=6, vision_dim=5)
    text, audio, vision = CrossModalFusion(width=16, num_heads=2)(**data)
    np.testing.assert_array_equal(ops.convert_to_numpy(audio), data["audio"])
    np.testing.assert_array_equal(ops.convert_to_numpy(vision), data["vision"])
    assert np.abs(ops.convert_to_numpy(text) - data["text"]).max() > 1e-2


def test_fused_text_depends_on_audio_and_vision(rng):
    data = _modalities(rng)
    fusion = CrossModalFusion(width=16, num_heads=2)
    base = ops.convert_to_numpy(fusion(**data)[0])
    for name in ("audio", "vision"):
        changed = dict(data, **{name: rng.normal(size=data[name].shape).astype("float32")})
        assert np.abs(base[0] - ops.convert_to_numpy(fusion(**changed)[0])[0]).max() > 1e-2, name


def test_bidirectional_needs_audio_and_vision_at_the_width(rng):
    data = _modalities(rng, audio_dim=6)
    with pytest.raises(ValueError, match=r"`audio` must equal `width`=16 with bidirectional=True"):
        CrossModalFusion(width=16, num_heads=2, bidirectional=True)(**data)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"width": 16, "num_heads": 3}, r"`width` must be a multiple of `num_heads`=3; received width=16"),
        ({"width": 16, "num_heads": 2, "num_layers": 0}, r"`num_layers` must be a positive integer"),
        ({"width": 16, "num_heads": 2, "kernel_initializer": "glorot"}, r"`kernel_initializer` must be"),
        ({"width": 16, "num_heads": 2, "dropout": 2}, r"`dropout` must be a number in \[0, 1\)"),
    ],
)
def test_cross_modal_fusion_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CrossModalFusion(**kwargs)


def _head_inputs(rng):
    data = _modalities(rng)
    return {
        "inputs": [data["text"], data["audio"], data["vision"]],
        "mask": [data["text_mask"], data["audio_mask"], data["vision_mask"]],
    }


@pytest.mark.parametrize("pooling", ["mean", "attention"])
def test_adaptive_fusion_head_passes_the_layer_checks(rng, pooling):
    run_layer_checks(
        AdaptiveFusionHead,
        {"pooling": pooling, "modality_names": ["text", "audio", "vision"]},
        _head_inputs(rng),
    )


def test_missing_modality_is_left_out_and_weights_renormalise(rng):
    data = _head_inputs(rng)
    head = AdaptiveFusionHead()
    head(**data)
    head.modality_logits.assign(np.array([0.0, 1.0, 2.0], "float32"))
    fused = ops.convert_to_numpy(head(**data))
    pooled = [
        np.stack([x[i][m[i]].mean(axis=0) if m[i].any() else np.zeros(16) for i in range(3)])
        for x, m in zip(data["inputs"], data["mask"])
    ]
    weights = np.exp([0.0, 1.0, 2.0]) / np.exp([0.0, 1.0, 2.0]).sum()
    np.testing.assert_allclose(fused[0], sum(w * p[0] for w, p in zip(weights, pooled)), rtol=1e-5)
    # Sample 2 has no audio: text and vision share the weight.
    pair = np.exp([0.0, 2.0]) / np.exp([0.0, 2.0]).sum()
    np.testing.assert_allclose(fused[2], pair[0] * pooled[0][2] + pair[1] * pooled[2][2], rtol=1e-5)
    assert list(head.modality_weights.values()) == pytest.approx(weights.tolist(), abs=1e-6)


def test_modality_weights_learn_which_modality_carries_the_signal(rng):
    n, length, dim = 512, 6, 8
    target = rng.normal(size=(n, 1)).astype("float32")
    informative = rng.normal(scale=0.3, size=(n, length, dim)).astype("float32") + target[:, :, None]
    noise = [rng.normal(scale=2.0, size=(n, length, dim)).astype("float32") for _ in range(2)]
    inputs = [keras.Input((length, dim)) for _ in range(3)]
    head = AdaptiveFusionHead(modality_names=["noise_a", "signal", "noise_b"])
    model = keras.Model(inputs, keras.layers.Dense(1)(head(inputs)))
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    model.fit([noise[0], informative, noise[1]], target, batch_size=64, epochs=15, verbose=0)
    weights = head.modality_weights
    assert weights["signal"] > 0.6, weights
    assert sum(weights.values()) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    "inputs, kwargs, message",
    [
        ([np.ones((2, 3, 4)), np.ones((2, 3, 5))], {}, r"same last dimension"),
        ([np.ones((2, 3, 4))], {"modality_names": ["a", "b"]}, r"`modality_names` must name each"),
    ],
)
def test_adaptive_fusion_head_rejects_bad_inputs(inputs, kwargs, message):
    with pytest.raises(ValueError, match=message):
        AdaptiveFusionHead(**kwargs)(inputs)


def test_adaptive_fusion_head_rejects_unknown_pooling():
    message = r"`pooling` must be one of 'mean', 'attention'; received pooling='max'"
    with pytest.raises(ValueError, match=message):
        AdaptiveFusionHead(pooling="max")


def test_fusion_model_trains_under_mixed_float16(rng):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        data = _modalities(rng)
        data = {k: np.repeat(v, 32, axis=0) for k, v in data.items()}
        target = data["text"][:, 0, :1] * 100.0
        inputs = {k: keras.Input(v.shape[1:], dtype=v.dtype, name=k) for k, v in data.items()}
        names = ("text", "audio", "vision")
        masks = [inputs[f"{name}_mask"] for name in names]
        fused = CrossModalFusion(16, 2)(*[inputs[n] for n in names], *masks)
        pooled = AdaptiveFusionHead()(list(fused), mask=masks)
        model = keras.Model(inputs, keras.layers.Dense(1, dtype="float32")(pooled))
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        history = model.fit(data, target, batch_size=16, epochs=4, verbose=0)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses))
    assert losses[-1] < 0.8 * losses[0], losses
    assert all(w.dtype == "float32" for w in model.weights)


def _weighting_inputs(rng):
    return {
        "inputs": [rng.normal(size=(3, 8)).astype("float32") for _ in range(3)],
        # Sample 1 has no audio, sample 2 only vision.
        "mask": [np.array([1, 1, 0], bool), np.array([1, 0, 0], bool), np.array([1, 1, 1], bool)],
    }


@pytest.mark.parametrize("hidden_dim", [None, 4], ids=["learned_logits", "scoring_mlps"])
def test_modality_weighting_passes_the_layer_checks(rng, hidden_dim):
    run_layer_checks(
        ModalityWeighting,
        {"hidden_dim": hidden_dim},
        _weighting_inputs(rng),
        expected_output_dtype="float32",
    )


def test_modality_weighting_is_a_softmax_over_the_present_modalities(rng):
    data = _weighting_inputs(rng)
    layer = ModalityWeighting(hidden_dim=4)
    fused, weights = (ops.convert_to_numpy(x) for x in layer(**data))
    scores = np.concatenate(
        [
            ops.convert_to_numpy(score(hidden(vector)))
            for vector, hidden, score in zip(data["inputs"], layer.hidden_layers, layer.score_layers)
        ],
        axis=1,
    )
    present = np.stack(data["mask"], axis=1)
    want = np.where(present, np.exp(scores - scores.max(axis=1, keepdims=True)), 0.0)
    want /= want.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(weights, want, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(fused, np.einsum("bm,mbd->bd", want, np.stack(data["inputs"])),
                               rtol=1e-5, atol=1e-6)
    assert weights.dtype == fused.dtype == np.float32
    # The scores differ per sample: each sample weighs its modalities by itself.
    assert np.ptp(scores, axis=0).max() > 1e-3


def test_a_sample_without_any_modality_fuses_to_zeros(rng):
    data = _weighting_inputs(rng)
    data["mask"] = [np.array([1, 0, 1], bool)] * 3
    fused, weights = (ops.convert_to_numpy(x) for x in ModalityWeighting()(**data))
    np.testing.assert_array_equal(weights[1], 0.0)
    np.testing.assert_array_equal(fused[1], 0.0)
    np.testing.assert_allclose(weights[[0, 2]], 1 / 3, rtol=1e-6)


@pytest.mark.parametrize(
    "inputs, mask, message",
    [
        ([np.ones((2, 4)), np.ones((2, 5))], None, r"same last dimension"),
        ([np.ones((2, 3, 4))], None, r"must be a list of \(batch, dim\) vectors"),
        ([np.ones((2, 4)), np.ones((2, 4))], [np.ones(2, bool)], r"`mask` must be a list with one entry"),
    ],
)
def test_modality_weighting_rejects_bad_inputs(inputs, mask, message):
    with pytest.raises(ValueError, match=message):
        ModalityWeighting()(inputs, mask=mask)


def test_modality_weighting_rejects_a_bad_hidden_dim():
    with pytest.raises(ValueError, match=r"`hidden_dim` must be a positive integer; received hidden_dim=0"):
        ModalityWeighting(hidden_dim=0)
