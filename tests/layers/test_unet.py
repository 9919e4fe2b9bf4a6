import keras
import numpy as np
import pytest
from keras import ops

from msa_tf.layers import UNetDownsample, UNetGenerator, UNetUpsample
from msa_tf.layers.unet import normalization
from msa_tf.testing import run_layer_checks


def _images(rng, size=32, channels=3, batch=2):
    return rng.uniform(-1.0, 1.0, size=(batch, size, size, channels)).astype("float32")


def _numpy(tensor):
    return np.asarray(ops.convert_to_numpy(ops.cast(tensor, "float32")))


def test_downsample_passes_the_layer_checks(rng):
    run_layer_checks(UNetDownsample, {"filters": 4, "norm": "instance"}, {"inputs": _images(rng, 16)})


def test_upsample_passes_the_layer_checks(rng):
    run_layer_checks(
        UNetUpsample, {"filters": 4, "dropout": 0.5}, {"inputs": _images(rng, 8, channels=6)}
    )


@pytest.mark.parametrize("norm", ["batch", "instance"])
def test_generator_passes_the_layer_checks(rng, norm):
    run_layer_checks(
        UNetGenerator, {"output_channels": 2, "base_filters": 4, "depth": 3, "norm": norm},
        {"inputs": _images(rng)}, expected_output_dtype="float32",
    )


def test_blocks_halve_and_double_the_size(rng):
    down = UNetDownsample(5, norm="none")(_images(rng, 15))
    up = UNetUpsample(3, norm="instance")(_images(rng, 7))
    assert tuple(down.shape) == (2, 8, 8, 5)
    assert tuple(up.shape) == (2, 14, 14, 3)
    # LeakyReLU(0.2) and ReLU.
    assert _numpy(down).min() < 0 and _numpy(up).min() == 0.0


def test_generator_keeps_the_size_and_ends_in_tanh(rng):
    generator = UNetGenerator(output_channels=1, base_filters=4, depth=2, norm="none")
    # Large inputs saturate the tanh: a linear output would leave [-1, 1].
    images = _numpy(generator(100.0 * _images(rng, 16), training=False))
    assert images.shape == (2, 16, 16, 1)
    assert np.abs(images).max() <= 1.0
    assert np.abs(images).max() > 0.99


def test_a_linear_generator_gives_logits(rng):
    generator = UNetGenerator(output_channels=2, base_filters=4, depth=2, norm="none",
                              output_activation="linear")
    assert np.abs(_numpy(generator(100.0 * _images(rng, 16), training=False))).max() > 1.0
    with pytest.raises(ValueError, match="`output_activation` must be one of 'tanh', 'sigmoid', 'linear'"):
        UNetGenerator(output_channels=1, output_activation="relu")


@pytest.mark.tensorflow_only("the layout is backend-independent; 54M weights take JAX 3 s to draw")
def test_pix2pix_layout():
    generator = UNetGenerator(output_channels=3, base_filters=64, depth=8)
    generator.build((1, 256, 256, 3))
    assert [b.filters for b in generator.down_blocks] == [64, 128, 256, 512, 512, 512, 512, 512]
    assert [b.filters for b in generator.up_blocks] == [512, 512, 512, 512, 256, 128, 64]
    assert [b.norm for b in generator.down_blocks] == ["none"] + ["batch"] * 6 + ["none"]
    assert [b.dropout for b in generator.up_blocks] == [0.5] * 3 + [0.0] * 4
    # The pix2pix generator of the TensorFlow tutorial has 54,425,859 parameters. Its
    # bottleneck has batch normalisation (4 * 512 parameters) where this one has a bias
    # (512), and its first convolution, not normalised, has no bias (64 here).
    assert generator.count_params() == 54_425_859 - 4 * 512 + 512 + 64


def test_skip_connections_carry_fine_detail(rng):
    generator = UNetGenerator(output_channels=1, base_filters=4, depth=3, dropout=0.0)
    images = _images(rng, batch=1)
    generator(images)
    # With the bottleneck's kernel at zero, only the skip connections carry the input.
    bottleneck = generator.down_blocks[-1].conv.kernel
    bottleneck.assign(np.zeros(bottleneck.shape, "float32"))
    changed = images.copy()
    changed[0, 12, 20, :] += 1.0
    difference = np.abs(_numpy(generator(changed)) - _numpy(generator(images)))[0, :, :, 0]
    assert difference[12, 20] > 1e-4
    # The skips are local: a change at one pixel does not reach the far corner.
    assert difference[:4, :4].max() == 0.0


@pytest.mark.parametrize("size", [20, 4])
def test_image_not_a_multiple_of_2_to_the_depth_raises(size):
    message = (
        r"UNetGenerator with depth=3 needs images whose height and width are multiples of "
        rf"2\*\*depth=8 \(at least 8x8\); received input shape \(1, {size}, {size}, 3\)"
    )
    with pytest.raises(ValueError, match=message):
        UNetGenerator(output_channels=1, base_filters=2, depth=3)(np.zeros((1, size, size, 3)))


def test_instance_norm_of_a_1x1_output_raises():
    with pytest.raises(ValueError, match=r"norm='instance' would normalise a 1x1 output"):
        UNetDownsample(4, norm="instance")(np.zeros((2, 2, 2, 3)))


@pytest.mark.parametrize("norm", ["batch", "instance"])
def test_normalisation_statistics_are_float32_under_mixed_float16(rng, norm):
    # Squares of values near 300 overflow float16 (max 65504): statistics computed in
    # float16 would be infinite.
    layer = normalization(norm, keras.DTypePolicy("mixed_float16"), "norm")
    x = (300.0 + rng.normal(size=(4, 6, 6, 3))).astype("float16")
    y = layer(x, training=True)
    assert keras.backend.standardize_dtype(y.dtype) == "float16"
    values = _numpy(y)
    assert np.all(np.isfinite(values))
    np.testing.assert_allclose(values.mean(axis=(0, 1, 2)), 0.0, atol=0.05)
    np.testing.assert_allclose(values.std(axis=(0, 1, 2)), 1.0, atol=0.05)
    assert all(w.dtype == "float32" for w in layer.weights)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: UNetDownsample(0), r"`filters` must be a positive integer; received filters=0"),
        (lambda: UNetUpsample(4, dropout=1.0), r"`dropout` must be a number in \[0, 1\)"),
        (lambda: UNetUpsample(4, norm="layer"),
         r"`norm` must be one of 'batch', 'instance', 'none'; received norm='layer'"),
        (lambda: UNetGenerator(0), r"`output_channels` must be a positive integer"),
        (lambda: UNetGenerator(1, depth=0), r"`depth` must be a positive integer; received depth=0"),
        (lambda: UNetGenerator(1, base_filters=2.5), r"`base_filters` must be a positive integer"),
        (lambda: UNetGenerator(1, norm="batchnorm"), r"received norm='batchnorm' \(did you mean 'batch'"),
        (lambda: UNetGenerator(1, kernel_initializer="nope"), r"`kernel_initializer` must be"),
        (lambda: UNetDownsample(4)(np.zeros((2, 8, 3))), r"`inputs` of UNetDownsample must be images"),
    ],
)
def test_bad_arguments_raise_value_error(make, message):
    with pytest.raises(ValueError, match=message):
        make()
