"""Multimodal sentiment analysis: a regression score in [-3, 3] (or [-1, 1] for CH-SIMS),
and optionally its classes, with the field's metrics and a mean predictor as baseline.

Example (`source` is the experiment's `msa_tf.data` source; a task reads its `origin`
and `num_classes()`):
>>> class Source:
...     origin = "data/MOSEI/aligned_50.pkl"
>>> task = get_task("sentiment", Source(), loss="mse")
>>> task.dataset, task.select_outputs({"regression", "classification"})
('mosei', ['regression', 'classification'])
"""

import inspect
import math
import os
import re

import keras
import numpy as np

from msa_tf.metrics.sentiment import DATASETS, sentiment_metric_objects, sentiment_metrics
from msa_tf.tasks.base import Task, get_task, register_task
from msa_tf.training import plots
from msa_tf.validation import check_choice

REGRESSION_LOSSES = {
    "l1": keras.losses.MeanAbsoluteError,
    "mse": keras.losses.MeanSquaredError,
    "huber": keras.losses.Huber,
}
# The Keras metrics shown during `fit` (more would crowd the progress bar).
FIT_METRICS = ("mae", "corr")

__all__ = ["SentimentTask", "classification_loss", "get_task", "infer_dataset", "regression_loss"]


def infer_dataset(origin):
    """The `sentiment_metrics` data set that a path, preset or data set name points to.

    The last component of `origin` that mentions `sims`, `mosei` or `mosi`
    (case-insensitive) decides; `"mosi"` when none does.

    >>> infer_dataset("/data/MMSA/MOSEI/Processed/aligned_50.pkl")
    'mosei'
    >>> infer_dataset("ch_sims/unaligned"), infer_dataset("features.pkl")
    ('sims', 'mosi')
    """
    for part in reversed(re.split(r"[/\\]", os.fspath(origin).lower())):
        for dataset in ("sims", "mosei", "mosi"):
            if dataset in part:
                return dataset
    return "mosi"


def regression_loss(name):
    """The regression loss `name`: `"l1"` (mean absolute error), `"mse"` or `"huber"`.

    >>> float(regression_loss("l1")(np.array([[0.0], [1.0]]), np.array([[1.0], [3.0]])))
    1.5
    """
    return REGRESSION_LOSSES[check_choice("loss", name, tuple(REGRESSION_LOSSES))]()


def classification_loss():
    """Sparse categorical cross-entropy on logits: targets are class ids.

    >>> round(float(classification_loss()(np.array([1]), np.array([[0.0, 0.0]]))), 4)
    0.6931
    """
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


@register_task("sentiment")
class SentimentTask(Task):
    """Sentiment regression, plus classification where the model has a class head.

    Args:
        source: the data source (its `num_classes()` and `origin` are read).
        loss: the regression loss, `"l1"`, `"mse"` or `"huber"`; a classification
            output adds sparse cross-entropy on logits.
        loss_weights: `{output: weight}`, e.g. `{regression: 1, classification: 0.5}`.
        dataset: `"mosi"`, `"mosei"` or `"sims"`: whose metric definitions apply
            (`msa_tf.metrics.sentiment`); `None` infers it from the data's name.

    The report compares the model with a mean predictor (the mean training score),
    whose correlation is undefined (a dash). The plot is `predictions.png`.
    """

    targets = ("regression", "classification")
    baseline_name = "mean_predictor"

    def __init__(self, source, loss="l1", loss_weights=None, dataset=None):
        super().__init__(source)
        self.loss = check_choice("loss", loss, tuple(REGRESSION_LOSSES))
        if loss_weights is not None and not (
                isinstance(loss_weights, dict) and set(loss_weights) <= set(self.targets)):
            raise ValueError(f"`loss_weights` must be None or a dict with keys among "
                             f"{list(self.targets)}; received loss_weights={loss_weights!r}")
        self.loss_weights = loss_weights
        if dataset is None:
            dataset = infer_dataset(source.origin)
        self.dataset = check_choice("dataset", dataset, DATASETS)

    def model_arguments(self, accepted):
        """`num_classes` from the data, for a model with a class head by default (MAFT)."""
        default = accepted.get("num_classes")
        if default is None or default is inspect.Parameter.empty:
            return {}
        return {"num_classes": self.source.num_classes()}

    def check_outputs(self, outputs):
        classes = self.source.num_classes()
        if "classification" in outputs and outputs["classification"].shape[-1] != classes:
            raise ValueError(
                f"the classification output has {outputs['classification'].shape[-1]} classes "
                f"but the data have {classes}; set model.num_classes to {classes} or null")

    def losses(self, outputs):
        losses = {"regression": regression_loss(self.loss), "classification": classification_loss()}
        weights = self.loss_weights
        if weights is not None and not set(weights) <= set(outputs):
            raise ValueError(f"`loss_weights` names outputs {sorted(set(weights) - set(outputs))} "
                             f"that the model does not have; it outputs {outputs}")
        return {name: losses[name] for name in outputs}, weights

    def compile_metrics(self, outputs):
        metrics = {"regression": [m for m in sentiment_metric_objects(self.dataset)
                                  if m.name in FIT_METRICS]}
        if "classification" in outputs:
            metrics["classification"] = [keras.metrics.SparseCategoricalAccuracy(name="acc")]
        return {name: metrics[name] for name in outputs}

    def predict(self, model, batches):
        """`{"y_true": (n,), "y_pred": (n,)}` regression scores (no `y_pred` without a model).

        One pass predicts each batch next to its targets, so the pairs stay matched
        whatever order a source reads its examples in.
        """
        y_true, y_pred = [], []
        for inputs, targets in batches:
            y_true.append(np.asarray(targets["regression"]).ravel())
            if model is not None:
                y_pred.append(np.asarray(model.predict_on_batch(inputs)["regression"]).ravel())
        predictions = {"y_true": np.concatenate(y_true)}
        if model is not None:
            predictions["y_pred"] = np.concatenate(y_pred)
        return predictions

    def metrics(self, predictions):
        return sentiment_metrics(predictions["y_true"], predictions["y_pred"], self.dataset)

    def baseline(self, train_batches, predictions):
        """The metrics of predicting the mean training score for every example."""
        mean = float(np.mean(self.predict(None, train_batches)["y_true"]))
        y_true = predictions["y_true"]
        return self.metrics({"y_true": y_true, "y_pred": np.full_like(y_true, mean)})

    def plot(self, predictions, run_dir, title):
        scores = self.metrics(predictions)
        r = f"r = {scores['corr']:.3f}" if math.isfinite(scores["corr"]) else "r undefined"
        summary = f"{r}, MAE = {scores['mae']:.3f} ({predictions['y_true'].size} samples)"
        path = plots.plot_predictions(predictions["y_true"], predictions["y_pred"],
                                      os.path.join(run_dir, "predictions.png"),
                                      title=f"{title}\n{summary}")
        return [path]
