import csv
import json
import math
import os
import subprocess

import cv2
import imageio_ffmpeg
import numpy as np
import pytest
import soundfile

from generators.av_clips import CATEGORIES, AVClipGenerator
from generators.av_files import COLUMNS, clip_paths, write_clips

ONLY_TRAIN = {"train": 12, "valid": 0, "test": 0}


def frame_rms(audio, num_frames):
    return np.sqrt((audio.reshape(num_frames, -1) ** 2).mean(axis=1))


def sync(clip):
    """The correlation of the drawn mouth's opening with the audio's RMS per frame."""
    mouth = clip["mouth_opening"]
    return np.corrcoef(mouth, frame_rms(clip["audio"], len(mouth)))[0, 1]


def median_f0(audio, rate):
    """The median f0 (Hz) of the loud 40 ms frames, by autocorrelation (60 to 400 Hz)."""
    frames = audio[:len(audio) // 640 * 640].reshape(-1, 640)
    energy = (frames**2).mean(axis=1)
    estimates = []
    for frame in frames[energy > 0.25 * energy.max()]:
        correlation = np.correlate(frame, frame, "full")[len(frame) - 1:]
        low, high = rate // 400, rate // 60
        estimates.append(rate / (low + np.argmax(correlation[low:high])))
    return float(np.median(estimates))


def clips_and_sources(generator, split="train"):
    return [(generator.clip(split, i), generator.clip(split, i, manipulated=False))
            for i in range(generator.num_samples[split])]


@pytest.fixture(scope="module")
def lip_sync_clips():
    generator = AVClipGenerator(num_samples=ONLY_TRAIN, duration=2.0, image_size=32, fake_kinds=("lip_sync",),
                                seed=4)
    return clips_and_sources(generator)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    generator = AVClipGenerator(num_samples={"train": 4, "valid": 0, "test": 2}, duration=0.6, image_size=48,
                                partial_fraction=0.5, seed=2)
    out = tmp_path_factory.mktemp("av_clips")
    summary = write_clips(generator, out, with_audio_track=True, progress=False)
    return generator, out, summary


def test_a_clip_depends_on_its_seed_split_and_index_only():
    generator = AVClipGenerator(num_samples=3, duration=0.4, image_size=32, seed=7, partial_fraction=0.5)
    later, first, again = (generator.clip(*key) for key in (("train", 2), ("train", 0), ("train", 2)))
    fresh = AVClipGenerator(**generator.to_dict()).clip("train", 2)
    for key in ("video", "audio", "mouth_opening", "face_box"):
        np.testing.assert_array_equal(later[key], again[key])
        np.testing.assert_array_equal(later[key], fresh[key])
        assert not np.array_equal(later[key], first[key]), key
    assert not np.array_equal(generator.clip("test", 2)["video"], later["video"])
    other_seed = AVClipGenerator(**dict(generator.to_dict(), seed=8)).clip("train", 2)
    assert not np.array_equal(other_seed["audio"], later["audio"])


def test_a_clip_has_the_documented_shapes_types_and_ranges(files):
    generator, _, _ = files
    clip = generator.clip("test", 1)
    assert clip["video"].shape == (15, 48, 48, 3) and clip["video"].dtype == np.uint8
    assert clip["audio"].shape == (9600,) and clip["audio"].dtype == np.float32
    assert 0.05 < np.abs(clip["audio"]).max() <= 1
    assert clip["mouth_opening"].shape == (15,) and clip["mouth_opening"].dtype == np.float32
    assert clip["mouth_opening"].min() >= 0 and 0.1 < clip["mouth_opening"].max() <= 1
    boxes = clip["face_box"]
    assert boxes.shape == (15, 4) and boxes.dtype == np.float32
    assert (boxes[:, :2] > 0).all() and (boxes[:, 2:] < 48).all()
    assert ((boxes[:, 2] - boxes[:, 0]) > 0.3 * 48).all()
    labels = generator.labels("test", 1)
    assert {key: clip[key] for key in labels} == labels


def test_labels_follow_the_categories_and_the_fake_kinds():
    generator = AVClipGenerator(num_samples=400, fake_fraction=0.5, partial_fraction=0.5)
    labels = [generator.labels("valid", i) for i in range(400)]
    counts = {category: sum(row["category"] == category for row in labels) for category in CATEGORIES}
    assert counts["A"] == sum(row["label"] == 0 for row in labels)
    assert 160 < counts["A"] < 240 and min(counts.values()) > 30, counts
    flags = {"A": (0, 0, 0), "B": (1, 0, 1), "C": (1, 1, 0), "D": (1, 1, 1), "E": (1, 0, 0)}
    for row in labels:
        assert (row["label"], row["video_label"], row["audio_label"]) == flags[row["category"]]
        assert ("face_blend" in row["method"]) == bool(row["video_label"])
        assert (row["method"].startswith("lip_sync")) == (row["category"] == "E")
        if row["label"] == 0:
            assert row["method"] == "real" and row["fake_segments"] == []
        for start, stop in row["fake_segments"]:
            assert 0 <= start < stop <= 2.0 and 0.5 <= stop - start <= 1.5
    partial = sum(bool(row["fake_segments"]) for row in labels) / (400 - counts["A"])
    assert 0.4 < partial < 0.6
    lip_sync_only = AVClipGenerator(num_samples=100, fake_kinds=["lip_sync"], fake_fraction=0.7)
    categories = [lip_sync_only.labels("train", i)["category"] for i in range(100)]
    assert set(categories) == {"A", "E"} and categories.count("E") > 55


def test_a_fake_is_made_from_the_real_clip_it_replaces():
    real = AVClipGenerator(num_samples=6, duration=0.4, image_size=32, fake_fraction=0.0, seed=5)
    half = AVClipGenerator(num_samples=6, duration=0.4, image_size=32, fake_fraction=0.5, seed=5)
    fakes = [i for i in range(6) if half.labels("train", i)["label"] == 1]
    reals = [i for i in range(6) if half.labels("train", i)["label"] == 0]
    assert fakes and reals
    for index, manipulated in ((fakes[0], False), (reals[0], True)):
        source, clip = half.clip("train", index, manipulated=manipulated), real.clip("train", index)
        np.testing.assert_array_equal(source["video"], clip["video"])
        np.testing.assert_array_equal(source["audio"], clip["audio"])
        assert source["category"] == "A"


def test_in_real_clips_the_mouth_follows_the_voice_and_in_lip_sync_fakes_it_does_not(lip_sync_clips):
    real = [sync(clip) for clip, _ in lip_sync_clips if clip["category"] == "A"]
    fake = [sync(clip) for clip, _ in lip_sync_clips if clip["category"] == "E"]
    assert len(real) >= 4 and len(fake) >= 4
    assert min(real) > 0.8, real
    assert np.mean(fake) < 0.2 and max(fake) < 0.6, fake


def test_each_modality_of_a_lip_sync_fake_is_exactly_a_real_one(lip_sync_clips):
    sources = [source["audio"] for _, source in lip_sync_clips]
    methods = set()
    for index, (clip, source) in enumerate(lip_sync_clips):
        if clip["category"] != "E":
            continue
        methods.add(clip["method"])
        np.testing.assert_array_equal(clip["video"], source["video"])
        if clip["method"] == "lip_sync_shift":
            spectrum = np.fft.rfft(clip["audio"]) * np.conj(np.fft.rfft(source["audio"]))
            shift = int(np.argmax(np.fft.irfft(spectrum, len(clip["audio"]))))
            assert 0.3 * 16000 <= shift <= 0.8 * 16000
            np.testing.assert_array_equal(clip["audio"], np.roll(source["audio"], shift))
        else:
            matches = [j for j, audio in enumerate(sources) if np.array_equal(audio, clip["audio"])]
            assert len(matches) == 1 and matches[0] != index
    assert methods == {"lip_sync_shift", "lip_sync_swap"}


def test_voice_fakes_change_the_voice_but_keep_the_picture_and_the_sync():
    generator = AVClipGenerator(num_samples={"train": 4, "valid": 0, "test": 0}, duration=1.0, image_size=32,
                                fake_kinds=("voice",), fake_fraction=1.0, seed=3)
    methods = []
    for clip, source in clips_and_sources(generator):
        methods.append(clip["method"])
        np.testing.assert_array_equal(clip["video"], source["video"])
        assert sync(clip) > 0.7
        assert np.corrcoef(clip["audio"], source["audio"])[0, 1] < 0.5
        octaves = math.log2(median_f0(clip["audio"], 16000) / median_f0(source["audio"], 16000))
        if clip["method"] == "pitch_shift":
            assert 0.2 < abs(octaves) < 0.7, octaves  # shifts of 3 to 7 semitones
    assert set(methods) == {"pitch_shift", "vocoder"}


def test_a_face_blend_changes_only_the_face_and_only_in_its_fake_segment():
    generator = AVClipGenerator(num_samples={"train": 4, "valid": 0, "test": 0}, duration=0.6, image_size=48,
                                fake_kinds=("face",), fake_fraction=1.0, partial_fraction=0.5, seed=0)
    partial = 0
    for clip, source in clips_and_sources(generator):
        assert clip["category"] == "C" and clip["method"] == "face_blend"
        np.testing.assert_array_equal(clip["audio"], source["audio"])
        changed = np.abs(clip["video"].astype(int) - source["video"]).max(axis=3) > 0
        rows, cols = np.mgrid[0:48, 0:48]
        for t, (x0, y0, x1, y1) in enumerate(clip["face_box"]):
            outside = (cols < x0 - 2) | (cols > x1 + 2) | (rows < y0 - 2) | (rows > y1 + 2)
            assert not (changed[t] & outside).any()
        segments = clip["fake_segments"] or [[0, 0.6]]
        fake_frames = np.zeros(15, bool)
        for start, stop in segments:
            fake_frames[round(start * 25):round(stop * 25)] = True
        partial += bool(clip["fake_segments"])
        assert not changed[~fake_frames].any()
        assert changed[fake_frames].mean(axis=(1, 2)).min() > 0.05  # a visible region in every fake frame
    assert partial == 2


def test_the_video_shows_the_mouth_opening():
    generator = AVClipGenerator(num_samples=6, duration=1.0, image_size=48, fake_fraction=0.0, seed=2)
    correlations = []
    for clip in (generator.clip("train", i) for i in range(6)):
        areas = []
        for frame, (x0, y0, x1, y1) in zip(clip["video"].astype(np.float32), clip["face_box"]):
            height, width = y1 - y0, x1 - x0
            mouth = frame[int(y0 + 0.66 * height):int(y0 + 0.98 * height),
                          int(x0 + 0.2 * width):int(x1 - 0.2 * width)]
            skin = np.median(mouth.reshape(-1, 3), axis=0)
            areas.append((np.linalg.norm(mouth - skin, axis=-1) > 40).sum())
        correlations.append(np.corrcoef(areas, clip["mouth_opening"])[0, 1])
    assert np.median(correlations) > 0.7, correlations


def test_the_haar_cascade_finds_the_drawn_face():
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    generator = AVClipGenerator(num_samples=4, duration=0.4, image_size=96, fake_fraction=0.0, seed=1)
    found = []
    for index in range(4):
        clip = generator.clip("valid", index)
        for frame, (x0, y0, x1, y1) in zip(clip["video"][::3], clip["face_box"][::3]):
            faces = cascade.detectMultiScale(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), 1.1, 3)
            centres = [(x + w / 2, y + h / 2) for x, y, w, h in faces]
            found.append(any(x0 < cx < x1 and y0 < cy < y1 for cx, cy in centres))
    assert np.mean(found) >= 0.75, found


