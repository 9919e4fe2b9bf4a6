import math

import numpy as np
import pytest
import tensorflow as tf

from generators.sequence_analysis import (
    analyze,
    detect_patterns,
    format_report,
    sequence_complexity,
    validate,
)


def zipf(rng, shape, exponent, vocab):
    """Token ids with P(id = k - 1) proportional to k^-exponent, k = 1..vocab."""
    weights = np.arange(1, vocab + 1.0) ** -exponent
    return rng.choice(vocab, size=shape, p=weights / weights.sum())


def planted(rng, num, length, density, vocab=1000, shortest=8):
    """Uniform random tokens with pattern spans of `shortest` to 24 tokens covering about
    `density` of the positions, and their `"pattern"` metadata (the kind, -1 outside).

    Kinds: 0 a motif of 1 to 6 tokens repeated, 1 a progression of step +-1, 2 a mirror
    (odd spans have a random centre).
    """
    tokens = rng.integers(0, vocab, size=(num, length))
    pattern = np.full((num, length), -1)
    for row in range(num):
        position = 0
        while position < length:
            span = int(rng.integers(shortest, 25))
            if rng.random() < density and position + span <= length:
                kind = int(rng.integers(3))
                if kind == 0:
                    values = np.resize(rng.integers(0, vocab, size=int(rng.integers(1, 7))), span)
                elif kind == 1:
                    step = int(rng.choice([-1, 1]))
                    first = rng.integers(0, vocab - span) if step > 0 else rng.integers(span, vocab)
                    values = first + step * np.arange(span)
                else:
                    half = rng.integers(0, vocab, size=span // 2)
                    values = np.concatenate([half, rng.integers(0, vocab, size=span % 2), half[::-1]])
                tokens[row, position:position + span] = values
                pattern[row, position:position + span] = kind
            position += span
    return {"tokens": tokens, "pattern": pattern}


def padded(rng, num, width, vocab, min_length=0):
    """Right-padded random sequences: tokens, their mask, and padding holding garbage."""
    lengths = rng.integers(min_length, width + 1, size=num)
    mask = np.arange(width) < lengths[:, None]
    tokens = np.where(mask, zipf(rng, (num, width), 1.1, vocab), -7)
    return {"tokens": tokens, "tokens_mask": mask}


def assert_same_report(actual, expected):
    assert actual.keys() == expected.keys()
    for key, value in expected.items():
        if isinstance(value, dict):
            assert_same_report(actual[key], value)
        elif isinstance(value, np.ndarray):
            np.testing.assert_array_equal(actual[key], value, err_msg=key)
        elif isinstance(value, float):
            assert actual[key] == pytest.approx(value, rel=1e-12), key
        else:
            assert actual[key] == value, key


def test_zipf_tokens_give_their_exponent_as_the_rank_frequency_slope():
    rng = np.random.default_rng(0)
    report = analyze([{"tokens": zipf(rng, (200, 100), 1.2, 1000)}], vocab_size=1000)
    distribution = report["token_distribution"]
    # Measured over seeds 0-3: -1.185 to -1.199, fitted over ranks 1-176 to 1-180.
    assert distribution["slope"] == pytest.approx(-1.2, abs=0.03)
    first, last = distribution["fit_ranks"]
    assert first == 1 and 150 < last < 200
    counts = distribution["counts"]
    assert counts.shape == (1000,) and counts.sum() == report["num_tokens"] == 20000
    np.testing.assert_array_equal(distribution["rank"], np.arange(1, np.count_nonzero(counts) + 1))
    np.testing.assert_allclose(distribution["frequency"], np.sort(counts[counts > 0])[::-1] / 20000)
    assert report["vocab_usage"] == report["distinct_tokens"] / 1000


def test_identical_constant_sequences():
    report = analyze([{"tokens": np.full((50, 40), 7)}])
    assert report["num_sequences"] == 50 and report["unique_sequences"] == 1
    assert report["sequence_diversity"] == 1 / 50
    assert report["global_coherence"] == 1.0
    assert report["local_coherence"] == 1.0
    assert report["entropy_bits"] == 0.0
    assert report["detected_pattern_ratio"] == 1.0
    assert report["vocab_size"] == 8 and report["distinct_tokens"] == 1
    assert report["token_diversity"] == 1 / 2000
    assert report["token_distribution"]["slope"] is None
    assert report["top_ngrams"] == [((7, 7), 50 * 39)]
    assert report["complexity"] < 0.05  # measured 0.031


def test_uniform_tokens_have_the_entropy_of_the_vocabulary():
    rng = np.random.default_rng(0)
    report = analyze([{"tokens": rng.integers(0, 16, size=(20, 4096))}], vocab_size=16)
    # The plug-in estimate is low by about 15 / (2 * 4096 ln 2) = 0.003 bits.
    assert report["entropy_bits"] == pytest.approx(4.0, abs=0.01)
    assert report["local_coherence"] == pytest.approx(1 / 16, abs=0.005)
    assert report["complexity"] > 0.95
    assert report["sequence_diversity"] == 1.0 and report["unique_sequences_exact"]


def test_local_coherence_counts_adjacent_repeats_of_real_tokens():
    batch = {"tokens": np.array([[1, 1, 2, 2, 2, 9], [3, 4, 3, 4, 9, 9]]),
             "tokens_mask": np.array([[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 0, 0]], bool)}
    report = analyze([batch], vocab_size=10)
    assert report["local_coherence"] == 3 / 7  # the padded 9s do not repeat
    assert report["global_coherence"] == pytest.approx((3 / 5 + 2 / 4) / 2)
    assert report["entropy_bits"] == pytest.approx((-0.4 * math.log2(0.4) - 0.6 * math.log2(0.6) + 1) / 2)
    assert report["length"] == {"mean": 4.5, "min": 4, "max": 5}
    assert report["top_ngrams"][:2] == [((2, 2), 2), ((3, 4), 2)]


def test_padding_is_never_counted():
    rng = np.random.default_rng(1)
    batch = padded(rng, 64, 30, 50)
    garbage = dict(batch, tokens=np.where(batch["tokens_mask"], batch["tokens"],
                                          rng.integers(-5, 10**6, size=(64, 30))))
    real_only = [row[mask].tolist() for row, mask in zip(batch["tokens"], batch["tokens_mask"])]
    report = analyze([garbage], vocab_size=50)
    assert_same_report(report, analyze(real_only, vocab_size=50))
    assert report["num_tokens"] == batch["tokens_mask"].sum() == report["token_distribution"]["counts"].sum()
    assert validate([garbage], vocab_size=50, min_length=0) == []


def test_streaming_gives_the_report_of_one_batch_whatever_the_form():
    rng = np.random.default_rng(2)
    whole = padded(rng, 300, 24, 40)
    whole["pattern"] = np.where(rng.random((300, 24)) < 0.3, 1, -1)
    expected = analyze([whole], vocab_size=40, top_k=5, ngram=3)
    batches = [{key: value[i:i + 7] for key, value in whole.items()} for i in range(0, 300, 7)]
    assert_same_report(analyze(batches, vocab_size=40, top_k=5, ngram=3), expected)
    tensors = [{key: tf.constant(value) for key, value in batch.items()} for batch in batches]
    assert_same_report(analyze(tensors, vocab_size=40, top_k=5, ngram=3), expected)
    dataset = tf.data.Dataset.from_tensor_slices(whole).batch(32)
    assert_same_report(analyze(dataset, vocab_size=40, top_k=5, ngram=3), expected)
    inputs = {"tokens": whole["tokens"], "tokens_mask": whole["tokens_mask"]}
    pairs = tf.data.Dataset.from_tensor_slices((inputs, {"pattern": whole["pattern"]})).batch(50)
    assert_same_report(analyze(pairs, vocab_size=40, top_k=5, ngram=3), expected)
    # Left padding: the real tokens at the end of each row.
    order = np.argsort(whole["tokens_mask"], axis=1, kind="stable")
    left = {key: np.take_along_axis(value, order, axis=1) for key, value in whole.items()}
    assert_same_report(analyze([left], vocab_size=40, top_k=5, ngram=3), expected)
    expected.pop("pattern_ratio")
    lists = [row[mask].tolist() for row, mask in zip(whole["tokens"], whole["tokens_mask"])]
    report = analyze(iter(lists), vocab_size=40, top_k=5, ngram=3)
    assert report.pop("pattern_ratio") is None
    assert_same_report(report, expected)


def test_metadata_ratios_count_real_positions_only():
    batch = {"tokens": np.arange(12).reshape(2, 6),
             "tokens_mask": np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], bool),
             "pattern": np.array([[2, 2, -1, -1, 0, 0], [-1, 0, 0, 0, -1, -1]]),
             "predictable": np.array([[0, 1, 1, 0, 1, 1], [0, 0, 0, 0, 0, 1]], bool)}
    report = analyze([batch])
    assert report["pattern_ratio"] == 5 / 10
    assert report["predictable_ratio"] == 3 / 10


