"""The standard multimodal sentiment analysis metrics, as one function and as Keras metrics.

The definitions follow MMSA's `MetricsTop` (thuiar/MMSA, `src/MMSA/utils/metricsTop.py`,
`__eval_mosei_regression` and `__eval_sims_regression`), whose MOSI/MOSEI part is the one
MulT (yaohungt/Multimodal-Transformer, `src/eval_metrics.py`) uses too.

CMU-MOSI and CMU-MOSEI (scores in [-3, 3]):
    - `acc2_has0`, `f1_has0`: `pred >= 0` against `truth >= 0` over every sample (a score of
      0 counts as positive); accuracy and weighted F1 (sklearn's `average="weighted"`).
    - `acc2_non0`, `f1_non0`: only samples whose truth is not 0, `pred > 0` against
      `truth > 0` (a prediction of exactly 0 counts as negative).
    - `acc3`, `acc5`, `acc7`: truth and prediction clipped to [-1, 1], [-2, 2], [-3, 3],
      rounded half to even (`np.round`: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2), compared for equality.
    - `mae`: mean absolute error, not clipped. `corr`: Pearson correlation, not clipped.

CH-SIMS (scores in [-1, 1]): truth and prediction are first clipped to [-1, 1], and every
metric, `mae` and `corr` included, reads the clipped values. Classes, each bin open below
and closed above (a score exactly on a boundary belongs to the lower class):
    - 2 classes: [-1, 0], (0, 1]  -> `acc2` and `f1` (weighted F1 of these labels).
    - 3 classes: [-1, -0.1], (-0.1, 0.1], (0.1, 1]  -> `acc3`.
    - 5 classes: [-1, -0.7], (-0.7, -0.1], (-0.1, 0.1], (0.1, 0.7], (0.7, 1]  -> `acc5`.

Everything is computed in float32, as MMSA computes on float32 tensors: a boundary test such
as `score > 0.1` compares with float32(0.1), so a float32 label of 0.1 falls in (-0.1, 0.1].

`corr` is undefined, and NaN, when either side is constant (its variance is below 1e-5 of
its mean square, which also covers float32 rounding): a mean predictor has no correlation,
not a correlation of 0. Tables show it as a dash and JSON as `null`. An accuracy or F1 with
no sample to count (`acc2_non0` when every truth is 0) is 0.0.

The Keras metrics keep additive state only (confusion counts, sums), so they stream over
batches, run under `jit_compile=True` and add up across replicas of a distribution strategy.
`sentiment_metrics` feeds the whole arrays through the same metric objects, so the function
and `model.evaluate` give the same numbers.
"""

import keras
import numpy as np
from keras import ops

from msa_tf.validation import check_choice

DATASETS = ("mosi", "mosei", "sims")
NUM_CLASSES = {"mosi": (2, 3, 5, 7), "mosei": (2, 3, 5, 7), "sims": (2, 3, 5)}
SIMS_BOUNDARIES = {2: (0.0,), 3: (-0.1, 0.1), 5: (-0.7, -0.1, 0.1, 0.7)}
# A side whose variance is below this fraction of its mean square counts as constant.
CONSTANT_TOLERANCE = 1e-5


def sentiment_classes(scores, num_classes, dataset="mosi", exclude_zero=False):
    """Maps a 1-D tensor of sentiment scores to `int32` class ids `0 .. num_classes - 1`.

    The class definitions of the module docstring, written once with `keras.ops`: MOSI/MOSEI
    2 classes are `score >= 0` ("has0"), or `score > 0` with `exclude_zero=True` ("non0",
    used with the samples whose truth is 0 left out); 3, 5, 7 classes are
    `round(clip(score, -h, h)) + h` with `h = (num_classes - 1) // 2`, rounding half to even.
    CH-SIMS classes are the bins of `SIMS_BOUNDARIES`, each closed above.

    Example:
    >>> scores = np.array([-0.5, 0.0, 0.5, 1.5, 2.5, 3.7], "float32")
    >>> np.asarray(sentiment_classes(scores, 7)).tolist()
    [3, 3, 3, 5, 5, 6]
    >>> np.asarray(sentiment_classes(scores, 2)).tolist()
    [0, 1, 1, 1, 1, 1]
    >>> sims = np.array([-1.0, -0.7, -0.1, 0.0, 0.1, 0.7, 1.0], "float32")
    >>> np.asarray(sentiment_classes(sims, 5, "sims")).tolist()
    [0, 0, 1, 2, 2, 3, 4]
    """
    dataset = check_choice("dataset", dataset, DATASETS)
    num_classes = check_choice("num_classes", num_classes, NUM_CLASSES[dataset])
    scores = ops.convert_to_tensor(scores)
    if dataset == "sims":
        boundaries = ops.convert_to_tensor(SIMS_BOUNDARIES[num_classes], dtype=scores.dtype)
        above = ops.greater(scores[:, None], boundaries[None, :])
        return ops.sum(ops.cast(above, "int32"), axis=1)
    if num_classes == 2:
        positive = ops.greater(scores, 0.0) if exclude_zero else ops.greater_equal(scores, 0.0)
        return ops.cast(positive, "int32")
    half = (num_classes - 1) // 2
    return ops.cast(ops.round(ops.clip(scores, -half, half)) + half, "int32")


