"""The audio-visual pipeline on generated clip files: decoding, faces, spectrograms,
augmentation, pre-extraction, the sources and their bad-file handling."""

import csv
import dataclasses
import os
import shutil

import numpy as np
import pytest

from generators.av_clips import AVClipGenerator
from generators.av_files import write_clips, write_video
from msa_tf import cli
from msa_tf.data import get_source
from msa_tf.data.av_datasets import read_clip_records
from msa_tf.data.av_decode import BadClipError, clip_window, frame_times, read_audio, read_frames
from msa_tf.data.av_features import ClipFeatures, augment_audio, crop_faces
from msa_tf.data.av_shards import preextract, read_metadata

FEATURES = dict(num_frames=4, face_size=32, clip_seconds=0.8, n_mels=16)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Four clips per split, 64x64, 0.8 s at 25 fps, each with an MP4 that holds its audio."""
    root = tmp_path_factory.mktemp("av")
    generator = AVClipGenerator(num_samples=4, duration=0.8, image_size=64, fake_fraction=0.5, seed=3)
    write_clips(generator, root, with_audio_track=True, progress=False)
    return root


def records(root, split="train"):
    return read_clip_records(root).split(split)


def test_the_window_and_its_frame_times_follow_the_sampling():
    rng = np.random.default_rng(0)
    assert clip_window(3.0, 1.0, "uniform") == 0.0
    assert clip_window(3.0, 1.0, "start_at", start_at=5.0) == 2.0  # kept inside the clip
    starts = [clip_window(3.0, 1.0, "random", rng=rng) for _ in range(50)]
    assert 0 <= min(starts) < 0.5 and 1.5 < max(starts) <= 2.0
    np.testing.assert_allclose(frame_times(1.0, 2.0, 4), [1.25, 1.75, 2.25, 2.75])


def test_frames_are_those_shown_at_the_sampled_times(clips):
    record = records(clips)[0]
    generated = AVClipGenerator(num_samples=4, duration=0.8, image_size=64, seed=3).clip("train", 0)
    frames = read_frames(record.video_path, frame_times(0.0, 0.8, 4))  # frames 2, 7, 12, 17
    assert frames.shape == (4, 64, 64, 3) and frames.dtype == np.uint8
    errors = np.abs(frames.astype(float) - generated["video"][[2, 7, 12, 17]]).mean(axis=(1, 2, 3))
    assert errors.max() < 8  # mp4v compression only
    wrong = np.abs(frames.astype(float) - generated["video"][[0, 5, 10, 15]]).mean()
    assert wrong > errors.max()


def test_the_mp4_audio_track_is_the_wav(clips):
    record = records(clips)[0]
    wav = read_audio(record.audio_path, 16000)
    track = read_audio(record.video_path.replace(".mp4", "_av.mp4"), 16000)
    length = min(len(wav), len(track))
    envelope = [np.sqrt(np.convolve(a[:length] ** 2, np.ones(400) / 400, "valid")) for a in (wav, track)]
    assert abs(len(track) - len(wav)) < 2048  # AAC frames
    assert np.corrcoef(*envelope)[0, 1] > 0.95


def test_on_the_fly_and_pre_extracted_batches_are_the_same(clips, tmp_path):
    on_the_fly = get_source("av_clips", path=str(clips), **FEATURES)
    pre = get_source("av_clips", path=str(clips), preextracted=str(tmp_path / "features"), **FEATURES)
    (x1, y1), (x2, y2) = (next(iter(s.dataset("test", 8))) for s in (on_the_fly, pre))
    assert x1["frames"].shape == (4, 4, 32, 32, 3) and x1["mel"].shape == (4, 81, 16)
    for key in ("frames", "mel"):
        np.testing.assert_array_equal(x1[key].numpy(), x2[key].numpy())
    for key in ("label", "video_label", "audio_label"):
        np.testing.assert_array_equal(y1[key].numpy(), y2[key].numpy())
    expected = [[row["label"]] for row in on_the_fly.clips("test")]
    np.testing.assert_array_equal(y1["label"].numpy(), expected)
    frames, mel = x1["frames"].numpy(), x1["mel"].numpy()
    assert frames.min() >= 0 and frames.max() <= 1 and mel.min() >= -1 and mel.max() == 1
    report = pre.report
    assert report["clips"] == 12 and report["faces_found"] + report["centre_crops"] == 12
    assert report["faces_found"] >= 9  # the generator's faces are Haar-detectable
    # A second source reuses the folder; other settings pre-extract it again.
    before = os.path.getmtime(tmp_path / "features" / "metadata.json")
    assert get_source("av_clips", path=str(clips), preextracted=str(tmp_path / "features"),
                      **FEATURES).report == report
    assert os.path.getmtime(tmp_path / "features" / "metadata.json") == before
    again = get_source("av_clips", path=str(clips), preextracted=str(tmp_path / "features"),
                       **dict(FEATURES, n_mels=8))
    assert again.input_spec()["mel"] == ((81, 8), "float32") and again.report["clips"] == 12
    shards = get_source("av_shards", path=str(tmp_path / "features"))
    assert shards.model_arguments() == {"num_frames": 4, "face_size": 32, "mel_steps": 81, "n_mels": 8}


def test_faces_come_from_the_detector_or_the_centre(clips):
    record = records(clips)[0]
    box = (10, 6, 30, 30)
    features = ClipFeatures(**FEATURES, face_detector=lambda frame: box, face_margin=0.0)
    inputs, found = features.extract(record, detector=features.detector())
    frames = read_frames(record.video_path, frame_times(0.0, 0.8, 4))
    expected = crop_faces(frames, (10, 6, 30), 32, rng=None)
    assert found and np.array_equal(inputs["frames"], expected)
    centred, found = ClipFeatures(**FEATURES, face_detector="center").extract(record)
    assert not found and np.array_equal(centred["frames"], crop_faces(frames, None, 32, rng=None))


def test_augmentation_is_the_same_for_every_frame(clips):
    frames = read_frames(records(clips)[0].video_path, frame_times(0.0, 0.8, 4))
    settings = dict(flip=1.0, crop=0.0, brightness=0.2, contrast=0.0, saturation=0.0, jpeg_quality=100)
    features = ClipFeatures(**FEATURES, augment=settings)
    plain = crop_faces(frames, None, 32, None).astype(int)[:, :, ::-1]
    augmented = crop_faces(frames, None, 32, np.random.default_rng(1), features.augment).astype(int)
    inside = (plain > 60) & (plain < 190)  # not clipped at 0 or 255
    shifts = [np.unique((augmented - plain)[k][inside[k]]) for k in range(4)]
    assert all(len(shift) == 1 for shift in shifts) and len({int(s[0]) for s in shifts}) == 1
    assert shifts[0][0] != 0


def test_audio_augmentation_scales_shifts_and_adds_noise_as_set():
    audio = np.sin(np.linspace(0, 200, 8000)).astype(np.float32)
    off = dict(pitch_shift=0, time_shift=0, gain_db=0, noise_snr_db=0)
    gain = augment_audio(audio, 16000, np.random.default_rng(0), {**off, "gain_db": 6})
    loud = np.abs(audio) > 0.1
    ratio = gain[loud] / audio[loud]
    assert np.allclose(ratio, ratio[0], rtol=1e-5) and 0.5 < ratio[0] < 2.0 and ratio[0] != 1
    shifted = augment_audio(audio, 16000, np.random.default_rng(0), {**off, "time_shift": 0.1})
    lags = [k for k in range(-1600, 1601) if np.allclose(np.roll(audio, k), shifted)]
    assert len(lags) >= 1 and lags[0] != 0
    noisy = augment_audio(audio, 16000, np.random.default_rng(0), {**off, "noise_snr_db": 20})
    snr = 10 * np.log10(np.mean(audio**2) / np.mean((noisy - audio) ** 2))
    assert 19 < snr < 41


def test_the_log_mel_is_librosas_scaled_to_plus_minus_one():
    import librosa

    audio = np.random.default_rng(0).standard_normal(12800).astype(np.float32)
    features = ClipFeatures(**FEATURES)
    power = librosa.feature.melspectrogram(y=audio, sr=16000, n_fft=512, hop_length=160, n_mels=16)
    expected = librosa.power_to_db(power, ref=np.max, top_db=80.0).T / 40 + 1
    np.testing.assert_allclose(features.log_mel(audio), expected, atol=1e-4)
    assert features.log_mel(audio).shape == (features.mel_steps, 16)


def test_bad_settings_name_the_argument():
    with pytest.raises(ValueError, match="sampling"):
        ClipFeatures(sampling="middle")
    with pytest.raises(ValueError, match=r"augment.*'flp'.*did you mean 'flip'"):
        ClipFeatures(augment={"flp": 0.5})
    with pytest.raises(ValueError, match="face_detector"):
        ClipFeatures(face_detector="dlib")


@pytest.fixture()
def broken_clips(clips, tmp_path):
    """A copy of the clips with a truncated MP4, a missing WAV and a 2-frame clip."""
    root = tmp_path / "broken"
    shutil.copytree(clips, root)
    train_records = records(root)
    train = sorted(r.video_path for r in train_records)
    with open(train[0], "r+b") as handle:
        handle.truncate(os.path.getsize(train[0]) // 2)
    os.remove(train[1].replace(".mp4", ".wav"))
    short = AVClipGenerator(num_samples=1, duration=0.8, image_size=64).clip("train", 0)["video"][:2]
    write_video(train[2], short, 25)
    return root, train[:3], train_records


def test_bad_files_stop_before_training_or_are_skipped_and_listed(broken_clips, tmp_path):
    root, bad, train_records = broken_clips
    with pytest.raises(ValueError, match=r"train_0000[012]\.(mp4|wav)"):
        get_source("av_clips", path=str(root), **FEATURES).clips("train")
    source = get_source("av_clips", path=str(root), skip_bad_files=True, **FEATURES)
    skipped = {os.path.splitext(os.path.basename(path))[0]: reason
               for path, reason in source.report["skipped"]}
    assert set(skipped) == {os.path.splitext(os.path.basename(path))[0] for path in bad}
    assert "fewer than num_frames" in skipped["train_00002"]
    assert len(source.clips("train")) == 1
    batches = list(source.dataset("train", 4))
    assert sum(len(targets["label"]) for _, targets in batches) == 1
    metadata = preextract({"train": train_records}, ClipFeatures(**FEATURES), tmp_path / "out",
                          skip_bad_files=True, progress=False)
    assert len(metadata["report"]["skipped"]) == 3 and metadata["report"]["clips"] == 1
    with pytest.raises(BadClipError, match="truncated|cannot open"):
        preextract({"train": train_records}, ClipFeatures(**FEATURES), tmp_path / "out2", progress=False)
    assert not os.path.exists(tmp_path / "out2")  # nothing half-written


def test_a_video_without_an_audio_track_is_a_clear_error(clips):
    with pytest.raises(BadClipError, match=r"no audio could be decoded"):
        read_audio(records(clips)[0].video_path, 16000)  # the MP4 without its track


def test_the_preextract_command_writes_shards_and_reports(clips, tmp_path, capsys):
    out = tmp_path / "features"
    code = cli.main(["preextract", str(clips), "--out", str(out), "--set", "num_frames=4",
                     "--set", "face_size=32", "--set", "clip_seconds=0.8", "--set", "n_mels=16"])
    assert code == 0 and "wrote 12 clips" in capsys.readouterr().out
    assert read_metadata(out)["features"]["num_frames"] == 4
    assert cli.main(["preextract", str(clips), "--out", str(out), "--set", "num_frams=4"]) == 2
    assert "did you mean 'num_frames'" in capsys.readouterr().err
    assert cli.main(["preextract", str(clips), "--out", str(out)]) == 2  # not empty


def test_debug_keeps_a_few_clips_in_order_and_synthetic_clips_are_written_once(tmp_path):
    generator = {"num_samples": {"train": 10, "valid": 5, "test": 5}, "duration": 0.8, "image_size": 48}
    source = get_source("av_synthetic", path=str(tmp_path / "clips"), generator=generator, debug=True,
                        **FEATURES)
    assert [len(source.clips(split)) for split in ("train", "valid", "test")] == [8, 4, 4]
    with open(tmp_path / "clips" / "labels.csv") as handle:
        assert len(list(csv.DictReader(handle))) == 20
    first, second = (next(iter(source.dataset("train", 8, shuffle=True)))[0]["frames"].numpy()
                     for _ in range(2))
    np.testing.assert_array_equal(first, second)  # debug: no shuffling, no random windows
    before = os.path.getmtime(tmp_path / "clips" / "clips" / "train" / "train_00000.mp4")
    again = get_source("av_synthetic", path=str(tmp_path / "clips"), generator=generator, **FEATURES)
    assert len(again.clips("train")) == 10
    assert os.path.getmtime(tmp_path / "clips" / "clips" / "train" / "train_00000.mp4") == before


def test_features_settings_round_trip_as_json():
    features = ClipFeatures(**FEATURES, augment=True)
    settings = features.settings()
    assert ClipFeatures(**settings) == features
    assert dataclasses.asdict(features)["augment"]["flip"] == 0.5
