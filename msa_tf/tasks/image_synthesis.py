"""Image synthesis from segmentations: images (and segmentations) scored against real pairs.

The data (`msa_tf.data.image_sources`) give `inputs = targets = {"image",
"segmentation"}`. A model outputs `image` (float32 in [-1, 1]; Pix2Pix) and may output
`segmentation` logits too (one channel for binary masks, one per class and background
otherwise; the VAE). The task trains the outputs a model makes: `image` with an L1 loss
(`image_loss="mae"`, or `"mse"`), `segmentation` with binary or sparse categorical
cross-entropy from logits.

The report holds `l1`, `psnr` and `ssim` of the test images the model makes from the
test inputs (`msa_tf.metrics.image_quality`), and `iou` and `dice` of its
segmentations where it makes them; the baseline (`mean_image`) predicts the mean
training image (and, for segmentations, each pixel's most frequent training class).
The plot is `samples.png`: segmentation, real image and generated image of the first
test examples.

Example (`source` is the experiment's data source):
>>> class Source:
...     num_segmentation_classes = 1
>>> task = get_task("image_synthesis", Source())
>>> task.select_outputs({"image"}), task.baseline_name
(['image'], 'mean_image')
"""

import os

import keras
import numpy as np

from msa_tf.metrics.image_quality import image_metrics, segmentation_metrics
from msa_tf.models.image.components import segmentation_ids
from msa_tf.tasks.base import Task, get_task, register_task
from msa_tf.training import plots
from msa_tf.validation import check_choice

__all__ = ["ImageSynthesisTask", "get_task"]

IMAGE_LOSSES = ("mae", "mse")
# Test examples shown in `samples.png`.
PLOTTED = 6


@register_task("image_synthesis")
class ImageSynthesisTask(Task):
    """Images (and segmentations) made from segmentations, against the real pairs (module doc).

    Args:
        source: the data source (its `num_segmentation_classes` is read).
        image_loss: `"mae"` (L1, as pix2pix) or `"mse"`.
    """

    targets = ("image", "segmentation")
    baseline_name = "mean_image"
    unit = "images"

    def __init__(self, source, image_loss="mae"):
        super().__init__(source)
        self.image_loss = check_choice("image_loss", image_loss, IMAGE_LOSSES)
        self.num_classes = source.num_segmentation_classes

    def losses(self, outputs):
        losses = {}
        if "image" in outputs:
            losses["image"] = self.image_loss
        if "segmentation" in outputs:
            losses["segmentation"] = (
                keras.losses.BinaryCrossentropy(from_logits=True) if self.num_classes == 1
                else keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return losses, None

    def compile_metrics(self, outputs):
        return {"image": [keras.metrics.MeanAbsoluteError(name="l1")]} if "image" in outputs else {}

    def predict(self, model, batches):
        """The real `image` and `segmentation` of every example, and with a model its
        `generated` images and, where it makes them, `predicted` segmentation ids."""
        parts = {key: [] for key in ("image", "segmentation", "generated", "predicted")}
        for inputs, _ in batches:
            parts["image"].append(np.asarray(inputs["image"]))
            parts["segmentation"].append(np.asarray(inputs["segmentation"]))
            if model is not None:
                outputs = model.predict_on_batch(inputs)
                parts["generated"].append(np.asarray(outputs["image"], np.float32))
                if "segmentation" in outputs:
                    parts["predicted"].append(segmentation_ids(np.asarray(outputs["segmentation"])))
        return {key: np.concatenate(values) for key, values in parts.items() if values}

    def metrics(self, predictions):
        results = image_metrics(predictions["generated"], predictions["image"])
        if "predicted" in predictions:
            results.update(segmentation_metrics(predictions["predicted"], predictions["segmentation"],
                                                self.num_classes))
        return results

    def baseline(self, train_batches, predictions):
        """The metrics of the mean training image (and most frequent class per pixel)."""
        train = self.predict(None, train_batches)
        count = len(predictions["image"])
        baseline = {**predictions, "generated": np.repeat(train["image"].mean(axis=0)[None], count, axis=0)}
        if "predicted" in predictions:
            votes = np.stack([(train["segmentation"] == label).sum(axis=0)
                              for label in range(self.num_classes + 1)])
            baseline["predicted"] = np.repeat(votes.argmax(axis=0)[None], count, axis=0)
        return self.metrics(baseline)

    def plot(self, predictions, run_dir, title):
        shown = slice(0, PLOTTED)
        columns = {"segmentation": predictions["segmentation"][shown],
                   "real": predictions["image"][shown], "generated": predictions["generated"][shown]}
        path = plots.plot_image_grid(columns, os.path.join(run_dir, "samples.png"), title=title)
        return [path]
