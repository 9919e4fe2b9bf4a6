import keras
import numpy as np
import pytest
from keras import ops

from msa_tf.layers import PatchGANDiscriminator
from msa_tf.layers.patchgan import receptive_field
from msa_tf.testing import run_layer_checks


def _pair(rng, size=32, batch=2):
    condition = rng.uniform(-1.0, 1.0, size=(batch, size, size, 3)).astype("float32")
    image = rng.uniform(-1.0, 1.0, size=(batch, size, size, 1)).astype("float32")
    return {"condition": condition, "image": image}


def _numpy(tensor):
    return np.asarray(ops.convert_to_numpy(tensor))


def _input_gradient(function, x):
    """The gradient of the scalar `function(x)` with respect to the array `x`."""
    if keras.backend.backend() == "jax":
        import jax

        return np.asarray(jax.grad(function)(x))
    import tensorflow as tf

    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = function(x)
    return tape.gradient(value, x).numpy()


@pytest.mark.parametrize(
    "kwargs",
    [{"norm": "batch"}, {"norm": "instance", "spectral_norm": True}],
    ids=["batch", "instance_spectral"],
)
def test_passes_the_layer_checks(rng, kwargs):
    run_layer_checks(
        PatchGANDiscriminator, {"base_filters": 4, "num_downsamples": 2, **kwargs}, _pair(rng),
        expected_output_dtype="float32",
    )


def test_receptive_field_formula():
    # C64-C128-C256-C512 with 3 downsamples is the 70x70 PatchGAN of pix2pix.
    assert [receptive_field(n) for n in (1, 2, 3)] == [16, 34, 70]


@pytest.mark.parametrize("num_downsamples", [1, 2, 3])
def test_a_logit_sees_a_patch_of_the_receptive_field(rng, num_downsamples):
    discriminator = PatchGANDiscriminator(base_filters=2, num_downsamples=num_downsamples, norm="none")
    pair = _pair(rng, size=96, batch=1)
    centre = 48 // 2**num_downsamples

    def centre_logit(image):
        return discriminator(pair["condition"], image)[0, centre, centre, 0]

    gradient = np.abs(_input_gradient(centre_logit, pair["image"]))[0, :, :, 0]
    rows, columns = np.nonzero(gradient)
    top, bottom, left, right = rows.min(), rows.max(), columns.min(), columns.max()
    side = receptive_field(num_downsamples)
    assert (bottom - top + 1, right - left + 1) == (side, side)
    assert np.all(gradient[top:bottom + 1, left:right + 1] > 0)
    # Inside the image, so the field is not cut by the border.
    assert top > 0 and left > 0 and bottom < 95 and right < 95


def test_logits_cover_the_image_in_float32(rng):
    discriminator = PatchGANDiscriminator(base_filters=4, num_downsamples=3, dtype="mixed_float16")
    logits = discriminator(**_pair(rng, size=40))
    assert tuple(logits.shape) == (2, 5, 5, 1)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"


def _largest_singular_values(discriminator):
    kernels = [conv.layer.kernel if isinstance(conv, keras.layers.Wrapper) else conv.kernel
               for conv in [*discriminator.convs, discriminator.logits]]
    return np.array([
        np.linalg.svd(np.reshape(ops.convert_to_numpy(k), (-1, k.shape[-1])), compute_uv=False)[0]
        for k in kernels
    ])


def test_spectral_norm_brings_every_kernel_to_spectral_norm_1(rng):
    keras.utils.set_random_seed(0)  # power iteration converges at a rate that depends on the kernel
    pair = _pair(rng, size=16)
    kwargs = {"base_filters": 4, "num_downsamples": 2,
              "kernel_initializer": keras.initializers.RandomNormal(stddev=0.5)}
    plain = PatchGANDiscriminator(**kwargs)
    plain(**pair, training=True)
    assert np.all(_largest_singular_values(plain) > 2.0)
    discriminator = PatchGANDiscriminator(**kwargs, spectral_norm=True)
    for _ in range(30):  # each training call runs one power iteration
        discriminator(**pair, training=True)
    np.testing.assert_allclose(_largest_singular_values(discriminator), 1.0, atol=0.05)


def test_spectral_norm_inference_matches_training_after_fit(rng):
    # Keras's wrapper normalises the kernel by assigning it in the forward pass, which
    # JAX's `fit` drops: inference must normalise too, or it sees the raw kernel.
    keras.utils.set_random_seed(0)
    pair = _pair(rng, size=16)
    discriminator = PatchGANDiscriminator(
        base_filters=4, num_downsamples=2, norm="none", spectral_norm=True,
        kernel_initializer=keras.initializers.RandomNormal(stddev=0.5),
    )
    condition, image = keras.Input((16, 16, 3)), keras.Input((16, 16, 1))
    model = keras.Model([condition, image], discriminator(condition, image))
    # A zero learning rate: the steps only run the power iterations.
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse", jit_compile=True)
    inputs = [pair["condition"], pair["image"]]
    model.fit(inputs, np.zeros((2, 4, 4, 1), "float32"), epochs=30, verbose=0)
    inference = _numpy(discriminator(**pair, training=False))
    training = _numpy(discriminator(**pair, training=True))
    np.testing.assert_allclose(inference, training, rtol=0.02, atol=1e-3 * np.abs(training).max())


def test_condition_and_image_of_different_sizes_raise():
    with pytest.raises(ValueError, match=r"must have the same height and width; received shapes "
                                         r"\(2, 16, 16, 3\) and \(2, 32, 32, 1\)"):
        PatchGANDiscriminator(base_filters=2)(np.zeros((2, 16, 16, 3)), np.zeros((2, 32, 32, 1)))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"base_filters": 0}, r"`base_filters` must be a positive integer; received base_filters=0"),
        ({"num_downsamples": 0}, r"`num_downsamples` must be a positive integer"),
        ({"norm": "group"}, r"`norm` must be one of 'batch', 'instance', 'none'; received norm='group'"),
        ({"spectral_norm": 1}, r"`spectral_norm` must be True or False; received spectral_norm=1"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PatchGANDiscriminator(**kwargs)
