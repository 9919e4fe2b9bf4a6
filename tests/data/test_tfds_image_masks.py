import os

import cv2
import numpy as np
import pytest
import tensorflow_datasets as tfds

from generators.shapes import ShapesGenerator
from msa_tf.data import get_source
from msa_tf.data.tfds_image_masks import ImageMasks, ImageMasksConfig


def write_pairs(root, count=6, size=16):
    batch = ShapesGenerator(image_size=size, seed=2).generate("train", 0, count)
    images = np.round((batch["image"].numpy() + 1) * 127.5).astype(np.uint8)
    for folder in ("images", "masks"):
        os.makedirs(root / folder)
    for i in range(count):
        cv2.imwrite(str(root / "images" / f"pair{i}.png"), images[i][..., ::-1])
        mask = batch["segmentation"].numpy()[i].astype(np.uint8) * 255
        cv2.imwrite(str(root / "masks" / f"pair{i}.png"), mask)


def test_the_builder_writes_the_pairs_split_as_the_data_source_splits_them(tmp_path):
    write_pairs(tmp_path / "manual")
    config = ImageMasksConfig(name="tiny", image_size=16)
    builder = ImageMasks(config=config, data_dir=str(tmp_path / "data"))
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
        manual_dir=str(tmp_path / "manual"), try_download_gcs=False))
    source = get_source("image_masks", images_dir=str(tmp_path / "manual" / "images"),
                        masks_dir=str(tmp_path / "manual" / "masks"), image_size=16, augment=False)
    for tfds_split, split in (("train", "train"), ("validation", "valid"), ("test", "test")):
        examples = list(tfds.as_numpy(builder.as_dataset(split=tfds_split)))
        assert [e["stem"].decode() for e in examples] == source.stems[split]
        images, masks = source.splits[split]
        np.testing.assert_array_equal(np.stack([e["image"] for e in examples]), images)
        np.testing.assert_array_equal(np.stack([e["segmentation"] for e in examples]), masks)


def test_a_manual_dir_without_its_folders_says_what_to_put_there(tmp_path):
    manual = tmp_path / "manual"
    manual.mkdir()
    builder = ImageMasks(config="64", data_dir=str(tmp_path / "data"))
    config = tfds.download.DownloadConfig(manual_dir=str(manual), try_download_gcs=False)
    with pytest.raises(AssertionError, match=r"Put your images in `manual_dir/images/`"):
        builder.download_and_prepare(download_config=config)  # TFDS's check of an empty manual_dir
    (manual / "images").mkdir()
    cv2.imwrite(str(manual / "images" / "a.png"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match=r"`masks_dir` must be a folder of PNG, JPEG or TIFF files; "
                                         r"received masks_dir=.*manual/masks"):
        builder.download_and_prepare(download_config=config)
