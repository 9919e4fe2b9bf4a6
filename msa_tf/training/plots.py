"""PNG plots of a run (the training curves and the test predictions) and of a data set.

Figures are drawn with matplotlib's object API and saved by Agg, never through `pyplot`,
so nothing needs a display and no global matplotlib state changes. Each PNG carries its
title in its `Title` text chunk.
"""

import csv
import math
import pathlib

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from sklearn.metrics import roc_auc_score, roc_curve

from msa_tf.metrics.detection import equal_error_rate

PANEL_COLUMNS = 3
# CSVLogger writes "NA" for a key that an epoch did not log.
MISSING = ("", "NA")


def read_history_csv(path):
    """Reads a `keras.callbacks.CSVLogger` file into `{column: [float per epoch]}`.

    Missing entries ("NA" or empty) read as NaN. Raises `ValueError` naming the file, the
    column and the value for an entry that is not a number.

    Example:
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "history.csv")
    >>> with open(path, "w") as handle:
    ...     _ = handle.write("epoch,loss,val_loss\\n0,1.5,NA\\n1,0.5,0.75\\n")
    >>> read_history_csv(path)
    {'epoch': [0.0, 1.0], 'loss': [1.5, 0.5], 'val_loss': [nan, 0.75]}
    """
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        history = {column: [] for column in reader.fieldnames or ()}
        for line, row in enumerate(reader, start=2):
            if None in row:
                raise ValueError(f"`path` {str(path)!r}: line {line} has more values than the "
                                 f"header names; received {reader.fieldnames} and {row[None]}")
            for column, value in row.items():
                history[column].append(_to_float(path, line, column, value))
    return history


