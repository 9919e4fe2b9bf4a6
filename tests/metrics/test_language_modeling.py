import keras
import numpy as np
import pytest

from msa_tf.metrics import (
    IGNORE_INDEX,
    BigramModel,
    Perplexity,
    TokenAccuracy,
    language_modeling_metrics,
)


@pytest.fixture
def scored_batch(rng):
    """Labels with ignored positions and logits, plus the scored tokens' log-probabilities."""
    labels = rng.integers(0, 6, size=(3, 5))
    labels[0, 3:] = IGNORE_INDEX
    labels[2, 0] = IGNORE_INDEX
    logits = rng.normal(size=(3, 5, 6)).astype("float32") * 2
    logits[labels == IGNORE_INDEX] = 0.0
    logits[labels == IGNORE_INDEX, 5] = 50.0  # never the label: would sink the accuracy
    scored = labels != IGNORE_INDEX
    log_softmax = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    log_prob = np.take_along_axis(log_softmax, np.where(scored, labels, 0)[..., None], -1)[..., 0]
    correct = logits.argmax(-1) == labels
    return labels, logits, log_prob[scored], correct[scored]


def test_keras_metrics_count_only_scored_tokens_and_agree_with_the_array_function(scored_batch):
    labels, logits, log_prob, correct = scored_batch
    expected = language_modeling_metrics(log_prob, correct)
    accuracy, perplexity = TokenAccuracy(), Perplexity()
    # Two updates: the streaming means weigh each token once.
    for rows in (slice(0, 1), slice(1, 3)):
        accuracy.update_state(labels[rows], logits[rows])
        perplexity.update_state(labels[rows], logits[rows])
    assert float(accuracy.result()) == pytest.approx(expected["accuracy"])
    assert float(perplexity.result()) == pytest.approx(expected["perplexity"], rel=1e-5)
    assert expected["num_tokens"] == (labels != IGNORE_INDEX).sum()
    assert expected["perplexity"] == pytest.approx(np.exp(-log_prob.mean()))


def test_keras_loss_with_ignore_class_is_the_mean_cross_entropy_of_scored_tokens(scored_batch):
    labels, logits, log_prob, _ = scored_batch
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=IGNORE_INDEX)
    assert float(loss(labels, logits)) == pytest.approx(-log_prob.mean(), rel=1e-5)


def test_metrics_round_trip_through_their_config():
    metric = TokenAccuracy(ignore_class=-1, name="answer_acc")
    again = TokenAccuracy.from_config(metric.get_config())
    assert (again.ignore_class, again.name) == (-1, "answer_acc")


def test_no_scored_token_gives_undefined_metrics():
    metrics = language_modeling_metrics(np.zeros(0), np.zeros(0, bool))
    assert np.isnan(metrics["perplexity"]) and np.isnan(metrics["accuracy"])
    assert metrics["num_tokens"] == 0


def test_bigram_model_learns_a_deterministic_successor(rng):
    vocab = 7
    successor = rng.permutation(vocab)
    current = rng.integers(0, vocab, size=500)
    bigram = BigramModel(vocab, smoothing=0.01)
    bigram.update(current, successor[current])
    log_prob, predicted = bigram.score(np.arange(vocab), successor)
    np.testing.assert_array_equal(predicted, successor)
    counts = np.bincount(current, minlength=vocab)
    np.testing.assert_allclose(np.exp(log_prob), (counts + 0.01) / (counts + 0.01 * vocab))


def test_bigram_probabilities_sum_to_one_for_every_current_token(rng):
    bigram = BigramModel(5, smoothing=0.5)
    bigram.update(rng.integers(0, 4, size=40), rng.integers(0, 5, size=40))
    current = np.repeat(np.arange(5), 5)
    log_prob, _ = bigram.score(current, np.tile(np.arange(5), 5))
    np.testing.assert_allclose(np.exp(log_prob).reshape(5, 5).sum(axis=1), 1.0)


@pytest.mark.parametrize("arguments, message", [
    ({"vocab_size": 0}, "`vocab_size` must be"),
    ({"vocab_size": 4, "smoothing": 0}, "`smoothing` must be"),
])
def test_bigram_model_rejects_bad_arguments(arguments, message):
    with pytest.raises(ValueError, match=message):
        BigramModel(**arguments)
