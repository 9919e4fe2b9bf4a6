import numpy as np
import pytest
import tensorflow as tf

from msa_tf.metrics import image_quality
from msa_tf.metrics.image_quality import (
    QUALITY_WEIGHTS,
    check_threshold,
    check_weights,
    closest_ssim,
    edge_agreement,
    histogram_diversity,
    image_metrics,
    kid,
    ms_ssim_diversity,
    ms_ssim_scales,
    quality_score,
    random_features,
    segmentation_metrics,
    ssim,
)


def test_identical_images_score_perfectly_and_noise_lowers_every_score():
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, size=(3, 24, 24, 3)).astype("float32")
    same = image_metrics(real, real)
    assert same["l1"] == 0 and same["ssim"] == pytest.approx(1.0, abs=1e-5) and same["psnr"] > 100
    noisy = np.clip(real + rng.normal(scale=0.2, size=real.shape), -1, 1).astype("float32")
    scores = image_metrics(noisy, real)
    assert 0 < scores["l1"] < 0.2 and scores["ssim"] < 0.95
    # PSNR over the range 2 of [-1, 1] images.
    expected = 10 * np.log10(4 / np.mean((noisy - real) ** 2, axis=(1, 2, 3)))
    assert scores["psnr"] == pytest.approx(expected.mean(), rel=1e-5)


def test_ssim_works_on_images_smaller_than_its_window():
    image = np.linspace(-1, 1, 2 * 8 * 8).reshape(2, 8, 8, 1)
    assert ssim(image, image) == pytest.approx([1.0, 1.0], abs=1e-5)


def test_iou_and_dice_average_the_object_classes():
    true = np.array([[[0, 1, 1, 2]]])
    predicted = np.array([[[1, 1, 0, 2]]])
    scores = segmentation_metrics(predicted, true, num_classes=2)
    # Class 1: overlap 1, union 3, sizes 2 + 2; class 2: a perfect match.
    assert scores["iou"] == pytest.approx((1 / 3 + 1) / 2)
    assert scores["dice"] == pytest.approx((2 / 4 + 1) / 2)
    assert segmentation_metrics(np.zeros((1, 2, 2)), np.zeros((1, 2, 2))) == {"iou": 1.0, "dice": 1.0}


def test_arrays_of_other_shapes_are_refused():
    with pytest.raises(ValueError, match=r"`generated` must be images .* received shapes \(2, 4, 4, 1\) and "
                                         r"\(2, 4, 4, 3\)"):
        image_metrics(np.zeros((2, 4, 4, 1)), np.zeros((2, 4, 4, 3)))
    with pytest.raises(ValueError, match=r"`predicted` must have the shape of `true`"):
        segmentation_metrics(np.zeros((1, 2, 2)), np.zeros((1, 2, 3)))


@pytest.mark.parametrize("batch_size", [1, 7, 512])
def test_closest_ssim_finds_the_real_image_each_one_copies(batch_size):
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, size=(6, 16, 16, 2)).astype("float32")
    noisy = np.clip(real[2] + rng.normal(scale=0.1, size=real[2].shape), -1, 1)
    generated = np.stack([real[4], real[1], noisy])
    scores, indices = closest_ssim(generated, real, batch_size=batch_size)
    assert indices.tolist() == [4, 1, 2] and scores.dtype == np.float32
    assert scores[:2] == pytest.approx([1.0, 1.0], abs=1e-5)
    assert scores[2] == pytest.approx(ssim(noisy[None], real[2:3])[0], abs=1e-6) and scores[2] < 0.99


SQUARE = np.zeros((2, 32, 32), int)
SQUARE[:, 8:24, 10:22] = 1


@pytest.mark.parametrize("tolerance", [0, 1, 3])
def test_edges_only_on_the_mask_boundary_agree_fully(tolerance):
    # A 3x3 Sobel filter sees the step exactly where a 3x3 neighbourhood holds two classes.
    images = np.where(SQUARE, 0.5, -0.5)[..., None].repeat(3, axis=-1)
    assert edge_agreement(images, SQUARE, tolerance=tolerance).tolist() == [1.0, 1.0]


