"""Deepfake detection: is a clip fake (1) or real (0)? Scored as the forensics papers do.

The data (`msa_tf.data.av_sources`) give `label`, `video_label` and `audio_label`
targets, float32 `(batch, 1)`, 1 = fake, -1 where the data do not say. A model outputs
`label` (the probability that the clip is fake) and may output `video_label` and
`audio_label` too (is the face, is the voice fake?); the task trains each with binary
cross-entropy, weighted per class (`class_weight="balanced"`: each class weighs
`clips / (2 x its clips)` in the training split; `None`: 1), and clips whose label is
unknown weigh 0.

The report (`msa_tf.metrics.detection`) holds AUC, AP, accuracy, precision, recall,
F1, EER, FPR at 95% TPR and log loss of the clips, fake = positive, at `threshold`;
the same per video (`video_level_*`: the clips of a video aggregated by `aggregation`,
`mean` or `max`; a video is fake if one of its clips is), where the data name videos;
and the AUC of each modality head the model has (`video_label_auc`,
`audio_label_auc`). The baseline (`prior`) scores every clip with the training
split's fraction of fakes. The plot is `roc.png` (ROC curve and its EER point), and
`predictions.csv` lists every clip with its labels and scores.

Example (`source` is the experiment's data source):
>>> class Source:
...     def clips(self, split):
...         return [{"label": 1}, {"label": 0}, {"label": 0}, {"label": 0}]
...     def modality_labels(self):
...         return True
>>> task = get_task("deepfake_detection", Source())
>>> task.select_outputs({"label", "video_label"}), task.class_weights("label")
(['label', 'video_label'], {0: 0.6666666666666666, 1: 2.0})
"""

import csv
import os

import keras
import numpy as np
from keras import ops

from msa_tf.metrics.detection import EqualErrorRate, aggregate_scores, detection_metrics
from msa_tf.tasks.base import Task, get_task, register_task
from msa_tf.training import plots
from msa_tf.validation import check_choice, check_number

__all__ = ["DeepfakeDetectionTask", "WeightedBinaryCrossentropy", "get_task"]

AGGREGATIONS = ("mean", "max")
CLASS_WEIGHTS = ("balanced", None)
# The columns of `predictions.csv` taken from the source's clip list.
CLIP_COLUMNS = ("file", "video_id", "category", "method")


@keras.saving.register_keras_serializable(package="msa_tf")
class WeightedBinaryCrossentropy(keras.losses.Loss):
    """Binary cross-entropy of probabilities with a weight per class; targets below 0
    (unknown) weigh 0.

    Example:
    >>> loss = WeightedBinaryCrossentropy(positive_weight=2.0, negative_weight=0.5)
    >>> y_true, y_pred = np.array([[1.0], [0.0], [-1.0]]), np.array([[0.5], [0.5], [0.9]])
    >>> round(float(loss(y_true, y_pred)), 4)  # (2 ln 2 + 0.5 ln 2 + 0) / 3
    0.5776
    """

    def __init__(self, positive_weight=1.0, negative_weight=1.0, name="weighted_binary_crossentropy",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.positive_weight = check_number("positive_weight", positive_weight, low=0)
        self.negative_weight = check_number("negative_weight", negative_weight, low=0)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "float32")
        y_pred = ops.clip(ops.cast(y_pred, "float32"), 1e-7, 1 - 1e-7)
        known = ops.cast(y_true >= 0, "float32")
        target = ops.maximum(y_true, 0.0)
        weight = known * (target * self.positive_weight + (1 - target) * self.negative_weight)
        entropy = -(target * ops.log(y_pred) + (1 - target) * ops.log(1 - y_pred))
        return ops.mean(weight * entropy, axis=-1)

    def get_config(self):
        return {**super().get_config(), "positive_weight": self.positive_weight,
                "negative_weight": self.negative_weight}


