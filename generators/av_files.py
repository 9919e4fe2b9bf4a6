"""Writing synthetic talking-face clips to a plain clip folder: `write_clips`.

The folder that `AVClipGenerator` clips are written to, the layout that the `folder`
reader of `msa_tf.data` reads:

- `clips/<split>/<split>_<index:05d>.mp4`: the video (MPEG-4 Part 2, fourcc `mp4v`,
  written by `cv2.VideoWriter`), no sound;
- `clips/<split>/<split>_<index:05d>.wav`: the audio, mono 16-bit PCM at the
  generator's sample rate;
- with `with_audio_track=True` also `clips/<split>/<split>_<index:05d>_av.mp4`: the
  same video with the audio as an AAC track (muxed by the ffmpeg of `imageio_ffmpeg`);
- `labels.csv`: one row per clip whose files are complete, the columns `COLUMNS`
  (`file` and `audio_file` relative to the folder, `fake_segments` as JSON);
- `metadata.json`: `{"kind": "av_clips", "config": the generator's arguments}`.

Each file of a clip is written under a temporary name (`.tmp-<name>`) in the same
folder and renamed when complete, so a killed run never leaves a half-written clip
under its final name. A re-run skips clips whose files all exist and writes the rest;
`metadata.json` is written first, so a folder holding another config's clips is refused
rather than mixed, and `labels.csv` is rewritten at the end.

Example:
>>> import tempfile
>>> gen = AVClipGenerator(num_samples={"train": 2, "valid": 0, "test": 1}, duration=0.2, image_size=32)
>>> summary = write_clips(gen, tempfile.mkdtemp(), progress=False)
>>> summary["written"], sum(summary["categories"].values())
(3, 3)
"""

import collections
import csv
import json
import os
import subprocess

import cv2
import imageio_ffmpeg
import soundfile
from tqdm import tqdm

from generators.av_clips import AVClipGenerator
from generators.multimodal import SPLITS
from generators.validation import check_bool, check_path, invalid

__all__ = ["COLUMNS", "clip_paths", "write_clips", "write_video"]

COLUMNS = ("file", "audio_file", "label", "video_label", "audio_label", "category", "method",
           "fake_segments", "video_id", "split")
METADATA, LABELS = "metadata.json", "labels.csv"
KIND = "av_clips"
TEMPORARY_PREFIX = ".tmp-"


def clip_paths(out, split, index, with_audio_track=False):
    """`{"video", "audio"[, "av"]}`: the final paths of clip `index` of `split` in `out`.

    >>> clip_paths("data", "test", 7)["audio"]
    'data/clips/test/test_00007.wav'
    """
    stem = os.path.join(out, "clips", split, f"{split}_{index:05d}")
    paths = {"video": stem + ".mp4", "audio": stem + ".wav"}
    if with_audio_track:
        paths["av"] = stem + "_av.mp4"
    return paths


def write_clips(generator, out, *, splits=tuple(SPLITS), with_audio_track=False, progress=True):
    """Writes the clips of `splits` of `generator` (an `AVClipGenerator`) to the folder `out`.

    Returns `{"written": clips written now, "skipped": complete clips found, "categories":
    {category: clips of `splits`}}`. Raises `ValueError` for a folder holding another
    config's clips, `RuntimeError` when OpenCV cannot write MP4 or ffmpeg fails.
    """
    if not isinstance(generator, AVClipGenerator):
        raise invalid("generator", generator, "an AVClipGenerator")
    out = check_path("out", out, "a folder for the clips")
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"`out` must be a folder for the clips; received out={out!r}, which is a file")
    if isinstance(splits, str) or not all(split in SPLITS for split in splits):
        raise invalid("splits", splits, f"a list of splits of {tuple(SPLITS)}")
    check_bool("with_audio_track", with_audio_track)
    check_bool("progress", progress)
    _claim_folder(out, {"kind": KIND, "config": generator.to_dict()})
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe() if with_audio_track else None
    counts = {"written": 0, "skipped": 0}
    categories = collections.Counter()
    total = sum(generator.num_samples[split] for split in splits)
    with tqdm(total=total, desc="av clips", unit="clip", disable=not progress) as bar:
        for split in splits:
            os.makedirs(os.path.join(out, "clips", split), exist_ok=True)
            for index in range(generator.num_samples[split]):
                paths = clip_paths(out, split, index, with_audio_track)
                if all(os.path.exists(path) for path in paths.values()):
                    counts["skipped"] += 1
                else:
                    _write_clip(generator, split, index, paths, ffmpeg)
                    counts["written"] += 1
                categories[generator.labels(split, index)["category"]] += 1
                bar.update()
    _write_labels(generator, out)
    return dict(counts, categories=dict(sorted(categories.items())))


