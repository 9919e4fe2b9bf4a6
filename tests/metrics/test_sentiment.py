import inspect
import math

import keras
import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import accuracy_score, f1_score

from msa_tf.metrics import (
    PearsonCorrelation,
    SentimentAccuracy,
    SentimentF1,
    SentimentMAE,
    sentiment_metric_objects,
    sentiment_metrics,
)

MOSI_KEYS = ["acc2_has0", "f1_has0", "acc2_non0", "f1_non0", "acc3", "acc5", "acc7", "mae", "corr"]
SIMS_KEYS = ["acc2", "f1", "acc3", "acc5", "mae", "corr"]

# Sample 2 (-0.5 -> 0), 5 (0.5 -> 0) and 6 (2.5 -> 2) only match under round half to even;
# samples 3 and 4 have truth 0 (in has0 as positives, left out of non0); sample 5 predicts
# exactly 0 (positive for has0, negative for non0); sample 7 has truth 3.4 (mae is unclipped).
MOSI_TRUE = [-3.0, -1.5, -0.5, 0.0, 0.0, 0.5, 2.5, 3.4]
MOSI_PRED = [-2.4, -2.4, 0.4, 0.0, 0.3, 0.0, 1.6, 1.0]
MOSI_EXPECTED = {
    "acc2_has0": 7 / 8,
    # class 0: support 3, predicted 2, TP 2; class 1: support 5, predicted 6, TP 5.
    "f1_has0": (3 * 4 / 5 + 5 * 10 / 11) / 8,
    "acc2_non0": 4 / 6,
    "f1_non0": 2 / 3,
    "acc3": 8 / 8,
    "acc5": 7 / 8,
    "acc7": 6 / 8,
    "mae": 6.5 / 8,
    "corr": 0.8694909,  # np.corrcoef(MOSI_PRED, MOSI_TRUE)
}

# CH-SIMS: every side clipped to [-1, 1] first (1.5 -> 1, -1.3 -> -1), also for mae and corr.
SIMS_TRUE = [-1.0, -0.7, -0.1, 0.0, 0.1, 0.7, 1.0, -1.3]
SIMS_PRED = [-0.7, -0.69, -0.1, 0.05, 0.1, 0.69, 1.5, -0.65]
SIMS_EXPECTED = {
    "acc2": 7 / 8,  # sample 3: truth 0 is negative, 0.05 positive
    "f1": (5 * 8 / 9 + 3 * 6 / 7) / 8,  # class 0: support 5, predicted 4; class 1: 3 and 4
    "acc3": 8 / 8,
    "acc5": 6 / 8,  # sample 1: -0.7 in [-1, -0.7], -0.69 above; sample 7: -1 vs -0.65
    "mae": 0.72 / 8,
    "corr": float(np.corrcoef(np.clip(SIMS_PRED, -1, 1), np.clip(SIMS_TRUE, -1, 1))[0, 1]),
}


def test_mosi_hand_example_gives_every_key():
    result = sentiment_metrics(MOSI_TRUE, MOSI_PRED)
    assert list(result) == MOSI_KEYS
    for key, value in MOSI_EXPECTED.items():
        assert result[key] == pytest.approx(value, rel=1e-5), key


def test_mosei_uses_the_mosi_definitions():
    assert sentiment_metrics(MOSI_TRUE, MOSI_PRED, dataset="mosei") == sentiment_metrics(
        MOSI_TRUE, MOSI_PRED, dataset="mosi"
    )


def test_sims_hand_example_gives_every_key():
    result = sentiment_metrics(SIMS_TRUE, SIMS_PRED, dataset="sims")
    assert list(result) == SIMS_KEYS
    for key, value in SIMS_EXPECTED.items():
        assert result[key] == pytest.approx(value, rel=1e-5), key


