import inspect
import math
import re
import warnings

import keras
import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

from msa_tf.metrics import (
    DETECTION_METRICS,
    EqualErrorRate,
    FPRAtTPR,
    aggregate_scores,
    detection_metrics,
    equal_error_rate,
    fpr_at_tpr,
)

# (labels, scores, eer, eer threshold, fpr at 95% tpr), worked out by hand. ROC points are
# (FPR, TPR) from "nothing flagged" down to the lowest score; gap = FPR - FNR = FPR + TPR - 1.
HAND_EXAMPLES = {
    # (0,0) (0,.25)@.9 (0,.5)@.8 (.25,.5)@.7 (.25,.75)@.6 (.5,.75)@.45 (.5,1)@.3 ...
    # gap is exactly 0 at .6: EER .25 there. TPR >= .95 first at .3, with FPR .5.
    "crossing_on_a_point": ([0, 0, 0, 0, 1, 1, 1, 1], [0.1, 0.2, 0.45, 0.7, 0.3, 0.6, 0.8, 0.9],
                            0.25, 0.6, 0.5),
    # (0,0) (0,.25)@.9 (0,.5)@.85 (0,.75)@.8 (.25,1)@.5 (.5,1)@.3 ...: the tied 0.5 pair makes a
    # diagonal step on which gap goes -.25 -> .25, so halfway: FPR = FNR = .125. |gap| ties at
    # .25, so the threshold is the lower one, .5, which also first reaches TPR .95 at FPR .25.
    "crossing_on_a_tie": ([0, 0, 0, 0, 1, 1, 1, 1], [0.1, 0.2, 0.3, 0.5, 0.5, 0.8, 0.85, 0.9],
                          0.125, 0.5, 0.25),
    # (0,0) (0,.5)@.9 (1/3,1)@.6 ...: gap -.5 -> 1/3, zero at 0.6 of the way: FPR = FNR = .2;
    # |gap| is smaller at .6 (1/3 < .5).
    "unequal_classes": ([0, 0, 0, 1, 1], [0.2, 0.4, 0.6, 0.6, 0.9], 0.2, 0.6, 1 / 3),
    # (0,0) (0,.5)@.9 (0,1)@.8: gap reaches 0 at .8 with no error at all.
    "separated": ([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], 0.0, 0.8, 0.0),
    # (0,0) (1,0)@.9 (1,1)@.1: every decision wrong at .9, where FPR = FNR = 1.
    "inverted": ([0, 1], [0.9, 0.1], 1.0, 0.9, 1.0),
    # (0,0) (1,1)@.5: gap -1 -> 1, halfway .5; |gap| ties, the lower threshold is .5.
    "constant": ([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5], 0.5, 0.5, 1.0),
}


@pytest.mark.parametrize("labels, scores, eer, threshold, fpr95", HAND_EXAMPLES.values(),
                         ids=HAND_EXAMPLES.keys())
def test_hand_examples_give_eer_and_fpr_at_95_tpr_exactly(labels, scores, eer, threshold, fpr95):
    assert equal_error_rate(labels, scores) == (pytest.approx(eer, abs=1e-12), threshold)
    assert fpr_at_tpr(labels, scores) == pytest.approx(fpr95, abs=1e-12)
    metrics = detection_metrics(labels, scores)
    assert (metrics["eer"], metrics["fpr_at_95_tpr"]) == pytest.approx((eer, fpr95), abs=1e-12)
    # Every score lies on the metrics' threshold grid: the streamed values are the same.
    for metric, expected in ((EqualErrorRate(), eer), (FPRAtTPR(), fpr95)):
        metric.update_state(np.array(labels)[:, None], np.array(scores)[:, None])
        assert float(metric.result()) == pytest.approx(expected, abs=1e-6), metric.name


@pytest.mark.parametrize("tpr, expected", [(0.95, 0.0), (0.96, 1.0)])
def test_a_tpr_of_exactly_the_target_counts(tpr, expected):
    # 19 of 20 fakes score .9 above every real (TPR .95 at FPR 0); the last one scores .1.
    labels = [1] * 20 + [0] * 10
    scores = [0.9] * 19 + [0.1] + [0.5] * 10
    assert fpr_at_tpr(labels, scores, tpr=tpr) == expected
    metric = FPRAtTPR(tpr=tpr)
    metric.update_state(labels, scores)
    assert float(metric.result()) == expected


