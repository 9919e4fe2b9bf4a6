"""`ResolutionCurriculum`: training images from low to high resolution, with fades, by epoch."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
import yaml

from msa_tf.data import get_source
from msa_tf.data.resolution_curriculum import ResolutionCurriculum
from msa_tf.training import runner
from msa_tf.training.config import ConfigError, load_config
from tests.training.conftest import ROOT


def numpy_batches(dataset):
    return [tf.nest.map_structure(lambda t: t.numpy(), element) for element in dataset]


def resampled(images, size):
    """`images` averaged over blocks (a whole number per side) down to `size`, then
    enlarged back bilinearly: what a stage of resolution `size` trains on."""
    batch, height, width, channels = images.shape
    rows, columns = size
    small = images.reshape(batch, rows, height // rows, columns, width // columns, channels).mean(axis=(2, 4))
    return tf.image.resize(small, (height, width), method="bilinear").numpy()


def blend_coefficient(images, previous, current):
    """The least-squares `alpha` of `images = (1 - alpha) * previous + alpha * current`."""
    step = current - previous
    alpha = float(np.sum((images - previous) * step) / np.sum(step * step))
    np.testing.assert_allclose(images, previous + alpha * step, atol=2e-6)
    return alpha


@pytest.mark.parametrize("image_size, sizes", [(16, [(4, 4), (8, 8), (16, 16)]),
                                               ((16, 32), [(4, 8), (8, 16), (16, 32)])])
def test_each_stage_trains_on_images_averaged_down_to_its_resolution_and_enlarged_back(image_size, sizes):
    source = get_source("shapes", image_size=image_size, num_samples=12)
    plain = numpy_batches(source.dataset("train", batch_size=4))
    curriculum = source.curriculum([{"epochs": 1, "resolution": 4}, {"epochs": 1, "resolution": 8},
                                    {"resolution": None}])
    assert curriculum.sizes == sizes
    batches = curriculum.apply(source.dataset("train", batch_size=4))
    assert batches.element_spec == source.dataset("train", batch_size=4).element_spec
    for epoch, size in enumerate(sizes):
        curriculum.on_epoch_begin(epoch)
        assert curriculum.stage == epoch
        staged = numpy_batches(batches)
        assert len(staged) == len(plain) == 3
        for (inputs, targets), (original, _) in zip(staged, plain):
            expected = resampled(original["image"], size)
            np.testing.assert_allclose(inputs["image"], expected, atol=1e-6)
            np.testing.assert_array_equal(targets["image"], inputs["image"])
            for part in (inputs, targets):
                np.testing.assert_array_equal(part["segmentation"], original["segmentation"])
        if size == sizes[-1]:  # full resolution: the images exactly as they were
            for (inputs, _), (original, _) in zip(staged, plain):
                np.testing.assert_array_equal(inputs["image"], original["image"])
        else:
            assert max(np.abs(inputs["image"] - original["image"]).max() for (inputs, _), (original, _)
                       in zip(staged, plain)) > 0.1


def test_a_fade_blends_linearly_batch_by_batch_and_a_resumed_run_continues_it():
    source = get_source("shapes", image_size=16, num_samples=16)
    plain = numpy_batches(source.dataset("train", batch_size=2))  # 8 batches an epoch
    originals = [inputs["image"] for inputs, _ in plain]
    stages = [{"epochs": 1, "resolution": 4}, {"epochs": 3, "resolution": 8, "fade_in": 2},
              {"fade_in": True}]
    curriculum = source.curriculum(stages)
    curriculum.set_params({"epochs": 7})  # the last stage fades over epochs 4, 5 and 6
    assert [curriculum.fade_epochs(index) for index in range(3)] == [0, 2, 3]
    batches = curriculum.apply(source.dataset("train", batch_size=2))
    # (previous size, current size, alpha of each batch) of each epoch.
    fade = lambda epoch, epochs: [(epoch * 8 + k) / (epochs * 8) for k in range(1, 9)]  # noqa: E731
    expected = [((4, 4), (4, 4), [1.0] * 8), ((4, 4), (8, 8), fade(0, 2)), ((4, 4), (8, 8), fade(1, 2)),
                ((4, 4), (8, 8), [1.0] * 8), ((8, 8), (16, 16), fade(0, 3)),
                ((8, 8), (16, 16), fade(1, 3)), ((8, 8), (16, 16), fade(2, 3))]
    assert fade(2, 3)[-1] == 1.0 and fade(0, 2)[0] == 1 / 16

    def check(epoch):
        previous, current, alphas = expected[epoch]
        staged = numpy_batches(batches)
        for (inputs, targets), (original, _), image, alpha in zip(staged, plain, originals, alphas):
            np.testing.assert_array_equal(inputs["segmentation"], original["segmentation"])
            np.testing.assert_array_equal(targets["image"], inputs["image"])
            if alpha == 1.0:
                np.testing.assert_allclose(inputs["image"], resampled(image, current), atol=1e-6)
            else:
                recovered = blend_coefficient(inputs["image"], resampled(image, previous),
                                              resampled(image, current))
                assert recovered == pytest.approx(alpha, abs=1e-5), (epoch, alpha)

    for epoch in range(7):
        curriculum.on_epoch_begin(epoch)
        assert curriculum.stage == [0, 1, 1, 1, 2, 2, 2][epoch]
        check(epoch)
    resumed = source.curriculum(stages)  # a run resumed at epoch 5 (fit passes its epochs)
    resumed.set_params({"epochs": 7})
    batches = resumed.apply(source.dataset("train", batch_size=2))
    resumed.on_epoch_begin(5)
    assert resumed.stage == 2
    check(5)


def test_stage_of_counts_epochs_and_the_last_stage_goes_on():
    curriculum = ResolutionCurriculum([{"epochs": 2, "resolution": 4}, {"epochs": 1, "resolution": 8},
                                       {"epochs": 1, "resolution": 4, "fade_in": True}], image_size=16)
    assert [curriculum.stage_of(epoch) for epoch in range(7)] == [0, 0, 1, 2, 2, 2, 2]
    assert [curriculum.first_epoch(index) for index in range(3)] == [0, 2, 3]
    assert curriculum.stage == 0 and curriculum.sizes == [(4, 4), (8, 8), (4, 4)]  # down again is allowed
    every_stage_full = ResolutionCurriculum([{"epochs": 1}, {"resolution": 16, "fade_in": 1}], 16)
    dataset = get_source("shapes", image_size=16, num_samples=4).dataset("train", batch_size=2)
    assert every_stage_full.apply(dataset) is dataset


class LastBlend(keras.metrics.Metric):
    """The `alpha` of the last batch's target images between the constant images
    `previous` and `current` (least squares)."""

    def __init__(self, previous, current, **kwargs):
        super().__init__(**kwargs)
        self.previous = tf.constant(previous)
        self.step = tf.constant(current - previous)
        self.value = self.add_variable(shape=(), initializer="zeros", dtype="float32")

    def update_state(self, y_true, y_pred, sample_weight=None):
        projection = tf.reduce_sum((y_true - self.previous) * self.step, axis=[1, 2, 3])
        self.value.assign(tf.reduce_mean(projection) / tf.reduce_sum(self.step ** 2))

    def result(self):
        return self.value


class BatchLogs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.blends = []

    def on_train_batch_end(self, batch, logs=None):
        self.blends.append(float(logs["blend"]))


def test_fit_gives_every_batch_its_exact_alpha_however_deep_the_prefetch():
    # Eight copies of one image: each batch's blend between its 4x4 and 8x8 versions
    # shows the alpha that the pipeline gave it.
    image = get_source("shapes", image_size=16, num_samples=1).dataset("train", batch_size=1)
    image = next(iter(image))[0]["image"].numpy()
    pair = {"image": np.repeat(image, 8, axis=0), "segmentation": np.zeros((8, 16, 16), np.int32)}
    dataset = tf.data.Dataset.from_tensor_slices((pair, pair)).batch(2, drop_remainder=True)  # 4 steps
    curriculum = ResolutionCurriculum([{"epochs": 1, "resolution": 4},
                                       {"epochs": 2, "resolution": 8, "fade_in": True}, {}], image_size=16)
    train = curriculum.apply(dataset).map(lambda inputs, targets: (inputs["image"], targets["image"]))
    low, high = (resampled(image, size)[0] for size in ((4, 4), (8, 8)))
    model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(3, 1)])
    model.compile("sgd", "mse", metrics=[LastBlend(low, high, name="blend")], jit_compile=False)
    logger = BatchLogs()
    history = model.fit(train.prefetch(16), epochs=4, callbacks=[curriculum, logger], shuffle=False,
                        verbose=0).history
    assert history["curriculum_stage"] == [0, 1, 1, 2]
    full = float(np.sum((image[0] - low) * (high - low)) / np.sum((high - low) ** 2))  # the 16x16 image's
    expected = [0.0] * 4 + [k / 8 for k in range(1, 9)] + [full] * 4
    np.testing.assert_allclose(logger.blends, expected, atol=1e-5)


def test_the_runner_applies_the_configs_curriculum_to_the_training_batches_only():
    path = os.path.join(ROOT, "configs", "image_mask", "pix2pix.yaml")
    with open(path) as handle:  # the config's commented example
        example = [line.strip()[1:].strip() for line in handle if line.strip().startswith("# curriculum:")]
    stages = yaml.safe_load(example[0])["curriculum"]
    assert [stage.get("resolution") for stage in stages] == [16, 32, None]
    tiny = ["data.num_samples=32", "data.batch_size=16", "output.tensorboard=false"]
    override = "data.curriculum=" + yaml.safe_dump(stages, default_flow_style=True)
    experiment = runner.Experiment.from_config(load_config(path, [*tiny, override]))
    curriculum = experiment.curriculum
    assert isinstance(curriculum, ResolutionCurriculum) and curriculum.sizes == [(16, 16), (32, 32), (64, 64)]
    train = experiment.batches("train", ["image"], training=True)
    curriculum.on_epoch_begin(0)
    (inputs, targets), (original, _) = next(iter(train)), next(iter(experiment.source.dataset("train", 16)))
    assert set(targets) == {"image"}
    np.testing.assert_allclose(inputs["image"], resampled(original["image"].numpy(), (16, 16)), atol=1e-6)
    np.testing.assert_array_equal(targets["image"], inputs["image"])
    np.testing.assert_array_equal(inputs["segmentation"], original["segmentation"])
    valid, original = (next(iter(batches))[0]["image"] for batches in (
        experiment.batches("valid", ["image"]), experiment.source.dataset("valid", 16)))
    np.testing.assert_array_equal(valid, original)
    too_fine = "data.curriculum=[{epochs: 1}, {resolution: 128}]"
    with pytest.raises(ConfigError, match=r"^data.curriculum: `curriculum\[1\].resolution` must be an "
                                          r"integer from 4 to the image's size \(64\)"):
        runner.Experiment.from_config(load_config(path, [*tiny, too_fine]))


@pytest.mark.parametrize("stages, message", [
    ([], r"`curriculum` must be a non-empty list of stages \(mappings with epochs, resolution and fade_in\)"),
    ([3], r"`curriculum\[0\]` must be a mapping with the keys epochs, resolution and fade_in; "
          r"received curriculum\[0\]=3"),
    ([{"resolutoin": 8}], r"`curriculum\[0\]` has an unknown key 'resolutoin' \(did you mean "
                          r"'resolution'\?\)"),
    ([{"resolution": 8}, {}], r"`curriculum\[0\].epochs` must be a positive integer \(only the last stage"),
    ([{"epochs": 1}, {"resolution": 2}], r"`curriculum\[1\].resolution` must be an integer from 4 to the "
                                         r"image's size \(16\), or null for full resolution; received "
                                         r"curriculum\[1\].resolution=2"),
    ([{"resolution": 32}], r"received curriculum\[0\].resolution=32"),
    ([{"resolution": 8.0}], r"received curriculum\[0\].resolution=8.0"),
    ([{"epochs": 1}, {"epochs": 2, "fade_in": 3}], r"`curriculum\[1\].fade_in` must be true, false or a "
                                                   r"number of epochs from 1 to the stage's epochs \(2\); "
                                                   r"received curriculum\[1\].fade_in=3"),
    ([{"epochs": 1}, {"fade_in": 0}], r"`curriculum\[1\].fade_in` must be true, false or a number of epochs "
                                      r"\(a positive integer\); received curriculum\[1\].fade_in=0"),
    ([{"epochs": 1}, {"fade_in": "yes"}], r"received curriculum\[1\].fade_in='yes'"),
    ([{"epochs": 1, "resolution": 4, "fade_in": True}, {}], r"`curriculum\[0\].fade_in` must be false: the "
                                                            r"first stage has no earlier resolution"),
])
def test_bad_stages_name_the_stage_the_key_and_the_value(stages, message):
    with pytest.raises(ValueError, match=message):
        ResolutionCurriculum(stages, image_size=16)


def test_a_curriculum_needs_finite_epochs_and_known_training_length():
    with pytest.raises(ValueError, match=r"`image_size` must be a positive int or \(height, width\)"):
        ResolutionCurriculum([{}], image_size=(16,))
    endless = get_source("shapes", image_size=16, num_samples=None).dataset("train", batch_size=2)
    curriculum = ResolutionCurriculum([{"epochs": 1, "resolution": 4}, {"fade_in": True}], image_size=16)
    with pytest.raises(ValueError, match=r"`batches` must have a known, finite number of batches for a "
                                         r"resolution curriculum .*infinite cardinality"):
        curriculum.apply(endless)
    with pytest.raises(ValueError, match=r"`curriculum\[1\].fade_in` = true on a last stage without epochs "
                                         r"fades over the rest of training"):
        curriculum.on_epoch_begin(1)
