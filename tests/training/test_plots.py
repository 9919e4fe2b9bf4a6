import warnings

import keras
import numpy as np
import pytest
from matplotlib import image
from PIL import Image

from generators.sequence_analysis import analyze
from msa_tf.training.plots import (
    plot_history,
    plot_predictions,
    plot_roc,
    plot_sequence_analysis,
    read_history_csv,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

HISTORY = {
    "epoch": [0.0, 1.0, 2.0, 3.0],
    "corr": [0.1, 0.4, 0.6, 0.7],
    "learning_rate": [1e-3, 1e-3, 5e-4, 5e-4],
    "loss": [1.2, 0.9, 0.7, 0.6],
    "mae": [1.2, 0.9, 0.7, 0.6],
    "val_corr": [0.1, 0.3, 0.5, 0.5],
    "val_loss": [1.3, 1.0, 0.9, 0.9],
    "val_mae": [1.3, 1.0, 0.9, 0.9],
}


def read_png(path):
    """The pixels of the PNG at `path` after checking its signature, and its text chunks."""
    with open(path, "rb") as handle:
        assert handle.read(8) == PNG_SIGNATURE
    with Image.open(path) as png:
        text = dict(png.text)
    return image.imread(path), text


def test_history_plot_is_a_png_with_one_panel_per_metric(tmp_path):
    path = plot_history(HISTORY, tmp_path / "plots" / "history.png")
    assert path == tmp_path / "plots" / "history.png"
    pixels, text = read_png(path)
    # corr, learning_rate, loss, mae: 2 rows of up to 3 panels of 450 x 320 pixels
    assert pixels.shape == (640, 1350, 4)
    assert pixels[..., :3].std() > 0.05  # something is drawn
    assert text["Title"] == "Training history"


def test_history_plot_grows_with_the_number_of_metrics(tmp_path):
    pixels, _ = read_png(plot_history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]},
                                      str(tmp_path / "one.png")))
    assert pixels.shape == (320, 450, 4)
    pixels, _ = read_png(plot_history({"val_loss": [1.1, 0.7], "mae": [1.0, 0.5]},
                                      tmp_path / "two.png"))
    assert pixels.shape == (320, 900, 4)