def plot_history(history, path):
    """Plots training curves as a PNG: one panel per metric, `val_` curves beside training.

    Args:
        history: `{metric: per-epoch values}`, as `read_history_csv` or `History.history`
            give it. An `epoch` column (0-based, as CSVLogger writes it) sets the x axis,
            which shows epochs from 1; non-finite values leave gaps.
        path: the PNG file to write; its folder is created.

    Returns the path as a `pathlib.Path`.

    Example:
    >>> import tempfile, os
    >>> history = {"loss": [1.0, 0.6, 0.5], "val_loss": [1.1, 0.8, float("nan")]}
    >>> plot_history(history, os.path.join(tempfile.mkdtemp(), "history.png")).name
    'history.png'
    """
    columns = {name: np.asarray(values, dtype=float) for name, values in history.items()}
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError("`history` must hold one value per epoch in every column; received "
                         f"columns of lengths {lengths}")
    epochs = columns.pop("epoch", None)
    panels = list(dict.fromkeys(name.removeprefix("val_") for name in columns))
    if not panels:
        raise ValueError("`history` must hold at least one metric besides 'epoch'; received "
                         f"history with keys {list(history)}")
    x = np.arange(1, len(next(iter(columns.values()))) + 1) if epochs is None else epochs + 1

    rows = math.ceil(len(panels) / PANEL_COLUMNS)
    cols = min(len(panels), PANEL_COLUMNS)
    figure = Figure(figsize=(4.5 * cols, 3.2 * rows), layout="constrained")
    axes = figure.subplots(rows, cols, squeeze=False).ravel()
    for axis, panel in zip(axes, panels):
        for name, label in ((panel, "training"), (f"val_{panel}", "validation")):
            if name in columns:
                values = columns[name]
                axis.plot(x, np.where(np.isfinite(values), values, np.nan), marker=".", label=label)
        axis.set(title=panel, xlabel="epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.legend()
    for axis in axes[len(panels):]:
        axis.set_axis_off()
    return _save(figure, path, "Training history")


def plot_curves(curves, path, ylabel, title):
    """Plots per-epoch curves on one axis as a PNG (epochs from 1; non-finite values
    leave gaps), e.g. a GAN's generator and discriminator losses.

    Example:
    >>> import tempfile, os
    >>> curves = {"generator": [2.0, 1.5], "discriminator": [0.7, 0.6]}
    >>> plot_curves(curves, os.path.join(tempfile.mkdtemp(), "gan.png"), "loss", "GAN").name
    'gan.png'
    """
    figure = Figure(figsize=(6, 3.5), layout="constrained")
    axis = figure.subplots()
    for label, values in curves.items():
        values = np.asarray(values, dtype=float)
        axis.plot(np.arange(1, len(values) + 1), np.where(np.isfinite(values), values, np.nan),
                  marker=".", label=label)
    axis.set(xlabel="epoch", ylabel=ylabel)
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.legend()
    figure.suptitle(title)
    return _save(figure, path, title)


def plot_predictions(y_true, y_pred, path, title=None):
    """Plots predicted against true values as a PNG, with the line y = x.

    Args:
        y_true: truth values, shape `(n,)` or `(n, 1)`.
        y_pred: predicted values, the same number of samples.
        path: the PNG file to write; its folder is created.
        title: the plot's title (a task puts its metrics there).

    Returns the path as a `pathlib.Path`. Raises `ValueError` for empty, mismatched
    or non-finite values.

    Example:
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "predictions.png")
    >>> plot_predictions([-2.0, 0.0, 1.0, 2.5], [-1.5, 0.5, 0.5, 2.0], path).name
    'predictions.png'
    """
    truth = np.asarray(y_true, dtype=float).ravel()
    predictions = np.asarray(y_pred, dtype=float).ravel()
    if truth.size == 0 or truth.shape != predictions.shape:
        raise ValueError("`y_true` and `y_pred` must hold the same, non-zero number of samples; "
                         f"received shapes {np.shape(y_true)} and {np.shape(y_pred)}")
    for name, values in (("y_true", truth), ("y_pred", predictions)):
        if not np.isfinite(values).all():
            raise ValueError(f"`{name}` must hold finite numbers; received "
                             f"{int((~np.isfinite(values)).sum())} NaN or infinite values")

    figure = Figure(figsize=(5, 5), layout="constrained")
    axis = figure.subplots()
    axis.scatter(truth, predictions, s=12, alpha=0.6)
    low = min(truth.min(), predictions.min())
    high = max(truth.max(), predictions.max())
    axis.plot([low, high], [low, high], color="black", linewidth=1, label="y = x")
    axis.set(xlabel="truth", ylabel="prediction", aspect="equal")
    axis.legend(loc="upper left")
    full_title = title or f"{truth.size} samples"
    axis.set_title(full_title)
    return _save(figure, path, full_title)


def plot_accuracy_by_position(positions, correct, path, title=None):
    """Plots the share of correct predictions at each position as a PNG, a line per model.

    Args:
        positions: the position of each scored token, shape `(n,)`.
        correct: `{name: bool array (n,)}`, whether each model got each token right.
        path: the PNG file to write; its folder is created.
        title: the plot's title.

    Returns the path as a `pathlib.Path`.

    Example:
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "token_accuracy.png")
    >>> correct = {"model": np.array([True, True, False]), "bigram": np.array([True, False, False])}
    >>> plot_accuracy_by_position(np.array([0, 1, 1]), correct, path).name
    'token_accuracy.png'
    """
    positions = np.asarray(positions, dtype=int)
    counts = np.bincount(positions)
    scored = np.nonzero(counts)[0]
    figure = Figure(figsize=(6, 4), layout="constrained")
    axis = figure.subplots()
    for name, hits in correct.items():
        hits = np.asarray(hits, dtype=bool)
        accuracy = np.bincount(positions, weights=hits, minlength=counts.size)[scored] / counts[scored]
        axis.plot(scored, accuracy, marker=".", label=f"{name} ({hits.mean():.3f} overall)")
    axis.set(xlabel="position", ylabel="accuracy", ylim=(-0.02, 1.02))
    axis.legend()
    full_title = title or f"Accuracy by position ({positions.size} tokens)"
    axis.set_title(full_title)
    return _save(figure, path, full_title)


def plot_sequence_analysis(report, out_dir):
    """Plots a token-sequence analysis as four PNGs in `out_dir` (created).

    Args:
        report: the dict of `generators.sequence_analysis.analyze`.
        out_dir: the folder to write into.

    Returns:
        The paths, as `pathlib.Path`s: `rank_frequency.png` (frequency against rank on
        log-log axes, with the fitted line and its slope in the legend), `lengths.png`,
        `entropy.png` and `complexity.png` (histograms of real length, entropy and
        `sequence_complexity` per sequence: where to cut the stages of a curriculum).

    Example:
    >>> import tempfile
    >>> from generators.sequence_analysis import analyze
    >>> report = analyze([[1, 2, 3, 1, 2, 1], [4, 4, 1, 2]])
    >>> [path.name for path in plot_sequence_analysis(report, tempfile.mkdtemp())]
    ['rank_frequency.png', 'lengths.png', 'entropy.png', 'complexity.png']
    """
    out_dir = pathlib.Path(out_dir)
    distribution = report["token_distribution"]
    figure = Figure(figsize=(5, 4), layout="constrained")
    axis = figure.subplots()
    axis.plot(distribution["rank"], distribution["frequency"], marker=".", linestyle="none",
              label=f"{report['distinct_tokens']} of {report['vocab_size']} ids")
    if distribution["slope"] is not None:
        ranks = np.geomspace(1, distribution["fit_ranks"][1], 50)
        fitted = np.exp(distribution["intercept"]) * ranks ** distribution["slope"]
        axis.plot(ranks, fitted, color="black", linewidth=1,
                  label=f"slope {distribution['slope']:.2f} (ranks 1-{distribution['fit_ranks'][1]})")
    axis.set(xlabel="rank", ylabel="frequency")
    if distribution["rank"].size:
        axis.set(xscale="log", yscale="log")
    else:
        axis.text(0.5, 0.5, "no tokens", ha="center", va="center", transform=axis.transAxes)
    axis.legend()
    title = f"Rank-frequency of {report['num_tokens']} tokens"
    axis.set_title(title)
    paths = [_save(figure, out_dir / "rank_frequency.png", title)]
    for name, histogram, xlabel, what in (
        ("lengths.png", report["lengths"], "real tokens", "Sequence lengths"),
        ("entropy.png", report["entropies"], "entropy (bits)", "Sequence entropies"),
        ("complexity.png", report["complexities"], "complexity (share of tokens outside patterns)",
         "Sequence complexities"),
    ):
        figure = Figure(figsize=(5, 4), layout="constrained")
        axis = figure.subplots()
        axis.stairs(histogram["counts"], histogram["edges"], fill=True)
        axis.set(xlabel=xlabel, ylabel="sequences")
        title = f"{what} ({int(histogram['counts'].sum())} sequences)"
        axis.set_title(title)
        paths.append(_save(figure, out_dir / name, title))
    return paths


def plot_image_grid(columns, path, title=None):
    """Plots images side by side as a PNG: one row per example, one column per entry.

    Args:
        columns: `{name: array}`, each `(count, height, width)` of integer class ids
            (a segmentation, drawn with one colour per class) or `(count, height,
            width, channels)` floats in [-1, 1] (an image; one channel is grey), with
            the same count.
        path: the PNG file to write; its folder is created.
        title: the figure's title.

    Returns the path as a `pathlib.Path`.

    Example:
    >>> import tempfile, os
    >>> grid = {"mask": np.zeros((2, 8, 8), int), "image": np.zeros((2, 8, 8, 3))}
    >>> plot_image_grid(grid, os.path.join(tempfile.mkdtemp(), "grid.png")).name
    'grid.png'
    """
    arrays = {name: np.asarray(values) for name, values in columns.items()}
    counts = {name: len(values) for name, values in arrays.items()}
    if not arrays or len(set(counts.values())) != 1 or not next(iter(counts.values())):
        raise ValueError(f"`columns` must hold arrays of the same, nonzero number of examples; "
                         f"received counts {counts}")
    rows, cols = next(iter(counts.values())), len(arrays)
    figure = Figure(figsize=(1.6 * cols, 1.6 * rows + 0.4), layout="constrained")
    axes = figure.subplots(rows, cols, squeeze=False)
    for col, (name, values) in enumerate(arrays.items()):
        for row in range(rows):
            axis = axes[row, col]
            if values.ndim == 3:
                axis.imshow(values[row], cmap="viridis", vmin=0, vmax=max(int(values.max()), 1),
                            interpolation="nearest")
            else:
                image = np.clip((values[row] + 1) / 2, 0, 1)
                axis.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=1)
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(name, fontsize=9)
    title = title or "Samples"
    figure.suptitle(title)
    return _save(figure, path, title)


