"""Audio-visual deepfake detectors: `av_detector` and its `video_only` and `audio_only` baselines."""

import keras

from msa_tf.models.deepfake.components import AVFusion, DeepfakeDetector
from msa_tf.models.registry import register


@register("av_detector")
@keras.saving.register_keras_serializable(package="msa_tf")
class AVDetector(DeepfakeDetector):
    """A deepfake detector that reads a clip's face frames and its sound.

    Video: an image backbone on every frame (`FrameEncoder`: `"small_cnn"` or a
    `keras.applications` network, `weights=None` unless `backbone_weights` names a
    local file), projected to `width`, then a `TemporalEncoder` over the frames.
    Audio: a CNN over the log-mel spectrogram (`AudioEncoder`) giving one token per
    video frame, the average of that frame's time window. `AVFusion` joins the two
    token sequences (`"cross_modal"`: each attends to the other, step by step, which
    detects lip-sync mismatch), and a `DetectionHead` gives the probability that the
    clip is fake. With `modality_heads`, the time means of the video and audio tokens
    also get heads: whether the video, and the audio, are fake.

    Args:
        num_frames: frames per clip.
        face_size: height and width of the face frames (at least 32 for the
            `keras.applications` backbones).
        mel_steps: time steps of the log-mel spectrogram.
        n_mels: mel bands.
        backbone: the per-frame network: `"small_cnn"`, `"EfficientNetB0"`,
            `"ResNet50"`, `"MobileNetV3Small"` or `"MobileNetV3Large"`.
        backbone_weights: `None` (random initialisation), or the path of a local
            weights file of the backbone (what its `save_weights` writes), read when
            the model is built (also when a saved model loads, before its own weights
            replace them). `"imagenet"` is refused: nothing is downloaded.
        cnn_filters: filters of the first block of the small CNNs (the `"small_cnn"`
            backbone and the audio CNN), doubling per block.
        cnn_blocks: convolution blocks of the small CNNs.
        width: size of the tokens of both modalities.
        temporal: the temporal encoder of the frames: `"avg"`, `"tconv"` or
            `"transformer"` (see `TemporalEncoder`).
        fusion: `"concat"`, `"attention"` or `"cross_modal"` (see `AVFusion`).
        num_heads: attention heads (temporal transformer and cross-modal
            attention); must divide `width`.
        num_layers: layers of the temporal encoder and cross-attention blocks per
            direction.
        dropout: dropout rate of the attention blocks, convolutions and heads, in
            [0, 1).
        modality_heads: also output `video_label` and `audio_label`.

    Call arguments:
        inputs: dict with `frames` float32 `(batch, num_frames, face_size,
            face_size, 3)` RGB in [0, 1] and `mel` float32 `(batch, mel_steps,
            n_mels)`; other keys are ignored.
        training: Python boolean: dropout, batch statistics.

    Returns `{"label": float32 (batch, 1)}`, the probability that the clip is fake
    (sigmoid in float32), plus `"video_label"` and `"audio_label"` of the same form
    with `modality_heads`.

    Example:
    >>> model = AVDetector(num_frames=3, face_size=16, mel_steps=9, n_mels=4, width=8,
    ...                    num_heads=2, cnn_filters=4, cnn_blocks=2, modality_heads=True)
    >>> outputs = model({"frames": np.zeros((2, 3, 16, 16, 3)), "mel": np.zeros((2, 9, 4))})
    >>> {name: tuple(value.shape) for name, value in outputs.items()}
    {'label': (2, 1), 'video_label': (2, 1), 'audio_label': (2, 1)}

    Reference:
        Zhou and Lim, "Joint Audio-Visual Deepfake Detection", ICCV 2021;
        Chugh et al., "Not made for each other: Audio-Visual Dissonance-based
        Deepfake Detection and Localization", ACM MM 2020.
    """

    modalities = ("video", "audio")

    def __init__(self, num_frames, face_size, mel_steps, n_mels, backbone="small_cnn",
                 backbone_weights=None, cnn_filters=16, cnn_blocks=3, width=64, temporal="transformer",
                 fusion="cross_modal", num_heads=4, num_layers=1, dropout=0.1, modality_heads=False,
                 **kwargs):
        super().__init__(**kwargs)
        self._set_arguments(
            num_frames=num_frames, face_size=face_size, mel_steps=mel_steps, n_mels=n_mels,
            backbone=backbone, backbone_weights=backbone_weights, cnn_filters=cnn_filters,
            cnn_blocks=cnn_blocks, width=width, temporal=temporal, fusion=fusion, num_heads=num_heads,
            num_layers=num_layers, dropout=dropout, modality_heads=modality_heads,
        )
        self._make_parts()
        self.fusion_layer = AVFusion(fusion, num_heads, num_layers, dropout, dtype=self.dtype_policy,
                                     name="fusion")

    def _build_fusion(self, tokens_shape):
        self.fusion_layer.build(tokens_shape, tokens_shape)
        return self.fusion_layer.compute_output_shape(tokens_shape, tokens_shape)

    def _fuse(self, tokens, pooled, training):
        return self.fusion_layer(tokens["video"], tokens["audio"], training=training)