def test_non_finite_history_values_do_not_break_the_plot(tmp_path):
    history = {
        "epoch": [0, 1, 2, 3],
        "loss": [1.0, float("inf"), float("nan"), 0.5],
        "val_loss": [float("nan")] * 4,  # never validated
        "corr": [float("-inf"), 0.1, 0.2, 0.3],
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pixels, _ = read_png(plot_history(history, tmp_path / "history.png"))
    assert pixels.shape == (320, 900, 4)


@pytest.mark.parametrize("history, message", [
    ({"epoch": [0, 1]}, "`history` must hold at least one metric besides 'epoch'"),
    ({}, "`history` must hold at least one metric"),
    ({"loss": [1.0, 0.5], "val_loss": [1.0]}, "one value per epoch in every column; received "
                                              "columns of lengths {'loss': 2, 'val_loss': 1}"),
])
def test_bad_history_names_the_argument(tmp_path, history, message):
    with pytest.raises(ValueError) as error:
        plot_history(history, tmp_path / "history.png")
    assert message in str(error.value)
    assert not (tmp_path / "history.png").exists()


def test_read_history_csv_reads_what_csv_logger_writes(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("adam", "mse", metrics=["mae"])
    x = np.random.default_rng(0).normal(size=(32, 2)).astype("float32")
    fitted = model.fit(x, x.sum(axis=1), validation_split=0.25, epochs=3, verbose=0,
                       callbacks=[keras.callbacks.CSVLogger(str(tmp_path / "history.csv"))])
    history = read_history_csv(tmp_path / "history.csv")
    assert history["epoch"] == [0.0, 1.0, 2.0]
    for key, values in fitted.history.items():
        np.testing.assert_allclose(history[key], values, rtol=1e-6, err_msg=key)
    pixels, _ = read_png(plot_history(history, tmp_path / "history.png"))
    assert pixels.shape[0] == 320


def test_read_history_csv_reads_missing_and_non_finite_entries(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("epoch,loss,val_loss\n0,nan,NA\n1,inf,\n2,0.25,-inf\n")
    history = read_history_csv(path)
    assert list(history) == ["epoch", "loss", "val_loss"]
    np.testing.assert_equal(history["loss"], [np.nan, np.inf, 0.25])
    np.testing.assert_equal(history["val_loss"], [np.nan, np.nan, -np.inf])


@pytest.mark.parametrize("text, message", [
    ("epoch,loss\n0,0.5\n1,lots\n", "column 'loss' of line 3 must be a number or 'NA'; received 'lots'"),
    ("epoch,loss\n0,0.5,7\n", "line 2 has more values than the header names"),
])
def test_read_history_csv_names_the_bad_entry(tmp_path, text, message):
    path = tmp_path / "history.csv"
    path.write_text(text)
    with pytest.raises(ValueError) as error:
        read_history_csv(path)
    assert str(path) in str(error.value) and message in str(error.value)


@pytest.mark.parametrize("y_pred, message", [
    ([0.5, 0.5], "same, non-zero number of samples"),
    ([0.5, float("nan"), 0.1], "y_pred"),
])
def test_bad_predictions_name_the_argument(tmp_path, y_pred, message):
    with pytest.raises(ValueError, match=message):
        plot_predictions([1.0, -1.0, 2.0], y_pred, tmp_path / "predictions.png")
    assert not (tmp_path / "predictions.png").exists()


@pytest.mark.parametrize("sequences", [
    [list(np.random.default_rng(0).zipf(1.5, size=n) % 500) for n in range(1, 200)],
    [[], [3]],  # one id: no slope to fit, no entropy to spread
    [[], []],  # no tokens at all
])
def test_sequence_analysis_plots_are_pngs(tmp_path, sequences):
    report = analyze(sequences)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        paths = plot_sequence_analysis(report, tmp_path / "analysis")
    assert [path.name for path in paths] == ["rank_frequency.png", "lengths.png", "entropy.png",
                                             "complexity.png"]
    titles = []
    for path in paths:
        assert path.parent == tmp_path / "analysis"
        pixels, text = read_png(path)
        assert pixels.shape == (400, 500, 4)
        titles.append(text["Title"])
    non_empty = report["num_sequences"] - report["empty_sequences"]
    assert titles[1:] == [f"Sequence lengths ({len(sequences)} sequences)",
                          f"Sequence entropies ({non_empty} sequences)",
                          f"Sequence complexities ({non_empty} sequences)"]


def test_roc_plot_is_a_png_with_its_title(tmp_path):
    labels = np.repeat([0, 1], 50)
    scores = np.clip(np.random.default_rng(0).normal(0.35 + 0.3 * labels, 0.2), 0, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = plot_roc(labels, scores, tmp_path / "plots" / "roc.png")
    assert path == tmp_path / "plots" / "roc.png"
    pixels, text = read_png(path)
    assert pixels.shape == (500, 500, 4)
    assert pixels[..., :3].std() > 0.05
    assert text["Title"] == "ROC curve (50 fake, 50 real)"
    # The EER point and its legend marker are the only tab:red pixels.
    red = (np.abs(pixels[..., :3] - [0.839, 0.153, 0.157]) < 0.05).all(axis=-1)
    assert red.sum() > 20


def test_roc_plot_of_one_class_warns_and_draws_no_curve(tmp_path):
    with pytest.warns(UserWarning, match="`eer` is undefined"):
        pixels, text = read_png(plot_roc([1, 1, 1], [0.2, 0.9, 0.7], tmp_path / "roc.png",
                                         title="test clips"))
    assert pixels.shape == (500, 500, 4) and text["Title"] == "test clips"
    red = (np.abs(pixels[..., :3] - [0.839, 0.153, 0.157]) < 0.05).all(axis=-1)
    assert not red.any()


def test_bad_roc_input_names_the_argument(tmp_path):
    with pytest.raises(ValueError, match=r"`scores` must hold finite numbers in \[0, 1\]"):
        plot_roc([0, 1], [0.5, 1.5], tmp_path / "roc.png")
    assert not (tmp_path / "roc.png").exists()