def _prepare(y_true, y_pred, sample_weight, dataset, dtype):
    """Flat `dtype` truth, prediction and weights; CH-SIMS scores clipped to [-1, 1]."""
    y_true = ops.reshape(ops.cast(y_true, dtype), (-1,))
    y_pred = ops.reshape(ops.cast(y_pred, dtype), (-1,))
    if dataset == "sims":
        y_true = ops.clip(y_true, -1.0, 1.0)
        y_pred = ops.clip(y_pred, -1.0, 1.0)
    if sample_weight is None:
        weight = ops.ones_like(y_true)
    else:
        weight = ops.reshape(ops.cast(sample_weight, dtype), (-1,))
        weight = ops.broadcast_to(weight, ops.shape(y_true))
    return y_true, y_pred, weight


class _ConfusionMetric(keras.metrics.Metric):
    """Accumulates a `(num_classes, num_classes)` confusion matrix (rows: truth)."""

    def __init__(self, num_classes=2, dataset="mosi", exclude_zero=False, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.dataset = check_choice("dataset", dataset, DATASETS)
        self.num_classes = check_choice("num_classes", num_classes, NUM_CLASSES[self.dataset])
        self.exclude_zero = bool(check_choice("exclude_zero", exclude_zero, (False, True)))
        self.confusion = self.add_variable(
            shape=(self.num_classes, self.num_classes), initializer="zeros", name="confusion"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred, weight = _prepare(y_true, y_pred, sample_weight, self.dataset, self.dtype)
        if self.exclude_zero:
            weight = ops.where(ops.not_equal(y_true, 0.0), weight, ops.zeros_like(weight))
        true_hot, pred_hot = (
            ops.one_hot(
                sentiment_classes(scores, self.num_classes, self.dataset, self.exclude_zero),
                self.num_classes,
                dtype=self.dtype,
            )
            for scores in (y_true, y_pred)
        )
        counts = ops.matmul(ops.transpose(true_hot * weight[:, None]), pred_hot)
        self.confusion.assign_add(counts)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_classes=self.num_classes, dataset=self.dataset, exclude_zero=self.exclude_zero
        )
        return config


@keras.saving.register_keras_serializable(package="msa_tf")
class SentimentAccuracy(_ConfusionMetric):
    """Accuracy of sentiment classes derived from regression scores, streamed over batches.

    Args:
        num_classes: 2, 3, 5 or 7 for `"mosi"`/`"mosei"`; 2, 3 or 5 for `"sims"`.
        dataset: `"mosi"`, `"mosei"` or `"sims"`: which class definitions to use (see
            `msa_tf.metrics.sentiment`).
        exclude_zero: leave out the samples whose truth is 0; with 2 MOSI classes this is
            "acc2_non0" (`pred > 0` against `truth > 0`), without it "acc2_has0".
        name, dtype: as for any `keras.metrics.Metric`.

    `update_state(y_true, y_pred, sample_weight=None)` takes scores of shape `(batch,)` or
    `(batch, 1)`. With no sample counted, the result is 0.0.

    Example:
    >>> metric = SentimentAccuracy(num_classes=7)
    >>> metric.update_state([[0.5], [2.5]], [[0.0], [3.0]])
    >>> float(metric.result())
    0.5
    """

    def result(self):
        return ops.divide_no_nan(ops.trace(self.confusion), ops.sum(self.confusion))


@keras.saving.register_keras_serializable(package="msa_tf")
class SentimentF1(_ConfusionMetric):
    """Support-weighted F1 (sklearn's `average="weighted"`) of sentiment classes.

    Per class, F1 = 2 TP / (support + predicted count), 0 where both are 0; the result is
    their average weighted by each class's support in the truth.

    Args:
        num_classes, dataset, exclude_zero, name, dtype: as for `SentimentAccuracy`.

    Example:
    >>> metric = SentimentF1(num_classes=2)
    >>> metric.update_state([-1.0, -2.0, 1.0, 2.0], [-1.0, 1.0, 1.0, 2.0])
    >>> round(float(metric.result()), 4)
    0.7333
    """

    def result(self):
        true_positives = ops.diagonal(self.confusion)
        support = ops.sum(self.confusion, axis=1)
        predicted = ops.sum(self.confusion, axis=0)
        f1 = ops.divide_no_nan(2.0 * true_positives, support + predicted)
        return ops.divide_no_nan(ops.sum(support * f1), ops.sum(support))


@keras.saving.register_keras_serializable(package="msa_tf")
class SentimentMAE(keras.metrics.Mean):
    """Mean absolute error of sentiment scores; CH-SIMS scores are clipped to [-1, 1] first.

    Args:
        dataset: `"mosi"`, `"mosei"` (no clipping, like `keras.metrics.MeanAbsoluteError`)
            or `"sims"`.
        name, dtype: as for any `keras.metrics.Metric`.

    Example:
    >>> metric = SentimentMAE(dataset="sims")
    >>> metric.update_state([0.5, -1.0], [1.5, -0.5])
    >>> float(metric.result())
    0.5
    """

    def __init__(self, dataset="mosi", name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.dataset = check_choice("dataset", dataset, DATASETS)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred, weight = _prepare(y_true, y_pred, sample_weight, self.dataset, self.dtype)
        super().update_state(ops.abs(y_pred - y_true), sample_weight=weight)

    def get_config(self):
        config = super().get_config()
        config.update(dataset=self.dataset)
        return config


@keras.saving.register_keras_serializable(package="msa_tf")
class PearsonCorrelation(keras.metrics.Metric):
    """Pearson correlation between truth and prediction, streamed over batches.

    The state is the sums n, Σx, Σy, Σxy, Σx², Σy² (weighted by `sample_weight`). The result
    is NaN (undefined) when either side is constant (variance below `CONSTANT_TOLERANCE`
    of its mean square) or no sample was seen, and is clipped to [-1, 1].

    Args:
        dataset: `"mosi"`, `"mosei"` (scores as they are) or `"sims"` (both sides clipped to
            [-1, 1] first, as MMSA does).
        name, dtype: as for any `keras.metrics.Metric`.

    Example:
    >>> metric = PearsonCorrelation()
    >>> metric.update_state([1.0, 2.0], [2.0, 4.0])
    >>> metric.update_state([3.0], [6.0])
    >>> round(float(metric.result()), 4)
    1.0
    """

    def __init__(self, dataset="mosi", name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.dataset = check_choice("dataset", dataset, DATASETS)
        self.sums = self.add_variable(shape=(6,), initializer="zeros", name="sums")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred, weight = _prepare(y_true, y_pred, sample_weight, self.dataset, self.dtype)
        terms = ops.stack(
            [
                ops.ones_like(y_true),
                y_pred,
                y_true,
                y_pred * y_true,
                ops.square(y_pred),
                ops.square(y_true),
            ]
        )
        self.sums.assign_add(ops.sum(terms * weight[None, :], axis=1))

    def result(self):
        n, sum_x, sum_y, sum_xy, sum_xx, sum_yy = ops.unstack(self.sums)
        var_x = n * sum_xx - ops.square(sum_x)
        var_y = n * sum_yy - ops.square(sum_y)
        constant = ops.logical_or(
            var_x <= CONSTANT_TOLERANCE * n * sum_xx, var_y <= CONSTANT_TOLERANCE * n * sum_yy
        )
        scale = ops.sqrt(ops.maximum(var_x, 0.0)) * ops.sqrt(ops.maximum(var_y, 0.0))
        corr = ops.divide_no_nan(n * sum_xy - sum_x * sum_y, scale)
        return ops.where(constant, ops.full_like(corr, float("nan")), ops.clip(corr, -1.0, 1.0))

    def get_config(self):
        config = super().get_config()
        config.update(dataset=self.dataset)
        return config


def sentiment_metric_objects(dataset="mosi"):
    """New Keras metric objects for `dataset`, named like the keys of `sentiment_metrics`.

    For `model.compile(metrics={"regression": sentiment_metric_objects("mosei")})` on a
    regression output of shape `(batch, 1)`.

    Example:
    >>> [metric.name for metric in sentiment_metric_objects("sims")]
    ['acc2', 'f1', 'acc3', 'acc5', 'mae', 'corr']
    """
    dataset = check_choice("dataset", dataset, DATASETS)
    if dataset == "sims":
        binary = [
            SentimentAccuracy(2, dataset, name="acc2"),
            SentimentF1(2, dataset, name="f1"),
        ]
    else:
        binary = [
            SentimentAccuracy(2, dataset, name="acc2_has0"),
            SentimentF1(2, dataset, name="f1_has0"),
            SentimentAccuracy(2, dataset, exclude_zero=True, name="acc2_non0"),
            SentimentF1(2, dataset, exclude_zero=True, name="f1_non0"),
        ]
    multiclass = [
        SentimentAccuracy(k, dataset, name=f"acc{k}") for k in NUM_CLASSES[dataset] if k > 2
    ]
    return binary + multiclass + [
        SentimentMAE(dataset, name="mae"),
        PearsonCorrelation(dataset, name="corr"),
    ]


def _as_scores(name, values):
    """`values` as a float64 `(n,)` array; raises `ValueError` for anything else."""
    try:
        array = np.asarray(values, dtype="float64")
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"`{name}` must be an array of numbers; received a {type(values).__name__}"
        ) from error
    if array.ndim not in (1, 2) or (array.ndim == 2 and array.shape[1] != 1):
        raise ValueError(
            f"`{name}` must have shape (n,) or (n, 1); received {name}.shape={array.shape}"
        )
    if array.size == 0:
        raise ValueError(
            f"`{name}` must hold at least one sample; received {name}.shape={array.shape}"
        )
    finite = np.isfinite(array.reshape(-1))
    if not finite.all():
        first = int(np.argmin(finite))
        raise ValueError(
            f"`{name}` must hold finite numbers; received {name}[{first}]="
            f"{float(array.reshape(-1)[first])!r} ({int((~finite).sum())} NaN or infinite values)"
        )
    return array.reshape(-1)


def sentiment_metrics(y_true, y_pred, dataset="mosi"):
    """The standard sentiment metrics of `y_pred` against `y_true`, as a dict of floats.

    Definitions, sources and edge cases are in the `msa_tf.metrics.sentiment` module docstring.

    Args:
        y_true: truth scores, an array-like of shape `(n,)` or `(n, 1)`.
        y_pred: predicted scores, the same number of samples.
        dataset: `"mosi"` or `"mosei"` (keys `acc2_has0`, `f1_has0`, `acc2_non0`, `f1_non0`,
            `acc3`, `acc5`, `acc7`, `mae`, `corr`) or `"sims"` (keys `acc2`, `f1`, `acc3`,
            `acc5`, `mae`, `corr`).

    Raises `ValueError` for an unknown `dataset`, empty or misshapen inputs, different
    numbers of samples, or NaN / infinite values.

    Example:
    >>> scores = sentiment_metrics([-1.2, 0.0, 2.4, 0.6], [-0.8, 0.3, 1.6, -0.2])
    >>> scores["acc2_has0"], round(scores["acc2_non0"], 4), scores["acc7"], round(scores["mae"], 4)
    (0.75, 0.6667, 0.75, 0.575)
    """
    dataset = check_choice("dataset", dataset, DATASETS)
    true_array = _as_scores("y_true", y_true)
    pred_array = _as_scores("y_pred", y_pred)
    if true_array.shape != pred_array.shape:
        raise ValueError(
            "`y_true` and `y_pred` must hold the same number of samples; received "
            f"y_true.shape={np.shape(y_true)} and y_pred.shape={np.shape(y_pred)}"
        )
    metrics = sentiment_metric_objects(dataset)
    for metric in metrics:
        metric.update_state(true_array, pred_array)
    return {metric.name: float(metric.result()) for metric in metrics}
