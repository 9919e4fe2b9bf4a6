import numpy as np
import pytest

from generators.multimodal import PRESETS, MultimodalConfig, MultimodalGenerator

SMALL = dict(text_dim=6, audio_dim=5, vision_dim=4, min_length=3, max_length=12)


def _concat(batches, key, part=0):
    return np.concatenate([b[part][key].numpy() for b in batches])


def _generator(**fields):
    return MultimodalGenerator(**{**SMALL, "num_samples": 96, **fields})


@pytest.mark.parametrize("batch_size", [1, 7, 96])
def test_examples_are_bit_identical_whatever_the_batch_size(batch_size):
    gen = _generator()
    reference = gen.generate("train", 0, 96)
    batches = list(gen.batches("train", batch_size))
    for key in ("text", "audio", "vision", "audio_mask"):
        np.testing.assert_array_equal(_concat(batches, key), reference[0][key].numpy())
    np.testing.assert_array_equal(
        _concat(batches, "regression", part=1), reference[1]["regression"].numpy()
    )


def test_an_example_depends_only_on_seed_split_and_index():
    gen = _generator()
    middle = gen.generate("valid", 40, 5)[0]["vision"].numpy()
    full = gen.generate("valid", 0, 60)[0]["vision"].numpy()
    np.testing.assert_array_equal(middle, full[40:45])
    again = _generator().generate("valid", 40, 5)[0]["vision"].numpy()
    np.testing.assert_array_equal(middle, again)
    other_seed = _generator(seed=1).generate("valid", 40, 5)[0]["vision"].numpy()
    assert not np.array_equal(middle, other_seed)


def test_splits_share_no_example():
    gen = _generator()
    audio = {s: gen.generate(s, 0, 96)[0]["audio"].numpy() for s in ("train", "valid", "test")}
    for a, b in [("train", "valid"), ("train", "test"), ("valid", "test")]:
        rows_a = {row.tobytes() for row in audio[a][:, 0]}
        assert not rows_a & {row.tobytes() for row in audio[b][:, 0]}


def test_dataset_pads_to_fixed_lengths_with_static_shapes():
    gen = _generator()
    data = gen.dataset("train", 32, pad_to={"text": 12, "audio": 16, "vision": 8}, drop_remainder=True)
    inputs, targets = data.element_spec
    assert inputs["audio"].shape.as_list() == [32, 16, 5]
    assert inputs["vision"].shape.as_list() == [32, 8, 4]
    assert targets["regression"].shape.as_list() == [32, 1]
    batches = list(data)
    assert len(batches) == 3
    audio, mask = batches[0][0]["audio"].numpy(), batches[0][0]["audio_mask"].numpy()
    assert not mask[:, 12:].any() and not audio[:, 12:].any()


def test_dataset_without_pad_to_cuts_each_batch_to_its_longest_sequence():
    gen = _generator()
    for inputs, _ in gen.dataset("test", 8):
        for m in ("text", "audio", "vision"):
            mask = inputs[f"{m}_mask"].numpy()
            assert mask[:, -1].any(), m


def test_padded_steps_are_zero_and_lengths_stay_in_range():
    inputs, _ = _generator(padding="left").generate("train", 0, 96)
    for m in ("text", "audio", "vision"):
        mask = inputs[f"{m}_mask"].numpy()
        lengths = mask.sum(axis=1)
        assert lengths.min() >= 3 and lengths.max() <= 12
        assert lengths.min() < lengths.max()
        # Left padding: the real steps are a suffix.
        np.testing.assert_array_equal(mask, np.arange(12)[None, :] >= 12 - lengths[:, None])
        assert not inputs[m].numpy()[~mask].any()


def test_aligned_modalities_share_one_length():
    inputs, _ = _generator(aligned=True).generate("train", 0, 50)
    np.testing.assert_array_equal(inputs["text_mask"], inputs["audio_mask"])
    np.testing.assert_array_equal(inputs["text_mask"], inputs["vision_mask"])


def test_achieved_correlation_rises_with_correlation_strength():
    achieved = [
        _generator(correlation_strength=c, num_samples=1500).report()["correlation"]
        for c in (0.0, 0.1, 0.3, 0.6, 0.9)
    ]
    for m in ("text", "audio", "vision"):
        values = [a[m] for a in achieved]
        assert abs(values[0]) < 0.1
        assert all(b > a + 0.02 for a, b in zip(values, values[1:])), (m, values)


