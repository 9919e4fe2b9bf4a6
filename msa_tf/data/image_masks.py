"""Real image/mask pairs from two folders: paired by file stem, checked, resized.

`read_image_masks(images_dir, masks_dir, image_size)` reads every image of `images_dir`
and the mask of the same stem in `masks_dir` (`cells_01.jpg` pairs with
`cells_01.png`), PNG, JPEG or TIFF through OpenCV, 8 or 16 bits, grey or colour (an
alpha channel is dropped). Masks are single-channel (a colour file whose channels are
equal reads as grey) and become class ids:

- `mask_values=None` (binary): a pixel above half the mask's largest value is the
  object (class 1), so masks of 0/1, 0/255 and JPEG-compressed ones all read right;
- `mask_values=[v0, v1, ...]`: the pixel value of each class, background first (e.g.
  `[0, 128, 255]` for two classes); a mask holding another value is an error.

Images are resized to `image_size` with area averaging (bilinear when enlarging),
masks with nearest neighbours, so that they stay class ids. An image and its mask
must have the same size as stored. Every problem raises `ValueError` naming the
file: an empty folder, files without a partner, two files of one stem, an unreadable
file, a mask with unexpected values, sizes that differ.

`read_masks(masks_dir, image_size)` reads the masks of one folder alone, in the same
way (e.g. to synthesize images from them).

Example:
>>> import os, tempfile
>>> import cv2, numpy as np
>>> root = tempfile.mkdtemp()
>>> for folder in ("images", "masks"):
...     os.makedirs(os.path.join(root, folder))
>>> image = np.zeros((20, 30, 3), np.uint8); image[5:15, 10:20] = 200
>>> _ = cv2.imwrite(os.path.join(root, "images", "a.png"), image)
>>> _ = cv2.imwrite(os.path.join(root, "masks", "a.png"), (image[..., 0] > 0).astype(np.uint8) * 255)
>>> pairs = read_image_masks(os.path.join(root, "images"), os.path.join(root, "masks"), (10, 15))
>>> pairs.images.shape, pairs.masks.shape, pairs.stems, int(pairs.masks.sum())
((1, 10, 15, 3), (1, 10, 15), ['a'], 25)
>>> masks, stems = read_masks(os.path.join(root, "masks"), (10, 15))
>>> masks.shape, stems, bool((masks == pairs.masks).all())
((1, 10, 15), ['a'], True)
"""

import dataclasses
import hashlib
import os

import cv2
import numpy as np

from generators.validation import check_path
from msa_tf.validation import check_choice, check_number, check_positive_int

__all__ = ["IMAGE_SUFFIXES", "ImageMasks", "read_image_masks", "read_masks", "split_pairs"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
_SHOWN = 5  # stems named in an error about unpaired files


@dataclasses.dataclass(frozen=True)
class ImageMasks:
    """Image/mask pairs in memory.

    Attributes:
        images: uint8 `(count, height, width, channels)`.
        masks: uint8 `(count, height, width)` class ids, 0 = background.
        stems: the file stem of each pair, sorted.
        num_classes: the object classes (mask ids 1 .. `num_classes`).
    """

    images: np.ndarray
    masks: np.ndarray
    stems: list
    num_classes: int


def read_image_masks(images_dir, masks_dir, image_size, channels=3, mask_values=None):
    """The pairs of two folders as an `ImageMasks` (module doc).

    Args:
        images_dir: a folder of images (`IMAGE_SUFFIXES`, any case; other files and
            sub-folders are ignored).
        masks_dir: a folder with one mask of the same stem per image.
        image_size: the `(height, width)` to resize to, or one int for squares.
        channels: 1 (grey) or 3 (RGB) for the images.
        mask_values: `None` (binary masks) or the pixel value of each class,
            background first.
    """
    height, width = _size(image_size)
    check_choice("channels", channels, (1, 3))
    values = _mask_values(mask_values)
    pairs = _pairs(images_dir, masks_dir)
    images = np.empty((len(pairs), height, width, channels), np.uint8)
    masks = np.empty((len(pairs), height, width), np.uint8)
    for i, (_, image_path, mask_path) in enumerate(pairs):
        image, mask = _read(image_path), _read(mask_path)
        if image.shape[:2] != mask.shape[:2]:
            raise ValueError(f"{mask_path}: a mask must have the size of its image; received "
                             f"{mask.shape[1]}x{mask.shape[0]} for the {image.shape[1]}x{image.shape[0]} "
                             f"image {image_path}")
        images[i] = _resized(_image_channels(image, channels), height, width, cv2.INTER_AREA)
        masks[i] = _class_ids(mask, values, mask_path, height, width)
    return ImageMasks(images, masks, [stem for stem, _, _ in pairs],
                      1 if values is None else len(values) - 1)


def read_masks(masks_dir, image_size, mask_values=None):
    """The masks of one folder alone, as `read_image_masks` reads them (module doc).

    Args:
        masks_dir: a folder of masks (`IMAGE_SUFFIXES`, any case; other files and
            sub-folders are ignored).
        image_size: the `(height, width)` to resize to, or one int for squares.
        mask_values: `None` (binary masks) or the pixel value of each class,
            background first.

    Returns:
        `(masks, stems)`: uint8 `(count, height, width)` class ids, 0 = background,
        and the file stem of each mask, sorted.
    """
    height, width = _size(image_size)
    values = _mask_values(mask_values)
    files = _files(masks_dir, "masks_dir")
    stems = sorted(files)
    masks = np.stack([_class_ids(_read(files[stem]), values, files[stem], height, width) for stem in stems])
    return masks, stems


def _size(image_size):
    sizes = list(image_size) if isinstance(image_size, (list, tuple)) else [image_size, image_size]
    if len(sizes) != 2:
        raise ValueError(f"`image_size` must be an int or (height, width); received "
                         f"image_size={image_size!r}")
    return tuple(check_positive_int("image_size", size) for size in sizes)


def _mask_values(mask_values):
    if mask_values is None:
        return None
    accepted = "None (binary masks) or a list of 2 to 255 distinct pixel values in [0, 65535]"
    if (not isinstance(mask_values, (list, tuple)) or not 2 <= len(mask_values) <= 255
            or len(set(mask_values)) != len(mask_values)
            or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 65535
                       for v in mask_values)):
        raise ValueError(f"`mask_values` must be {accepted}; received mask_values={mask_values!r}")
    return list(mask_values)


