"""Deepfake detection metrics: functions over arrays and streaming Keras metrics.

Labels are 0 (real) or 1 (fake): **fake is the positive class**. Scores are the model's
probability that a sample is fake, in [0, 1]. Definitions:

- `auc`: area under the ROC curve, `sklearn.metrics.roc_auc_score`.
- `ap`: average precision, `sklearn.metrics.average_precision_score`.
- `accuracy`, `precision`, `recall`, `f1`: of the decisions `score >= threshold` (fake),
  `threshold=0.5` by default; F1 is `2 TP / (2 TP + FP + FN)`, as scikit-learn computes it.
- `eer`: the equal error rate. The ROC points are sklearn's `roc_curve(...,
  drop_intermediate=False)`: one point per distinct score, ordered from the strictest
  threshold (nothing flagged, FPR = TPR = 0) to the loosest (everything flagged). Along
  them `FPR - FNR` (FNR = 1 - TPR) never decreases; the EER is where it crosses 0, with
  FPR and FNR linearly interpolated between the last point where `FPR < FNR` and the first
  where `FPR >= FNR`. Its threshold is the one of the ROC point with the smallest
  `|FPR - FNR|` (the lower threshold on a tie): an operating point a detector can use.
- `fpr_at_95_tpr`: the smallest FPR among the ROC points with TPR >= 0.95 (no interpolation).
- `log_loss`: the mean binary cross-entropy in nats, with the scores clipped to
  [`LOG_LOSS_EPSILON`, 1 - `LOG_LOSS_EPSILON`] = [1e-7, 1 - 1e-7] so that a confident
  mistake costs about 16.1, not infinity.

Undefined values are NaN with a `UserWarning` that names the metric and why, never an
exception: `auc`, `ap`, `eer` and `fpr_at_95_tpr` when the labels hold one class only,
`precision` when nothing is flagged fake, `recall` when no sample is fake, and `f1` when
neither. `accuracy` and `log_loss` are always defined.

Video-level metrics are the same functions applied to the output of `aggregate_scores`,
which pools the scores of a video's clips (or frames) by their mean or maximum.

`EqualErrorRate` and `FPRAtTPR` are the Keras metrics of `eer` and `fpr_at_95_tpr` for
`model.compile(metrics=...)`; `keras.metrics.AUC()` gives `auc`.

Example:
>>> labels = [0, 0, 0, 1, 1]
>>> scores = [0.2, 0.4, 0.6, 0.6, 0.9]
>>> metrics = detection_metrics(labels, scores)
>>> {key: round(metrics[key], 4) for key in ("auc", "eer", "fpr_at_95_tpr", "f1")}
{'auc': 0.9167, 'eer': 0.2, 'fpr_at_95_tpr': 0.3333, 'f1': 0.8}
"""

import math
import warnings

import keras
import numpy as np
from keras import ops
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from msa_tf.validation import check_choice, check_int, check_number

DETECTION_METRICS = (
    "auc", "ap", "accuracy", "precision", "recall", "f1", "eer", "fpr_at_95_tpr", "log_loss"
)
AGGREGATIONS = ("mean", "max")
LOG_LOSS_EPSILON = 1e-7


def detection_metrics(labels, scores, threshold=0.5):
    """Every detection metric of the module docstring, as a dict keyed by `DETECTION_METRICS`.

    Args:
        labels: 0 (real) or 1 (fake) per sample, shape `(n,)` or `(n, 1)`.
        scores: the probability that each sample is fake, in [0, 1], the same shape.
        threshold: scores at or above it count as fake for accuracy, precision, recall, F1.

    Raises `ValueError` for bad inputs (see `aggregate_scores`); undefined metrics are NaN
    with a `UserWarning`.

    Example:
    >>> metrics = detection_metrics([0, 1, 1, 0], [0.1, 0.8, 0.4, 0.3])
    >>> metrics["auc"], metrics["accuracy"], metrics["recall"], metrics["eer"]
    (1.0, 0.75, 0.5, 0.0)
    """
    labels, scores = _check_labels_and_scores(labels, scores)
    threshold = check_number("threshold", threshold, low=0, high=1)
    metrics = {
        "auc": _ranking_score("auc", roc_auc_score, labels, scores),
        "ap": _ranking_score("ap", average_precision_score, labels, scores),
        **_decision_metrics(labels, scores >= threshold),
        "eer": _equal_error_rate(labels, scores)[0],
        "fpr_at_95_tpr": _fpr_at_tpr(labels, scores, 0.95),
        "log_loss": _log_loss(labels, scores),
    }
    return {key: metrics[key] for key in DETECTION_METRICS}


