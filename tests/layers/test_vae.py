import keras
import numpy as np
import pytest
from keras import ops

from msa_tf.layers import VAEDecoder, VAEEncoder, VAESampling, kl_divergence
from msa_tf.testing import run_layer_checks


def _numpy(tensor):
    return np.asarray(ops.convert_to_numpy(ops.cast(tensor, "float32")))


def _latents(rng, batch=2, dim=3):
    return {
        "mean": rng.normal(size=(batch, dim)).astype("float32"),
        "log_variance": rng.normal(scale=0.5, size=(batch, dim)).astype("float32"),
    }


def test_encoder_passes_the_layer_checks(rng):
    images = rng.uniform(-1.0, 1.0, size=(2, 16, 16, 1)).astype("float32")
    run_layer_checks(
        VAEEncoder, {"latent_dim": 3, "base_filters": 4, "num_downsamples": 2},
        {"inputs": images}, expected_output_dtype="float32",
    )


def test_sampling_passes_the_layer_checks(rng):
    run_layer_checks(VAESampling, {"seed": 1}, _latents(rng), expected_output_dtype="float32")


def test_decoder_passes_the_layer_checks(rng):
    run_layer_checks(
        VAEDecoder,
        {"height": 16, "width": 8, "channels": 1, "base_filters": 4, "num_upsamples": 2,
         "norm": "instance"},
        {"inputs": rng.normal(size=(2, 3)).astype("float32")}, expected_output_dtype="float32",
    )


def test_encoder_gives_float32_mean_and_log_variance_under_mixed_float16(rng):
    encoder = VAEEncoder(latent_dim=5, base_filters=4, num_downsamples=3, dtype="mixed_float16")
    outputs = encoder(rng.uniform(-1, 1, size=(2, 24, 16, 3)).astype("float32"))
    assert [tuple(o.shape) for o in outputs] == [(2, 5), (2, 5)]
    assert [keras.backend.standardize_dtype(o.dtype) for o in outputs] == ["float32", "float32"]
    # 24x16 halved three times (rounding up): 3x2 positions of 16 channels.
    assert encoder.flat_size == 3 * 2 * 16


def test_sampling_is_reproducible_for_a_seed(rng):
    latents = _latents(rng, batch=4)
    first, same, other = (VAESampling(seed=s) for s in (7, 7, 8))
    draws = [_numpy(first(**latents, training=True)), _numpy(first(**latents, training=True))]
    np.testing.assert_array_equal(_numpy(same(**latents, training=True)), draws[0])
    assert not np.allclose(draws[0], draws[1])  # a fresh draw on each call
    assert not np.allclose(_numpy(other(**latents, training=True)), draws[0])


def test_sampling_draws_from_the_gaussian_it_is_given():
    n = 20000
    mean = np.tile(np.array([[1.0, -2.0]], "float32"), (n, 1))
    log_variance = np.tile(np.log(np.array([[4.0, 0.25]], "float32")), (n, 1))
    z = _numpy(VAESampling(seed=0)(mean, log_variance, training=True))
    # Standard errors: std / sqrt(n) for the mean, about std * sqrt(1 / (2n)) for the std.
    np.testing.assert_allclose(z.mean(axis=0), [1.0, -2.0], atol=4 * 2.0 / np.sqrt(n))
    np.testing.assert_allclose(z.std(axis=0), [2.0, 0.5], rtol=4 / np.sqrt(2 * n))
    assert abs(np.corrcoef(z.T)[0, 1]) < 4 / np.sqrt(n)


def test_sampling_returns_the_mean_at_inference(rng):
    latents = _latents(rng)
    np.testing.assert_array_equal(_numpy(VAESampling(seed=0)(**latents)), latents["mean"])


def _kl_by_integration(mean, variance):
    """KL(N(mean, variance) || N(0, 1)) of one dimension, by the trapezoid rule."""
    x = np.linspace(mean - 12 * np.sqrt(variance), mean + 12 * np.sqrt(variance), 20001)
    log_p = -0.5 * (x - mean) ** 2 / variance - 0.5 * np.log(2 * np.pi * variance)
    log_q = -0.5 * x**2 - 0.5 * np.log(2 * np.pi)
    return np.trapezoid(np.exp(log_p) * (log_p - log_q), x)