def _files(folder, name):
    """`{stem: path}` of the image files in `folder`; an error for none or two of one stem."""
    folder = check_path(name, folder, "a folder of PNG, JPEG or TIFF files", must_be="folder")
    found = {}
    for entry in sorted(os.listdir(folder)):
        stem, suffix = os.path.splitext(entry)
        path = os.path.join(folder, entry)
        if suffix.lower() not in IMAGE_SUFFIXES or not os.path.isfile(path):
            continue
        if stem in found:
            raise ValueError(f"`{name}` must hold one file per stem; received {found[stem]} and {path}")
        found[stem] = path
    if not found:
        raise ValueError(f"`{name}` must hold image files ({', '.join(IMAGE_SUFFIXES)}); received "
                         f"{name}={folder!r}, which holds none")
    return found


def _pairs(images_dir, masks_dir):
    images, masks = _files(images_dir, "images_dir"), _files(masks_dir, "masks_dir")
    for files, others, what in ((images, masks, "a mask"), (masks, images, "an image")):
        alone = [path for stem, path in files.items() if stem not in others]
        if alone:
            more = f" and {len(alone) - _SHOWN} more" if len(alone) > _SHOWN else ""
            raise ValueError(f"every file must have {what} of the same stem; these have none: "
                             f"{', '.join(alone[:_SHOWN])}{more}")
    return [(stem, images[stem], masks[stem]) for stem in sorted(images)]


def _read(path):
    array = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if array is None or array.size == 0:
        raise ValueError(f"{path}: cannot be read as an image (PNG, JPEG or TIFF)")
    if array.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"{path}: images must have 8 or 16 bits per channel; received {array.dtype}")
    return array


def _to_uint8(array):
    return array if array.dtype == np.uint8 else (array // 257).astype(np.uint8)


def _image_channels(image, channels):
    """The image as uint8 grey `(h, w, 1)` or RGB `(h, w, 3)` (OpenCV reads BGR or BGRA)."""
    image = _to_uint8(image)
    if image.ndim == 3 and image.shape[2] == 4:
        image = image[..., :3]
    if image.ndim == 2 or image.shape[2] == 1:
        grey = image.reshape(image.shape[:2])
        return grey[..., None] if channels == 1 else np.repeat(grey[..., None], 3, axis=2)
    rgb = image[..., ::-1]
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)[..., None] if channels == 1 else rgb


def _resized(image, height, width, shrink):
    method = shrink if height <= image.shape[0] and width <= image.shape[1] else cv2.INTER_LINEAR
    resized = cv2.resize(image, (width, height), interpolation=method)
    return resized.reshape(height, width, image.shape[2])


def _class_ids(mask, values, path, height, width):
    """uint8 class ids of a mask file's pixels (see the module doc), resized to `(height, width)`."""
    if mask.ndim == 3:
        if not all(np.array_equal(mask[..., 0], mask[..., c]) for c in range(1, min(mask.shape[2], 3))):
            raise ValueError(f"{path}: a mask must be single-channel (or grey: equal colour channels); "
                             f"received {mask.shape[2]} channels that differ")
        mask = mask[..., 0]
    if values is None:
        ids = (mask > mask.max() / 2).astype(np.uint8)
    else:
        ids = np.full(mask.shape, 255, np.uint8)
        for class_id, value in enumerate(values):
            ids[mask == value] = class_id
        unexpected = np.setdiff1d(np.unique(mask[ids == 255]), values)
        if unexpected.size:
            raise ValueError(f"{path}: a mask must hold only the values of `mask_values`={values}; "
                             f"received {', '.join(map(str, unexpected[:_SHOWN]))}")
    return cv2.resize(ids, (width, height), interpolation=cv2.INTER_NEAREST)


def split_pairs(stems, valid_fraction=0.2, test_fraction=0.2):
    """`{"train", "valid", "test"}`: the indices of `stems` in each split.

    The pairs are ordered by a SHA-256 hash of their stems (a fixed order that is not
    the names' order); each split with a nonzero fraction gets at least one pair, valid
    first, then test, and train the rest. Raises `ValueError` when train would be empty.

    >>> split_pairs(["a", "b", "c", "d", "e"])
    {'train': [0, 1, 4], 'valid': [3], 'test': [2]}
    """
    fractions = [check_number(name, value, low=0, high=1) for name, value in
                 (("valid_fraction", valid_fraction), ("test_fraction", test_fraction))]
    order = sorted(range(len(stems)), key=lambda i: hashlib.sha256(stems[i].encode()).digest())
    counts = [max(1, round(f * len(order))) if f > 0 else 0 for f in fractions]
    if len(order) - sum(counts) < 1:
        raise ValueError(f"`images_dir` must hold more pairs than the valid and test splits take; "
                         f"received {len(order)} pairs for valid_fraction={valid_fraction} and "
                         f"test_fraction={test_fraction} ({counts[0]} + {counts[1]} pairs)")
    return {"train": sorted(order[sum(counts):]), "valid": sorted(order[:counts[0]]),
            "test": sorted(order[counts[0]:sum(counts)])}