def equal_error_rate(labels, scores):
    """The equal error rate and the threshold of the ROC point nearest it.

    Conventions are in the module docstring. Returns `(nan, nan)` with a `UserWarning`
    when `labels` hold one class only.

    Example (ROC points (FPR, TPR): (0, 0), (0, 0.5) at 0.9, (1/3, 1) at 0.6, ...; FPR - FNR
    goes from -0.5 to 1/3, so it is 0 at 0.6 of the way, where FPR = FNR = 0.2):
    >>> eer, threshold = equal_error_rate([0, 0, 0, 1, 1], [0.2, 0.4, 0.6, 0.6, 0.9])
    >>> round(eer, 6), threshold
    (0.2, 0.6)
    """
    return _equal_error_rate(*_check_labels_and_scores(labels, scores))


def fpr_at_tpr(labels, scores, tpr=0.95):
    """The smallest false positive rate among the ROC points whose TPR is at least `tpr`.

    NaN with a `UserWarning` when `labels` hold one class only.

    Example:
    >>> fpr_at_tpr([0, 0, 0, 1, 1], [0.2, 0.4, 0.6, 0.6, 0.9], tpr=0.5)
    0.0
    >>> round(fpr_at_tpr([0, 0, 0, 1, 1], [0.2, 0.4, 0.6, 0.6, 0.9]), 4)
    0.3333
    """
    labels, scores = _check_labels_and_scores(labels, scores)
    return _fpr_at_tpr(labels, scores, _check_tpr(tpr))


def aggregate_scores(labels, scores, groups, method="mean"):
    """Pools clip (or frame) scores into one score per video.

    Args:
        labels: 0 (real) or 1 (fake) per clip; a video is fake if any of its clips is.
        scores: the probability that each clip is fake, in [0, 1].
        groups: the video id of each clip (integers or strings), shape `(n,)`.
        method: `"mean"` or `"max"` of the clip scores of a video.

    Returns:
        `(group_ids, group_labels, group_scores)`: NumPy arrays with one entry per
        distinct id, sorted by id.

    Raises `ValueError` for mismatched lengths, empty input, labels other than 0 and 1,
    scores outside [0, 1] or not finite, or an unknown `method`.

    Example:
    >>> ids, video_labels, video_scores = aggregate_scores(
    ...     [0, 0, 1, 1, 0], [0.2, 0.4, 0.9, 0.3, 0.1], ["b", "b", "a", "a", "a"], method="max")
    >>> ids.tolist(), video_labels.tolist(), video_scores.tolist()
    (['a', 'b'], [1, 0], [0.9, 0.4])
    """
    labels, scores = _check_labels_and_scores(labels, scores)
    method = check_choice("method", method, AGGREGATIONS)
    groups = np.asarray(groups)
    if groups.shape != scores.shape:
        raise ValueError(f"`groups` must hold one id per score, shape {scores.shape}; received "
                         f"groups.shape={groups.shape}")
    group_ids, index = np.unique(groups, return_inverse=True)
    group_labels = np.zeros(len(group_ids), labels.dtype)
    np.maximum.at(group_labels, index, labels)
    if method == "mean":
        group_scores = np.bincount(index, weights=scores) / np.bincount(index)
    else:
        group_scores = np.zeros(len(group_ids))
        np.maximum.at(group_scores, index, scores)
    return group_ids, group_labels, group_scores


def _check_labels_and_scores(labels, scores):
    """`labels` as an int `(n,)` array of 0 and 1, `scores` as a float64 `(n,)` array in [0, 1]."""
    labels = _as_column("labels", labels)
    scores = _as_column("scores", scores)
    if labels.shape != scores.shape:
        raise ValueError(f"`labels` and `scores` must hold the same number of samples; received "
                         f"{labels.size} labels and {scores.size} scores")
    _check_all("labels", labels, (labels == 0) | (labels == 1), "0 (real) or 1 (fake)")
    _check_all("scores", scores, (scores >= 0) & (scores <= 1), "finite numbers in [0, 1]")
    return labels.astype("int64"), scores


def _as_column(name, values):
    """`values` as a non-empty float64 `(n,)` array, from shape `(n,)` or `(n, 1)`."""
    try:
        array = np.asarray(values, dtype="float64")
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"`{name}` must be an array of numbers; received a {type(values).__name__}"
        ) from error
    if array.ndim not in (1, 2) or (array.ndim == 2 and array.shape[1] != 1) or not array.size:
        raise ValueError(f"`{name}` must be a non-empty array of shape (n,) or (n, 1); received "
                         f"{name}.shape={array.shape}")
    return array.reshape(-1)


def _check_all(name, values, valid, accepted):
    if not valid.all():
        first = int(np.argmin(valid))
        raise ValueError(f"`{name}` must hold {accepted}; received {name}[{first}]="
                         f"{float(values[first])!r} ({int((~valid).sum())} of {valid.size} values are not)")


