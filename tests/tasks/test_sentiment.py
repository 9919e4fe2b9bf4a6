import json
import math
import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from msa_tf.tasks import format_table, get_task, task_names
from msa_tf.tasks.sentiment import classification_loss, infer_dataset, regression_loss
from msa_tf.training.precision import precision_policy


class FakeSource:
    """The two things a task reads of a source."""

    default_task = "sentiment"

    def __init__(self, origin="", classes=3):
        self.origin, self.classes = origin, classes

    def num_classes(self):
        return self.classes


class ScaledModel:
    """Predicts `scale * text[:, 0, 0]`: a model with a known output per batch."""

    def __init__(self, scale):
        self.scale = scale

    def predict_on_batch(self, inputs):
        return {"regression": self.scale * np.asarray(inputs["text"])[:, :1, 0]}


def batches(truth, size=3):
    text = np.asarray(truth, "float32")[:, None, None]
    targets = {"regression": np.asarray(truth, "float32")[:, None]}
    return tf.data.Dataset.from_tensor_slices(({"text": text}, targets)).batch(size)


def test_sentiment_is_registered_and_infers_its_metrics_from_the_data():
    assert "sentiment" in task_names()
    assert get_task("sentiment", FakeSource("data/MOSEI/aligned_50.pkl")).dataset == "mosei"
    assert get_task("sentiment", FakeSource("mosi"), dataset="sims").dataset == "sims"


@pytest.mark.parametrize("name, expected", [
    ("/data/MMSA/MOSEI/Processed/aligned_50.pkl", "mosei"), ("ch_sims/unaligned", "sims"),
    ("cmu_mosi/aligned", "mosi"), ("mosei_unaligned", "mosei"), ("features.pkl", "mosi"),
    ("runs/SIMS/mosei_copy.pkl", "mosei"), ("", "mosi"),
])
def test_the_metrics_data_set_comes_from_the_last_part_of_the_name_that_names_one(name, expected):
    assert infer_dataset(name) == expected


@pytest.mark.parametrize("arguments, message", [
    ({"los": "mse"}, "task 'sentiment' takes no argument 'los' (did you mean 'loss'?)"),
    ({"loss": "l2"}, "`loss` must be one of 'l1', 'mse', 'huber'; received loss='l2'"),
    ({"dataset": "mose"}, "received dataset='mose' (did you mean 'mosei'?)"),
    ({"loss_weights": {"regresion": 1.0}}, "`loss_weights` must be None or a dict with keys among"),
])
def test_bad_options_name_the_option_and_what_is_accepted(arguments, message):
    with pytest.raises(ValueError) as error:
        get_task("sentiment", FakeSource(), **arguments)
    assert message in str(error.value)


def test_losses_and_metrics_follow_the_model_outputs():
    task = get_task("sentiment", FakeSource(), loss="huber",
                    loss_weights={"regression": 1.0, "classification": 0.5})
    assert task.select_outputs({"classification": None, "regression": None, "extra": None}) == [
        "regression", "classification"]
    losses, weights = task.losses(["regression", "classification"])
    assert isinstance(losses["regression"], keras.losses.Huber)
    assert weights == {"regression": 1.0, "classification": 0.5}
    with pytest.raises(ValueError, match=r"`loss_weights` names outputs \['classification'\]"):
        task.losses(["regression"])
    metrics = task.compile_metrics(["regression", "classification"])
    assert [m.name for m in metrics["regression"]] == ["mae", "corr"]
    assert [m.name for m in metrics["classification"]] == ["acc"]
    with pytest.raises(ValueError, match="include none of the targets"):
        task.select_outputs({"logits": None})


def test_a_class_head_by_default_gets_the_data_classes_and_a_mismatch_is_an_error():
    task = get_task("sentiment", FakeSource(classes=7))
    assert task.model_arguments({"num_classes": 3}) == {"num_classes": 7}
    assert task.model_arguments({"num_classes": None}) == {}
    assert task.model_arguments({"model_dim": 8}) == {}
    task.check_outputs({"classification": np.zeros((2, 7))})
    with pytest.raises(ValueError, match="has 3 classes but the data have 7"):
        task.check_outputs({"classification": np.zeros((2, 3))})