def plot_score_distribution(scores, threshold, path, title=None):
    """Plots the histogram of quality scores in [0, 1] with the threshold as a PNG; the
    legend counts the scores kept (at or above it) and rejected.

    Example:
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "scores.png")
    >>> plot_score_distribution(np.array([0.2, 0.6, 0.7]), 0.5, path).name
    'scores.png'
    """
    scores = np.asarray(scores, dtype=float)
    kept = int(np.sum(scores >= threshold))
    figure = Figure(figsize=(6, 3.5), layout="constrained")
    axis = figure.subplots()
    bins = np.linspace(0, 1, 41)
    axis.hist(scores[scores >= threshold], bins=bins, color="tab:green", label=f"kept ({kept})")
    axis.hist(scores[scores < threshold], bins=bins, color="tab:gray",
              label=f"rejected ({len(scores) - kept})")
    axis.axvline(threshold, color="tab:red", linestyle="--", label=f"threshold {threshold:g}")
    axis.set(xlabel="quality score", ylabel="pairs", xlim=(0, 1))
    axis.legend()
    title = title or "Quality scores"
    figure.suptitle(title)
    return _save(figure, path, title)


def plot_roc(labels, scores, path, title=None):
    """Plots the ROC curve of deepfake detection scores as a PNG.

    The curve is scikit-learn's `roc_curve` with the AUC in the legend; the equal error
    rate of `msa_tf.metrics.equal_error_rate` is marked where FPR = FNR, with its
    threshold; the dashed diagonal is chance. With one class only there is no curve, and
    the plot says so (`equal_error_rate` warns).

    Args:
        labels: 0 (real) or 1 (fake) per sample, shape `(n,)` or `(n, 1)`.
        scores: the probability that each sample is fake, in [0, 1], the same shape.
        path: the PNG file to write; its folder is created.
        title: the plot's title (a task puts its metrics there).

    Returns the path as a `pathlib.Path`. Raises `ValueError` for bad labels or scores,
    as `msa_tf.metrics.detection_metrics` does.

    Example:
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "roc.png")
    >>> plot_roc([0, 0, 0, 1, 1], [0.2, 0.4, 0.6, 0.6, 0.9], path).name
    'roc.png'
    """
    eer, threshold = equal_error_rate(labels, scores)
    labels = np.asarray(labels, dtype=float).ravel()
    scores = np.asarray(scores, dtype=float).ravel()
    figure = Figure(figsize=(5, 5), layout="constrained")
    axis = figure.subplots()
    axis.plot([0, 1], [0, 1], color="gray", linestyle="--", linewidth=1, label="chance")
    if math.isnan(eer):
        axis.text(0.5, 0.6, "one class only: no ROC curve", ha="center", va="center")
    else:
        fpr, tpr, _ = roc_curve(labels, scores)
        axis.plot(fpr, tpr, color="tab:blue", label=f"ROC (AUC {roc_auc_score(labels, scores):.3f})")
        axis.plot([eer], [1 - eer], "o", color="tab:red",
                  label=f"EER {eer:.3f} (threshold {threshold:.3g})")
    axis.set(xlabel="false positive rate (real called fake)",
             ylabel="true positive rate (fake caught)", xlim=(-0.01, 1.01), ylim=(-0.01, 1.01),
             aspect="equal")
    axis.legend(loc="lower right")
    fakes = int(labels.sum())
    full_title = title or f"ROC curve ({fakes} fake, {labels.size - fakes} real)"
    axis.set_title(full_title)
    return _save(figure, path, full_title)


def _save(figure, path, title):
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=100, metadata={"Title": title})
    return path


def _to_float(path, line, column, value):
    if value is None or value.strip() in MISSING:
        return math.nan
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"`path` {str(path)!r}: column {column!r} of line {line} must be a "
                         f"number or 'NA'; received {value!r}") from None
