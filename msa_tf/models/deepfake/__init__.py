"""Audio-visual deepfake detectors. Importing this package registers them."""

from msa_tf.models.deepfake.av_detector import AudioOnlyDetector, AVDetector, VideoOnlyDetector
from msa_tf.models.deepfake.components import (
    AudioEncoder,
    AVFusion,
    ConvBlocks,
    DetectionHead,
    FrameEncoder,
    TemporalEncoder,
)

__all__ = [
    "AVDetector",
    "AVFusion",
    "AudioEncoder",
    "AudioOnlyDetector",
    "ConvBlocks",
    "DetectionHead",
    "FrameEncoder",
    "TemporalEncoder",
    "VideoOnlyDetector",
]
