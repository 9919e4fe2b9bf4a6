"""From a decoded clip to model inputs: face crops, the log-mel spectrogram, augmentation.

`ClipFeatures(...)` holds the settings of the pipeline (frame count, face size,
sampling, spectrogram, face detector, augmentation); `extract(record, rng)` reads one
clip (`msa_tf.data.av_datasets.ClipRecord`) and returns `{"frames": uint8
(num_frames, face_size, face_size, 3), "mel": float32 (mel_steps, n_mels)}` and
whether a face was found. The model inputs of the contract are `frames / 255` and
`mel`.

**Faces.** A detector is a callable `detector(frame) -> (x, y, width, height) | None`
on an RGB uint8 frame: `"haar"` (OpenCV's frontal-face Haar cascade, the largest
face), `"center"` (no detection), or any callable (e.g. a DNN detector). A clip is
cropped with one square box, the median of the boxes found in 4 of its frames, enlarged by
`face_margin`; a clip in which no frame has a face is centre-cropped (a square of the
frame's shorter side), and `extract` says so, so that a report can count them.
`face_region="mouth"` keeps the box's lower half, stretched to a square: the lips at
twice the resolution, as lip-sync experts such as SyncNet read them.

**Spectrogram.** librosa's mel power spectrogram (`n_fft`, `hop_length`, `n_mels`,
centred frames: `mel_steps = round(clip_seconds * sample_rate) // hop_length + 1`),
in dB below the clip's loudest bin (`power_to_db(ref=np.max, top_db=80)`), scaled by
`db / 40 + 1` to [-1, 1].

**Augmentation** (training only; `augment` settings, `AUGMENT_DEFAULTS` for `True`)
is drawn once per clip, so that every frame gets the same flip, crop, colour jitter
and JPEG quality; the audio gets noise at a random SNR, a gain, a time shift and a
pitch shift (librosa). A strength of 0 turns a step off.
"""

import dataclasses
import functools
import os
import threading

import cv2
import numpy as np

from msa_tf.data import av_decode
from msa_tf.validation import (
    check_choice,
    check_number,
    check_positive_int,
    did_you_mean,
)

FACE_DETECTORS = ("haar", "center")
# The frames of a clip that the face detector reads (evenly spaced): one box serves them all.
DETECTED_FRAMES = 4
# What of the face box becomes the frames: all of it, or its lower half (lips).
FACE_REGIONS = ("face", "mouth")
# What `augment: true` means; a dict of some of these keys changes them.
AUGMENT_DEFAULTS = {
    "flip": 0.5,             # probability of a horizontal flip
    "crop": 0.1,             # the most cut from the crop box's side, as a fraction
    "brightness": 0.2,       # the largest brightness change, as a fraction of 255
    "contrast": 0.2,         # the largest relative contrast change
    "saturation": 0.2,       # the largest relative saturation change
    "jpeg_quality": 60,      # the lowest JPEG quality re-encoded (100: no re-encoding)
    "noise_snr_db": 20.0,    # the lowest SNR of added white noise (0: no noise)
    "gain_db": 6.0,          # the largest gain change in dB
    "time_shift": 0.05,      # the largest audio shift in seconds, either way
    "pitch_shift": 1.0,      # the largest pitch shift in semitones, either way
}


def haar_detector(min_size=24):
    """A detector with OpenCV's frontal-face Haar cascade: the largest face, or `None`.

    Each thread gets its own cascade: one shared by threads finds different faces."""
    path = os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml")
    local = threading.local()

    def detect(frame):
        if not hasattr(local, "cascade"):
            local.cascade = cv2.CascadeClassifier(path)
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        faces = local.cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=4,
                                               minSize=(min_size, min_size))
        if len(faces) == 0:
            return None
        return tuple(int(v) for v in max(faces, key=lambda box: box[2] * box[3]))

    return detect


def check_augment(augment):
    """`augment` (`False`/`None`, `True` or a dict of `AUGMENT_DEFAULTS` keys) as a full
    settings dict, or `None` for no augmentation."""
    if augment is None or augment is False:
        return None
    if augment is True:
        return dict(AUGMENT_DEFAULTS)
    if not isinstance(augment, dict):
        raise ValueError(f"`augment` must be true, false or a dict of {list(AUGMENT_DEFAULTS)}; "
                         f"received augment={augment!r}")
    for key, value in augment.items():
        if key not in AUGMENT_DEFAULTS:
            raise ValueError(f"`augment` has an unknown key {key!r}{did_you_mean(key, AUGMENT_DEFAULTS)}; "
                             f"accepted: {', '.join(AUGMENT_DEFAULTS)}")
        high = {"flip": 1, "crop": 0.5, "jpeg_quality": 100}.get(key)
        check_number(f"augment.{key}", value, low=1 if key == "jpeg_quality" else 0, high=high)
    return {**AUGMENT_DEFAULTS, **augment}