def test_kl_divergence_is_the_kl_to_the_standard_normal(rng):
    mean = rng.normal(size=(3, 4))
    log_variance = rng.normal(size=(3, 4))
    expected = [
        sum(_kl_by_integration(m, np.exp(v)) for m, v in zip(row_m, row_v))
        for row_m, row_v in zip(mean, log_variance)
    ]
    kl = _numpy(kl_divergence(mean.astype("float32"), log_variance.astype("float32")))
    assert kl.shape == (3,)
    np.testing.assert_allclose(kl, expected, rtol=1e-4)
    np.testing.assert_allclose(_numpy(kl_divergence(np.zeros((2, 4)), np.zeros((2, 4)))), 0.0)


def test_kl_divergence_is_float32_for_float16_inputs():
    # What a mixed_float16 model could hand it: 300**2 and exp(12) = 162755 both
    # overflow float16 (max 65504).
    mean = np.array([[300.0, 0.0]], "float16")
    log_variance = np.array([[0.0, 12.0]], "float16")
    kl = kl_divergence(mean, log_variance)
    assert keras.backend.standardize_dtype(kl.dtype) == "float32"
    expected = 0.5 * 300.0**2 + 0.5 * (np.exp(12.0) - 1.0 - 12.0)
    np.testing.assert_allclose(_numpy(kl), [expected], rtol=1e-5)


def test_decoder_output_activations(rng):
    latents = 30.0 * rng.normal(size=(2, 4)).astype("float32")
    kwargs = {"height": 8, "width": 8, "channels": 2, "base_filters": 4, "num_upsamples": 2,
              "norm": "none"}
    outputs = {a: _numpy(VAEDecoder(**kwargs, output_activation=a)(latents))
               for a in ("tanh", "sigmoid", "linear")}
    assert all(o.shape == (2, 8, 8, 2) for o in outputs.values())
    assert np.abs(outputs["tanh"]).max() <= 1.0
    assert outputs["sigmoid"].min() >= 0.0 and outputs["sigmoid"].max() <= 1.0
    assert np.abs(outputs["linear"]).max() > 1.0


def test_decoder_size_not_a_multiple_of_2_to_the_upsamples_raises():
    message = r"`height` must be a multiple of `2\*\*num_upsamples`=8; received height=20"
    with pytest.raises(ValueError, match=message):
        VAEDecoder(height=20, width=16, channels=1, num_upsamples=3)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: VAEEncoder(0), r"`latent_dim` must be a positive integer; received latent_dim=0"),
        (lambda: VAEEncoder(4, num_downsamples=0), r"`num_downsamples` must be a positive integer"),
        (lambda: VAEEncoder(4, norm="layer"), r"`norm` must be one of 'batch', 'instance', 'none'"),
        (lambda: VAESampling(seed=-1), r"`seed` must be an integer >= 0; received seed=-1"),
        (lambda: VAESampling(seed="a"), r"`seed` must be an integer >= 0"),
        (lambda: VAEDecoder(8, 8, 0), r"`channels` must be a positive integer; received channels=0"),
        (lambda: VAEDecoder(8, 12, 1, num_upsamples=3), r"received width=12"),
        (lambda: VAEDecoder(8, 8, 1, output_activation="relu"),
         r"`output_activation` must be one of 'tanh', 'sigmoid', 'linear'; received "
         r"output_activation='relu'"),
        (lambda: VAESampling()(np.zeros((2, 3)), np.zeros((2, 4))),
         r"`mean` and `log_variance` of VAESampling must have the same shape"),
        (lambda: VAEEncoder(4)(np.zeros((2, 8, 3))), r"`inputs` of VAEEncoder must be images"),
    ],
)
def test_bad_arguments_raise_value_error(make, message):
    with pytest.raises(ValueError, match=message):
        make()
