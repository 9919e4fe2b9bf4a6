"""New plausible segmentation masks from one real mask, by random perturbation.

`perturb_masks(mask, count, seed)` makes `count` variations of a mask of class ids
(0 = background), e.g. to turn a few real masks into many for a pix2pix generator to
draw images from. Each variation applies, in this order, with a strength in [0, 1]
each (0 = off; `size` is the mask's smaller side):

- `elastic`: an elastic deformation (Simard et al. 2003): a random displacement in
  [-1, 1] per pixel, smoothed by a Gaussian of sigma 0.08 x `size` and scaled so
  that the largest displacement is `elastic` x 0.1 x `size` pixels, resampled with
  nearest neighbours so that class ids stay class ids;
- `morphology`: each object class in turn eroded or dilated (at random) by an
  elliptical kernel of random radius from 1 to round(`morphology` x 0.04 x `size`)
  (at least 1). What erosion takes becomes background; dilation grows over the
  background only, never over another class;
- `noise`: pixels within 2 px of a class boundary take a neighbouring class with
  probability `noise` x 0.5, then a 3x3 median filter turns the salt and pepper
  into a ragged boundary.

A step that would remove a class from the mask (e.g. erode a small object away) or
add one is skipped for that variation (for erosion and dilation: for that class
only), so every variation holds exactly the classes of `mask`. Randomness is
stateless: variation `i` is a pure function of `(seed, i)`, the mask and the
strengths, and each step draws from its own stream, so turning one step off leaves
the others' draws unchanged.

Example:
>>> import numpy as np
>>> rows, cols = np.mgrid[:64, :64]
>>> disc = ((rows - 32) ** 2 + (cols - 32) ** 2 < 20 ** 2).astype(np.uint8)
>>> masks = perturb_masks(disc, 4, seed=1)
>>> masks.shape, masks.dtype, np.unique(masks).tolist()
((4, 64, 64), dtype('int32'), [0, 1])
>>> bool(np.array_equal(masks[2], perturb_masks(disc, 3, seed=1)[2]))
True
"""

import cv2
import numpy as np

from msa_tf.validation import check_int, check_number, check_positive_int

__all__ = ["MASK_PERTURBATIONS", "perturb_masks"]

MASK_PERTURBATIONS = ("elastic", "morphology", "noise")


def perturb_masks(mask, count, seed=0, *, elastic=0.5, morphology=0.5, noise=0.5):
    """int32 `(count, height, width)`: `count` variations of `mask` (module doc).

    Args:
        mask: `(height, width)` int class ids in [0, 255], 0 = background.
        count: the number of variations.
        seed: an int >= 0; variation `i` depends on `(seed, i)` (and on `mask` and the
            strengths) only.
        elastic, morphology, noise: the strength of each step, in [0, 1] (0 = off).
    """
    mask = _check_mask(mask)
    count = check_positive_int("count", count)
    seed = check_int("seed", seed)
    strengths = [check_number(name, value, low=0, high=1)
                 for name, value in zip(MASK_PERTURBATIONS, (elastic, morphology, noise))]
    steps = list(zip((_elastic, _morphology, _boundary_noise), strengths))
    masks = np.empty((count, *mask.shape), np.int32)
    for i in range(count):
        streams = np.random.SeedSequence([seed, i]).spawn(len(steps))
        varied = mask
        for (step, strength), stream in zip(steps, streams):
            if strength > 0:
                varied = _same_classes(varied, step(varied, np.random.default_rng(stream), strength))
        masks[i] = varied
    return masks


def _check_mask(mask):
    """`mask` as uint8, if it is a non-empty 2-D array of int class ids in [0, 255]."""
    array = np.asarray(mask)
    if array.ndim != 2 or array.size == 0 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"`mask` must be a non-empty 2-D array of int class ids; received a mask of "
                         f"shape {array.shape} and dtype {array.dtype}")
    if array.min() < 0 or array.max() > 255:
        raise ValueError(f"`mask` must hold class ids in [0, 255]; received a mask with values in "
                         f"[{array.min()}, {array.max()}]")
    return array.astype(np.uint8)


def _same_classes(before, after):
    """`after` if it holds exactly the classes of `before`, else `before`."""
    present = [np.bincount(m.ravel(), minlength=256) > 0 for m in (before, after)]
    return after if np.array_equal(*present) else before


def _elastic(mask, rng, strength):
    height, width = mask.shape
    size = min(height, width)
    field = np.stack([cv2.GaussianBlur(rng.uniform(-1, 1, mask.shape).astype(np.float32), (0, 0), 0.08 * size)
                      for _ in range(2)])
    field *= strength * 0.1 * size / np.hypot(*field).max()
    rows, cols = np.mgrid[:height, :width].astype(np.float32)
    return cv2.remap(mask, cols + field[1], rows + field[0], cv2.INTER_NEAREST,
                     borderMode=cv2.BORDER_REPLICATE)


def _morphology(mask, rng, strength):
    largest = max(1, round(strength * 0.04 * min(mask.shape)))
    for class_id in np.unique(mask[mask > 0]):
        radius = int(rng.integers(1, largest + 1))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        region = (mask == class_id).astype(np.uint8)
        step = mask.copy()
        if rng.random() < 0.5:
            step[(region == 1) & (cv2.erode(region, kernel) == 0)] = 0
        else:
            step[(cv2.dilate(region, kernel) == 1) & (mask == 0)] = class_id
        mask = _same_classes(mask, step)
    return mask


def _boundary_noise(mask, rng, strength):
    # A pixel flips to another class of its 5x5 neighbourhood (the largest or smallest
    # id there), so only pixels within 2 px of a boundary have one to flip to.
    highest = cv2.dilate(mask, np.ones((5, 5), np.uint8))
    lowest = cv2.erode(mask, np.ones((5, 5), np.uint8))
    flip = rng.random(mask.shape) < strength * 0.5
    noisy = np.where(flip, np.where(mask == highest, lowest, highest), mask)
    return cv2.medianBlur(noisy, 3)