def test_detected_patterns_track_the_planted_share():
    """Measured over spans of 8-24 tokens: within 0.004 of the planted share over 50 to
    1,000 ids; over spans of 4-24 tokens, low by up to 0.03 (short spans escape)."""
    rng = np.random.default_rng(3)
    detected = []
    for density in (0.0, 0.2, 0.4, 0.6, 0.9):
        report = analyze([planted(rng, 100, 200, density)], vocab_size=1000)
        assert report["detected_pattern_ratio"] == pytest.approx(report["pattern_ratio"], abs=0.01)
        detected.append(report["detected_pattern_ratio"])
    assert detected[0] == 0.0
    assert np.all(np.diff(detected) > 0.1)
    short = analyze([planted(rng, 100, 200, 0.5, vocab=50, shortest=4)], vocab_size=50)
    assert short["detected_pattern_ratio"] == pytest.approx(short["pattern_ratio"], abs=0.04)


def test_no_patterns_are_detected_in_uniform_tokens_over_a_big_vocabulary():
    rng = np.random.default_rng(4)
    report = analyze([{"tokens": rng.integers(0, 10**6, size=(100, 500))}])
    assert report["detected_pattern_ratio"] == 0.0
    assert report["complexity"] == 1.0


@pytest.mark.parametrize("sequence, marked", [
    ([9, 4, 4, 4, 4, 8], [0, 1, 1, 1, 1, 0]),  # period 1
    ([9, 4, 4, 4, 8, 7], [0, 0, 0, 0, 0, 0]),  # too short a run
    ([1, 5, 6, 7, 5, 6, 7, 2], [0, 1, 1, 1, 1, 1, 1, 0]),  # period 3
    ([0, 10, 8, 6, 4, 2, 1, 5], [0, 1, 1, 1, 1, 1, 0, 0]),  # progression of step -2
    ([9, 1, 2, 3, 5, 3, 2, 1, 8], [0, 1, 1, 1, 1, 1, 1, 1, 0]),  # odd mirror
    ([9, 1, 2, 3, 3, 2, 1, 8], [0, 1, 1, 1, 1, 1, 1, 0]),  # even mirror
])
def test_each_detector_rule(sequence, marked):
    np.testing.assert_array_equal(detect_patterns([sequence])[0], np.array(marked, bool))


