import numpy as np
import pytest
import tensorflow as tf
from scipy import ndimage

from generators.shapes import BACKGROUND, SCENES, ShapesGenerator


def numpy_batch(generator, split="train", start=0, count=8):
    return {key: value.numpy() for key, value in generator.generate(split, start, count).items()}


@pytest.mark.parametrize("scene", sorted(SCENES))
def test_each_scene_gives_images_in_range_and_masks_of_its_classes(scene):
    generator = ShapesGenerator(scene=scene, image_size=(40, 48), channels=3, num_classes=3, seed=2)
    batch = numpy_batch(generator, count=16)
    assert batch["image"].shape == (16, 40, 48, 3) and batch["image"].dtype == np.float32
    assert batch["segmentation"].shape == (16, 40, 48) and batch["segmentation"].dtype == np.int32
    assert batch["image"].min() >= -1 and batch["image"].max() <= 1
    assert set(np.unique(batch["segmentation"])) == {0, 1, 2, 3}
    low, high = SCENES[scene]["objects"]
    objects = [ndimage.label(mask > 0)[1] for mask in batch["segmentation"]]
    assert max(objects) <= high, "touching objects merge, so no image shows more than were drawn"
    assert np.mean(objects) >= (low + high) / 4


def test_an_example_depends_on_its_seed_split_and_index_only():
    generator = ShapesGenerator(scene="cells", image_size=24, seed=7)
    whole = numpy_batch(generator, start=0, count=6)
    part = numpy_batch(generator, start=3, count=2)
    for key in ("image", "segmentation"):
        np.testing.assert_array_equal(whole[key][3:5], part[key])
    batched = [b["segmentation"].numpy() for b in generator.batches("train", 4, stop=6)]
    np.testing.assert_array_equal(np.concatenate(batched), whole["segmentation"])
    assert not np.array_equal(numpy_batch(generator, "valid", count=6)["image"], whole["image"])
    other_seed = ShapesGenerator(scene="cells", image_size=24, seed=8)
    assert not np.array_equal(numpy_batch(other_seed, count=6)["image"], whole["image"])


def test_without_texture_noise_or_blur_a_threshold_recovers_the_mask_and_the_contrast():
    generator = ShapesGenerator(scene="blobs", image_size=48, channels=1, contrast=0.5, texture=0.0,
                                noise=0.0, blur=0.0, seed=3)
    batch = numpy_batch(generator, count=16)
    grey = (batch["image"][..., 0] + 1) / 2
    objects = batch["segmentation"] > 0
    found = grey > BACKGROUND + 0.25
    iou = (found & objects).sum() / (found | objects).sum()
    assert iou > 0.97, iou
    # Object levels are uniform in contrast x [0.75, 1.25] above the background.
    assert grey[objects].mean() - grey[~objects].mean() == pytest.approx(0.5, abs=0.06)
    assert np.isclose(grey[~objects], BACKGROUND, atol=0.01).mean() > 0.9  # all but the soft edge


def test_strong_texture_and_noise_defeat_the_threshold():
    generator = ShapesGenerator(scene="lesions", image_size=48, channels=1, contrast=0.15, texture=1.0,
                                noise=0.2, seed=3)
    batch = numpy_batch(generator, count=16)
    objects = batch["segmentation"] > 0
    found = (batch["image"][..., 0] + 1) / 2 > BACKGROUND + 0.075
    assert (found & objects).sum() / (found | objects).sum() < 0.6


def test_object_counts_follow_min_and_max_objects():
    empty = ShapesGenerator(image_size=16, min_objects=0, max_objects=1, seed=1)
    masks = numpy_batch(empty, count=32)["segmentation"]
    assert 0 < (masks.reshape(32, -1).max(axis=1) == 0).sum() < 32, "some images without an object"
    many = ShapesGenerator(scene="cells", image_size=64, min_objects=12, max_objects=12, seed=1)
    counts = [ndimage.label(mask > 0)[1] for mask in numpy_batch(many, count=8)["segmentation"]]
    assert np.mean(counts) >= 7 and max(counts) <= 12  # overlapping cells merge


def test_batches_know_their_number_and_drop_the_remainder():
    generator = ShapesGenerator(image_size=16, num_samples=10)
    assert int(generator.batches("train", 4).cardinality()) == 3
    dropped = generator.batches("train", 4, drop_remainder=True)
    assert int(dropped.cardinality()) == 2
    assert dropped.element_spec["image"] == tf.TensorSpec((4, 16, 16, 3), tf.float32)
    endless = ShapesGenerator(image_size=16, num_samples=None).batches("test", 2)
    assert endless.cardinality() == tf.data.INFINITE_CARDINALITY
    assert ShapesGenerator(**generator.to_dict()).to_dict() == generator.to_dict()


@pytest.mark.parametrize("arguments, message", [
    ({"scene": "blob"}, r"`scene` must be one of 'blobs', 'cells', 'lesions'; received scene='blob' "
                        r"\(did you mean 'blobs'\?\)"),
    ({"image_size": 4}, r"`image_size` must be an integer >= 8 or \[height, width\] of integers >= 8; "
                        r"received image_size=4"),
    ({"image_size": [32, 32, 3]}, r"received image_size=\[32, 32, 3\]"),
    ({"channels": 2}, r"`channels` must be one of 1, 3; received channels=2"),
    ({"contrast": 0.9}, r"`contrast` must be a finite number in \[0, 0.7\]; received contrast=0.9"),
    ({"min_objects": 3, "max_objects": 2},
     r"`max_objects` must be an integer in \[max\(1, min_objects\), 64\]"),
    ({"image_size": 16, "blur": 6}, r"`blur` must be a number in \[0, \(shorter side - 1\) / 3\] = \[0, 5\]"),
    ({"noise": -0.1}, r"`noise` must be a finite number >= 0; received noise=-0.1"),
])
def test_bad_arguments_name_the_argument_and_what_is_accepted(arguments, message):
    with pytest.raises(ValueError, match=message):
        ShapesGenerator(**arguments)


def test_a_batch_too_large_to_render_is_refused():
    generator = ShapesGenerator(image_size=512, max_objects=64)
    with pytest.raises(ValueError, match=r"`count` must be at most 16 for images of 512x512 with up to 64 "
                                         r"objects; received count=17"):
        generator.generate("train", 0, 17)
