import os

import cv2
import numpy as np
import pytest
import tensorflow as tf

from generators.shapes import ShapesGenerator
from msa_tf.data import get_source

SPLITS = ("train", "valid", "test")


def numpy_batches(dataset):
    return [tf.nest.map_structure(lambda t: t.numpy(), element) for element in dataset]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Ten 24x24 pairs of the shapes generator written as PNG files."""
    root = tmp_path_factory.mktemp("pairs")
    batch = ShapesGenerator(image_size=24, seed=3).generate("train", 0, 10)
    images = np.round((batch["image"].numpy() + 1) * 127.5).astype(np.uint8)
    for folder in ("images", "masks"):
        os.makedirs(root / folder)
    for i in range(10):
        cv2.imwrite(str(root / "images" / f"p{i}.png"), images[i][..., ::-1])
        mask = batch["segmentation"].numpy()[i].astype(np.uint8) * 255
        cv2.imwrite(str(root / "masks" / f"p{i}.png"), mask)
    return str(root / "images"), str(root / "masks")


def test_the_shapes_source_yields_the_generators_pairs_as_inputs_and_targets():
    source = get_source("shapes", scene="lesions", image_size=16, channels=1, num_classes=2, num_samples=6)
    generator = ShapesGenerator(scene="lesions", image_size=16, channels=1, num_classes=2, num_samples=6)
    ours = numpy_batches(source.dataset("valid", batch_size=4))
    expected = generator.generate("valid", 0, 6)
    assert [len(inputs["image"]) for inputs, _ in ours] == [4, 2]
    segmentations = np.concatenate([inputs["segmentation"] for inputs, _ in ours])
    np.testing.assert_array_equal(segmentations, expected["segmentation"])
    for inputs, targets in ours:
        assert inputs.keys() == targets.keys() == {"image", "segmentation"}
    assert source.input_spec() == {"image": ((16, 16, 1), "float32"), "segmentation": ((16, 16), "int32")}
    assert source.model_arguments() == {"image_size": [16, 16], "channels": 1, "num_classes": 2}
    assert source.default_task == "image_synthesis" and source.origin == "lesions"
    with pytest.raises(ValueError, match=r"`lengths` must be None for image data \(every image is 16x16"):
        source.dataset("train", 2, lengths=8)


def test_folders_split_into_disjoint_sets_with_every_pair_once(folders):
    source = get_source("image_masks", images_dir=folders[0], masks_dir=folders[1], image_size=24,
                        valid_fraction=0.2, test_fraction=0.1)
    sizes = {split: len(source.stems[split]) for split in SPLITS}
    assert sizes == {"train": 7, "valid": 2, "test": 1}
    assert sorted(sum(source.stems.values(), [])) == sorted(f"p{i}" for i in range(10))
    inputs, targets = numpy_batches(source.dataset("test", batch_size=4))[0]
    assert inputs["image"].shape == (1, 24, 24, 3) and inputs["image"].min() >= -1
    assert set(np.unique(inputs["segmentation"])) <= {0, 1}
    assert source.model_arguments() == {"image_size": [24, 24], "channels": 3, "num_classes": 1}


def test_training_pairs_are_augmented_afresh_each_epoch_and_the_same_for_a_seed(folders):
    def source(**options):
        return get_source("image_masks", images_dir=folders[0], masks_dir=folders[1], image_size=24,
                          **options)

    train = source(seed=1).dataset("train", batch_size=8)
    first, second = numpy_batches(train), numpy_batches(train)
    assert not np.array_equal(first[0][0]["image"], second[0][0]["image"])
    again = numpy_batches(source(seed=1).dataset("train", batch_size=8))
    np.testing.assert_array_equal(again[0][0]["image"], first[0][0]["image"])
    plain = numpy_batches(source(augment=False).dataset("train", batch_size=8))
    valid = [numpy_batches(source(seed=s).dataset("valid", batch_size=8))[0][0]["image"] for s in (1, 2)]
    np.testing.assert_array_equal(valid[0], valid[1])  # evaluation data are never augmented
    assert not np.array_equal(plain[0][0]["image"], first[0][0]["image"])


def test_too_few_pairs_for_the_splits_is_an_error(folders):
    with pytest.raises(ValueError, match=r"`images_dir` must hold more pairs than the valid and test "
                                         r"splits take; received 10 pairs for valid_fraction=0.5 and "
                                         r"test_fraction=0.5"):
        get_source("image_masks", images_dir=folders[0], masks_dir=folders[1], image_size=24,
                   valid_fraction=0.5, test_fraction=0.5)


def test_folder_images_take_a_resolution_curriculum_on_their_shorter_side(folders):
    source = get_source("image_masks", images_dir=folders[0], masks_dir=folders[1], image_size=[16, 24],
                        augment=False)
    curriculum = source.curriculum([{"epochs": 1, "resolution": 8}, {}])
    assert curriculum.image_size == (16, 24) and curriculum.sizes == [(8, 12), (16, 24)]
    plain = numpy_batches(source.dataset("train", batch_size=4))
    curriculum.on_epoch_begin(0)
    staged = numpy_batches(curriculum.apply(source.dataset("train", batch_size=4)))
    for (inputs, _), (original, _) in zip(staged, plain):
        blocks = original["image"].reshape(-1, 8, 2, 12, 2, 3).mean(axis=(2, 4))
        expected = tf.image.resize(blocks, (16, 24), method="bilinear").numpy()
        np.testing.assert_allclose(inputs["image"], expected, atol=1e-6)
        np.testing.assert_array_equal(inputs["segmentation"], original["segmentation"])