def test_detection_follows_the_real_tokens_through_gaps():
    tokens = np.array([[5, 3, 3, 3, 3, 1, 2, 3]])
    mask = np.array([[1, 1, 0, 1, 1, 1, 1, 1]], bool)
    # Real tokens 5 3 3 3 1 2 3: the run 3 3 3 is too short; 1 2 3 likewise.
    np.testing.assert_array_equal(detect_patterns(tokens, mask), np.zeros((1, 8), bool))
    mask = np.array([[0, 1, 1, 1, 1, 1, 1, 1]], bool)
    np.testing.assert_array_equal(detect_patterns(tokens, mask)[0], [0, 1, 1, 1, 1, 0, 0, 0])


def test_ngram_counts_are_exact_within_capacity_and_bounded_beyond():
    rng = np.random.default_rng(5)
    tokens = zipf(rng, (400, 50), 1.3, 200)
    bigrams = np.stack([tokens[:, :-1].ravel(), tokens[:, 1:].ravel()], axis=1)
    keys, counts = np.unique(bigrams, axis=0, return_counts=True)
    truth = {tuple(int(t) for t in key): int(c) for key, c in zip(keys, counts)}
    batches = [{"tokens": tokens[i:i + 16]} for i in range(0, 400, 16)]
    exact = analyze(batches, top_k=20, ngram=2)
    assert exact["ngram_max_error"] == 0
    best = sorted(truth.items(), key=lambda item: (-item[1], item[0]))[:20]
    assert exact["top_ngrams"] == best
    bounded = analyze(batches, top_k=5, ngram=2, ngram_capacity=200)
    error = bounded["ngram_max_error"]
    assert 0 < error <= len(bigrams) / 201
    for ids, count in bounded["top_ngrams"]:
        assert truth[ids] - error <= count <= truth[ids]
    assert [ids for ids, _ in bounded["top_ngrams"][:3]] == [ids for ids, _ in best[:3]]