@dataclasses.dataclass(frozen=True)
class ClipFeatures:
    """The settings that turn a clip into model inputs (module doc), checked.

    Example:
    >>> features = ClipFeatures(num_frames=4, face_size=32, clip_seconds=1.0, n_mels=16)
    >>> features.mel_steps, features.input_spec()["frames"]
    (101, ((4, 32, 32, 3), 'float32'))
    """

    num_frames: int = 8
    face_size: int = 64
    clip_seconds: float = 2.0
    sampling: str = "uniform"
    start_at: float = 0.0
    sample_rate: int = 16000
    n_fft: int = 512
    hop_length: int = 160
    n_mels: int = 64
    face_detector: object = "haar"
    face_margin: float = 0.25
    face_region: str = "face"
    augment: object = None

    def __post_init__(self):
        for name in ("num_frames", "face_size", "sample_rate", "n_fft", "hop_length", "n_mels"):
            check_positive_int(name, getattr(self, name))
        check_number("clip_seconds", self.clip_seconds, low=0, low_open=True)
        check_choice("sampling", self.sampling, av_decode.SAMPLINGS)
        check_number("start_at", self.start_at, low=0)
        check_number("face_margin", self.face_margin, low=0, high=1)
        check_choice("face_region", self.face_region, FACE_REGIONS)
        if not callable(self.face_detector):
            check_choice("face_detector", self.face_detector, FACE_DETECTORS)
        object.__setattr__(self, "augment", check_augment(self.augment))

    @property
    def mel_steps(self):
        return int(round(self.clip_seconds * self.sample_rate)) // self.hop_length + 1

    def input_spec(self):
        """`{input: (shape, dtype)}` of the model inputs."""
        return {"frames": ((self.num_frames, self.face_size, self.face_size, 3), "float32"),
                "mel": ((self.mel_steps, self.n_mels), "float32")}

    def settings(self):
        """The JSON-able settings (a callable detector is named by its function's name)."""
        values = dataclasses.asdict(self)
        if callable(self.face_detector):
            values["face_detector"] = getattr(self.face_detector, "__name__", "custom")
        return values

    def detector(self):
        """The face detector callable, or `None` for centre crops."""
        if callable(self.face_detector):
            return self.face_detector
        return haar_detector() if self.face_detector == "haar" else None

    def extract(self, record, rng=None, detector=None, augment=False):
        """`({"frames": uint8, "mel": float32}, face_found)` of the clip of `record`.

        `rng` (a NumPy `Generator`) draws the random window and the augmentation;
        `detector` is `self.detector()` made once by the caller; `augment` applies
        `self.augment`. Raises `BadClipError` for a clip that cannot be used.
        """
        rng = rng if rng is not None else np.random.default_rng(0)
        info = av_decode.video_info(record.video_path)
        start = av_decode.clip_window(info[0] / info[1], self.clip_seconds, self.sampling, self.start_at, rng)
        frames = av_decode.read_frames(record.video_path,
                                       av_decode.frame_times(start, self.clip_seconds, self.num_frames), info)
        audio = av_decode.read_audio(record.audio_path or record.video_path, self.sample_rate)
        audio = av_decode.audio_window(audio, self.sample_rate, start, self.clip_seconds)
        box = face_box(frames, detector, self.face_margin)
        settings = self.augment if augment else None
        faces = crop_faces(frames, box, self.face_size, rng, settings, self.face_region)
        if settings is not None:
            audio = augment_audio(audio, self.sample_rate, rng, settings)
        return {"frames": faces, "mel": self.log_mel(audio)}, box is not None

    def log_mel(self, audio):
        """The scaled log-mel spectrogram `(mel_steps, n_mels)` of a window's audio:
        librosa's `melspectrogram` with its filter bank made once and applied as one
        matrix product (its own `einsum` took 80% of the time)."""
        import librosa

        power = np.abs(librosa.stft(audio, n_fft=self.n_fft, hop_length=self.hop_length)) ** 2
        decibels = librosa.power_to_db(_mel_filters(self.sample_rate, self.n_fft, self.n_mels) @ power,
                                       ref=np.max, top_db=80.0)
        return (decibels.T / 40.0 + 1.0).astype(np.float32)