@pytest.mark.parametrize(
    "truth, match, miss",
    [(0.5, 0.0, 1.0), (-0.5, 0.0, -1.0), (1.5, 2.0, 1.0), (2.5, 2.0, 3.0), (-2.5, -2.0, -3.0)],
)
def test_acc7_rounds_half_to_even(truth, match, miss):
    assert sentiment_metrics([truth], [match])["acc7"] == 1.0
    assert sentiment_metrics([truth], [miss])["acc7"] == 0.0


@pytest.mark.parametrize(
    "key, boundary",
    [("acc2", 0.0), ("acc3", -0.1), ("acc3", 0.1)]
    + [("acc5", b) for b in (-0.7, -0.1, 0.1, 0.7)],
)
def test_sims_boundaries_belong_to_the_lower_class(key, boundary):
    below, above = boundary - 0.01, boundary + 0.01
    assert sentiment_metrics([boundary], [below], dataset="sims")[key] == 1.0
    assert sentiment_metrics([boundary], [above], dataset="sims")[key] == 0.0


def test_zero_truths_change_has0_but_not_non0():
    base = sentiment_metrics([-1.0, 2.0], [-0.5, 1.0])
    more = sentiment_metrics([-1.0, 2.0, 0.0, 0.0], [-0.5, 1.0, -2.0, -1.0])
    assert (base["acc2_non0"], base["f1_non0"]) == (1.0, 1.0)
    assert (more["acc2_non0"], more["f1_non0"]) == (1.0, 1.0)
    assert more["acc2_has0"] == 0.5


def test_non0_is_zero_when_every_truth_is_zero():
    result = sentiment_metrics([0.0, 0.0], [1.0, -1.0])
    assert (result["acc2_non0"], result["f1_non0"]) == (0.0, 0.0)


@pytest.mark.parametrize(
    "y_true, y_pred",
    [
        ([0.3, 0.3, 0.3], [1.0, -2.0, 0.5]),
        ([1.0, -2.0, 0.5], [0.1] * 3),
        ([2.0], [1.0]),
        # float32 rounding makes n * Σx² - (Σx)² a little off 0 for these constants.
        (np.sin(np.arange(50.0)), [0.1] * 50),
        ([2.9] * 7, np.cos(np.arange(7.0))),
    ],
)
def test_corr_is_undefined_when_a_side_is_constant(y_true, y_pred):
    assert math.isnan(sentiment_metrics(y_true, y_pred)["corr"])


def _mmsa_reference(y_true, y_pred, dataset):
    """A literal port of MMSA's MetricsTop regression metrics on float32 arrays."""
    truth = np.asarray(y_true, "float32")
    preds = np.asarray(y_pred, "float32")
    if dataset == "sims":
        truth, preds = np.clip(truth, -1.0, 1.0), np.clip(preds, -1.0, 1.0)
        result = {}
        for k, edges in {2: [-1.01, 0.0, 1.01], 3: [-1.01, -0.1, 0.1, 1.01],
                         5: [-1.01, -0.7, -0.1, 0.1, 0.7, 1.01]}.items():
            labels = []
            for values in (truth, preds):
                binned = values.copy()
                for i in range(k):
                    binned[np.logical_and(values > edges[i], values <= edges[i + 1])] = i
                labels.append(binned)
            result[f"acc{k}"] = accuracy_score(labels[0], labels[1])
            if k == 2:
                result["f1"] = f1_score(labels[0], labels[1], average="weighted")
    else:
        result = {}
        for k in (3, 5, 7):
            h = (k - 1) // 2
            same = np.round(np.clip(preds, -h, h)) == np.round(np.clip(truth, -h, h))
            result[f"acc{k}"] = np.mean(same)
        result["acc2_has0"] = accuracy_score(truth >= 0, preds >= 0)
        result["f1_has0"] = f1_score(truth >= 0, preds >= 0, average="weighted")
        non0 = truth != 0
        result["acc2_non0"] = accuracy_score(truth[non0] > 0, preds[non0] > 0)
        result["f1_non0"] = f1_score(truth[non0] > 0, preds[non0] > 0, average="weighted")
    result["mae"] = np.mean(np.abs(preds.astype("float64") - truth))
    result["corr"] = stats.pearsonr(preds.astype("float64"), truth).statistic
    return result