def test_written_clips_read_back_as_generated(files):
    generator, out, summary = files
    assert summary["written"] == 6 and summary["skipped"] == 0
    with open(os.path.join(out, "labels.csv"), newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == COLUMNS and len(rows) == 6
    assert summary["categories"] == {c: sum(r["category"] == c for r in rows) for c in summary["categories"]}
    assert {(r["split"], r["file"]) for r in rows} >= {("test", "clips/test/test_00001.mp4")}
    with open(os.path.join(out, "metadata.json")) as handle:
        assert json.load(handle) == {"kind": "av_clips", "config": generator.to_dict()}
    for row in rows:
        index = int(row["video_id"].split("_")[1])
        clip = generator.clip(row["split"], index)
        labels = {k: v for k, v in clip.items() if k in COLUMNS}
        assert {k: json.loads(row[k]) if k == "fake_segments" else row[k] for k in labels} == {
            k: v if isinstance(v, list) else str(v) for k, v in labels.items()}
        capture = cv2.VideoCapture(os.path.join(out, row["file"]))
        assert (capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (48, 48)
        frames = []
        while (frame := capture.read()[1]) is not None:
            frames.append(frame[..., ::-1])
        assert len(frames) == int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 15
        assert np.abs(np.array(frames, np.float32) - clip["video"]).mean() < 6  # MPEG-4 is lossy
        audio, rate = soundfile.read(os.path.join(out, row["audio_file"]), dtype="float32")
        assert rate == 16000 and soundfile.info(os.path.join(out, row["audio_file"])).subtype == "PCM_16"
        np.testing.assert_allclose(audio, clip["audio"], atol=1 / 32768)
    muxed = clip_paths(out, "test", 1, with_audio_track=True)["av"]
    probe = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", muxed],
                           capture_output=True, text=True, check=False)
    assert "Video: mpeg4" in probe.stderr and "Audio: aac" in probe.stderr
    names = [name for _, _, found in os.walk(out) for name in found]
    assert len(names) == 2 + 6 * 3 and not [name for name in names if "tmp" in name]


def test_a_rerun_writes_only_the_missing_clips_and_refuses_another_config(tmp_path):
    generator = AVClipGenerator(num_samples={"train": 3, "valid": 0, "test": 0}, duration=0.2, image_size=32)
    write_clips(generator, tmp_path, progress=False)
    paths = [clip_paths(tmp_path, "train", i) for i in range(3)]
    before = [os.stat(p["video"]).st_mtime_ns for p in paths]
    os.remove(paths[1]["audio"])
    with open(os.path.join(tmp_path, "clips", "train", ".tmp-train_00001.mp4"), "wb") as handle:
        handle.write(b"a killed run's half-written file")
    summary = write_clips(generator, tmp_path, progress=False)
    assert (summary["written"], summary["skipped"]) == (1, 2)
    after = [os.stat(p["video"]).st_mtime_ns for p in paths]
    assert after[0] == before[0] and after[2] == before[2] and after[1] != before[1]
    assert sorted(os.listdir(tmp_path / "clips" / "train")) == sorted(
        os.path.basename(p[k]) for p in paths for k in ("video", "audio"))
    other = AVClipGenerator(**dict(generator.to_dict(), seed=1))
    with pytest.raises(ValueError, match=r"`out` must be a new folder or one written with the same settings; "
                                         r"received out=.*, which holds clips of another config "
                                         r"\(differs in \['seed'\]\)"):
        write_clips(other, tmp_path, progress=False)


def test_a_clip_killed_while_written_leaves_no_file_under_its_final_name(tmp_path, monkeypatch):
    generator = AVClipGenerator(num_samples={"train": 2, "valid": 0, "test": 0}, duration=0.2, image_size=32)

    def killed(path, video, fps):
        with open(path, "wb") as handle:
            handle.write(b"the first bytes of an MP4")
        raise KeyboardInterrupt

    monkeypatch.setattr("generators.av_files.write_video", killed)
    with pytest.raises(KeyboardInterrupt):
        write_clips(generator, tmp_path, progress=False)
    assert os.listdir(tmp_path / "clips" / "train") == ["train_00000.wav"]
    monkeypatch.undo()
    assert write_clips(generator, tmp_path, progress=False)["written"] == 2
    assert int(cv2.VideoCapture(clip_paths(tmp_path, "train", 0)["video"]).get(cv2.CAP_PROP_FRAME_COUNT)) == 5


@pytest.mark.parametrize("arguments, message", [
    ({"num_samples": -1}, r"`num_samples` must be an integer in \[0, \d+\]; received num_samples=-1"),
    ({"num_samples": {"train": 2}}, r"`num_samples` must be one value or a dict with the keys"),
    ({"fps": 0}, r"`fps` must be an integer in \[1, 120\]; received fps=0"),
    ({"duration": 0.05}, r"`duration` must be a finite number in \[0.1, 60\]; received duration=0.05"),
    ({"duration": 0.1, "fps": 10}, r"`duration` must be at least 2 frames long \(>= 0.15 s at fps=10\)"),
    ({"image_size": 16}, r"`image_size` must be an integer in \[32, 1024\]; received image_size=16"),
    ({"duration": 60, "image_size": 1024}, r"`image_size` must be at most 211 for clips of 1500 frames \(a "
                                           r"clip holds at most 67108864 pixels\); received image_size=1024"),
    ({"sample_rate": 1000}, r"`sample_rate` must be an integer in \[8000, 48000\]; received "
                            r"sample_rate=1000"),
    ({"fake_kinds": ("lipsync",)}, r"`fake_kinds` must be a non-empty list of distinct kinds of "
                                   r"\('lip_sync', 'face', 'voice'\); received fake_kinds=\('lipsync',\)"),
    ({"fake_kinds": "face"}, r"received fake_kinds='face'"),
    ({"fake_kinds": []}, r"received fake_kinds=\[\]"),
    ({"fake_fraction": 1.5}, r"`fake_fraction` must be a number in \[0, 1\]; received fake_fraction=1.5"),
    ({"partial_fraction": float("nan")}, r"received partial_fraction=nan"),
])
def test_bad_arguments_name_the_argument_and_what_is_accepted(arguments, message):
    with pytest.raises(ValueError, match=message):
        AVClipGenerator(**arguments)


def test_bad_clip_requests_name_the_argument(tmp_path):
    generator = AVClipGenerator(num_samples=2)
    with pytest.raises(ValueError, match=r"`split` must be one of 'train', 'valid', 'test'; received "
                                         r"split='training'"):
        generator.labels("training", 0)
    with pytest.raises(ValueError, match=r"`index` must be an integer in \[0, num_samples\['test'\] - 1 = "
                                         r"1\]; received index=2"):
        generator.clip("test", 2)
    empty = AVClipGenerator(num_samples={"train": 2, "valid": 0, "test": 1})
    with pytest.raises(ValueError, match=r"`split` must be a split with clips \(num_samples\['valid'\] = "
                                         r"0\); received split='valid'"):
        empty.labels("valid", 0)
    with pytest.raises(ValueError, match=r"`generator` must be an AVClipGenerator; received generator=3"):
        write_clips(3, tmp_path)
    (tmp_path / "a_file").write_text("")
    with pytest.raises(ValueError, match=r"`out` must be a folder for the clips; received out=.*a_file', "
                                         r"which is a file"):
        write_clips(generator, tmp_path / "a_file")
