import numpy as np
import pytest
from PIL import Image

from msa_tf.metrics import IGNORE_INDEX
from msa_tf.tasks import get_task, task_names

VOCAB = 6


class FakeSource:
    vocab_size = VOCAB


class SuccessorModel:
    """Predicts `(token + 1) % VOCAB` with probability `confidence` at every position."""

    def __init__(self, confidence):
        self.confidence = confidence

    def predict_on_batch(self, inputs):
        tokens = np.asarray(inputs["tokens"])
        probabilities = np.full((*tokens.shape, VOCAB), (1 - self.confidence) / (VOCAB - 1))
        np.put_along_axis(probabilities, ((tokens + 1) % VOCAB)[..., None], self.confidence, axis=-1)
        return {"next_token": np.log(probabilities).astype("float32")}


def successor_batches(rng, num_batches=3, size=4, length=7):
    """Sequences that count up modulo VOCAB from a random start (one in three tokens
    jumps at random); the last real token and the padding carry no label."""
    batches = []
    for _ in range(num_batches):
        steps = np.where(rng.random((size, length)) < 1 / 3, rng.integers(0, VOCAB, (size, length)), 1)
        tokens = np.cumsum(steps, axis=1) % VOCAB
        lengths = rng.integers(3, length + 1, size=size)
        mask = np.arange(length)[None] < lengths[:, None]
        labels = np.where(np.arange(length)[None] < lengths[:, None] - 1,
                          np.roll(tokens, -1, axis=1), IGNORE_INDEX)
        batches.append(({"tokens": np.where(mask, tokens, 0), "tokens_mask": mask},
                        {"next_token": labels}))
    return batches


def test_language_modeling_is_registered_with_its_targets_and_baseline():
    task = get_task("language_modeling", FakeSource())
    assert "language_modeling" in task_names()
    assert task.select_outputs({"next_token", "other"}) == ["next_token"]
    assert (task.baseline_name, task.unit) == ("bigram", "tokens")
    losses, weights = task.losses(["next_token"])
    assert losses["next_token"].ignore_class == IGNORE_INDEX and weights is None
    assert [m.name for m in task.compile_metrics(["next_token"])["next_token"]] == ["acc", "perplexity"]


def test_predict_keeps_only_scored_tokens_with_their_log_probabilities(rng):
    batches = successor_batches(rng)
    task = get_task("language_modeling", FakeSource())
    predictions = task.predict(SuccessorModel(0.9), batches)
    labels = np.concatenate([targets["next_token"][targets["next_token"] != IGNORE_INDEX]
                             for _, targets in batches])
    np.testing.assert_array_equal(predictions["labels"], labels)
    successor = (predictions["current"] + 1) % VOCAB
    np.testing.assert_array_equal(predictions["predicted"], successor)
    expected = np.where(labels == successor, np.log(0.9), np.log(0.1 / (VOCAB - 1)))
    np.testing.assert_allclose(predictions["log_prob"], expected, rtol=1e-5)
    metrics = task.metrics(predictions)
    assert metrics["accuracy"] == pytest.approx(np.mean(labels == successor))
    assert metrics["perplexity"] == pytest.approx(np.exp(-expected.mean()), rel=1e-5)
    assert metrics["num_tokens"] == labels.size
    assert set(task.predict(None, batches)) == {"labels", "current", "position"}


def test_the_bigram_baseline_finds_the_successor_rule_in_the_training_batches(rng):
    task = get_task("language_modeling", FakeSource(), smoothing=0.01)
    test = task.predict(SuccessorModel(0.9), successor_batches(rng))
    train = successor_batches(rng, num_batches=20)
    baseline = task.baseline(train, test)
    # The most frequent next token after each token is its successor, as the model predicts.
    assert baseline["accuracy"] == pytest.approx(task.metrics(test)["accuracy"])
    assert baseline["perplexity"] > 1 and np.isfinite(baseline["perplexity"])
    assert task.bigram.counts.sum() == sum((t["next_token"] != IGNORE_INDEX).sum() for _, t in train)


def test_the_plot_shows_accuracy_by_position_of_the_model_and_the_bigram(rng, tmp_path):
    task = get_task("language_modeling", FakeSource())
    predictions = task.predict(SuccessorModel(0.9), successor_batches(rng))
    task.baseline(successor_batches(rng), predictions)
    [path] = task.plot(predictions, str(tmp_path), "test")
    assert path.name == "token_accuracy.png" and Image.open(path).size[0] > 100


def test_a_bad_smoothing_names_the_argument():
    with pytest.raises(ValueError, match="`smoothing` must be"):
        get_task("language_modeling", FakeSource(), smoothing=-1)
