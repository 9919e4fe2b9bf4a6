import os

import cv2
import numpy as np
import pytest
from skimage import data as skimage_data

from generators.shapes import ShapesGenerator
from msa_tf.data.image_masks import read_image_masks, read_masks


@pytest.fixture(scope="module")
def shapes():
    batch = ShapesGenerator(scene="blobs", image_size=(24, 32), num_classes=2, seed=4).generate("train", 0, 4)
    images = np.round((batch["image"].numpy() + 1) * 127.5).astype(np.uint8)
    return images, batch["segmentation"].numpy().astype(np.uint8)


def folders(root):
    paths = [os.path.join(root, name) for name in ("images", "masks")]
    for path in paths:
        os.makedirs(path, exist_ok=True)
    return paths


def write(path, array):
    assert cv2.imwrite(str(path), array)


def test_pngs_read_back_exactly_in_rgb_with_their_class_ids(tmp_path, shapes):
    images, masks = shapes
    image_dir, mask_dir = folders(tmp_path)
    for i in range(4):
        write(os.path.join(image_dir, f"s{i}.png"), images[i][..., ::-1])  # OpenCV writes BGR
        write(os.path.join(mask_dir, f"s{i}.png"), masks[i] * 100)
    pairs = read_image_masks(image_dir, mask_dir, (24, 32), mask_values=[0, 100, 200])
    assert pairs.stems == ["s0", "s1", "s2", "s3"] and pairs.num_classes == 2
    np.testing.assert_array_equal(pairs.images, images)
    np.testing.assert_array_equal(pairs.masks, masks)
    grey = read_image_masks(image_dir, mask_dir, (24, 32), channels=1, mask_values=[0, 100, 200])
    expected = cv2.cvtColor(images[0], cv2.COLOR_RGB2GRAY)
    np.testing.assert_array_equal(grey.images[0, ..., 0], expected)


def test_jpeg_tiff_16_bit_and_0_1_masks_read_as_binary_masks(tmp_path, shapes):
    images, masks = shapes
    image_dir, mask_dir = folders(tmp_path)
    objects = (masks > 0).astype(np.uint8)
    write(os.path.join(image_dir, "a.JPG"), images[0][..., ::-1])
    write(os.path.join(mask_dir, "a.jpg"), objects[0] * 255)  # compression blurs the border
    write(os.path.join(image_dir, "b.tif"), images[1][..., ::-1].astype(np.uint16) * 257)
    write(os.path.join(mask_dir, "b.png"), objects[1])  # 0/1
    write(os.path.join(image_dir, "c.png"), images[2][..., ::-1])
    write(os.path.join(mask_dir, "c.tiff"), objects[2].astype(np.uint16) * 65535)
    (tmp_path / "images" / "notes.txt").write_text("ignored")
    pairs = read_image_masks(image_dir, mask_dir, (24, 32))
    assert pairs.stems == ["a", "b", "c"] and pairs.num_classes == 1
    np.testing.assert_array_equal(pairs.masks[1:], objects[1:3])
    assert (pairs.masks[0] != objects[0]).mean() < 0.02
    np.testing.assert_array_equal(pairs.images[1], images[1])
    assert np.abs(pairs.images[0].astype(int) - images[0]).mean() < 6


def test_resizing_keeps_masks_as_class_ids_and_aligned_with_their_images(tmp_path, shapes):
    images, masks = shapes
    image_dir, mask_dir = folders(tmp_path)
    write(os.path.join(image_dir, "a.png"), images[0][..., ::-1])
    write(os.path.join(mask_dir, "a.png"), masks[0])
    for size in [(12, 16), (48, 64)]:
        pairs = read_image_masks(image_dir, mask_dir, size, mask_values=[0, 1, 2])
        assert pairs.images.shape == (1, *size, 3) and set(np.unique(pairs.masks)) <= {0, 1, 2}
        back = cv2.resize(pairs.masks[0], (32, 24), interpolation=cv2.INTER_NEAREST)
        assert (back == masks[0]).mean() > 0.9