@register("video_only")
@keras.saving.register_keras_serializable(package="msa_tf")
class VideoOnlyDetector(DeepfakeDetector):
    """The video part of `AVDetector` alone: the baseline that cannot hear.

    The frames go through the same `FrameEncoder` and `TemporalEncoder`; the time
    mean of their tokens goes to the `label` head (and to a `video_label` head with
    `modality_heads`). `mel` is ignored.

    Args:
        num_frames, face_size, backbone, backbone_weights, cnn_filters, cnn_blocks,
            width, temporal, num_heads, num_layers, dropout: as for `AVDetector`.
        modality_heads: also output `video_label`.

    Call arguments:
        inputs: dict with `frames` float32 `(batch, num_frames, face_size,
            face_size, 3)` RGB in [0, 1]; other keys are ignored.
        training: Python boolean: dropout, batch statistics.

    Returns `{"label": float32 (batch, 1)}` (plus `"video_label"`), probabilities.

    Example:
    >>> model = VideoOnlyDetector(num_frames=3, face_size=16, width=8, num_heads=2,
    ...                           temporal="tconv", cnn_filters=4, cnn_blocks=2)
    >>> tuple(model({"frames": np.zeros((2, 3, 16, 16, 3))})["label"].shape)
    (2, 1)
    """

    modalities = ("video",)

    def __init__(self, num_frames, face_size, backbone="small_cnn", backbone_weights=None, cnn_filters=16,
                 cnn_blocks=3, width=64, temporal="transformer", num_heads=4, num_layers=1, dropout=0.1,
                 modality_heads=False, **kwargs):
        super().__init__(**kwargs)
        self._set_arguments(
            num_frames=num_frames, face_size=face_size, backbone=backbone,
            backbone_weights=backbone_weights, cnn_filters=cnn_filters, cnn_blocks=cnn_blocks, width=width,
            temporal=temporal, num_heads=num_heads, num_layers=num_layers, dropout=dropout,
            modality_heads=modality_heads,
        )
        self._make_parts()


@register("audio_only")
@keras.saving.register_keras_serializable(package="msa_tf")
class AudioOnlyDetector(DeepfakeDetector):
    """The audio part of `AVDetector` alone: the baseline that cannot see.

    The log-mel goes through the same `AudioEncoder` (one token per video frame);
    the time mean of its tokens goes to the `label` head (and to an `audio_label`
    head with `modality_heads`). `frames` are ignored.

    Args:
        num_frames: tokens per clip (the frames of the clips).
        mel_steps, n_mels, cnn_filters, cnn_blocks, width, dropout: as for
            `AVDetector`.
        modality_heads: also output `audio_label`.

    Call arguments:
        inputs: dict with `mel` float32 `(batch, mel_steps, n_mels)`; other keys are
            ignored.
        training: Python boolean: dropout, batch statistics.

    Returns `{"label": float32 (batch, 1)}` (plus `"audio_label"`), probabilities.

    Example:
    >>> model = AudioOnlyDetector(num_frames=3, mel_steps=9, n_mels=4, width=8,
    ...                           cnn_filters=4, cnn_blocks=2)
    >>> tuple(model({"mel": np.zeros((2, 9, 4))})["label"].shape)
    (2, 1)
    """

    modalities = ("audio",)

    def __init__(self, num_frames, mel_steps, n_mels, cnn_filters=16, cnn_blocks=3, width=64, dropout=0.1,
                 modality_heads=False, **kwargs):
        super().__init__(**kwargs)
        self._set_arguments(
            num_frames=num_frames, mel_steps=mel_steps, n_mels=n_mels, cnn_filters=cnn_filters,
            cnn_blocks=cnn_blocks, width=width, dropout=dropout, modality_heads=modality_heads,
        )
        self._make_parts()
