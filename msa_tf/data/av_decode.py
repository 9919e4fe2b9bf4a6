"""Decoding audio-visual clips: sampled video frames (OpenCV) and the audio of the same window.

A clip is read as a fixed **window** of `clip_seconds` seconds: `num_frames` frames
evenly spaced in it (frame `k` at `start + (k + 0.5) * clip_seconds / num_frames`
seconds) and its audio resampled to `sample_rate`, zero-padded where the clip ends
before the window does. Where the window starts is the frame `sampling`:

- `"uniform"`: at 0 s (the whole clip when it is `clip_seconds` long);
- `"random"`: at a random time that keeps the window inside the clip (training jitter);
- `"start_at"`: at `start_at` seconds.

Audio comes from a WAV (or any file `librosa.load` reads) when the record names one,
else from the MP4's own audio track, decoded by the ffmpeg binary that `imageio-ffmpeg`
ships. A file that cannot be used raises `BadClipError` (a `ValueError`) naming it:
an unreadable or truncated video, a clip with fewer frames than `num_frames` or without
audio.

Example:
>>> window = clip_window(duration=2.0, clip_seconds=1.0, sampling="start_at", start_at=0.5)
>>> window, frame_times(window, 1.0, 4)
(0.5, array([0.625, 0.875, 1.125, 1.375]))
"""

import os
import subprocess

import cv2
import numpy as np

from msa_tf.validation import check_choice

SAMPLINGS = ("uniform", "random", "start_at")


class BadClipError(ValueError):
    """A clip that cannot be decoded; the message names its file and why."""


def clip_window(duration, clip_seconds, sampling, start_at=0.0, rng=None):
    """The start in seconds of the `clip_seconds` window of a clip `duration` seconds long."""
    check_choice("sampling", sampling, SAMPLINGS)
    latest = max(duration - clip_seconds, 0.0)
    if sampling == "uniform":
        return 0.0
    if sampling == "random":
        return float(rng.uniform(0.0, latest)) if latest > 0 else 0.0
    return float(min(start_at, latest))


def frame_times(start, clip_seconds, num_frames):
    """The times (s) of `num_frames` frames evenly spaced in a window."""
    return start + (np.arange(num_frames) + 0.5) * clip_seconds / num_frames


def video_info(path):
    """`(frame_count, fps)` of the video at `path` from its header; `BadClipError` if
    OpenCV cannot open it."""
    capture = cv2.VideoCapture(os.fspath(path))
    try:
        if not capture.isOpened():
            raise BadClipError(f"{os.fspath(path)!r}: OpenCV cannot open this video")
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(capture.get(cv2.CAP_PROP_FPS))
    finally:
        capture.release()
    if count < 1 or not fps > 0:
        raise BadClipError(f"{os.fspath(path)!r}: the video has no frames (frame count {count}, "
                           f"{fps} fps)")
    return count, fps


def read_frames(path, times, info=None):
    """The RGB uint8 frames `(len(times), height, width, 3)` shown at `times` (s).

    Frames are decoded in order (`grab` skips the ones not needed); a video that
    ends early or is truncated raises `BadClipError`. `info` is the video's
    `video_info` where the caller has it.
    """
    count, fps = info or video_info(path)
    wanted = np.minimum(np.floor(np.asarray(times) * fps).astype(int), count - 1)
    if len(np.unique(wanted)) < len(wanted):
        raise BadClipError(f"{os.fspath(path)!r}: {count} frames at {fps:g} fps are fewer than "
                           f"the {len(wanted)} frames to sample from the window")
    capture = cv2.VideoCapture(os.fspath(path))
    frames, index = [], 0
    try:
        for target in wanted:
            while index < target:
                if not capture.grab():
                    break
                index += 1
            ok, frame = capture.read()
            if not ok:
                raise BadClipError(f"{os.fspath(path)!r}: the video ends at frame {index} of the "
                                   f"{count} its header declares (truncated or unreadable)")
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            index += 1
    finally:
        capture.release()
    return np.stack(frames)


def _ffmpeg_audio(path, sample_rate):
    """The mono float32 audio track of a media file at `sample_rate`, decoded by ffmpeg."""
    import imageio_ffmpeg

    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-i", os.fspath(path),
               "-vn", "-ac", "1", "-ar", str(sample_rate), "-f", "f32le", "-"]
    result = subprocess.run(command, capture_output=True, check=False)
    audio = np.frombuffer(result.stdout, np.float32)
    if result.returncode != 0 or audio.size == 0:
        reason = result.stderr.decode(errors="replace").strip().splitlines()
        detail = reason[-1] if reason else "the file has no audio track"
        raise BadClipError(f"{os.fspath(path)!r}: no audio could be decoded ({detail})")
    return audio.copy()


def read_audio(path, sample_rate):
    """The mono float32 audio of `path` at `sample_rate`: librosa for audio files, ffmpeg
    for the audio track of a video (`.mp4`, `.mov`, `.avi`, `.mkv`, `.webm`)."""
    if os.path.splitext(os.fspath(path))[1].lower() in (".mp4", ".mov", ".avi", ".mkv", ".webm"):
        return _ffmpeg_audio(path, sample_rate)
    import librosa

    if not os.path.isfile(path):
        raise BadClipError(f"{os.fspath(path)!r}: the audio file is missing")
    try:
        audio, _ = librosa.load(os.fspath(path), sr=sample_rate, mono=True)
    except Exception as error:  # soundfile and audioread raise their own error types
        raise BadClipError(f"{os.fspath(path)!r}: cannot read audio ({error})") from None
    if audio.size == 0:
        raise BadClipError(f"{os.fspath(path)!r}: the audio file is empty")
    return audio.astype(np.float32)


def audio_window(audio, sample_rate, start, clip_seconds):
    """The samples of `audio` in `[start, start + clip_seconds)` s, zero-padded to the
    window's length."""
    first, length = int(round(start * sample_rate)), int(round(clip_seconds * sample_rate))
    window = audio[first:first + length]
    return np.pad(window, (0, length - len(window)))
