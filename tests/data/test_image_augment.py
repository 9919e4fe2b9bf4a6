import numpy as np
import pytest
import tensorflow as tf

from generators.shapes import ShapesGenerator
from msa_tf.data.image_augment import augment_pair


@pytest.fixture(scope="module")
def pair():
    batch = ShapesGenerator(scene="blobs", image_size=(32, 40), num_classes=2, seed=5).generate("train", 0, 1)
    return batch["image"][0], batch["segmentation"][0]


def run(pair, seed, **options):
    image, mask = augment_pair(*pair, tf.constant(seed), **options)
    return image.numpy(), mask.numpy()


def test_the_same_seed_gives_the_same_pair_and_other_seeds_others(pair):
    first = run(pair, [3, 4])
    np.testing.assert_array_equal(first[0], run(pair, [3, 4])[0])
    np.testing.assert_array_equal(first[1], run(pair, [3, 4])[1])
    others = [run(pair, [3, k])[0] for k in range(5, 9)]
    assert all(not np.array_equal(first[0], other) for other in others)


def test_flips_and_crops_move_image_and_mask_alike(pair):
    image, mask = pair
    # A pair whose first channel is its mask: after the geometric steps they still agree.
    marked = tf.concat([tf.cast(mask[..., None], tf.float32) - 1.0, image[..., 1:]], axis=-1)
    flips = set()
    for k in range(12):
        out_image, out_mask = run((marked, mask), [k, 1], crop=0.6, brightness=0.0, contrast=0.0)
        assert out_image.shape == (32, 40, 3) and set(np.unique(out_mask)) <= {0, 1, 2}
        assert (np.round(out_image[..., 0] + 1) == out_mask).mean() > 0.95, k
        geometric = run((marked, mask), [k, 1], crop=1.0, brightness=0.0, contrast=0.0)[1]
        mask_np = mask.numpy()
        flips.update(name for name, flipped in [("none", mask_np), ("left-right", mask_np[:, ::-1]),
                                                ("up-down", mask_np[::-1]), ("both", mask_np[::-1, ::-1])]
                     if np.array_equal(geometric, flipped))
    assert flips == {"none", "left-right", "up-down", "both"}


def test_without_any_augmentation_the_pair_is_unchanged(pair):
    image, mask = run(pair, [1, 1], flip=False, crop=1.0, brightness=0.0, contrast=0.0)
    np.testing.assert_array_equal(image, pair[0].numpy())
    np.testing.assert_array_equal(mask, pair[1].numpy())


def test_jitter_changes_the_image_only_and_stays_in_range(pair):
    shifts = []
    for k in range(10):
        image, mask = run(pair, [k, 2], flip=False, crop=1.0, brightness=0.3, contrast=0.5)
        np.testing.assert_array_equal(mask, pair[1].numpy())
        assert image.min() >= -1 and image.max() <= 1
        shifts.append(image.mean() - pair[0].numpy().mean())
    assert max(np.abs(shifts)) > 0.1 and max(np.abs(shifts)) <= 0.6 + 1e-6


@pytest.mark.parametrize("options, message", [
    ({"crop": 0.0}, r"`crop` must be a finite number in \(0, 1\]; received crop=0.0"),
    ({"brightness": 1.5}, r"`brightness` must be a finite number in \[0, 1\]; received brightness=1.5"),
    ({"flip": 1}, r"`flip` must be True or False; received flip=1"),
])
def test_bad_options_name_the_option(pair, options, message):
    with pytest.raises(ValueError, match=message):
        augment_pair(*pair, tf.constant([1, 2]), **options)
