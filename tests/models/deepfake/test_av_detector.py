"""The deepfake detectors: the standard checks, every option, the backbones and bad arguments."""

import keras
import numpy as np
import pytest
from keras import ops

from msa_tf import models
from msa_tf.models.deepfake import AudioOnlyDetector, AVDetector, VideoOnlyDetector
from msa_tf.models.deepfake.components import FUSIONS, TEMPORAL_ENCODERS
from msa_tf.testing import run_model_checks
from msa_tf.validation import constructor_arguments

SIZES = dict(num_frames=4, face_size=16, mel_steps=16, n_mels=8)
SMALL = dict(width=8, num_heads=2, cnn_filters=4, cnn_blocks=2)
AV_ARGS = dict(SIZES, **SMALL)
VIDEO_ARGS = dict(num_frames=4, face_size=16, **SMALL)
AUDIO_ARGS = dict(num_frames=4, mel_steps=16, n_mels=8, width=8, cnn_filters=4, cnn_blocks=2)


def clips(face_size=16, seed=0):
    """Two random clips of the data contract: frames in [0, 1], log-mel in [-1, 1]."""
    rng = np.random.default_rng(seed)
    return {"frames": rng.uniform(size=(2, 4, face_size, face_size, 3)).astype("float32"),
            "mel": rng.uniform(-1, 1, size=(2, 16, 8)).astype("float32")}


def numpy_outputs(model, inputs):
    return {name: ops.convert_to_numpy(value) for name, value in model(inputs).items()}


# The standard checks compile a training step with XLA: small graphs compile fast, so they
# use one convolution block, and the temporal transformer trains in the video_only checks.


def test_av_detector_with_cross_modal_fusion_passes_the_model_checks():
    run_model_checks(AVDetector, dict(AV_ARGS, cnn_blocks=1, temporal="tconv", fusion="cross_modal"),
                     clips())


def test_video_only_passes_the_model_checks():
    run_model_checks(VideoOnlyDetector, dict(VIDEO_ARGS, cnn_blocks=1, temporal="transformer",
                                             modality_heads=True), clips())


def test_audio_only_passes_the_model_checks():
    run_model_checks(AudioOnlyDetector, dict(AUDIO_ARGS, cnn_blocks=1, modality_heads=True), clips())


@pytest.mark.parametrize("fusion", FUSIONS)
@pytest.mark.parametrize("temporal", TEMPORAL_ENCODERS)
def test_every_temporal_encoder_and_fusion_gives_probabilities_from_both_inputs(temporal, fusion):
    model = AVDetector(**dict(AV_ARGS, temporal=temporal, fusion=fusion, modality_heads=True))
    inputs = clips()
    outputs = model(inputs)
    assert {name: tuple(value.shape) for name, value in outputs.items()} == {
        "label": (2, 1), "video_label": (2, 1), "audio_label": (2, 1)}
    assert {keras.backend.standardize_dtype(value.dtype) for value in outputs.values()} == {"float32"}
    label = ops.convert_to_numpy(outputs["label"])
    assert np.all((label > 0) & (label < 1))
    other = clips(seed=1)
    for changed in ("frames", "mel"):
        new_label = numpy_outputs(model, dict(inputs, **{changed: other[changed]}))["label"]
        assert np.abs(new_label - label).max() > 1e-6, f"the label ignores {changed}"


def test_baselines_read_only_their_own_input():
    inputs, other = clips(), clips(seed=1)
    video = VideoOnlyDetector(**dict(VIDEO_ARGS, modality_heads=True))
    audio = AudioOnlyDetector(**dict(AUDIO_ARGS, modality_heads=True))
    for model, own, ignored, head in ((video, "frames", "mel", "video_label"),
                                      (audio, "mel", "frames", "audio_label")):
        before = numpy_outputs(model, inputs)
        assert set(before) == {"label", head}
        for ignoring in (dict(inputs, **{ignored: other[ignored]}), {own: inputs[own]}):
            np.testing.assert_array_equal(numpy_outputs(model, ignoring)["label"], before["label"])
        changed = numpy_outputs(model, dict(inputs, **{own: other[own]}))
        assert np.abs(changed["label"] - before["label"]).max() > 1e-6, f"the label ignores {own}"


def test_the_registry_builds_each_detector_which_takes_only_the_data_arguments_it_reads():
    detectors = {"av_detector": (AVDetector, AV_ARGS), "video_only": (VideoOnlyDetector, VIDEO_ARGS),
                 "audio_only": (AudioOnlyDetector, AUDIO_ARGS)}
    for name, (model_cls, args) in detectors.items():
        assert type(models.get(name, **args)) is model_cls
    # The runner fills in the data arguments that a model's constructor takes.
    data_arguments = {name: set(constructor_arguments(models.model_class(name))) & set(SIZES)
                      for name in detectors}
    assert data_arguments == {"av_detector": set(SIZES), "video_only": {"num_frames", "face_size"},
                              "audio_only": {"num_frames", "mel_steps", "n_mels"}}