def _random_scores(rng, dataset, n=300):
    if dataset == "sims":
        grid = np.round(np.arange(-1.0, 1.01, 0.2), 1)
        edges = [-0.7, -0.1, 0.0, 0.1, 0.7]
        y_true = np.concatenate([rng.choice(grid, n - 5), edges])
        noisy = np.clip(0.8 * y_true[:-5] + rng.normal(0, 0.4, n - 5), -1.3, 1.3)
        y_pred = np.concatenate([noisy, edges[::-1]])
    else:
        y_true = np.round(rng.uniform(-3.2, 3.2, n) * 3) / 3  # annotator averages, some 0
        y_pred = 0.7 * y_true + rng.normal(0, 1.0, n)
        y_pred[:6] = [0.0, 0.5, -0.5, 1.5, 2.5, -2.5]
    return y_true.astype("float32"), y_pred.astype("float32")


@pytest.mark.parametrize("dataset", ["mosi", "sims"])
def test_matches_mmsa_sklearn_and_scipy_on_random_data(rng, dataset):
    y_true, y_pred = _random_scores(rng, dataset)
    result = sentiment_metrics(y_true, y_pred, dataset=dataset)
    expected = _mmsa_reference(y_true, y_pred, dataset)
    assert set(result) == set(expected)
    for key, value in expected.items():
        assert result[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
    assert 0.2 < result["corr"] < 0.95  # the data are neither independent nor identical


def _update_in_batches(metrics, y_true, y_pred, sizes):
    start = 0
    for size in sizes:
        for metric in metrics:
            metric.update_state(y_true[start:start + size, None], y_pred[start:start + size, None])
        start += size
    assert start == len(y_true)
    return {metric.name: float(metric.result()) for metric in metrics}


@pytest.mark.parametrize("dataset", ["mosi", "sims"])
def test_metric_objects_streamed_in_batches_match_the_function(rng, dataset):
    y_true, y_pred = _random_scores(rng, dataset)
    expected = sentiment_metrics(y_true, y_pred, dataset=dataset)
    metrics = sentiment_metric_objects(dataset)
    streamed = _update_in_batches(metrics, y_true, y_pred, [7, 120, 1, 172])
    assert streamed == pytest.approx(expected, rel=1e-5, abs=1e-6)
    for metric in metrics:
        metric.reset_state()
    again = _update_in_batches(metrics, y_true, y_pred, [300])
    assert again == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_integer_sample_weights_count_samples_that_many_times(rng):
    y_true, y_pred = _random_scores(rng, "mosi", n=40)
    weight = rng.integers(0, 4, size=40)
    expected = sentiment_metrics(np.repeat(y_true, weight), np.repeat(y_pred, weight))
    metrics = sentiment_metric_objects("mosi")
    for metric in metrics:
        metric.update_state(y_true[:, None], y_pred[:, None], sample_weight=weight)
    weighted = {metric.name: float(metric.result()) for metric in metrics}
    assert weighted == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_compiled_jit_model_evaluate_matches_the_function(rng):
    # The one XLA compile of this file.
    inputs = keras.Input((2,), name="features")
    output = keras.layers.Dense(1, name="regression")(inputs)
    model = keras.Model(inputs, {"regression": output})
    kernel, bias = np.array([[1.5], [-0.5]], "float32"), np.zeros(1, "float32")
    model.get_layer("regression").set_weights([kernel, bias])
    features = rng.normal(0, 1.5, size=(48, 2)).astype("float32")
    y_true = np.round(features[:, :1] * 3) / 3 + rng.normal(0, 0.3, size=(48, 1)).astype("float32")
    y_true[:5] = 0.0
    model.compile(
        loss={"regression": "mae"},
        metrics={"regression": sentiment_metric_objects("mosi")},
        jit_compile=True,
    )
    assert model.jit_compile
    logs = model.evaluate(
        features, {"regression": y_true}, batch_size=16, return_dict=True, verbose=0
    )
    y_pred = keras.ops.convert_to_numpy(model(features)["regression"])
    expected = sentiment_metrics(y_true, y_pred)
    for key, value in expected.items():
        logged = [v for name, v in logs.items() if name.endswith(key)]
        assert len(logged) == 1, (key, sorted(logs))
        assert logged[0] == pytest.approx(value, rel=1e-5, abs=1e-6), key


CLASSES = [
    (SentimentAccuracy, {"num_classes": 5, "dataset": "sims", "exclude_zero": True, "name": "a"}),
    (SentimentF1, {"num_classes": 3, "dataset": "mosei", "exclude_zero": False, "name": "f"}),
    (SentimentMAE, {"dataset": "sims", "name": "m"}),
    (PearsonCorrelation, {"dataset": "sims", "name": "c"}),
]


@pytest.mark.parametrize("cls, kwargs", CLASSES, ids=lambda x: getattr(x, "__name__", ""))
def test_config_round_trip_names_every_argument(cls, kwargs):
    metric = cls(**kwargs)
    config = metric.get_config()
    assert set(inspect.signature(cls.__init__).parameters) - {"self"} <= set(config)
    assert {k: config[k] for k in kwargs} == kwargs
    assert keras.saving.get_registered_name(cls) == f"msa_tf>{cls.__name__}"
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(metric))
    assert type(restored) is cls and restored.get_config() == config
    y_true, y_pred = np.array([-0.9, -0.3, 0.0, 0.4, 1.2]), np.array([-0.5, 0.2, 0.05, 0.9, 0.6])
    metric.update_state(y_true, y_pred)
    restored.update_state(y_true, y_pred)
    assert float(restored.result()) == float(metric.result())


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: sentiment_metrics([1.0], [1.0], dataset="mosii"),
         r"`dataset` must be one of 'mosi', 'mosei', 'sims'; received dataset='mosii' "
         r"\(did you mean 'mosi'\?\)"),
        (lambda: sentiment_metric_objects("cmu"),
         r"`dataset` must be one of .*received dataset='cmu'"),
        (lambda: SentimentAccuracy(num_classes=7, dataset="sims"),
         r"`num_classes` must be one of 2, 3, 5; received num_classes=7"),
        (lambda: SentimentF1(exclude_zero="yes"), r"`exclude_zero` must be one of False, True"),
        (lambda: sentiment_metrics([1.0, 2.0, 3.0], [1.0, 2.0]),
         r"`y_true` and `y_pred` must hold the same number of samples; "
         r"received y_true.shape=\(3,\) and y_pred.shape=\(2,\)"),
        (lambda: sentiment_metrics([], []),
         r"`y_true` must hold at least one sample; received y_true.shape=\(0,\)"),
        (lambda: sentiment_metrics([1.0, 2.0], [0.5, np.nan]),
         r"`y_pred` must hold finite numbers; received y_pred\[1\]=nan"),
        (lambda: sentiment_metrics(np.zeros((3, 2)), np.zeros(3)),
         r"`y_true` must have shape \(n,\) or \(n, 1\); received y_true.shape=\(3, 2\)"),
        (lambda: sentiment_metrics(["a"], [1.0]), r"`y_true` must be an array of numbers"),
    ],
)
def test_bad_arguments_raise_a_value_error_that_names_them(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_accepts_column_vectors():
    column = sentiment_metrics(np.array(MOSI_TRUE)[:, None], np.array(MOSI_PRED)[:, None])
    assert column == sentiment_metrics(MOSI_TRUE, MOSI_PRED)