def test_a_real_image_that_scikit_image_ships_reads_with_its_thresholded_mask(tmp_path):
    coins = skimage_data.coins()  # 303 x 384, 8-bit grey
    image_dir, mask_dir = folders(tmp_path)
    _, mask = cv2.threshold(coins, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    write(os.path.join(image_dir, "coins.png"), coins)
    write(os.path.join(mask_dir, "coins.png"), mask)
    pairs = read_image_masks(image_dir, mask_dir, 128, channels=1)
    assert pairs.images.shape == (1, 128, 128, 1)
    coins_share = (mask > 0).mean()
    assert pairs.masks.mean() == pytest.approx(coins_share, abs=0.02)
    assert pairs.images[0][pairs.masks[0] == 1].mean() > pairs.images[0][pairs.masks[0] == 0].mean() + 40


def write_pair(root, stem, mask=None):
    """An 8x8 black PNG image and its mask (`mask`, or black) in `root`/images and `root`/masks."""
    image_dir, mask_dir = folders(root)
    write(os.path.join(image_dir, stem + ".png"), np.zeros((8, 8, 3), np.uint8))
    write(os.path.join(mask_dir, stem + ".png"), np.zeros((8, 8), np.uint8) if mask is None else mask)
    return image_dir, mask_dir


def test_folders_without_pairs_and_bad_files_name_the_file(tmp_path):
    empty_images, empty_masks = folders(tmp_path / "empty")
    with pytest.raises(ValueError, match=r"`images_dir` must hold image files \(.png, .jpg, .jpeg, .tif, "
                                         r"\.tiff\); received images_dir=.*empty/images', which holds none"):
        read_image_masks(empty_images, empty_masks, 8)
    image_dir, mask_dir = write_pair(tmp_path / "unpaired", "a")
    write(os.path.join(image_dir, "b.png"), np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match=r"every file must have a mask of the same stem; these have none: "
                                         r".*images/b.png"):
        read_image_masks(image_dir, mask_dir, 8)
    os.remove(os.path.join(image_dir, "b.png"))
    write(os.path.join(mask_dir, "c.png"), np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match=r"every file must have an image of the same stem; these have none: "
                                         r".*masks/c.png"):
        read_image_masks(image_dir, mask_dir, 8)
    image_dir, mask_dir = write_pair(tmp_path / "twice", "a")
    write(os.path.join(image_dir, "a.jpg"), np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match=r"`images_dir` must hold one file per stem; received .*a.jpg and "
                                         r".*a.png"):
        read_image_masks(image_dir, mask_dir, 8)


BAD_MASKS = {"values": np.full((8, 8), 7, np.uint8),
             "colour": np.dstack([np.zeros((8, 8), np.uint8), np.ones((8, 8), np.uint8),
                                  np.zeros((8, 8), np.uint8)])}
BAD_MASK_MESSAGES = {
    "values": r"masks/a.png: a mask must hold only the values of `mask_values`=\[0, 255\]; received 7",
    "colour": r"masks/a.png: a mask must be single-channel \(or grey: equal colour channels\); received "
              r"3 channels that differ",
}


@pytest.mark.parametrize("case, message", [
    ("unreadable", r"images/a.png: cannot be read as an image \(PNG, JPEG or TIFF\)"),
    ("sizes", r"masks/a.png: a mask must have the size of its image; received 6x4 for the 8x8 image "),
    *BAD_MASK_MESSAGES.items(),
])
def test_a_bad_file_raises_naming_it(tmp_path, case, message):
    mask = {"sizes": np.zeros((4, 6), np.uint8), **BAD_MASKS}.get(case)
    image_dir, mask_dir = write_pair(tmp_path, "a", mask=mask)
    if case == "unreadable":
        with open(os.path.join(image_dir, "a.png"), "wb") as handle:
            handle.write(b"not an image")
    with pytest.raises(ValueError, match=message):
        read_image_masks(image_dir, mask_dir, 8, mask_values=[0, 255] if case == "values" else None)


@pytest.mark.parametrize("arguments, message", [
    ({"image_size": 0}, r"`image_size` must be a positive integer; received image_size=0"),
    ({"image_size": (8, 8, 3)}, r"`image_size` must be an int or \(height, width\); received "
                                r"image_size=\(8, 8, 3\)"),
    ({"channels": 4}, r"`channels` must be one of 1, 3; received channels=4"),
    ({"mask_values": [0]}, r"`mask_values` must be None \(binary masks\) or a list of 2 to 255 distinct "
                           r"pixel values in \[0, 65535\]; received mask_values=\[0\]"),
    ({"mask_values": [0, 0]}, r"received mask_values=\[0, 0\]"),
])
def test_bad_arguments_name_the_argument(tmp_path, arguments, message):
    image_dir, mask_dir = write_pair(tmp_path, "a")
    with pytest.raises(ValueError, match=message):
        read_image_masks(image_dir, mask_dir, **{"image_size": 8, **arguments})


def test_read_masks_reads_a_folder_of_masks_alone_as_read_image_masks_does(tmp_path, shapes):
    images, masks = shapes
    image_dir, mask_dir = folders(tmp_path)
    for i in range(4):
        write(os.path.join(image_dir, f"s{i}.png"), images[i][..., ::-1])
        write(os.path.join(mask_dir, f"s{i}.png"), masks[i] * 100)
    write(os.path.join(mask_dir, "large.png"), cv2.resize(masks[0] * 100, (64, 48),
                                                          interpolation=cv2.INTER_NEAREST))
    read, stems = read_masks(mask_dir, (24, 32), mask_values=[0, 100, 200])
    assert stems == ["large", "s0", "s1", "s2", "s3"] and read.shape == (5, 24, 32) and read.dtype == np.uint8
    np.testing.assert_array_equal(read[1:], masks)
    np.testing.assert_array_equal(read[0], masks[0])  # resized with nearest neighbours
    os.remove(os.path.join(mask_dir, "large.png"))
    np.testing.assert_array_equal(read_masks(mask_dir, 16, [0, 100, 200])[0], read_image_masks(
        image_dir, mask_dir, 16, mask_values=[0, 100, 200]).masks)
    binary, _ = read_masks(mask_dir, (24, 32))  # objects: above half of each mask's largest value
    np.testing.assert_array_equal(binary, [mask * 100 > mask.max() * 50 for mask in masks])


@pytest.mark.parametrize("case, message", [
    ("unreadable", r"masks/a.png: cannot be read as an image \(PNG, JPEG or TIFF\)"),
    *BAD_MASK_MESSAGES.items(),
])
def test_read_masks_names_a_bad_mask_file(tmp_path, case, message):
    _, mask_dir = write_pair(tmp_path, "a", mask=BAD_MASKS.get(case))
    if case == "unreadable":
        with open(os.path.join(mask_dir, "a.png"), "wb") as handle:
            handle.write(b"not an image")
    with pytest.raises(ValueError, match=message):
        read_masks(mask_dir, 8, mask_values=[0, 255] if case == "values" else None)


@pytest.mark.parametrize("arguments, message", [
    ({"masks_dir": "empty"}, r"`masks_dir` must hold image files \(.png, .jpg, .jpeg, .tif, \.tiff\); "
                             r"received masks_dir=.*empty', which holds none"),
    ({"masks_dir": "missing"}, r"`masks_dir` must be a folder of PNG, JPEG or TIFF files; received "
                               r"masks_dir=.*missing', which is not a folder"),
    ({"image_size": (8, 8, 3)}, r"`image_size` must be an int or \(height, width\); received "
                                r"image_size=\(8, 8, 3\)"),
    ({"mask_values": [0, 0]}, r"`mask_values` must be None \(binary masks\) or a list of 2 to 255 distinct "
                              r"pixel values in \[0, 65535\]; received mask_values=\[0, 0\]"),
])
def test_read_masks_names_a_bad_folder_or_argument(tmp_path, arguments, message):
    _, mask_dir = write_pair(tmp_path, "a")
    os.makedirs(tmp_path / "empty")
    if "masks_dir" in arguments:
        arguments = {"masks_dir": str(tmp_path / arguments["masks_dir"])}
    with pytest.raises(ValueError, match=message):
        read_masks(**{"masks_dir": mask_dir, "image_size": 8, **arguments})
