"""Language modelling: next-token prediction on token sequences, scored by accuracy and
perplexity against a count-based bigram baseline.

The data (`msa_tf.data.sequences`) give `inputs = {"tokens", "tokens_mask"}` and
`targets = {"next_token": labels}`, the label at position `t` being the token to predict
there (the next one, or a task's answer) and `IGNORE_INDEX` where no loss applies. A
model outputs `{"next_token": logits (batch, length, vocab_size)}`.

Example (`source` is the experiment's data source; the task reads its `vocab_size`):
>>> class Source:
...     vocab_size = 16
>>> task = get_task("language_modeling", Source())
>>> task.select_outputs({"next_token"}), task.baseline_name
(['next_token'], 'bigram')
"""

import os

import keras
import numpy as np

from msa_tf.metrics.language_modeling import (
    IGNORE_INDEX,
    BigramModel,
    Perplexity,
    TokenAccuracy,
    language_modeling_metrics,
)
from msa_tf.tasks.base import Task, get_task, register_task
from msa_tf.training import plots
from msa_tf.validation import check_number

__all__ = ["LanguageModelingTask", "get_task"]


@register_task("language_modeling")
class LanguageModelingTask(Task):
    """Next-token cross-entropy over the scored positions, with accuracy and perplexity.

    Args:
        source: the data source (its `vocab_size` is read).
        smoothing: the add-`smoothing` count of the bigram baseline (> 0).

    The report compares the model with a bigram model counted on the training split
    (`msa_tf.metrics.language_modeling.BigramModel`), kept as `self.bigram` once
    `baseline` has run. The plot is `token_accuracy.png`: the accuracy at each
    position, of the model and of the bigram baseline.
    """

    targets = ("next_token",)
    baseline_name = "bigram"
    unit = "tokens"

    def __init__(self, source, smoothing=0.1):
        super().__init__(source)
        self.smoothing = check_number("smoothing", smoothing, low=0, low_open=True)
        self.bigram = None

    def losses(self, outputs):
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=IGNORE_INDEX)
        return {"next_token": loss}, None

    def compile_metrics(self, outputs):
        return {"next_token": [TokenAccuracy(), Perplexity()]}

    def predict(self, model, batches):
        """Per scored token: `labels`, the `current` token (the input at that position),
        its `position`, and with a model its `log_prob` of the label and `predicted` token.

        Only the scored tokens are kept, so memory grows with the tokens, not with the
        vocabulary.
        """
        parts = {key: [] for key in ("labels", "current", "position", "log_prob", "predicted")}
        for inputs, targets in batches:
            labels = np.asarray(targets["next_token"])
            scored = labels != IGNORE_INDEX
            parts["labels"].append(labels[scored])
            parts["current"].append(np.asarray(inputs["tokens"])[scored])
            parts["position"].append(np.nonzero(scored)[1])
            if model is not None:
                logits = np.asarray(model.predict_on_batch(inputs)["next_token"], np.float32)[scored]
                shifted = logits - logits.max(axis=-1, keepdims=True)
                log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
                parts["log_prob"].append(log_probs[np.arange(len(logits)), labels[scored]])
                parts["predicted"].append(np.argmax(logits, axis=-1))
        return {key: np.concatenate(values) for key, values in parts.items() if values}

    def metrics(self, predictions):
        return language_modeling_metrics(predictions["log_prob"],
                                         predictions["predicted"] == predictions["labels"])

    def baseline(self, train_batches, predictions):
        """The metrics of a bigram model counted on `train_batches` (kept as `self.bigram`)."""
        counted = self.predict(None, train_batches)
        self.bigram = BigramModel(self.source.vocab_size, self.smoothing)
        self.bigram.update(counted["current"], counted["labels"])
        return self.metrics(self._bigram_predictions(predictions))

    def _bigram_predictions(self, predictions):
        log_prob, predicted = self.bigram.score(predictions["current"], predictions["labels"])
        return {**predictions, "log_prob": log_prob, "predicted": predicted}

    def plot(self, predictions, run_dir, title):
        correct = {"model": predictions["predicted"] == predictions["labels"]}
        if self.bigram is not None:
            bigram = self._bigram_predictions(predictions)
            correct["bigram"] = bigram["predicted"] == predictions["labels"]
        path = plots.plot_accuracy_by_position(predictions["position"], correct,
                                               os.path.join(run_dir, "token_accuracy.png"), title=title)
        return [path]
