import keras
import numpy as np
import pytest

from msa_tf.metrics.image_quality import image_metrics, kid
from msa_tf.tasks import get_task
from tests.training.test_plots import read_png


class Source:
    def __init__(self, num_segmentation_classes):
        self.num_segmentation_classes = num_segmentation_classes


class Generator:
    """A model that returns given images (and segmentation logits)."""

    def __init__(self, images, logits=None):
        self.images, self.logits, self.calls = images, logits, 0

    def predict_on_batch(self, inputs):
        count, first = len(inputs["image"]), self.calls
        self.calls += count
        outputs = {"image": self.images[first:first + count]}
        if self.logits is not None:
            outputs["segmentation"] = self.logits[first:first + count]
        return outputs


def batches(images, segmentations, size=2):
    for first in range(0, len(images), size):
        pair = {"image": images[first:first + size], "segmentation": segmentations[first:first + size]}
        yield pair, pair


@pytest.fixture()
def data():
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, size=(4, 16, 16, 1)).astype("float32")
    segmentations = rng.integers(0, 3, size=(4, 16, 16))
    return images, segmentations


def test_losses_follow_the_outputs_a_model_makes():
    binary = get_task("image_synthesis", Source(1))
    multi = get_task("image_synthesis", Source(2), image_loss="mse")
    assert binary.losses({"image"}) == ({"image": "mae"}, None)
    losses, _ = binary.losses({"image", "segmentation"})
    assert isinstance(losses["segmentation"], keras.losses.BinaryCrossentropy)
    losses, _ = multi.losses({"image", "segmentation"})
    assert losses["image"] == "mse"
    assert isinstance(losses["segmentation"], keras.losses.SparseCategoricalCrossentropy)
    with pytest.raises(ValueError, match=r"`image_loss` must be one of 'mae', 'mse'; received "
                                         r"image_loss='l2'"):
        get_task("image_synthesis", Source(1), image_loss="l2")


def test_metrics_score_images_and_segmentations_and_the_baseline_is_the_mean_image(data, tmp_path):
    images, segmentations = data
    task = get_task("image_synthesis", Source(2))
    generated = np.clip(images + 0.1, -1, 1)
    logits = np.eye(3)[segmentations] * 5.0  # the true classes
    predictions = task.predict(Generator(generated, logits), batches(images, segmentations))
    metrics = task.metrics(predictions)
    expected = {**image_metrics(generated, images), **kid(generated, images), "iou": 1.0, "dice": 1.0}
    assert metrics == pytest.approx(expected)
    train = np.full((6, 16, 16, 1), 0.25, "float32"), np.ones((6, 16, 16), int)
    baseline = task.baseline(batches(*train), predictions)
    assert baseline["l1"] == pytest.approx(np.abs(images - 0.25).mean(), rel=1e-5)
    # Every pixel predicted as class 1: its IoU is its share; class 2 is never found.
    assert baseline["iou"] == pytest.approx((segmentations == 1).mean() / 2, rel=1e-5)
    [path] = task.plot(predictions, str(tmp_path), "test")
    assert path.name == "samples.png" and read_png(path)[1]["Title"] == "test"


class PairsSource(Source):
    """Binary masks whose images show them: white objects on black."""

    def __init__(self):
        super().__init__(1)
        rng = np.random.default_rng(1)
        self.masks = np.zeros((12, 16, 16), "int32")
        for mask, (row, col) in zip(self.masks, rng.integers(0, 10, size=(12, 2))):
            mask[row:row + 6, col:col + 6] = 1
        self.images = np.repeat(2.0 * self.masks[..., None] - 1.0, 3, axis=-1).astype("float32")

    def pairs(self, split, limit=None):
        return self.images[:8], self.masks[:8], [str(index) for index in range(8)]


def test_a_reference_segmenter_scores_the_images_of_a_model_without_segmentations(tmp_path):
    source = PairsSource()
    keras.utils.set_random_seed(0)
    task = get_task("image_synthesis", source, reference_steps=60)
    images, masks = source.images[8:], source.masks[8:]
    predictions = task.predict(Generator(images), batches(images, masks))
    assert "predicted" not in predictions and predictions["found"].shape == masks.shape
    metrics = task.metrics(predictions)
    assert metrics["iou"] > 0.8, metrics
    # The mean training image shows no object where each test mask has one.
    baseline = task.baseline(batches(source.images[:8], source.masks[:8]), predictions)
    assert baseline["iou"] < 0.5 and task.reference() is task.reference()
    with open(tmp_path / "history.csv", "w") as handle:
        handle.write("epoch,loss,generator_adversarial,discriminator_loss\n0,9,2.0,0.7\n1,8,1.5,0.6\n")
    paths = task.plot(predictions, str(tmp_path), "test")
    assert [path.name for path in paths] == ["samples.png", "gan_losses.png"]
    assert read_png(paths[1])[1]["Title"] == "Generator and discriminator losses"