def test_unique_sequences_are_exact_or_estimated_beyond_the_cap():
    rng = np.random.default_rng(6)
    sequences = rng.integers(0, 1000, size=(20000, 8))
    batches = [{"tokens": np.concatenate([sequences, sequences[:5000]])}]
    exact = analyze(batches)
    assert (exact["unique_sequences"], exact["unique_sequences_exact"]) == (20000, True)
    estimate = analyze(batches, exact_sequences=1000)
    assert not estimate["unique_sequences_exact"]
    # HyperLogLog over 2^14 registers: standard error 0.8%; measured 20135.
    assert estimate["unique_sequences"] == pytest.approx(20000, rel=0.03)
    assert estimate["sequence_diversity"] == estimate["unique_sequences"] / 25000


def test_sequences_that_differ_only_in_order_or_length_are_distinct():
    report = analyze([[1, 2], [2, 1], [1, 2, 0], [1, 2], []])
    assert report["unique_sequences"] == 4
    assert report["empty_sequences"] == 1 and report["length"]["min"] == 0


def test_histograms_hold_every_sequence():
    rng = np.random.default_rng(7)
    batch = padded(rng, 500, 400, 30)
    report = analyze([batch], vocab_size=30)
    lengths, entropies = report["lengths"], report["entropies"]
    real = batch["tokens_mask"].sum(axis=1)
    assert lengths["counts"].sum() == 500 and len(lengths["counts"]) <= 128
    assert len(lengths["edges"]) == len(lengths["counts"]) + 1
    assert lengths["edges"][0] == real.min() and lengths["edges"][-1] > real.max()
    counts, _ = np.histogram(real, bins=lengths["edges"])
    np.testing.assert_array_equal(counts, lengths["counts"])
    entropy = []
    for row, mask in zip(batch["tokens"], batch["tokens_mask"]):
        if mask.any():
            share = np.unique(row[mask], return_counts=True)[1] / mask.sum()
            entropy.append(-np.sum(share * np.log2(share)))
    assert entropies["counts"].sum() == len(entropy)
    assert entropies["edges"][0] <= min(entropy) and entropies["edges"][-1] > max(entropy)
    # Bins of 1/32 bit, merged by 2 to keep at most 128 over the 0 to 4.2 bits seen.
    assert len(entropies["counts"]) <= 128
    assert np.diff(entropies["edges"]) == pytest.approx(2 / 32)
    np.testing.assert_array_equal(np.histogram(entropy, bins=entropies["edges"])[0], entropies["counts"])


def test_format_report_names_every_figure():
    rng = np.random.default_rng(8)
    batch = planted(rng, 20, 100, 0.5, vocab=100)
    text = format_report(analyze([batch], vocab_size=100, exact_sequences=0))
    for words in ("20 (0 empty), 2000 tokens", "rank-frequency slope -", "metadata 0.",
                  "HyperLogLog estimate", "top 2-grams"):
        assert words in text


def test_validate_finds_each_problem():
    batch = {"tokens": np.array([[1, 2, 0, 0], [3, 4, 5, 9], [0, 0, 0, 0], [-1, 2, 3, 0]]),
             "tokens_mask": np.array([[1, 1, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0], [1, 1, 1, 0]], bool)}
    problems = validate([[1, 2, 3], batch], vocab_size=8, min_length=3, max_length=3)
    assert problems == [
        "1 of 5 sequences are empty (e.g. sequence 3)",
        "1 of 5 sequences are shorter than min_length=3 (e.g. sequence 1 has 2)",
        "1 of 5 sequences are longer than max_length=3 (e.g. sequence 2 has 4)",
        "2 real tokens in 2 sequences are outside [0, 8) (e.g. sequence 2 holds 9 at position 3)",
    ]
    assert validate([[1, 2, 3], batch], vocab_size=10, min_length=0) == [
        "1 real tokens in 1 sequences are outside [0, 10) (e.g. sequence 4 holds -1 at position 0)"]


def test_analyze_refuses_tokens_outside_the_vocabulary():
    with pytest.raises(ValueError, match=r"token ids in \[0, 5\); received 7 in sequence 1 at position 2 "
                                         "of its real tokens"):
        analyze([[1, 2], [3, 4, 7]], vocab_size=5)
    with pytest.raises(ValueError, match="token ids >= 0; received -2 in sequence 0"):
        analyze([[-2]])