@register_task("deepfake_detection")
class DeepfakeDetectionTask(Task):
    """Fake-or-real clips, scored with the forensics metrics (module doc).

    Args:
        source: the data source (its `clips(split)` and `modality_labels()` are read).
        class_weight: `"balanced"` or `None` (module doc).
        aggregation: `"mean"` or `"max"`: how clip scores make a video's score.
        threshold: the score from which a clip counts as fake (accuracy, precision,
            recall, F1).
    """

    targets = ("label", "video_label", "audio_label")
    baseline_name = "prior"
    unit = "clips"

    def __init__(self, source, class_weight="balanced", aggregation="mean", threshold=0.5):
        super().__init__(source)
        self.class_weight = check_choice("class_weight", class_weight, CLASS_WEIGHTS)
        self.aggregation = check_choice("aggregation", aggregation, AGGREGATIONS)
        self.threshold = check_number("threshold", threshold, low=0, high=1)

    def check_outputs(self, outputs):
        heads = sorted(set(outputs) & {"video_label", "audio_label"})
        if heads and not self.source.modality_labels():
            raise ValueError(f"the model has the heads {heads}, but not every clip of these data has "
                             "a video and an audio label; use a model without modality heads")

    def class_weights(self, target):
        """`{0: weight, 1: weight}` of `target` in the training split (module doc)."""
        if self.class_weight is None:
            return {0: 1.0, 1: 1.0}
        labels = [row[target] for row in self.source.clips("train") if row[target] is not None]
        counts = [labels.count(0), labels.count(1)]
        return {label: len(labels) / (2 * count) if count else 1.0 for label, count in enumerate(counts)}

    def losses(self, outputs):
        losses = {}
        for name in outputs:
            weights = self.class_weights(name)
            losses[name] = WeightedBinaryCrossentropy(weights[1], weights[0])
        return losses, None

    def compile_metrics(self, outputs):
        return {name: [keras.metrics.AUC(name="auc")] for name in outputs if name != "label"} | {
            "label": [keras.metrics.AUC(name="auc"), EqualErrorRate(name="eer"),
                      keras.metrics.BinaryAccuracy(name="accuracy", threshold=self.threshold)]}

    def predict(self, model, batches):
        """The targets of every clip and, with a model, its scores (`score` for `label`,
        `<target>_score` for the modality heads)."""
        parts = {}
        for inputs, targets in batches:
            outputs = model.predict_on_batch(inputs) if model is not None else {}
            for name in self.targets:
                if name in targets:
                    parts.setdefault(name, []).append(np.asarray(targets[name], np.float32)[:, 0])
                if name in outputs:
                    key = "score" if name == "label" else f"{name}_score"
                    parts.setdefault(key, []).append(np.asarray(outputs[name], np.float32)[:, 0])
        return {key: np.concatenate(values) for key, values in parts.items()}

    def example_info(self, split, count):
        """The source's `file`, `video_id`, `category` and `method` of the `count` clips
        of `split`, in dataset order."""
        rows = self.source.clips(split)
        if len(rows) != count:
            return {}
        return {column: np.array([str(row.get(column)) for row in rows]) for column in CLIP_COLUMNS}

    def metrics(self, predictions):
        results = detection_metrics(predictions["label"], predictions["score"], threshold=self.threshold)
        if "video_id" in predictions:
            _, labels, scores = aggregate_scores(predictions["label"], predictions["score"],
                                                 predictions["video_id"], method=self.aggregation)
            video = detection_metrics(labels, scores, threshold=self.threshold)
            results.update({f"video_level_{name}": value for name, value in video.items()})
        for head in ("video_label", "audio_label"):
            if f"{head}_score" in predictions:
                known = predictions[head] >= 0
                results[f"{head}_auc"] = detection_metrics(
                    predictions[head][known], predictions[f"{head}_score"][known])["auc"]
        return results

    def baseline(self, train_batches, predictions):
        """The metrics of the training split's fraction of fakes as every clip's score."""
        prior = float(np.mean(self.predict(None, train_batches)["label"]))
        baseline = {key: value for key, value in predictions.items() if not key.endswith("score")}
        baseline["score"] = np.full(len(predictions["label"]), prior, np.float32)
        return self.metrics(baseline)

    def plot(self, predictions, run_dir, title):
        path = os.path.join(run_dir, "roc.png")
        return [plots.plot_roc(predictions["label"], predictions["score"], path, title=title)]

    def write_predictions(self, predictions, path):
        """Writes one row per clip: its `file`, `video_id`, labels and scores."""
        columns = [c for c in (*CLIP_COLUMNS, "label", "score", "video_label", "video_label_score",
                               "audio_label", "audio_label_score") if c in predictions]
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            for index in range(len(predictions["label"])):
                writer.writerow([_cell(predictions[c][index]) for c in columns])
        return path


def _cell(value):
    return f"{value:.6f}" if isinstance(value, np.floating) else str(value)