def test_a_keras_applications_backbone_builds_without_weights_and_loads_a_local_file(tmp_path):
    args = dict(VIDEO_ARGS, face_size=32, backbone="MobileNetV3Small", temporal="avg")
    frames = clips(face_size=32)["frames"]
    first = VideoOnlyDetector(**args)
    assert tuple(first({"frames": frames})["label"].shape) == (2, 1)
    network = first.frame_encoder.network
    assert network.name == "MobileNetV3Small" and network.output_shape == (None, 576)
    # Weights unlike a fresh initialisation stand for pretrained ones.
    rng = np.random.default_rng(0)
    network.set_weights([w * rng.uniform(0.5, 1.5, w.shape).astype(w.dtype) for w in network.get_weights()])
    path = tmp_path / "mobilenet.weights.h5"
    network.save_weights(path)
    loaded = VideoOnlyDetector(**dict(args, backbone_weights=str(path)))
    weights, features = [], []
    for model in (first, loaded):
        model({"frames": frames})  # builds it: the file is read then
        weights.append(model.frame_encoder.network.get_weights())
        features.append(ops.convert_to_numpy(model.frame_encoder.frame_features(frames)))
    assert features[0].shape == (2, 4, 576)
    for saved, read in zip(weights[0], weights[1]):
        np.testing.assert_array_equal(read, saved)
    np.testing.assert_array_equal(features[1], features[0])
    assert loaded.get_config()["backbone_weights"] == str(path)
    # A refusal: asking for downloaded weights is an error, never a download.
    with pytest.raises(ValueError, match=r"`backbone_weights` must be the path of a local weights file: "
                                         r"nothing is downloaded.*received backbone_weights='imagenet'"):
        VideoOnlyDetector(**dict(args, backbone_weights="imagenet"))


@pytest.mark.parametrize("model_cls, arguments, message", [
    (AVDetector, {"backbone": "resnet"},
     r"`backbone` must be one of 'small_cnn', 'EfficientNetB0', 'ResNet50', 'MobileNetV3Small', "
     r"'MobileNetV3Large'; received backbone='resnet'"),
    (VideoOnlyDetector, {"temporal": "lstm"},
     r"`temporal` must be one of 'avg', 'tconv', 'transformer'; received temporal='lstm'"),
    (AVDetector, {"fusion": "crossmodal"},
     r"`fusion` must be one of 'concat', 'attention', 'cross_modal'; received fusion='crossmodal' "
     r"\(did you mean 'cross_modal'\?\)"),
    (AVDetector, {"num_frames": 0}, r"`num_frames` must be a positive integer; received num_frames=0"),
    (AudioOnlyDetector, {"n_mels": 2.5}, r"`n_mels` must be a positive integer; received n_mels=2.5"),
    (AVDetector, {"backbone": "EfficientNetB0"},
     r"`face_size` must be at least 32 for backbone='EfficientNetB0'; received face_size=16"),
    (VideoOnlyDetector, {"width": 10, "num_heads": 4},
     r"`width` must be a multiple of `num_heads`=4; received width=10"),
    (AVDetector, {"backbone_weights": "missing.weights.h5"},
     r"`backbone_weights` must be None or the path of an existing weights file.*"
     r"received backbone_weights='missing.weights.h5'"),
    (AudioOnlyDetector, {"dropout": 1.0}, r"`dropout` must be a number in \[0, 1\); received dropout=1.0"),
    (AVDetector, {"modality_heads": 1}, r"`modality_heads` must be True or False; received modality_heads=1"),
])
def test_bad_arguments_name_the_argument_and_what_is_accepted(model_cls, arguments, message):
    base = {AVDetector: AV_ARGS, VideoOnlyDetector: VIDEO_ARGS, AudioOnlyDetector: AUDIO_ARGS}[model_cls]
    with pytest.raises(ValueError, match=message):
        model_cls(**dict(base, **arguments))


def test_inputs_that_contradict_the_data_arguments_are_refused():
    model = AVDetector(**dict(AV_ARGS, face_size=32))
    with pytest.raises(ValueError, match=r"`frames` must have the shape \(batch, num_frames=4, "
                                         r"face_size=32, face_size=32, 3\); received frames with shape "
                                         r"\(2, 4, 16, 16, 3\)"):
        model(clips())
    with pytest.raises(ValueError, match=r"`inputs` must be a dict with 'mel' for AVDetector; "
                                         r"received \['frames'\]"):
        AVDetector(**AV_ARGS)({"frames": clips()["frames"]})