@pytest.mark.parametrize("call, message", [
    (lambda: analyze([[1]], vocab_size=0),
     "`vocab_size` must be an integer >= 1; received vocab_size=0"),
    (lambda: analyze([[1]], top_k=2.0), "`top_k` must be an integer >= 1; received top_k=2.0"),
    (lambda: analyze([[1]], ngram=0), "`ngram` must be an integer >= 1"),
    (lambda: analyze([[1]], top_k=20, ngram_capacity=10),
     "`ngram_capacity` must be an integer >= top_k=20"),
    (lambda: analyze([[1]], max_period=True), "`max_period` must be an integer >= 1"),
    (lambda: analyze([]), "`batches` must hold at least one sequence; received none"),
    (lambda: analyze("1 2 3"), "`batches` must be an iterable of dicts"),
    (lambda: analyze({"tokens": [[1]]}), "`batches` must be an iterable of dicts"),
    (lambda: analyze([{"ids": [[1]]}]),
     "must hold dicts with a 'tokens' array; received a dict with keys ['ids']"),
    (lambda: analyze([{"tokens": [[1.5]]}]),
     "`tokens` must be integers; received an array of dtype float64"),
    (lambda: analyze([{"tokens": np.ones((2, 2, 2), int)}]),
     "`tokens` must be token ids with 2 dimensions; received an array of shape (2, 2, 2)"),
    (lambda: analyze([{"tokens": [[1, 2]], "tokens_mask": [[True]]}]),
     "`tokens_mask` must have the shape of `tokens` (1, 2); received shape (1, 1)"),
    (lambda: analyze([{"tokens": [[1, 2]], "tokens_mask": [[0.5, 1.0]]}]),
     "`tokens_mask` must be booleans or 0/1 integers; received an array of dtype float64"),
    (lambda: analyze([{"tokens": [[1, 2]], "pattern": [[0.5, 1.0]]}]), "`pattern` must be integers"),
    (lambda: analyze([[1, 2], [[3]]]), "`batches (sequence 1)` must be token ids with 1 dimension"),
    (lambda: validate([[1]], vocab_size=None),
     "`vocab_size` must be an integer >= 1; received vocab_size=None"),
    (lambda: validate([[1]], 5, min_length=-1), "`min_length` must be an integer >= 0"),
    (lambda: validate([[1]], 5, min_length=4, max_length=3),
     "`max_length` must be None or an integer >= max(min_length, 1) = 4; received max_length=3"),
    (lambda: detect_patterns([[1, 2]], min_run=0), "`min_run` must be an integer >= 1"),
])
def test_bad_arguments_name_the_argument(call, message):
    with pytest.raises(ValueError) as error:
        call()
    assert message in str(error.value)


@pytest.mark.parametrize("family, options, key, expected, tolerance", [
    ("pattern", {"pattern_probability": 0.3}, "pattern_ratio", 0.3, 0.02),
    ("random", {"vocab_distribution": "zipf", "zipf_exponent": 1.2, "vocab_size": 2000},
     "slope", -1.2, 0.1),
])
def test_analyze_measures_the_documented_property_of_a_generator_family(family, options, key,
                                                                        expected, tolerance):
    from generators.sequences import make_generator

    generator = make_generator(family, **{"vocab_size": 64, "seq_length": 64, **options})
    report = analyze(generator.batches("train", 256, stop=2048), vocab_size=generator.vocab_size)
    measured = report["token_distribution"][key] if key == "slope" else report[key]
    assert abs(measured - expected) <= tolerance, measured


def test_sequence_complexity_is_the_share_outside_patterns_and_the_report_histograms_it():
    rng = np.random.default_rng(3)
    random_rows = rng.integers(0, 1000, size=(50, 40))
    repeating_rows = np.tile(rng.integers(0, 1000, size=(50, 3)), (1, 14))[:, :40]
    half_rows = np.concatenate([repeating_rows[:, :20], random_rows[:, 20:]], axis=1)
    tokens = np.concatenate([random_rows, repeating_rows, half_rows])
    mask = np.ones(tokens.shape, bool)
    mask[:100] = np.arange(40) < rng.integers(6, 41, size=(100, 1))  # spans of 6 or more
    complexity = sequence_complexity(tokens, mask)
    assert complexity.dtype == np.float32 and complexity.shape == (150,)
    np.testing.assert_array_equal(complexity[:50], 1.0)  # no accidental pattern over 1,000 ids
    np.testing.assert_array_equal(complexity[50:100], 0.0)
    np.testing.assert_allclose(complexity[100:], 0.5, atol=0.05)  # the span may take in a token more
    report = analyze([{"tokens": tokens, "tokens_mask": mask}])
    assert report["sequence_complexity"] == pytest.approx(complexity.mean())
    histogram = report["complexities"]
    assert histogram["counts"].sum() == 150
    assert histogram["counts"][0] == 50 and histogram["counts"][-1] == 50 and histogram["edges"][-1] == 1.0
    assert sequence_complexity([[4, 4, 4, 4], [1, 2, 0, 5]], [[True] * 4, [False] * 4]).tolist() == [0.0, 0.0]
