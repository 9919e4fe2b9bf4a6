"""The parts of the deepfake detectors: configs, output shapes, time resolution and fusion."""

import numpy as np
import pytest
from keras import ops

from msa_tf.models.deepfake import (
    AudioEncoder,
    AVFusion,
    ConvBlocks,
    DetectionHead,
    FrameEncoder,
    TemporalEncoder,
)
from msa_tf.models.deepfake.components import window_means
from msa_tf.testing import check_config_round_trip, check_output_spec

RNG = np.random.default_rng(0)
TOKENS = RNG.normal(size=(2, 4, 8)).astype("float32")
PAIR = {"video": TOKENS, "audio": TOKENS[::-1]}


@pytest.mark.parametrize("layer_cls, arguments, call_inputs", [
    (ConvBlocks, dict(filters=4, num_blocks=2, pool_size=(1, 2)), {"inputs": RNG.normal(size=(2, 5, 7, 1))}),
    (FrameEncoder, dict(backbone="small_cnn", width=8, cnn_filters=4, cnn_blocks=2),
     {"frames": RNG.uniform(size=(2, 3, 16, 16, 3))}),
    (TemporalEncoder, dict(method="tconv", num_layers=2, dropout=0.1), {"inputs": TOKENS}),
    (TemporalEncoder, dict(method="transformer", num_heads=2), {"inputs": TOKENS}),
    (AudioEncoder, dict(width=8, num_steps=4, cnn_filters=4, cnn_blocks=2),
     {"mel": RNG.normal(size=(2, 10, 6))}),
    (AVFusion, dict(method="attention"), PAIR),
    (AVFusion, dict(method="cross_modal", num_heads=2, num_layers=2), PAIR),
    (DetectionHead, dict(hidden_dim=4, dropout=0.2), {"inputs": TOKENS[:, 0]}),
], ids=["conv_blocks", "frame_encoder", "tconv", "transformer", "audio_encoder", "attention_fusion",
        "cross_modal_fusion", "detection_head"])
def test_every_part_round_trips_its_config_and_declares_its_output_shape(layer_cls, arguments, call_inputs):
    check_config_round_trip(layer_cls, arguments)
    check_output_spec(layer_cls(**arguments), call_inputs)


def test_window_means_average_every_step_into_every_window():
    for windows, length in ((4, 16), (3, 10), (4, 2)):
        matrix = window_means(windows, length)
        np.testing.assert_allclose(matrix.sum(axis=1), 1.0, rtol=1e-6)
        assert (matrix > 0).any(axis=0).all() and (matrix > 0).any(axis=1).all()
    np.testing.assert_array_equal(window_means(2, 4), [[0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5]])


def test_audio_tokens_keep_the_time_of_their_frame_window():
    encoder = AudioEncoder(width=8, num_steps=4, cnn_filters=4, cnn_blocks=2)
    mel = RNG.uniform(-1, 1, size=(2, 16, 8)).astype("float32")
    before = ops.convert_to_numpy(encoder(mel))
    changed = mel.copy()
    changed[:, 14:] = RNG.uniform(-1, 1, size=(2, 2, 8))  # sound in the last frame's window only
    after = ops.convert_to_numpy(encoder(changed))
    np.testing.assert_allclose(after[:, :3], before[:, :3], atol=1e-6)
    assert np.abs(after[:, 3] - before[:, 3]).max() > 1e-4


def test_only_cross_modal_fusion_sees_audio_shifted_against_the_video():
    video, audio = TOKENS, RNG.normal(size=(2, 4, 8)).astype("float32")
    shifted = np.roll(audio, 1, axis=1)  # the same sounds, one frame late
    for method in ("concat", "attention", "cross_modal"):
        fusion = AVFusion(method, num_heads=2)
        in_sync, out_of_sync = (ops.convert_to_numpy(fusion(video, a)) for a in (audio, shifted))
        if method == "cross_modal":
            assert np.abs(out_of_sync - in_sync).max() > 1e-3
        else:
            np.testing.assert_allclose(out_of_sync, in_sync, atol=1e-5)


@pytest.mark.parametrize("layer, call_inputs, message", [
    (AVFusion("concat"), (TOKENS, TOKENS[:, :3]),
     r"`video` and `audio` must be tokens of the same known length and width"),
    (FrameEncoder("MobileNetV3Small", 8), (RNG.uniform(size=(1, 2, 16, 16, 3)),),
     r"`frames` must be at least 32 pixels high and wide for backbone='MobileNetV3Small'; "
     r"received frames with shape \(1, 2, 16, 16, 3\)"),
    (AudioEncoder(8, 4), (TOKENS[0],), r"`mel` must be \(batch, mel_steps, n_mels\)"),
])
def test_inputs_a_part_cannot_read_are_refused(layer, call_inputs, message):
    with pytest.raises(ValueError, match=message):
        layer(*call_inputs)
