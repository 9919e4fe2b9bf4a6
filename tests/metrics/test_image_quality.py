import numpy as np
import pytest

from msa_tf.metrics.image_quality import image_metrics, segmentation_metrics, ssim


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