def test_default_report_matches_the_documented_correlation():
    report = MultimodalGenerator(num_samples=2000).report()
    for m in ("text", "audio", "vision"):
        assert report["correlation"][m] == pytest.approx(report["expected_correlation"][m], abs=0.03)
        assert report["correlation"][m] == pytest.approx(0.94, abs=0.03)
        assert 25 < report["length"][m]["mean"] < 35
    assert report["regression"]["min"] >= -3 and report["regression"]["max"] <= 3
    assert sum(report["class_counts"]) == 2000


def test_unique_interaction_puts_the_signal_in_one_modality():
    gen = _generator(interaction="unique", unique_modality="audio", num_samples=1500)
    correlation = gen.report()["correlation"]
    assert correlation["audio"] > 0.8
    assert abs(correlation["text"]) < 0.1 and abs(correlation["vision"]) < 0.1


def test_synergy_needs_both_modalities():
    gen = _generator(interaction="synergy", correlation_strength=0.9, num_samples=2000)
    report = gen.report()
    assert max(abs(v) for v in report["correlation"].values()) < 0.1
    inputs, targets = gen.generate("train", 0, 2000)
    evidence = {}
    for m in ("audio", "vision"):
        mask = inputs[f"{m}_mask"].numpy()
        score = gen._evidence(m, inputs[m].numpy(), mask)
        evidence[m] = score.sum(axis=1) / mask.sum(axis=1)
    product = evidence["audio"] * evidence["vision"]
    assert np.corrcoef(product, targets["regression"].numpy()[:, 0])[0, 1] > 0.7


@pytest.mark.parametrize("missing, rate", [("modality", 0.3), ("steps", 0.25)])
def test_missing_rate_removes_modalities_or_steps(missing, rate):
    gen = _generator(missing=missing, missing_rate=rate, num_samples=2000)
    inputs, _ = gen.generate("train", 0, 2000)
    full, _ = _generator(num_samples=2000).generate("train", 0, 2000)
    for m in ("text", "audio", "vision"):
        mask, full_mask = inputs[f"{m}_mask"].numpy(), full[f"{m}_mask"].numpy()
        assert not (mask & ~full_mask).any()
        if missing == "modality":
            assert np.mean(~mask.any(axis=1)) == pytest.approx(rate, abs=0.04)
        else:
            assert 1 - mask.sum() / full_mask.sum() == pytest.approx(rate, abs=0.03)
        assert not inputs[m].numpy()[~mask].any()


@pytest.mark.parametrize("num_classes", [2, 3, 7])
def test_classification_follows_the_regression_target(num_classes):
    _, targets = _generator(num_classes=num_classes).generate("train", 0, 96)
    y = targets["regression"].numpy()[:, 0]
    labels = targets["classification"].numpy()
    if num_classes == 2:
        expected = (y >= 0).astype(int)
    else:
        half = (num_classes - 1) // 2
        expected = np.round(np.clip(y, -half, half)).astype(int) + half
    np.testing.assert_array_equal(labels, expected)
    assert labels.dtype == np.int32