@functools.lru_cache(maxsize=8)
def _mel_filters(sample_rate, n_fft, n_mels):
    import librosa

    return librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels)


def face_box(frames, detector, margin):
    """The square crop box `(x, y, side)` of a clip: the median of the faces detected in
    up to `DETECTED_FRAMES` evenly spaced frames, enlarged by `margin` and kept inside
    the frame; `None` when none has a face (or there is no detector)."""
    if detector is None:
        return None
    chosen = np.unique(np.linspace(0, len(frames) - 1, DETECTED_FRAMES).round().astype(int))
    boxes = [box for box in map(detector, frames[chosen]) if box is not None]
    if not boxes:
        return None
    x, y, width, height = np.median(np.asarray(boxes, float), axis=0)
    frame_height, frame_width = frames.shape[1:3]
    side = min(int(round(max(width, height) * (1 + margin))), frame_height, frame_width)
    left = int(np.clip(round(x + width / 2 - side / 2), 0, frame_width - side))
    top = int(np.clip(round(y + height / 2 - side / 2), 0, frame_height - side))
    return left, top, side


def _centre_box(frames):
    height, width = frames.shape[1:3]
    side = min(height, width)
    return (width - side) // 2, (height - side) // 2, side


def crop_faces(frames, box, size, rng, settings=None, region="face"):
    """The frames cut to `box` (the centre square when `None`), or to its lower half for
    `region="mouth"`, and resized to `size` x `size`; augmented alike (module doc) when
    `settings` is given."""
    left, top, side = box if box is not None else _centre_box(frames)
    flip = False
    if settings is not None:
        cut = int(side * rng.uniform(0, settings["crop"]))
        left, top = left + int(rng.integers(0, cut + 1)), top + int(rng.integers(0, cut + 1))
        side -= cut
        flip = rng.random() < settings["flip"]
    first_row = top + side // 2 if region == "mouth" else top
    faces = np.stack([cv2.resize(frame[first_row:top + side, left:left + side], (size, size),
                                 interpolation=cv2.INTER_AREA) for frame in frames])
    if settings is None:
        return faces
    if flip:
        faces = faces[:, :, ::-1]
    return _jitter_colours(faces, rng, settings)


def _jitter_colours(faces, rng, settings):
    """One brightness, contrast, saturation and JPEG quality for every frame."""
    faces = faces.astype(np.float32)
    faces += 255 * rng.uniform(-settings["brightness"], settings["brightness"])
    mean = faces.mean()
    faces = (faces - mean) * (1 + rng.uniform(-settings["contrast"], settings["contrast"])) + mean
    grey = faces.mean(axis=-1, keepdims=True)
    faces = (faces - grey) * (1 + rng.uniform(-settings["saturation"], settings["saturation"])) + grey
    faces = np.clip(faces, 0, 255).astype(np.uint8)
    quality = int(rng.integers(int(settings["jpeg_quality"]), 101))
    if quality < 100:
        faces = np.stack([_jpeg(face, quality) for face in faces])
    return faces


def _jpeg(face, quality):
    _, encoded = cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)


def augment_audio(audio, sample_rate, rng, settings):
    """`audio` with a pitch shift, a time shift, a gain and white noise (module doc)."""
    if settings["pitch_shift"] > 0:
        import librosa

        steps = rng.uniform(-settings["pitch_shift"], settings["pitch_shift"])
        audio = librosa.effects.pitch_shift(audio, sr=sample_rate, n_steps=steps)
    shift = int(round(rng.uniform(-settings["time_shift"], settings["time_shift"]) * sample_rate))
    audio = np.roll(audio, shift)
    audio = audio * 10 ** (rng.uniform(-settings["gain_db"], settings["gain_db"]) / 20)
    if settings["noise_snr_db"] > 0:
        snr = rng.uniform(settings["noise_snr_db"], settings["noise_snr_db"] + 20)
        power = max(float(np.mean(audio**2)), 1e-10)
        audio = audio + rng.standard_normal(audio.shape) * np.sqrt(power / 10 ** (snr / 10))
    return audio.astype(np.float32)