def test_evaluation_pairs_predictions_with_targets_and_the_mean_predictor_has_no_correlation():
    task = get_task("sentiment", FakeSource())
    truth = [-2.0, -1.0, 0.5, 1.0, 2.5, 3.0, -0.5]
    predictions = task.predict(ScaledModel(0.5), batches(truth))
    np.testing.assert_allclose(predictions["y_pred"], 0.5 * np.asarray(truth))
    metrics = task.metrics(predictions)
    assert metrics["mae"] == pytest.approx(np.mean(np.abs(truth)) / 2, rel=1e-5)
    assert metrics["corr"] == pytest.approx(1.0)
    baseline = task.baseline(batches([1.0, 2.0, 3.0]), predictions)
    assert baseline["mae"] == pytest.approx(np.mean(np.abs(np.asarray(truth) - 2.0)), rel=1e-5)
    assert math.isnan(baseline["corr"]), "a constant predictor has no correlation"
    table = format_table({"model": metrics, task.baseline_name: baseline}, "Test")
    assert re.search(r"^corr +1\.0000 +-$", table, re.MULTILINE), table
    assert "mean_predictor" in table


def read_title(path):
    with Image.open(path) as png:
        return png.text["Title"]


def test_the_predictions_plot_reports_pearson_r_and_mae_in_its_title(tmp_path):
    task = get_task("sentiment", FakeSource())
    y_true = np.array([-3.0, -1.5, -0.5, 0.0, 0.0, 0.5, 2.5, 3.4])
    y_pred = np.array([-2.4, -2.4, 0.4, 0.0, 0.3, 0.0, 1.6, 1.0])
    [path] = task.plot({"y_true": y_true, "y_pred": y_pred}, str(tmp_path), "tiny run")
    assert path.name == "predictions.png"
    assert read_title(path) == "tiny run\nr = 0.869, MAE = 0.812 (8 samples)"  # np.corrcoef: 0.86949
    [path] = task.plot({"y_true": y_true, "y_pred": np.zeros(8)}, str(tmp_path), "constant")
    assert read_title(path) == f"constant\nr undefined, MAE = {np.mean(np.abs(y_true)):.3f} (8 samples)"


def test_undefined_metrics_are_null_in_json():
    from msa_tf.training.runner import _defined

    assert json.dumps(_defined({"mae": 0.5, "corr": float("nan")})) == '{"mae": 0.5, "corr": null}'


Y_TRUE = np.array([[0.0], [1.0], [2.0]])
Y_PRED = np.array([[1.0], [1.0], [4.0]])  # errors 1, 0, 2


@pytest.mark.parametrize("name, loss_class, expected", [
    ("l1", keras.losses.MeanAbsoluteError, 1.0),
    ("mse", keras.losses.MeanSquaredError, 5 / 3),
    ("huber", keras.losses.Huber, (0.5 + 0.0 + 1.5) / 3),  # quadratic to 1, then linear
])
def test_regression_losses_on_known_errors(name, loss_class, expected):
    loss = regression_loss(name)
    assert isinstance(loss, loss_class)
    assert float(loss(Y_TRUE, Y_PRED)) == pytest.approx(expected)


def test_classification_loss_is_cross_entropy_on_logits_of_class_ids():
    logits = np.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    labels = np.array([0, 2])
    log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    expected = -np.mean(log_softmax[[0, 1], labels])
    assert float(classification_loss()(labels, logits)) == pytest.approx(expected)


def test_losses_compute_in_float32_under_mixed_precision():
    with precision_policy("mixed_float16"):
        for loss in (regression_loss("l1"), regression_loss("huber"), classification_loss()):
            assert loss.dtype == "float32"
        value = regression_loss("mse")(Y_TRUE.astype("float16"), Y_PRED.astype("float16") * 200)
        assert value.dtype == "float32"
        assert float(value) == pytest.approx((200**2 + 199**2 + 798**2) / 3)  # above float16's max


@pytest.mark.parametrize("name, hint", [
    ("l2", ""), ("Huber", " (did you mean 'huber'?)"), (None, ""),
])
def test_unknown_loss_names_argument_value_and_choices(name, hint):
    with pytest.raises(ValueError) as error:
        regression_loss(name)
    assert str(error.value) == (
        f"`loss` must be one of 'l1', 'mse', 'huber'; received loss={name!r}{hint}")