def _random_detection_data(rng, n):
    labels = rng.integers(0, 2, n)
    scores = np.clip(rng.normal(0.35 + 0.3 * labels, 0.2), 0.0, 1.0)
    scores[:2] = [0.0, 1.0]  # the log loss clips these
    return labels, scores


@pytest.mark.parametrize("threshold", [0.5, 0.3])
def test_every_metric_equals_scikit_learn_on_random_data(rng, threshold):
    labels, scores = _random_detection_data(rng, 400)
    flagged = scores >= threshold
    expected = {
        "auc": roc_auc_score(labels, scores),
        "ap": average_precision_score(labels, scores),
        "accuracy": accuracy_score(labels, flagged),
        "precision": precision_score(labels, flagged),
        "recall": recall_score(labels, flagged),
        "f1": f1_score(labels, flagged),
        "log_loss": log_loss(labels, np.clip(scores, 1e-7, 1 - 1e-7)),
    }
    metrics = detection_metrics(labels, scores, threshold=threshold)
    assert tuple(metrics) == DETECTION_METRICS
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(value, rel=1e-12), key
    assert 0.7 < metrics["auc"] < 0.95  # neither chance nor separable


def test_eer_and_fpr_match_a_brute_force_over_every_threshold(rng):
    labels, scores = _random_detection_data(rng, 301)
    scores = scores[2:] * 0.9 + 0.05 * rng.random(299)  # no ties: the ROC is a staircase
    labels = labels[2:]
    thresholds = np.concatenate([[np.inf], np.unique(scores)])
    flagged = scores[None, :] >= thresholds[:, None]
    fpr = flagged[:, labels == 0].mean(axis=1)
    tpr = flagged[:, labels == 1].mean(axis=1)
    # On a staircase the EER line crosses a vertical or horizontal step, at min max(FPR, FNR).
    assert equal_error_rate(labels, scores)[0] == pytest.approx(np.min(np.maximum(fpr, 1 - tpr)))
    for target in (0.5, 0.95):
        assert fpr_at_tpr(labels, scores, target) == pytest.approx(np.min(fpr[tpr >= target]))


def _undefined_warnings(record):
    names = {}
    for warning in record:
        assert warning.category is UserWarning
        name, reason = re.fullmatch(r"`(\w+)` is undefined \(NaN\): (.*)", str(warning.message)).groups()
        names[name] = reason
    return names


ONE_CLASS = "`labels` hold one class only"


@pytest.mark.parametrize(
    "labels, scores, expected, undefined",
    [
        # Nothing fake: recall is 0/0; the flagged .7 makes precision 0/1 and F1 0/1.
        ([0, 0, 0], [0.2, 0.7, 0.4], {"accuracy": 2 / 3, "precision": 0.0, "f1": 0.0},
         {"recall": "no sample is fake"}),
        # Only fakes: TP 2, FN 1, FP 0.
        ([1, 1, 1], [0.2, 0.7, 0.9], {"accuracy": 2 / 3, "precision": 1.0, "recall": 2 / 3,
                                      "f1": 0.8}, {}),
        # Nothing fake, nothing flagged: precision, recall and F1 are all 0/0.
        ([0, 0], [0.1, 0.2], {"accuracy": 1.0},
         {"precision": "no score is at or above the threshold", "recall": "no sample is fake",
          "f1": "no sample is fake and none is flagged fake"}),
    ],
)
def test_one_class_gives_nan_with_a_warning_not_an_error(labels, scores, expected, undefined):
    with pytest.warns(UserWarning) as record:
        metrics = detection_metrics(labels, scores)
    reasons = _undefined_warnings(record)
    undefined = {**dict.fromkeys(("auc", "ap", "eer", "fpr_at_95_tpr"), ONE_CLASS), **undefined}
    assert set(reasons) == set(undefined)
    for name, reason in undefined.items():
        assert reasons[name].startswith(reason), name
        assert math.isnan(metrics[name]), name
    for name, value in expected.items():
        assert metrics[name] == pytest.approx(value), name
    assert metrics["log_loss"] == pytest.approx(log_loss(labels, scores, labels=[0, 1]))
    with pytest.warns(UserWarning, match=r"`eer` is undefined \(NaN\): `labels` hold one class"):
        eer, threshold = equal_error_rate(labels, scores)
    assert math.isnan(eer) and math.isnan(threshold)
    with pytest.warns(UserWarning, match=r"`fpr_at_90_tpr` is undefined"):
        assert math.isnan(fpr_at_tpr(labels, scores, tpr=0.9))


