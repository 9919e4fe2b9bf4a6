"""Language-modelling metrics: next-token accuracy and perplexity, streaming Keras metrics
for `fit`, the same quantities from NumPy arrays, and a count-based bigram baseline.

Labels are token ids with `IGNORE_INDEX` (-100) where no loss applies (padding, and
positions a task does not score); every metric counts only the other positions.
Perplexity is `exp` of the mean cross-entropy in nats per scored token.

Example:
>>> labels = np.array([[2, 3, -100]])
>>> logits = np.log(np.array([[[0.1, 0.1, 0.7, 0.1], [0.4, 0.1, 0.1, 0.4], [1, 1, 1, 1]]]) / 4)
>>> accuracy = TokenAccuracy()
>>> accuracy.update_state(labels, logits)
>>> float(accuracy.result())
0.5
>>> perplexity = Perplexity()
>>> perplexity.update_state(labels, logits)
>>> round(float(perplexity.result()), 4)  # exp of the mean of -log 0.7 and -log 0.4
1.8898
"""

import keras
import numpy as np
from keras import ops

from msa_tf.validation import check_number, check_positive_int

IGNORE_INDEX = -100


class _ScoredTokenMean(keras.metrics.Metric):
    """A mean over the scored tokens (label != `ignore_class`) of `_per_token`."""

    def __init__(self, ignore_class=IGNORE_INDEX, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.ignore_class = ignore_class
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "int32")
        y_pred = ops.cast(y_pred, "float32")
        scored = ops.not_equal(y_true, self.ignore_class)
        if sample_weight is not None:
            scored = ops.logical_and(scored, ops.greater(ops.cast(sample_weight, "float32"), 0))
        labels = ops.where(scored, y_true, 0)
        values = self._per_token(labels, y_pred)
        weights = ops.cast(scored, "float32")
        self.total.assign_add(ops.sum(values * weights))
        self.count.assign_add(ops.sum(weights))

    def _mean(self):
        return ops.divide_no_nan(self.total, self.count)

    def get_config(self):
        return {**super().get_config(), "ignore_class": self.ignore_class}


@keras.saving.register_keras_serializable(package="msa_tf")
class TokenAccuracy(_ScoredTokenMean):
    """The share of scored tokens whose label is the argmax of the logits."""

    def __init__(self, ignore_class=IGNORE_INDEX, name="acc", dtype=None):
        super().__init__(ignore_class, name=name, dtype=dtype)

    def _per_token(self, labels, logits):
        return ops.cast(ops.equal(ops.cast(ops.argmax(logits, axis=-1), "int32"), labels), "float32")

    def result(self):
        return self._mean()


@keras.saving.register_keras_serializable(package="msa_tf")
class Perplexity(_ScoredTokenMean):
    """`exp` of the mean cross-entropy (nats) of the logits over scored tokens."""

    def __init__(self, ignore_class=IGNORE_INDEX, name="perplexity", dtype=None):
        super().__init__(ignore_class, name=name, dtype=dtype)

    def _per_token(self, labels, logits):
        return ops.sparse_categorical_crossentropy(labels, logits, from_logits=True)

    def result(self):
        return ops.exp(self._mean())


def language_modeling_metrics(log_prob, correct):
    """`{"accuracy", "cross_entropy", "perplexity", "num_tokens"}` of scored tokens.

    Args:
        log_prob: the natural log-probability that a model gave each scored token's label.
        correct: whether the model's most likely token was the label, per scored token.

    Undefined metrics (no scored token) are NaN.

    >>> metrics = language_modeling_metrics(np.log([0.5, 0.25]), np.array([True, False]))
    >>> metrics["accuracy"], round(metrics["perplexity"], 4)  # 1 / sqrt(0.5 * 0.25)
    (0.5, 2.8284)
    """
    log_prob = np.asarray(log_prob, np.float64)
    count = log_prob.size
    if count == 0:
        return {"accuracy": float("nan"), "cross_entropy": float("nan"),
                "perplexity": float("nan"), "num_tokens": 0.0}
    cross_entropy = float(-log_prob.mean())
    return {"accuracy": float(np.mean(correct)), "cross_entropy": cross_entropy,
            "perplexity": float(np.exp(cross_entropy)), "num_tokens": float(count)}


class BigramModel:
    """A count-based bigram model: `P(next | current)` from counts with add-`smoothing`.

    The baseline that a sequence model has to beat: what the current token alone says
    about the next one. Its most likely next token is the most counted one after the
    current token (the smallest id on a tie; the most counted token overall after a
    token never seen).

    Args:
        vocab_size: the number of token ids.
        smoothing: the count added to every pair (> 0, so every probability is > 0).

    Example:
    >>> bigram = BigramModel(vocab_size=3, smoothing=0.5)
    >>> bigram.update(current=np.array([0, 0, 1]), following=np.array([1, 1, 2]))
    >>> log_prob, predicted = bigram.score(np.array([0, 2]), np.array([1, 0]))
    >>> np.exp(log_prob).round(3).tolist(), predicted.tolist()  # 2.5 / 3.5; 0.5 / 1.5
    ([0.714, 0.333], [1, 1])
    """

    def __init__(self, vocab_size, smoothing=0.1):
        self.vocab_size = check_positive_int("vocab_size", vocab_size)
        self.smoothing = check_number("smoothing", smoothing, low=0, low_open=True)
        self.counts = np.zeros((self.vocab_size, self.vocab_size), np.int64)

    def update(self, current, following):
        """Counts the pairs `(current[i], following[i])`, ids in `[0, vocab_size)`."""
        np.add.at(self.counts, (np.asarray(current), np.asarray(following)), 1)

    def score(self, current, following):
        """`(log P(following | current), the most likely next token)` per pair."""
        current, following = np.asarray(current), np.asarray(following)
        rows = self.counts[current].astype(np.float64)
        log_prob = np.log(rows[np.arange(len(current)), following] + self.smoothing) - np.log(
            rows.sum(axis=1) + self.smoothing * self.vocab_size)
        unseen = rows.sum(axis=1) == 0
        predicted = np.where(unseen, int(np.argmax(self.counts.sum(axis=0))), np.argmax(rows, axis=1))
        return log_prob, predicted
