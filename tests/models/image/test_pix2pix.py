"""`Pix2Pix`: the standard checks, the two-network training step and what it learns."""

import keras
import numpy as np
import pytest

from generators.shapes import ShapesGenerator
from msa_tf import models
from msa_tf.models.image import Pix2Pix
from msa_tf.testing import run_model_checks

TINY = dict(image_size=(16, 16), channels=3, base_filters=4, depth=2, num_downsamples=1)
LEARNING = pytest.mark.tensorflow_only("Pix2Pix trains on TensorFlow (two optimizers in one step)")


def pairs(count=4, size=16, seed=0, **options):
    batch = ShapesGenerator(image_size=size, seed=seed, **options).generate("train", 0, count)
    return {key: value.numpy() for key, value in batch.items()}


@LEARNING
def test_passes_the_model_checks():
    # Calling the model runs the generator only; the fit steps check that the
    # discriminator's weights move too.
    run_model_checks(Pix2Pix, TINY, pairs(), call_gradients=False)


@LEARNING
@pytest.mark.parametrize("policy", ["float32", "mixed_float16"])
def test_one_step_trains_both_networks_each_with_its_own_optimizer(policy, tmp_path):
    data = pairs()
    model = Pix2Pix(**TINY, discriminator_learning_rate=0.5, dtype=policy)
    model(data)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss={"image": "mae"}, jit_compile=False)
    before = [w.numpy().copy() for w in model.trainable_weights]
    scaled = policy == "mixed_float16"
    # A loss-scaled step whose gradients overflow is skipped, and the scale halved.
    epochs = 6 if scaled else 2
    logs = model.fit(data, {"image": data["image"]}, epochs=epochs, verbose=0,
                     validation_data=(data, {"image": data["image"]})).history
    assert "val_loss" in logs and "val_discriminator_loss" not in logs
    assert model.discriminator_optimizer is not model.optimizer
    assert float(model.discriminator_optimizer.learning_rate) == 0.5
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer) == scaled
    assert isinstance(model.discriminator_optimizer, keras.optimizers.LossScaleOptimizer) == scaled
    assert {"loss", "generator_adversarial", "discriminator_loss"} <= set(logs)
    assert all(np.isfinite(values).all() for values in logs.values())
    path = tmp_path / "pix2pix.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)  # compiled as saved
    loaded.fit(data, {"image": data["image"]}, epochs=1, verbose=0)
    assert loaded.discriminator_optimizer is not None
    moved = [not np.array_equal(b, w.numpy()) for b, w in zip(before, model.trainable_weights)]
    assert all(moved)
    if not scaled:
        assert int(model.discriminator_optimizer.iterations) == int(model.optimizer.iterations) == epochs


@LEARNING
def test_learns_images_whose_objects_follow_the_conditioning_segmentation():
    generator = ShapesGenerator(scene="blobs", image_size=32, channels=1, seed=1)
    train, test = ({key: value.numpy() for key, value in generator.generate(split, 0, count).items()}
                   for split, count in (("train", 512), ("test", 128)))
    keras.utils.set_random_seed(0)
    model = Pix2Pix(image_size=32, channels=1, base_filters=8, depth=5, num_downsamples=2, dropout=0.0)
    model(train)
    model.compile(optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5), loss={"image": "mae"}, jit_compile=False)
    logs = model.fit(train, {"image": train["image"]}, batch_size=16, epochs=4, verbose=0).history
    assert logs["loss"][-1] < 0.6 * logs["loss"][0]
    generated = keras.ops.convert_to_numpy(model(test)["image"])[..., 0]
    # Measured: L1 0.129 against 0.235 for the mean training image; the bright pixels of a
    # generated image cover its conditioning objects with IoU 0.84.
    mean_image_l1 = np.abs(test["image"] - train["image"].mean(axis=0)).mean()
    assert np.abs(generated - test["image"][..., 0]).mean() < 0.7 * mean_image_l1
    bright, objects = (generated + 1) / 2 > 0.5, test["segmentation"] > 0
    assert (bright & objects).sum() / (bright | objects).sum() > 0.7


def test_the_registry_builds_it_and_its_generator_runs_on_every_backend():
    model = models.get("pix2pix", **dict(TINY, num_classes=2))
    images = keras.ops.convert_to_numpy(model(pairs(num_classes=2))["image"])
    assert images.shape == (4, 16, 16, 3) and images.min() >= -1 and images.max() <= 1
    if keras.backend.backend() != "tensorflow":
        model.compile(optimizer="adam", loss={"image": "mae"})
        data = pairs()
        with pytest.raises(RuntimeError, match=r"Pix2Pix training needs the tensorflow backend"):
            model.fit(data, {"image": data["image"]}, verbose=0)


@pytest.mark.parametrize("arguments, message", [
    ({"image_size": (18, 16)}, r"`image_size` must be a multiple of `2\*\*depth`=4; received image_size=18"),
    ({"gan_loss": "hinge"}, r"`gan_loss` must be one of 'bce', 'least_squares'; received gan_loss='hinge'"),
    ({"discriminator_learning_rate": 0.0}, r"`discriminator_learning_rate` must be a finite number > 0"),
])
def test_bad_arguments_name_the_argument(arguments, message):
    with pytest.raises(ValueError, match=message):
        Pix2Pix(**dict(TINY, **arguments))
