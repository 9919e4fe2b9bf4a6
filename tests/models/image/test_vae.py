"""`ImageMaskVAE`: the standard checks, its outputs, the KL term, sampling and learning."""

import keras
import numpy as np
import pytest

from generators.shapes import ShapesGenerator
from msa_tf import models
from msa_tf.layers import kl_divergence
from msa_tf.models.image import ImageMaskVAE, encode_segmentation
from msa_tf.models.image.vae import LOG_VARIANCE_LIMIT
from msa_tf.testing import run_model_checks

TINY = dict(image_size=(16, 16), channels=3, num_classes=1, latent_dim=4, base_filters=4, num_downsamples=2)


def pairs(count=4, size=16, seed=0, **options):
    batch = ShapesGenerator(image_size=size, seed=seed, **options).generate("train", 0, count)
    return {key: value.numpy() for key, value in batch.items()}


def test_passes_the_model_checks():
    # Inference decodes the posterior mean: the log-variance head learns in training only
    # (the fit steps check that every weight moves).
    run_model_checks(ImageMaskVAE, TINY, pairs(), call_gradients=False)


def test_the_registry_builds_it_and_outputs_are_float32_pairs():
    vae = models.get("vae", **dict(TINY, num_classes=2))
    outputs = vae(pairs(num_classes=2))
    assert outputs["image"].shape == (4, 16, 16, 3) and outputs["segmentation"].shape == (4, 16, 16, 3)
    assert all(keras.backend.standardize_dtype(v.dtype) == "float32" for v in outputs.values())
    image = keras.ops.convert_to_numpy(outputs["image"])
    assert image.min() >= -1 and image.max() <= 1


def test_segmentation_is_coded_as_plus_or_minus_one_channels():
    ids = np.array([[[0, 1], [2, 0]]])
    binary = keras.ops.convert_to_numpy(encode_segmentation(ids, 1, "float32"))
    np.testing.assert_array_equal(binary[..., 0], [[[-1, 1], [1, -1]]])
    multi = keras.ops.convert_to_numpy(encode_segmentation(ids, 2, "float32"))
    np.testing.assert_array_equal(multi[0, 1, 0], [-1, -1, 1])


def test_training_adds_beta_times_the_kl_per_pixel_and_logs_the_kl():
    vae = ImageMaskVAE(**dict(TINY, beta=2.0))
    data = pairs()
    vae(data, training=True)
    mean, log_variance = vae.encoder(keras.ops.concatenate(
        [data["image"], encode_segmentation(data["segmentation"], 1, "float32")], axis=-1), training=True)
    bounded = LOG_VARIANCE_LIMIT * np.tanh(keras.ops.convert_to_numpy(log_variance) / LOG_VARIANCE_LIMIT)
    expected = 2.0 * float(keras.ops.mean(kl_divergence(mean, bounded))) / 256
    assert float(vae.losses[0]) == pytest.approx(expected, rel=1e-4)
    vae.compile(optimizer="adam", loss={"image": "mae", "segmentation": keras.losses.BinaryCrossentropy(
        from_logits=True)}, jit_compile=False)
    logs = vae.fit(data, {"image": data["image"], "segmentation": data["segmentation"][..., None]},
                   epochs=1, verbose=0).history
    assert logs["kl"][0] > 0


def test_sample_and_variations_give_pairs_and_scale_zero_repeats_the_reconstruction():
    vae = ImageMaskVAE(**TINY)
    data = pairs()
    vae(data)
    first, again = vae.sample(5, seed=3), vae.sample(5, seed=3)
    np.testing.assert_array_equal(first["image"], again["image"])
    assert first["segmentation"].shape == (5, 16, 16) and set(np.unique(first["segmentation"])) <= {0, 1}
    same = vae.variations(data, 3, scale=0.0, seed=1)
    reconstruction = keras.ops.convert_to_numpy(vae(data)["image"])[0]
    for image in same["image"]:
        np.testing.assert_allclose(image, reconstruction, atol=1e-5)
    spread = vae.variations(data, 3, scale=3.0, seed=1)["image"]
    assert not np.allclose(spread[0], spread[1])


@pytest.mark.parametrize("arguments, message", [
    ({"image_size": (18, 16)}, r"`image_size` must be a multiple of `2\*\*num_downsamples`=4; received "
                               r"image_size=18"),
    ({"beta": -1.0}, r"`beta` must be a finite number >= 0; received beta=-1.0"),
    ({"norm": "layer"}, r"`norm` must be one of 'batch', 'instance', 'none'; received norm='layer'"),
])
def test_bad_arguments_name_the_argument(arguments, message):
    with pytest.raises(ValueError, match=message):
        ImageMaskVAE(**dict(TINY, **arguments))


def iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


@pytest.mark.tensorflow_only("learning is backend-independent; the TensorFlow run checks it")
def test_learns_to_reconstruct_and_samples_consistent_pairs():
    generator = ShapesGenerator(scene="blobs", image_size=32, channels=1, seed=1)
    train, test = ({key: value.numpy() for key, value in generator.generate(split, 0, count).items()}
                   for split, count in (("train", 512), ("test", 128)))
    keras.utils.set_random_seed(0)
    vae = ImageMaskVAE(image_size=(32, 32), channels=1, latent_dim=16, base_filters=16, num_downsamples=3)
    vae.compile(optimizer=keras.optimizers.Adam(2e-3), jit_compile=False, loss={
        "image": "mae", "segmentation": keras.losses.BinaryCrossentropy(from_logits=True)})
    vae.fit(train, {"image": train["image"], "segmentation": train["segmentation"][..., None]},
            batch_size=32, epochs=8, verbose=0)
    outputs = {key: keras.ops.convert_to_numpy(value) for key, value in vae(test).items()}
    # Measured: IoU 0.72; L1 0.125 against 0.235 for the mean training image.
    assert iou(outputs["segmentation"][..., 0] > 0, test["segmentation"] > 0) > 0.6
    mean_image_l1 = np.abs(test["image"] - train["image"].mean(axis=0)).mean()
    assert np.abs(outputs["image"] - test["image"]).mean() < 0.7 * mean_image_l1
    # A sample's bright pixels are its mask's objects (measured IoU 0.80), unlike another
    # sample's mask.
    samples = vae.sample(64, seed=0)
    bright = (samples["image"][..., 0] + 1) / 2 > 0.5
    objects = samples["segmentation"] > 0
    own, other = iou(bright, objects), iou(bright, np.roll(objects, 1, axis=0))
    assert own > 0.6 and own > 3 * other, (own, other)