def _undefined(metric, reason):
    """NaN, after a `UserWarning` naming `metric` and `reason`."""
    warnings.warn(f"`{metric}` is undefined (NaN): {reason}", UserWarning, stacklevel=3)
    return math.nan


def _one_class(labels):
    """Why a ranking metric is undefined for `labels`, or `None` if both classes are present."""
    fakes = int(labels.sum())
    if 0 < fakes < labels.size:
        return None
    return f"`labels` hold one class only ({labels.size - fakes} real, {fakes} fake)"


def _ranking_score(metric, score_function, labels, scores):
    reason = _one_class(labels)
    return _undefined(metric, reason) if reason else float(score_function(labels, scores))


def _decision_metrics(labels, flagged):
    """Accuracy, precision, recall and F1 of the decisions `flagged` (True: fake)."""
    fake = labels == 1
    true_positives = int(np.sum(flagged & fake))
    false_positives = int(np.sum(flagged & ~fake))
    false_negatives = int(np.sum(~flagged & fake))

    def ratio(metric, numerator, denominator, reason):
        return numerator / denominator if denominator else _undefined(metric, reason)

    return {
        "accuracy": float(np.mean(flagged == fake)),
        "precision": ratio("precision", true_positives, true_positives + false_positives,
                           "no score is at or above the threshold"),
        "recall": ratio("recall", true_positives, true_positives + false_negatives,
                        "no sample is fake"),
        "f1": ratio("f1", 2 * true_positives,
                    2 * true_positives + false_positives + false_negatives,
                    "no sample is fake and none is flagged fake"),
    }


def _equal_error_rate(labels, scores):
    reason = _one_class(labels)
    if reason:
        return _undefined("eer", reason), math.nan
    fpr, tpr, thresholds = roc_curve(labels, scores, drop_intermediate=False)
    gap = fpr + tpr - 1  # FPR - FNR: -1 at the first point, 1 at the last
    after = int(np.argmax(gap >= 0))
    before = after - 1
    fraction = -gap[before] / (gap[after] - gap[before])
    eer = fpr[before] + fraction * (fpr[after] - fpr[before])
    nearest = after if gap[after] <= -gap[before] else before
    return float(eer), float(thresholds[nearest])


def _fpr_at_tpr(labels, scores, tpr):
    reason = _one_class(labels)
    if reason:
        return _undefined(_fpr_at_tpr_name(tpr), reason)
    fprs, tprs, _ = roc_curve(labels, scores, drop_intermediate=False)
    return float(np.min(fprs[tprs >= tpr]))


def _check_tpr(tpr):
    return check_number("tpr", tpr, low=0, high=1, low_open=True)


def _fpr_at_tpr_name(tpr):
    """`"fpr_at_95_tpr"` for `tpr=0.95`."""
    return f"fpr_at_{tpr * 100:g}_tpr"


def _log_loss(labels, scores):
    probabilities = np.clip(scores, LOG_LOSS_EPSILON, 1 - LOG_LOSS_EPSILON)
    return float(-np.mean(np.where(labels == 1, np.log(probabilities), np.log(1 - probabilities))))


