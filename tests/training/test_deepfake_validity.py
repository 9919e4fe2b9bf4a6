"""Validity of the detectors at tiny size, on generated clips through the whole pipeline
(MP4 + WAV files -> pre-extracted shards -> `fit`):

- lip-sync fakes only (each modality alone is real): the `cross_modal` audio-visual
  detector reaches AUC >= 0.9 while `video_only` and `audio_only` stay <= 0.65;
- face-manipulation fakes: `video_only` reaches AUC >= 0.9.
"""

import keras
import numpy as np

from msa_tf import models
from msa_tf.data import get_source
from msa_tf.metrics.detection import detection_metrics
from msa_tf.validation import constructor_arguments

# The mouth (the lower half of the face box, 16 x 16) of 16 frames over one second, and
# a 32-band log-mel spectrogram at 20 ms hops.
LIP_FEATURES = dict(num_frames=16, face_size=16, face_region="mouth", clip_seconds=1.0, n_mels=32,
                    hop_length=320, n_fft=640)
SMALL = dict(width=32, cnn_filters=8, dropout=0.0)


def clips(tmp_path_factory, name, fake_kinds, num_train, features):
    generator = {"num_samples": {"train": num_train, "valid": 0, "test": 100}, "duration": 1.0,
                 "image_size": 48, "fake_kinds": fake_kinds, "seed": 1}
    root = tmp_path_factory.mktemp(name)
    return get_source("av_synthetic", path=str(root / "clips"), generator=generator,
                      preextracted=str(root / "features"), **features)


def test_auc(source, name, epochs, **arguments):
    """The test AUC of `name` trained for `epochs` on the source's training clips."""
    keras.utils.set_random_seed(0)
    accepted = constructor_arguments(models.model_class(name))
    data = {key: value for key, value in source.model_arguments().items() if key in accepted}
    model = models.get(name, **data, **SMALL, **arguments)
    model.compile(keras.optimizers.AdamW(2e-3), loss={"label": "binary_crossentropy"}, jit_compile=False)
    train = source.dataset("train", 16, shuffle=True).map(lambda x, y: (x, {"label": y["label"]})).cache()
    model.fit(train, epochs=epochs, verbose=0)
    labels, scores = [], []
    for inputs, targets in source.dataset("test", 50):
        scores.append(np.asarray(model.predict_on_batch(inputs)["label"])[:, 0])
        labels.append(targets["label"].numpy()[:, 0])
    return detection_metrics(np.concatenate(labels), np.concatenate(scores))["auc"]


test_auc.__test__ = False  # a helper, not a test


def test_only_the_cross_modal_detector_finds_lip_sync_fakes(tmp_path_factory):
    source = clips(tmp_path_factory, "lip_sync", ["lip_sync"], 600, LIP_FEATURES)
    aucs = {"cross_modal": test_auc(source, "av_detector", 12, temporal="avg", fusion="cross_modal",
                                    num_heads=2),
            "video_only": test_auc(source, "video_only", 6, temporal="avg"),
            "audio_only": test_auc(source, "audio_only", 6)}
    print(aucs)
    assert aucs["cross_modal"] >= 0.9, aucs
    assert aucs["video_only"] <= 0.65 and aucs["audio_only"] <= 0.65, aucs


def test_the_video_detector_finds_face_manipulation(tmp_path_factory):
    features = dict(LIP_FEATURES, face_size=32, face_region="face", num_frames=4)
    source = clips(tmp_path_factory, "face", ["face"], 600, features)
    auc = test_auc(source, "video_only", 10, temporal="avg")
    print(auc)
    assert auc >= 0.9
