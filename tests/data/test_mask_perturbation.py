import cv2
import numpy as np
import pytest

from msa_tf.data.mask_perturbation import MASK_PERTURBATIONS, perturb_masks

OFF = dict.fromkeys(MASK_PERTURBATIONS, 0.0)


@pytest.fixture(scope="module")
def disc():
    """A disc of class 5 (so that ids interpolated at its border would show) in a 64x64 mask."""
    rows, cols = np.mgrid[:64, :64]
    return ((rows - 32) ** 2 + (cols - 30) ** 2 < 20 ** 2).astype(np.uint8) * 5


@pytest.fixture(scope="module")
def classes(disc):
    """The disc, a bar touching it, a 5x5 square that erosion can delete and a pixel that noise can."""
    mask = (disc > 0).astype(np.uint8)
    mask[4:20, 40:62] = 2
    mask[54:59, 54:59] = 3
    mask[60, 10] = 4
    return mask


def iou(mask, other):
    mask, other = mask > 0, other > 0
    return (mask & other).sum() / (mask | other).sum()


def isolated_pixels(mask):
    """The number of pixels none of whose 8 neighbours has their class (salt and pepper)."""
    height, width = mask.shape
    padded = np.pad(mask, 1, mode="edge")
    same = sum(padded[1 + dy:1 + dy + height, 1 + dx:1 + dx + width] == mask
               for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx)
    return int((same == 0).sum())


def test_the_same_seed_gives_the_same_masks_and_variation_i_depends_on_seed_and_i_only(disc):
    masks = perturb_masks(disc, 5, seed=3)
    np.testing.assert_array_equal(masks, perturb_masks(disc, 5, seed=3))
    np.testing.assert_array_equal(masks[2], perturb_masks(disc, 3, seed=3)[2])
    others = [*masks[1:], perturb_masks(disc, 1, seed=4)[0]]
    assert all(not np.array_equal(masks[0], other) for other in others)


def test_zero_strengths_give_the_mask_back(classes):
    masks = perturb_masks(classes.astype(np.int64), 3, seed=1, **OFF)
    assert masks.shape == (3, 64, 64) and masks.dtype == np.int32
    np.testing.assert_array_equal(masks, np.broadcast_to(classes, masks.shape))


@pytest.mark.parametrize("name", MASK_PERTURBATIONS)
def test_each_perturbation_alone_changes_a_disc_plausibly(disc, name):
    masks = perturb_masks(disc, 6, seed=0, **{**OFF, name: 0.5})
    areas = [(mask > 0).sum() / (disc > 0).sum() for mask in masks]
    for mask in masks:
        assert set(np.unique(mask)) == {0, 5}
        assert 0.5 < iou(mask, disc) < 0.99
    assert min(areas) > 0.75 and max(areas) < 1.3
    if name == "elastic":
        assert all(cv2.connectedComponents(mask.astype(np.uint8))[0] == 2 for mask in masks)
    if name == "morphology":  # erosion and dilation both
        assert min(areas) < 1 < max(areas)


def test_turning_a_step_off_leaves_the_draws_of_the_others_unchanged(disc):
    # An elastic step this weak moves no pixel (0.06 px at most), but it still draws.
    barely = perturb_masks(disc, 4, seed=5, elastic=0.01, morphology=0.5, noise=0.0)
    np.testing.assert_array_equal(barely, perturb_masks(disc, 4, seed=5, **{**OFF, "morphology": 0.5}))


@pytest.mark.parametrize("name", [*MASK_PERTURBATIONS, "all"])
def test_multi_class_masks_keep_every_class_and_gain_none(classes, name):
    strengths = dict.fromkeys(MASK_PERTURBATIONS, 1.0) if name == "all" else {**OFF, name: 1.0}
    for mask in perturb_masks(classes, 12, seed=2, **strengths):
        assert set(np.unique(mask)) == {0, 1, 2, 3, 4}


def test_morphology_keeps_a_class_erosion_would_delete_and_grows_over_background_only(classes):
    masks = perturb_masks(classes, 12, seed=2, **{**OFF, "morphology": 1.0})
    # Class 3 always shrinks or grows, unless an erosion would delete it: then it stays as it was.
    assert any(np.array_equal(mask == 3, classes == 3) for mask in masks)
    assert all((mask == 3).any() and not np.array_equal(mask == 1, classes == 1) for mask in masks)
    # Classes go in id order, erosion gives pixels to the background and dilation takes
    # background only: a pixel of the bar is never taken by the disc (a lower class).
    assert all(((mask == 0) | (mask >= classes)).all() for mask in masks)


def test_boundary_noise_makes_a_ragged_boundary_and_leaves_the_rest(disc):
    # 2 px of noise and 1 px of median filter: a pixel 4 px from the boundary keeps its class.
    near = cv2.dilate(disc, np.ones((9, 9), np.uint8)) != cv2.erode(disc, np.ones((9, 9), np.uint8))
    for mask in perturb_masks(disc, 6, seed=0, **{**OFF, "noise": 0.5}):
        np.testing.assert_array_equal(mask[~near], disc[~near])
        assert (mask[near] != disc[near]).mean() > 0.05
        assert isolated_pixels(mask) <= 3  # the median filter removed the salt and pepper


@pytest.mark.parametrize("name", [*MASK_PERTURBATIONS, "all"])
def test_a_larger_strength_moves_masks_further_from_the_original(disc, name):
    def mean_iou(strength):
        strengths = dict.fromkeys(MASK_PERTURBATIONS, strength) if name == "all" else {**OFF, name: strength}
        return np.mean([iou(mask, disc) for mask in perturb_masks(disc, 8, seed=7, **strengths)])

    assert mean_iou(1.0) < mean_iou(0.25) - 0.02


@pytest.mark.parametrize("arguments, message", [
    ({"elastic": 1.5}, r"`elastic` must be a finite number in \[0, 1\]; received elastic=1.5"),
    ({"morphology": -0.1}, r"`morphology` must be a finite number in \[0, 1\]; received morphology=-0.1"),
    ({"noise": float("nan")}, r"`noise` must be a finite number in \[0, 1\]; received noise=nan"),
    ({"count": 0}, r"`count` must be a positive integer; received count=0"),
    ({"seed": -1}, r"`seed` must be an integer >= 0; received seed=-1"),
    ({"mask": np.zeros((8, 8, 3), np.uint8)}, r"`mask` must be a non-empty 2-D array of int class ids; "
                                              r"received a mask of shape \(8, 8, 3\) and dtype uint8"),
    ({"mask": np.zeros((8, 8), np.float32)}, r"received a mask of shape \(8, 8\) and dtype float32"),
    ({"mask": np.full((8, 8), -1)}, r"`mask` must hold class ids in \[0, 255\]; received a mask with values "
                                    r"in \[-1, -1\]"),
    ({"mask": np.arange(300).reshape(15, 20)}, r"received a mask with values in \[0, 299\]"),
])
def test_bad_arguments_name_the_argument(arguments, message):
    with pytest.raises(ValueError, match=message):
        perturb_masks(**{"mask": np.zeros((8, 8), np.uint8), "count": 2, **arguments})