class _ThresholdCounts(keras.metrics.Metric):
    """Counts fake and real samples with `score >= t` at `num_thresholds` thresholds
    `t = i / (num_thresholds - 1)`; the ROC points they give run from the strictest
    threshold (nothing flagged) to 0 (everything flagged)."""

    def __init__(self, num_thresholds=1001, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.num_thresholds = check_int("num_thresholds", num_thresholds, low=2)
        self._thresholds = (np.arange(self.num_thresholds) / (self.num_thresholds - 1)).astype(
            "float32"
        )
        self.true_positives = self.add_variable(
            shape=(self.num_thresholds,), initializer="zeros", name="true_positives"
        )
        self.false_positives = self.add_variable(
            shape=(self.num_thresholds,), initializer="zeros", name="false_positives"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        fake = ops.reshape(ops.cast(y_true, self.dtype), (-1,))
        scores = ops.clip(ops.reshape(ops.cast(y_pred, self.dtype), (-1,)), 0.0, 1.0)
        if sample_weight is not None:
            weight = ops.reshape(ops.cast(sample_weight, self.dtype), (-1,))
            fake, real = fake * weight, (1.0 - fake) * weight
        else:
            real = 1.0 - fake
        thresholds = ops.convert_to_tensor(self._thresholds, dtype=self.dtype)
        flagged = ops.cast(ops.greater_equal(scores[:, None], thresholds[None, :]), self.dtype)
        self.true_positives.assign_add(ops.matmul(fake[None, :], flagged)[0])
        self.false_positives.assign_add(ops.matmul(real[None, :], flagged)[0])

    def _roc(self):
        """`(fpr, tpr, defined)`: the ROC points, and whether both classes were seen."""
        # At threshold 0 every sample is flagged: the counts there are the class totals.
        fakes, reals = self.true_positives[0], self.false_positives[0]
        nothing = ops.zeros((1,), self.dtype)
        tpr = ops.concatenate([nothing, ops.flip(ops.divide_no_nan(self.true_positives, fakes))])
        fpr = ops.concatenate([nothing, ops.flip(ops.divide_no_nan(self.false_positives, reals))])
        return fpr, tpr, ops.logical_and(fakes > 0, reals > 0)

    def get_config(self):
        return {**super().get_config(), "num_thresholds": self.num_thresholds}


@keras.saving.register_keras_serializable(package="msa_tf")
class EqualErrorRate(_ThresholdCounts):
    """The equal error rate of fake (1) against real (0), streamed over batches.

    The state is the count of fake and of real samples with `score >= t` at the thresholds
    `t = i / (num_thresholds - 1)` (additive, fixed-shape variables: the metric runs under
    `jit_compile=True` and adds up across replicas). The result is `equal_error_rate`'s
    interpolated EER on the ROC points of these thresholds, which is `equal_error_rate` of
    the scores rounded up to the threshold grid (within float32 rounding): exactly the
    function's value when every score lies on the grid. Otherwise it differs by at most the
    share of real or fake samples whose scores fall into the grid cell (1/(num_thresholds - 1)
    wide) at the operating point: with the default 1001 thresholds, within 1e-3 for the EER
    and 5e-3 for `FPRAtTPR` on 2000 scores spread over [0, 1]. NaN while either class is
    missing.

    Args:
        num_thresholds: the number of thresholds, evenly spaced over [0, 1], at least 2.
        name, dtype: as for any `keras.metrics.Metric`.

    `update_state(y_true, y_pred, sample_weight=None)` takes labels 0 or 1 and scores
    (probabilities of fake, a score outside [0, 1] counts as 0 or 1) of shape `(batch,)` or
    `(batch, 1)`.

    Example:
    >>> metric = EqualErrorRate()
    >>> metric.update_state([0, 0, 0], [0.2, 0.4, 0.6])
    >>> metric.update_state([1, 1], [0.6, 0.9])
    >>> round(float(metric.result()), 6)
    0.2
    """

    def __init__(self, num_thresholds=1001, name="eer", dtype=None):
        super().__init__(num_thresholds=num_thresholds, name=name, dtype=dtype)

    def result(self):
        fpr, tpr, defined = self._roc()
        gap = fpr + tpr - 1.0
        after = ops.maximum(ops.argmax(ops.cast(gap >= 0, "int32")), 1)
        before = after - 1
        gap_before, gap_after = ops.take(gap, before), ops.take(gap, after)
        fraction = ops.divide_no_nan(-gap_before, gap_after - gap_before)
        fpr_before = ops.take(fpr, before)
        eer = fpr_before + fraction * (ops.take(fpr, after) - fpr_before)
        return ops.where(defined, eer, float("nan"))


@keras.saving.register_keras_serializable(package="msa_tf")
class FPRAtTPR(_ThresholdCounts):
    """The smallest false positive rate at a true positive rate of at least `tpr`, streamed.

    The same counts as `EqualErrorRate`, with the same relation to the function `fpr_at_tpr`:
    exact when every score lies on the threshold grid, `fpr_at_tpr` of the scores rounded up
    to the grid otherwise (within 5e-3 of the function with the default 1001 thresholds on
    2000 scores spread over [0, 1]). NaN while either class is missing.

    Args:
        tpr: the true positive rate to reach, in (0, 1].
        num_thresholds: the number of thresholds, evenly spaced over [0, 1], at least 2.
        name: defaults to `"fpr_at_95_tpr"` for `tpr=0.95` (`"fpr_at_{100 tpr}_tpr"`).
        dtype: as for any `keras.metrics.Metric`.

    Example:
    >>> metric = FPRAtTPR()
    >>> metric.update_state([0, 0, 0, 1, 1], [0.2, 0.4, 0.6, 0.6, 0.9])
    >>> metric.name, round(float(metric.result()), 4)
    ('fpr_at_95_tpr', 0.3333)
    """

    def __init__(self, tpr=0.95, num_thresholds=1001, name=None, dtype=None):
        tpr = _check_tpr(tpr)
        super().__init__(num_thresholds=num_thresholds, name=name or _fpr_at_tpr_name(tpr),
                         dtype=dtype)
        self.tpr = tpr

    def result(self):
        fpr, tpr, defined = self._roc()
        reached = ops.greater_equal(tpr, ops.cast(self.tpr, self.dtype))
        smallest = ops.min(ops.where(reached, fpr, 1.0))
        return ops.where(defined, smallest, float("nan"))

    def get_config(self):
        return {**super().get_config(), "tpr": self.tpr}