def _claim_folder(out, metadata):
    """Writes `metadata.json` in a new folder, or checks that the one there is `metadata`."""
    path = os.path.join(out, METADATA)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            try:
                existing = json.load(handle)
            except json.JSONDecodeError as error:
                raise ValueError(f"`out` must be a new folder or one written by write_clips; received "
                                 f"out={out!r}, whose {METADATA} is not valid JSON ({error})") from None
        if existing != metadata:
            old, new = (m.get("config", {}) if isinstance(m, dict) else {} for m in (existing, metadata))
            differs = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k)) or ["kind"]
            raise ValueError(f"`out` must be a new folder or one written with the same settings; received "
                             f"out={out!r}, which holds clips of another config (differs in {differs})")
        return
    if os.path.isdir(os.path.join(out, "clips")) and os.listdir(os.path.join(out, "clips")):
        raise ValueError(f"`out` must be a new folder or one written by write_clips; received out={out!r}, "
                         f"which holds clips/ but no {METADATA}")
    os.makedirs(out, exist_ok=True)
    _write_atomically(path, lambda temporary: _dump_json(temporary, metadata))


def _temporary(path):
    folder, name = os.path.split(path)
    return os.path.join(folder, TEMPORARY_PREFIX + name)


def _write_atomically(path, write):
    """Calls `write(temporary path)` and renames the result to `path`; no temporary file stays."""
    temporary = _temporary(path)
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _dump_json(path, value):
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(value, handle, indent=2)


def _write_clip(generator, split, index, paths, ffmpeg):
    clip = generator.clip(split, index)
    _write_atomically(paths["audio"], lambda temporary: soundfile.write(
        temporary, clip["audio"], generator.sample_rate, subtype="PCM_16"))
    _write_atomically(paths["video"], lambda temporary: write_video(temporary, clip["video"], generator.fps))
    if "av" in paths:
        _write_atomically(paths["av"], lambda temporary: _mux(ffmpeg, paths["video"], paths["audio"],
                                                              temporary))


def write_video(path, video, fps):
    """Writes uint8 RGB frames `(T, H, W, 3)` to the MP4 file `path` (fourcc `mp4v`).

    >>> import numpy as np, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "grey.mp4")
    >>> write_video(path, np.full((3, 16, 16, 3), 128, np.uint8), fps=25)
    >>> int(cv2.VideoCapture(path).get(cv2.CAP_PROP_FRAME_COUNT))
    3
    """
    height, width = video.shape[1:3]
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write the MP4 file {path!r} (fourcc mp4v): its FFmpeg backend "
                           f"is missing (cv2.getBuildInformation() shows the video I/O backends)")
    try:
        for frame in video:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()


def _mux(ffmpeg, video, audio, path):
    """`video` with `audio` as its AAC track, the video stream copied, to the MP4 file `path`."""
    command = [ffmpeg, "-nostdin", "-y", "-loglevel", "error", "-i", video, "-i", audio, "-map", "0:v:0",
               "-map", "1:a:0", "-c:v", "copy", "-c:a", "aac", "-b:a", "96k", "-f", "mp4", path]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"ffmpeg could not mux {video!r} and {audio!r} (exit code {result.returncode}): "
                           f"{result.stderr.strip()[-500:]}")


def _write_labels(generator, out):
    """Writes `labels.csv`: a row for every clip of the folder whose files are complete."""
    rows = []
    for split in SPLITS:
        for index in range(generator.num_samples[split]):
            paths = clip_paths(out, split, index)
            if all(os.path.exists(path) for path in paths.values()):
                rows.append(_row(generator.labels(split, index), paths, out, split))

    def write(temporary):
        with open(temporary, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, COLUMNS)
            writer.writeheader()
            writer.writerows(rows)

    _write_atomically(os.path.join(out, LABELS), write)


def _row(labels, paths, out, split):
    relative = {key: os.path.relpath(path, out).replace(os.sep, "/") for key, path in paths.items()}
    return {"file": relative["video"], "audio_file": relative["audio"], "label": labels["label"],
            "video_label": labels["video_label"], "audio_label": labels["audio_label"],
            "category": labels["category"], "method": labels["method"],
            "fake_segments": json.dumps(labels["fake_segments"]), "video_id": labels["video_id"],
            "split": split}
