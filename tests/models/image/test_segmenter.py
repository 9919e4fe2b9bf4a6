import keras
import numpy as np
import pytest

from msa_tf.metrics.image_quality import segmentation_metrics
from msa_tf.models.image.segmenter import build_segmenter, segment, train_segmenter

LEARNING = pytest.mark.tensorflow_only("learning is backend-independent; the TensorFlow run checks it")


def squares(count, classes=1, size=16, seed=0):
    """Masks of one square per class, and RGB images that show them (class c bright in channel c - 1)."""
    rng = np.random.default_rng(seed)
    masks = np.zeros((count, size, size), "int32")
    for mask in masks:
        for label in range(1, classes + 1):
            row, col = rng.integers(0, size - 5, size=2)
            mask[row:row + 5, col:col + 5] = label
    images = np.stack([np.where(masks == label, 1.0, -1.0) for label in (1, 2, 3)], axis=-1)
    return images.astype("float32"), masks


def test_the_segmenter_gives_logits_per_class():
    binary = build_segmenter((16, 32), channels=1, base_filters=4, depth=2)
    multi = build_segmenter((16, 16), channels=3, num_classes=2, base_filters=4, depth=2)
    assert tuple(binary.output["segmentation"].shape) == (None, 16, 32, 1)
    assert tuple(multi.output["segmentation"].shape) == (None, 16, 16, 3)
    # Logits: not bounded by the generator's tanh.
    logits = multi.predict({"image": 50.0 * np.ones((1, 16, 16, 3), "float32")}, verbose=0)
    assert np.abs(logits["segmentation"]).max() > 1.0


@LEARNING
@pytest.mark.parametrize("classes", [1, 2])
def test_train_segmenter_learns_to_find_the_objects(classes):
    images, masks = squares(24, classes)
    keras.utils.set_random_seed(0)
    model = train_segmenter(images[:16], masks[:16], classes, steps=100, base_filters=8, depth=2)
    found = segment(model, images[16:])
    assert found.shape == (8, 16, 16) and found.dtype == np.int32
    assert segmentation_metrics(found, masks[16:], classes)["iou"] > 0.8


def test_train_segmenter_refuses_mismatched_arrays():
    images, masks = squares(4)
    with pytest.raises(ValueError, match=r"`images` must be \(count, height, width, channels\) and "
                                         r"`segmentations`.*\(4, 16, 16, 3\) and \(3, 16, 16\)"):
        train_segmenter(images, masks[:3])
    with pytest.raises(ValueError, match="`steps` must be a positive integer"):
        train_segmenter(images, masks, steps=0)