def test_nothing_flagged_leaves_only_precision_undefined():
    with pytest.warns(UserWarning) as record:
        metrics = detection_metrics([0, 1], [0.1, 0.2])
    assert _undefined_warnings(record) == {"precision": "no score is at or above the threshold"}
    assert math.isnan(metrics["precision"])
    assert (metrics["recall"], metrics["f1"], metrics["auc"]) == (0.0, 0.0, 1.0)


def test_a_score_equal_to_the_threshold_is_fake():
    assert detection_metrics([0, 1], [0.3, 0.5], threshold=0.5)["accuracy"] == 1.0
    assert detection_metrics([0, 1], [0.3, 0.5], threshold=0.3)["accuracy"] == 0.5


def test_log_loss_clips_certain_scores():
    assert detection_metrics([1, 0], [0.0, 1.0])["log_loss"] == pytest.approx(-math.log(1e-7))
    assert detection_metrics([1, 0], [1.0, 0.0])["log_loss"] == pytest.approx(1e-7, rel=1e-6)


@pytest.mark.parametrize("method, scores", [("mean", [13 / 30, 0.5, 0.3]), ("max", [0.9, 0.5, 0.4])])
def test_aggregate_pools_scores_per_video_and_a_fake_clip_makes_a_fake_video(method, scores):
    # video 3: clips (.9 fake, .1 real, .3 fake); video 5: (.5 real); video 7: (.2, .4 real).
    ids, labels, pooled = aggregate_scores(
        [0, 0, 1, 0, 1, 0], [0.2, 0.4, 0.9, 0.1, 0.3, 0.5], [7, 7, 3, 3, 3, 5], method=method
    )
    assert ids.tolist() == [3, 5, 7]
    assert labels.tolist() == [1, 0, 0]
    np.testing.assert_allclose(pooled, scores, rtol=1e-12)


def test_streamed_metrics_equal_the_functions_of_scores_rounded_up_to_the_grid(rng):
    labels, scores = _random_detection_data(rng, 2000)
    metrics = [EqualErrorRate(), FPRAtTPR()]
    for start, stop in ((0, 7), (7, 1000), (1000, 2000)):
        for metric in metrics:
            metric.update_state(labels[start:stop, None], scores[start:stop, None])
    eer, fpr95 = (float(metric.result()) for metric in metrics)
    on_grid = np.ceil(scores * 1000) / 1000
    assert eer == pytest.approx(equal_error_rate(labels, on_grid)[0], abs=1e-6)
    assert fpr95 == pytest.approx(fpr_at_tpr(labels, on_grid), abs=1e-6)
    # The tolerances their docstring states for unrounded scores.
    assert eer == pytest.approx(equal_error_rate(labels, scores)[0], abs=1e-3)
    assert fpr95 == pytest.approx(fpr_at_tpr(labels, scores), abs=5e-3)
    for metric in metrics:
        metric.reset_state()
        metric.update_state(labels[:1], scores[:1])  # one class seen so far
        assert math.isnan(float(metric.result())), metric.name


def test_integer_sample_weights_count_samples_that_many_times(rng):
    labels, scores = _random_detection_data(rng, 60)
    scores = np.round(scores, 3)
    weight = rng.integers(0, 4, size=60)
    repeated = np.repeat(labels, weight), np.repeat(scores, weight)
    for metric, expected in ((EqualErrorRate(), equal_error_rate(*repeated)[0]),
                             (FPRAtTPR(), fpr_at_tpr(*repeated))):
        metric.update_state(labels, scores, sample_weight=weight)
        assert float(metric.result()) == pytest.approx(expected, abs=1e-6), metric.name