def test_edges_away_from_the_mask_boundary_score_zero():
    images = np.zeros((2, 32, 32, 1), "float32")
    images[:, :, 28:] = 1  # a vertical step 6 columns right of the square
    assert edge_agreement(images, SQUARE).tolist() == [0.0, 0.0]


def test_noise_unrelated_to_the_mask_scores_about_a_half():
    noise = np.random.default_rng(0).uniform(-1, 1, size=(2, 64, 64, 3))
    masks = np.zeros((2, 64, 64), int)
    masks[:, 16:48, 20:44] = 1
    assert edge_agreement(noise, masks) == pytest.approx([0.5, 0.5], abs=0.03)


def test_a_mask_without_boundary_or_a_flat_image_scores_a_half():
    noise = np.random.default_rng(0).uniform(-1, 1, size=(2, 32, 32, 1))
    assert edge_agreement(noise, np.ones((2, 32, 32), int)).tolist() == [0.5, 0.5]
    assert edge_agreement(np.full((2, 32, 32, 1), 0.3), SQUARE).tolist() == [0.5, 0.5]


def test_histogram_diversity_is_the_mean_hellinger_distance_within_each_group():
    images = np.full((5, 4, 4, 1), -1.0)
    images[1] = 1.0
    images[2, :2] = 1.0  # half -1, half 1
    images[3:] = 0.2  # two identical images
    scores = histogram_diversity(images, groups=[0, 0, 0, 1, 1])
    # Disjoint histograms: distance 1; half overlap: sqrt(1 - sqrt(1/2)).
    half = np.sqrt(1 - np.sqrt(0.5))
    assert scores == pytest.approx([(1 + half) / 2, (1 + half) / 2, half, 0, 0], abs=1e-6)
    assert scores.dtype == np.float32
    assert histogram_diversity(images, groups=[0, 1, 2, 3, 4]).tolist() == [0, 0, 0, 0, 0]


def test_quality_score_weighs_the_measures_with_ssim_clipped():
    measures = {"ssim": [1.0, -0.4, 0.5], "iou": [1.0, 0.5, 0.0], "edges": [1.0, 0.5, 1.0],
                "diversity": [1.0, 0.0, 0.5]}
    expected = [1.0, 0.3 * 0 + 0.3 * 0.5 + 0.2 * 0.5, 0.3 * 0.5 + 0.2 * 1 + 0.2 * 0.5]
    scores = quality_score(measures)
    assert scores == pytest.approx(expected, abs=1e-6) and scores.dtype == np.float32
    # Measures left out of the weights count for nothing.
    partial = quality_score(measures, weights={"ssim": 3, "iou": 1})
    assert partial == pytest.approx([1.0, 0.125, 0.375])


def test_quality_score_refuses_measures_that_do_not_match_the_weights():
    with pytest.raises(ValueError, match=r"`measures` must be a dict with the keys 'ssim', 'iou', 'edges', "
                                         r"'diversity'; received \['iou', 'ssim'\]"):
        quality_score({"ssim": [1.0], "iou": [1.0]}, weights={"ssim": 1, "iou": 1})
    with pytest.raises(ValueError, match=r"`measures` must hold one score per image, .* received shapes "
                                         r"\{'ssim': \(2,\), 'iou': \(1,\)"):
        quality_score({"ssim": [1.0, 0.5], "iou": [1.0], "edges": [1.0], "diversity": [1.0]})


def test_check_weights_normalises_to_one():
    assert check_weights({"edges": 2, "ssim": 1, "iou": 1}) == {"ssim": 0.25, "iou": 0.25, "edges": 0.5,
                                                                "diversity": 0.0}
    assert check_weights({"ssim": 0, "diversity": 4}) == {"ssim": 0.0, "iou": 0.0, "edges": 0.0,
                                                          "diversity": 1.0}
    assert check_weights(QUALITY_WEIGHTS) == pytest.approx(QUALITY_WEIGHTS)


