"""The validity experiment of benchmarks/bench_image_validity.py at its small size, two seeds:
synthetic pairs help a segmenter trained on five real ones, and the quality filter keeps the
better ones. The benchmark prints the figures over five seeds."""

import numpy as np
import pytest

from benchmarks.bench_image_validity import validity


@pytest.fixture(scope="module")
def figures():
    return validity(seeds=(0, 1))


def test_filtered_synthetic_pairs_help_a_segmenter_trained_on_five_real_pairs(figures):
    dice = {arm: np.array(values) for arm, values in figures["dice"].items()}
    assert (dice["real+synthetic"] > dice["real"] + 0.03).all(), dice
    # What the filter drops hurts: the kept pairs alone do better than all of them.
    assert (dice["real+synthetic"] > dice["real+unfiltered"]).all(), dice
    assert figures["kept"] == [40, 40]  # the median score keeps half of 5 x 16


def test_the_filter_keeps_pairs_whose_masks_a_held_out_segmenter_finds(figures):
    kept, rejected = (np.array(figures["judge_iou"][name]) for name in ("kept", "rejected"))
    assert (kept > rejected).all(), figures["judge_iou"]