def test_metrics_work_in_a_compiled_jit_model(rng):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    model.set_weights([np.ones((3, 1), "float32"), np.array([-1.5], "float32")])
    model.compile("adam", "binary_crossentropy", metrics=[EqualErrorRate(), FPRAtTPR()],
                  jit_compile=True)
    labels = rng.integers(0, 2, size=(64, 1)).astype("float32")
    features = (rng.normal(size=(64, 3)) + labels).astype("float32")
    history = model.fit(features, labels, batch_size=16, epochs=1, verbose=0)
    assert set(history.history) >= {"eer", "fpr_at_95_tpr"}
    logs = model.evaluate(features, labels, batch_size=16, return_dict=True, verbose=0)
    on_grid = np.ceil(model.predict(features, verbose=0).astype("float64") * 1000) / 1000
    assert logs["eer"] == pytest.approx(equal_error_rate(labels, on_grid)[0], abs=1e-6)
    assert logs["fpr_at_95_tpr"] == pytest.approx(fpr_at_tpr(labels, on_grid), abs=1e-6)
    assert logs["eer"] < 0.3  # the features carry the label


@pytest.mark.parametrize("cls, kwargs", [
    (EqualErrorRate, {"num_thresholds": 11, "name": "video_eer"}),
    (FPRAtTPR, {"tpr": 0.9, "num_thresholds": 21, "name": "fpr"}),
], ids=["EqualErrorRate", "FPRAtTPR"])
def test_config_round_trip_names_every_argument(cls, kwargs):
    metric = cls(**kwargs)
    config = metric.get_config()
    assert set(inspect.signature(cls.__init__).parameters) - {"self"} <= set(config)
    assert {k: config[k] for k in kwargs} == kwargs
    assert keras.saving.get_registered_name(cls) == f"msa_tf>{cls.__name__}"
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(metric))
    assert type(restored) is cls and restored.get_config() == config
    for each in (metric, restored):
        each.update_state([0, 0, 1, 1], [0.1, 0.55, 0.5, 0.9])
    assert float(restored.result()) == float(metric.result())


def test_fpr_at_tpr_metric_is_named_after_its_target():
    assert (FPRAtTPR().name, FPRAtTPR(tpr=0.999).name) == ("fpr_at_95_tpr", "fpr_at_99.9_tpr")


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: detection_metrics([0, 1, 1], [0.1, 0.2]),
         r"`labels` and `scores` must hold the same number of samples; received 3 labels and 2 scores"),
        (lambda: detection_metrics([0, 2, 1], [0.1, 0.2, 0.3]),
         r"`labels` must hold 0 \(real\) or 1 \(fake\); received labels\[1\]=2.0 \(1 of 3 values"),
        (lambda: equal_error_rate([0, 1], [0.1, np.nan]),
         r"`scores` must hold finite numbers in \[0, 1\]; received scores\[1\]=nan"),
        (lambda: fpr_at_tpr([0, 1, 1], [-0.1, 0.5, 1.5]),
         r"`scores` must hold finite numbers in \[0, 1\]; received scores\[0\]=-0.1 \(2 of 3 values"),
        (lambda: detection_metrics(np.zeros((3, 2)), np.zeros(3)),
         r"`labels` must be a non-empty array of shape \(n,\) or \(n, 1\); received labels.shape=\(3, 2\)"),
        (lambda: detection_metrics([], []), r"received labels.shape=\(0,\)"),
        (lambda: detection_metrics([0, 1], ["a", "b"]), r"`scores` must be an array of numbers"),
        (lambda: detection_metrics([0, 1], [0.1, 0.9], threshold=1.5),
         r"`threshold` must be a finite number in \[0, 1\]; received threshold=1.5"),
        (lambda: fpr_at_tpr([0, 1], [0.1, 0.9], tpr=0),
         r"`tpr` must be a finite number in \(0, 1\]; received tpr=0"),
        (lambda: aggregate_scores([0, 1], [0.1, 0.9], [1, 2], method="median"),
         r"`method` must be one of 'mean', 'max'; received method='median'"),
        (lambda: aggregate_scores([0, 1, 0], [0.1, 0.9, 0.3], [1, 2]),
         r"`groups` must hold one id per score, shape \(3,\); received groups.shape=\(2,\)"),
        (lambda: EqualErrorRate(num_thresholds=1),
         r"`num_thresholds` must be an integer >= 2; received num_thresholds=1"),
        (lambda: FPRAtTPR(tpr=1.5), r"`tpr` must be a finite number in \(0, 1\]; received tpr=1.5"),
    ],
)
def test_bad_arguments_raise_a_value_error_that_names_them(call, message):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=message):
            call()