@pytest.mark.parametrize("weights, message", [
    ({"sim": 1}, r"`weights` has the unknown key 'sim'; accepted keys: 'ssim', .* \(did you mean 'ssim'\?\)"),
    ({"ssim": -1}, r"`weights\['ssim'\]` must be a finite number >= 0; received weights\['ssim'\]=-1"),
    ({"ssim": 0, "iou": 0}, r"`weights` must have a positive sum; received weights=\{'ssim': 0, 'iou': 0\}"),
    ({}, r"`weights` must have a positive sum"),
    ([0.5, 0.5], r"`weights` must be a dict from 'ssim', .* received weights=\[0.5, 0.5\]"),
])
def test_check_weights_refuses_bad_weights(weights, message):
    with pytest.raises(ValueError, match=message):
        check_weights(weights)


def test_check_threshold_accepts_numbers_in_the_unit_interval_only():
    assert [check_threshold("min_quality", value) for value in (0, 0.25, 1)] == [0.0, 0.25, 1.0]
    for value in (1.5, -0.1, float("nan"), True, "0.5"):
        with pytest.raises(ValueError, match=rf"`min_quality` must be a number in \[0, 1\]; "
                                             rf"received min_quality={value!r}"):
            check_threshold("min_quality", value)


FEATURE_IMAGES = np.linspace(-1, 1, 2 * 16 * 16 * 3, dtype="float32").reshape(2, 16, 16, 3)
FEATURE_IMAGES[1] = FEATURE_IMAGES[1, ::-1]


def test_random_features_are_a_function_of_the_seed(monkeypatch):
    features = random_features(FEATURE_IMAGES, seed=0, size=16)
    assert features.shape == (2, 128) and features.dtype == np.float32
    # The same numbers in every process and on every Keras backend.
    np.testing.assert_allclose(features[:, :3], [[0.0437633, 0.024656, 0.0759302],
                                                 [0.0009003, 0.1386011, 0.033438]], rtol=1e-4, atol=1e-7)
    monkeypatch.setattr(image_quality, "_FEATURE_NETWORKS", {})  # built again from the seed
    np.testing.assert_array_equal(random_features(FEATURE_IMAGES, seed=0, size=16), features)
    assert np.abs(random_features(FEATURE_IMAGES, seed=1, size=16) - features).max() > 0.01


def test_kid_is_about_zero_for_one_distribution_and_larger_for_another():
    rng = np.random.default_rng(0)

    def sample(shift):
        return np.clip(rng.uniform(-0.5, 0.5, size=(40, 16, 16, 3)) + shift, -1, 1)

    real = sample(0)
    same = kid(sample(0), real, subset_size=20, size=16)
    shifted = kid(sample(0.3), real, subset_size=20, size=16)
    assert abs(same["kid"]) < 1e-5 < 1e-3 < shifted["kid"]
    assert 0 < same["kid_std"] < 1e-4 and shifted["kid_std"] > 0
    # Every subset is the whole set: one value, no spread.
    assert kid(real[:10], real[10:20], size=16)["kid_std"] == pytest.approx(0, abs=1e-12)


@pytest.mark.parametrize("height, width, expected", [
    (8, 8, (1, 8)), (10, 64, (1, 10)), (11, 11, (1, 11)), (20, 20, (1, 11)), (21, 21, (2, 11)),
    (64, 48, (3, 11)), (160, 160, (4, 11)), (161, 400, (5, 11)), (512, 512, (5, 11)),
])
def test_ms_ssim_scales_use_as_many_scales_as_fit(height, width, expected):
    assert ms_ssim_scales(height, width) == expected


def test_ms_ssim_diversity_is_zero_for_identical_images():
    image = np.random.default_rng(0).uniform(-1, 1, size=(1, 16, 16, 1))
    assert ms_ssim_diversity(image.repeat(3, axis=0)) == pytest.approx(0, abs=1e-6)


