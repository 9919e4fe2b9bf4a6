"""Image synthesis from segmentations: images (and segmentations) scored against real pairs.

The data (`msa_tf.data.image_sources`) give `inputs = targets = {"image",
"segmentation"}`. A model outputs `image` (float32 in [-1, 1]; Pix2Pix) and may output
`segmentation` logits too (one channel for binary masks, one per class and background
otherwise; the VAE). The task trains the outputs a model makes: `image` with an L1 loss
(`image_loss="mae"`, or `"mse"`), `segmentation` with binary or sparse categorical
cross-entropy from logits.

The report holds, for the test images that the model makes from the test inputs
(`msa_tf.metrics.image_quality`): `l1`, `psnr` and `ssim` against the real images;
`kid` and `kid_std`, KID of a random fixed-seed feature network (not Inception's)
between the generated and the real test images; and `iou` and `dice` of the
segmentation: the model's own where it makes one (the VAE), else the one that a
reference segmenter, trained on the real training pairs with classical augmentation
for `reference_steps` steps, finds in the generated images (Pix2Pix: are the objects
where the condition puts them?). The baseline (`mean_image`) predicts the mean training
image (and, for a model's own segmentations, each pixel's most frequent training
class). The plots are `samples.png` (segmentation, real image and generated image of
the first test examples) and, when the run's `history.csv` has the adversarial losses,
`gan_losses.png` (the generator's and the discriminator's, per epoch).

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
from keras import ops

from msa_tf.metrics.image_quality import image_metrics, kid, segmentation_metrics
from msa_tf.models.image.components import segmentation_ids
from msa_tf.models.image.segmenter import segment, train_segmenter
from msa_tf.tasks.base import Task, get_task, register_task
from msa_tf.training import plots
from msa_tf.validation import check_choice, check_positive_int

__all__ = ["REAL_LIMIT", "ImageSynthesisTask", "get_task", "reference_segmenter"]

IMAGE_LOSSES = ("mae", "mse")
# Test examples shown in `samples.png`.
PLOTTED = 6
# The real training pairs (at most) that a reference segmenter learns from.
REAL_LIMIT = 256
# The adversarial losses of `history.csv` that `gan_losses.png` draws.
GAN_LOSSES = {"generator_adversarial": "generator", "discriminator_loss": "discriminator"}


def reference_segmenter(source, steps=300, seed=0):
    """A segmenter (`msa_tf.models.image.segmenter`) trained on up to `REAL_LIMIT` real
    training pairs of `source` with classical augmentation, for `steps` steps, with
    Keras's random state set from `seed`."""
    import keras

    images, masks, _ = source.pairs("train", limit=REAL_LIMIT)
    keras.utils.set_random_seed(seed)
    return train_segmenter(images, masks, source.num_segmentation_classes, steps=steps,
                           augment=True, seed=seed)


@register_task("image_synthesis")
class ImageSynthesisTask(Task):
    """Images (and segmentations) made from segmentations, against the real pairs (module doc).

    Args:
        source: the data source (its `num_segmentation_classes` is read).
        image_loss: `"mae"` (L1, as pix2pix) or `"mse"`.
        reference_steps: training steps of the reference segmenter (module doc).
    """

    targets = ("image", "segmentation")
    baseline_name = "mean_image"
    unit = "images"

    def __init__(self, source, image_loss="mae", reference_steps=300):
        super().__init__(source)
        self.image_loss = check_choice("image_loss", image_loss, IMAGE_LOSSES)
        self.reference_steps = check_positive_int("reference_steps", reference_steps)
        self.num_classes = source.num_segmentation_classes
        self._reference = None  # trained when first needed

    def reference(self):
        """The reference segmenter of the source's real training pairs (made once)."""
        if self._reference is None:
            self._reference = reference_segmenter(self.source, self.reference_steps)
        return self._reference

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
        `generated` images and either its own `predicted` segmentation ids or those the
        reference segmenter `found` in the generated images."""
        parts = {key: [] for key in ("image", "segmentation", "generated", "predicted")}
        for inputs, _ in batches:
            parts["image"].append(np.asarray(inputs["image"]))
            parts["segmentation"].append(np.asarray(inputs["segmentation"]))
            if model is not None:
                outputs = model.predict_on_batch(inputs)
                parts["generated"].append(np.asarray(outputs["image"], np.float32))
                if "segmentation" in outputs:
                    parts["predicted"].append(ops.convert_to_numpy(segmentation_ids(outputs["segmentation"])))
        predictions = {key: np.concatenate(values) for key, values in parts.items() if values}
        if model is not None and "predicted" not in predictions:
            predictions["found"] = segment(self.reference(), predictions["generated"])
        return predictions

    def metrics(self, predictions):
        results = image_metrics(predictions["generated"], predictions["image"])
        if len(predictions["image"]) >= 2:  # KID needs two images per set: NaN otherwise
            results.update(kid(predictions["generated"], predictions["image"]))
        else:
            results.update(kid=float("nan"), kid_std=float("nan"))
        segmentation = predictions.get("predicted", predictions.get("found"))
        if segmentation is not None:
            results.update(segmentation_metrics(segmentation, predictions["segmentation"],
                                                self.num_classes))
        return results

    def baseline(self, train_batches, predictions):
        """The metrics of the mean training image (module doc)."""
        train = self.predict(None, train_batches)
        count = len(predictions["image"])
        baseline = {**predictions, "generated": np.repeat(train["image"].mean(axis=0)[None], count, axis=0)}
        if "predicted" in predictions:
            votes = np.stack([(train["segmentation"] == label).sum(axis=0)
                              for label in range(self.num_classes + 1)])
            baseline["predicted"] = np.repeat(votes.argmax(axis=0)[None], count, axis=0)
        if "found" in predictions:
            baseline["found"] = segment(self.reference(), baseline["generated"])
        return self.metrics(baseline)

    def plot(self, predictions, run_dir, title):
        shown = slice(0, PLOTTED)
        columns = {"segmentation": predictions["segmentation"][shown],
                   "real": predictions["image"][shown], "generated": predictions["generated"][shown]}
        paths = [plots.plot_image_grid(columns, os.path.join(run_dir, "samples.png"), title=title)]
        history_path = os.path.join(run_dir, "history.csv")
        history = plots.read_history_csv(history_path) if os.path.exists(history_path) else {}
        if all(name in history for name in GAN_LOSSES):
            curves = {label: history[name] for name, label in GAN_LOSSES.items()}
            paths.append(plots.plot_curves(curves, os.path.join(run_dir, "gan_losses.png"),
                                           ylabel="adversarial loss",
                                           title="Generator and discriminator losses"))
        return paths