def test_token_text_carries_sentiment():
    gen = _generator(text="tokens", vocab_size=1000, correlation_strength=0.6, num_samples=1500)
    inputs, _ = gen.generate("train", 0, 100)
    ids, mask = inputs["text"].numpy(), inputs["text_mask"].numpy()
    assert ids.dtype == np.int32 and ids.shape == (100, 12)
    assert ids[mask].min() >= 1 and ids[mask].max() < 1000 and not ids[~mask].any()
    assert gen.report()["correlation"]["text"] > 0.6


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_presets_have_the_feature_files_shapes(preset):
    config = MultimodalConfig.from_preset(preset, num_samples=4)
    spec = PRESETS[preset]
    assert (config.text_dim, config.audio_dim, config.vision_dim) == (
        spec["text_dim"], spec["audio_dim"], spec["vision_dim"]
    )
    inputs, _ = MultimodalGenerator(config).generate("train", 0, 2)
    for m in ("text", "audio", "vision"):
        assert inputs[m].shape[1] == config.lengths()[m][1]


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"correlation_strength": 1.5},
         r"`correlation_strength\['text'\]` must be a number in \[0, 1\]; received .*=1.5"),
        ({"correlation_strength": {"text": 0.5}}, r"`correlation_strength` must be one value or a dict"),
        ({"min_length": 20, "max_length": 10},
         r"`min_length` must not exceed `max_length`; received min_length=20 > max_length=10"),
        ({"interaction": "additive"}, r"`interaction` must be one of 'redundant', 'unique', 'synergy'"),
        ({"num_classes": 5}, r"`num_classes` must be one of 2, 3, 7; received num_classes=5"),
        ({"missing_rate": -0.1}, r"`missing_rate` must be a number in \[0, 1\]"),
        ({"synergy_modalities": ("audio", "audio")}, r"`synergy_modalities` must be two different"),
        ({"synergy_modalities": None}, r"`synergy_modalities` must be two different .*=None"),
        ({"noise_level": float("nan")}, r"`noise_level` must be a finite number in \[0, 1000000\]; "
                                        r"received noise_level=nan"),
        ({"noise_level": float("inf")}, r"received noise_level=inf"),
        ({"noise_level": True}, r"received noise_level=True"),
        ({"missing_rate": float("nan")},
         r"`missing_rate` must be a number in \[0, 1\]; received missing_rate=nan"),
        ({"correlation_strength": {"text": 0.5, "audio": float("-inf"), "vision": 0.5}},
         r"`correlation_strength\['audio'\]` must be a number in \[0, 1\]; received .*=-inf"),
        ({"num_classes": 7.0}, r"`num_classes` must be one of 2, 3, 7; received num_classes=7.0"),
        ({"aligned": "yes"}, r"`aligned` must be True or False; received aligned='yes'"),
        ({"padding": "rigth"}, r"received padding='rigth' \(did you mean 'right'\?\)"),
        ({"vocab_size": 2**40}, r"`vocab_size` must be an integer in \[16, 16777216\]"),
        ({"audio_dim": 10**9}, r"`audio_dim` must be an integer in \[1, 67108863\]"),
        ({"audio_dim": 10**6, "max_length": 100},
         r"`max_length\['audio'\]` must be an integer in \[1, 67\] \(with audio_dim=1000000: .*"
         r"received max_length\['audio'\]=100"),
        ({"num_samples": 2**70}, r"`num_samples` must be an integer in \[1, 4611686018427387904\]"),
    ],
)
def test_bad_parameters_raise_value_error(fields, message):
    with pytest.raises(ValueError, match=message):
        MultimodalConfig(**fields)


def test_unknown_preset_split_and_batch_size_raise_value_error():
    with pytest.raises(ValueError, match=r"`preset` must be one of 'mosi', .*; received preset='iemocap'"):
        MultimodalGenerator(preset="iemocap")
    gen = _generator()
    with pytest.raises(ValueError, match=r"`split` must be one of 'train', 'valid', 'test'; "
                                         r"received split='dev'"):
        gen.dataset("dev", 8)
    with pytest.raises(ValueError, match=r"`batch_size` must be an integer in \[1, \d+\]; "
                                         r"received batch_size=0"):
        gen.dataset("train", 0)
    forever = _generator(num_samples=None)
    assert next(iter(gen.dataset("train", 2**62)))[1]["regression"].shape[0] == 96
    with pytest.raises(ValueError, match=r"`batch_size` must be at most 9418787 for this config \(a batch "
                                         r"draws at most 2147483648 random numbers, an example 228\); "
                                         r"received batch_size=10000000"):
        forever.dataset("train", 10**7)
    with pytest.raises(ValueError, match=r"`count` must be at most 9418787 .*received count=9418788"):
        forever.generate("train", 0, 9418788)


@pytest.mark.parametrize("window", [1, 4])
def test_smoothing_correlates_neighbouring_steps(window):
    gen = _generator(smoothing=window, correlation_strength=0.0, noise_level=2.0, min_length=12)
    audio = gen.generate("train", 0, 96)[0]["audio"].numpy()
    assert audio[:, window:].std() == pytest.approx(2.0, rel=0.05)
    lag_one = np.corrcoef(audio[:, window:-1].ravel(), audio[:, window + 1 :].ravel())[0, 1]
    assert lag_one == pytest.approx((window - 1) / window, abs=0.05)


def test_num_samples_none_streams_forever():
    gen = _generator(num_samples=None)
    batches = list(gen.dataset("train", 4).take(5))
    assert len(batches) == 5
    first = gen.generate("train", 16, 4)[0]["audio"].numpy()
    np.testing.assert_array_equal(batches[4][0]["audio"].numpy(), first[:, : batches[4][0]["audio"].shape[1]])