def test_ms_ssim_diversity_on_small_images_averages_the_ssim_of_every_pair():
    # 16x16 fits one scale: MS-SSIM is SSIM. Four images make six pairs, all used.
    rng = np.random.default_rng(0)
    noise = rng.uniform(-0.2, 0.2, size=(4, 16, 16, 1)) * np.arange(1, 5)[:, None, None, None]
    images = np.clip(np.linspace(-0.8, 0.8, 16)[None, :, None, None] + noise, -1, 1)
    first, second = np.triu_indices(4, 1)
    expected = 1 - np.mean(ssim(images[first], images[second]))
    assert ms_ssim_diversity(images, max_pairs=6) == pytest.approx(expected, abs=1e-6)
    assert ms_ssim_diversity(images, max_pairs=100) == pytest.approx(expected, abs=1e-6)
    assert ms_ssim_diversity(images, max_pairs=2) != pytest.approx(expected, abs=1e-4)


def test_ms_ssim_diversity_uses_five_scales_on_large_images():
    images = np.random.default_rng(0).uniform(-1, 1, size=(2, 176, 176, 1)).astype("float32")
    images[1] = 0.5 * images[0] + 0.5 * images[1]
    expected = 1 - tf.image.ssim_multiscale((images[:1] + 1) / 2, (images[1:] + 1) / 2, max_val=1.0)
    assert ms_ssim_diversity(images) == pytest.approx(float(expected[0]), abs=1e-6)
    assert 0.05 < ms_ssim_diversity(images) < 0.95


@pytest.mark.parametrize("call, message", [
    (lambda: closest_ssim(np.zeros((2, 8, 8, 1)), np.zeros((3, 8, 8, 3))),
     r"`generated` must have the height, width and channels of `real`; received shapes \(2, 8, 8, 1\) and "
     r"\(3, 8, 8, 3\)"),
    (lambda: closest_ssim(np.zeros((2, 8, 8, 1)), np.zeros((0, 8, 8, 1))),
     r"`real` must be at least 1 image\(s\) .* received shape \(0, 8, 8, 1\)"),
    (lambda: edge_agreement(np.zeros((2, 8, 8)), np.zeros((2, 8, 8))),
     r"`images` must be at least 1 image\(s\) \(count, height, width, channels\); received shape "
     r"\(2, 8, 8\)"),
    (lambda: edge_agreement(np.zeros((2, 8, 8, 1)), np.zeros((2, 8, 9))),
     r"`segmentations` must be class ids .* received shape \(2, 8, 9\)"),
    (lambda: edge_agreement(np.zeros((2, 8, 8, 1)), np.zeros((2, 8, 8)), tolerance=-1),
     r"`tolerance` must be an integer >= 0; received tolerance=-1"),
    (lambda: histogram_diversity(np.zeros((3, 8, 8, 1)), [0, 1]),
     r"`groups` must hold one group id per image, shape \(3,\); received shape \(2,\)"),
    (lambda: histogram_diversity(np.zeros((3, 8, 8, 1)), [0, 1, 1], bins=0),
     r"`bins` must be a positive integer; received bins=0"),
    (lambda: random_features(np.zeros((2, 8, 8, 1)), size=4), r"`size` must be an integer >= 8"),
    (lambda: kid(np.zeros((1, 8, 8, 1)), np.zeros((4, 8, 8, 1))),
     r"`generated` must be at least 2 image\(s\) .* received shape \(1, 8, 8, 1\)"),
    (lambda: kid(np.zeros((4, 8, 8, 1)), np.zeros((4, 8, 8, 1)), subset_size=1),
     r"`subset_size` must be an integer >= 2; received subset_size=1"),
    (lambda: ms_ssim_diversity(np.zeros((1, 16, 16, 1))), r"`images` must be at least 2 image\(s\)"),
    (lambda: ms_ssim_scales(0, 16), r"`height` must be a positive integer; received height=0"),
])
def test_bad_arguments_are_refused_by_name(call, message):
    with pytest.raises(ValueError, match=message):
        call()
