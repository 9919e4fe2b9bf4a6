"""Synthetic talking-face clips with known real/fake labels, for audio-visual deepfake detection.

`AVClipGenerator(...).clip(split, index)` renders one clip: a face drawn with OpenCV (a
shaded skin-coloured head, hair, eyes with sockets, brows, a nose with its shadow, a
mouth) in front of a textured background, and the voice of its speaker. A synthetic
voice is a harmonic source at the speaker's f0 (with intonation: declination, a rise on
stressed syllables, a slow wobble) shaped by the formants of a vowel per syllable, at
3 to 6 syllables a second with a noise burst (consonant) before each vowel and pauses
between some syllables. The mouth opening of each frame follows the voice's envelope
(times how open the syllable's vowel is), so picture and sound are in sync. The head
moves (small translation, rotation and scale), blinks, and the lighting changes
(brightness and a gradient); a little sensor noise is added last.

A clip is real (category A) or fake, decided per clip with probability `fake_fraction`.
A fake uses one of the manipulations that `fake_kinds` allows, chosen uniformly among:

- `"lip_sync"` (category E, `video_label` 0, `audio_label` 0): the picture and the
  sound are each exactly real, but not in sync. Method `lip_sync_swap`: the voice of
  another clip of the same split (the unmanipulated audio of a random other clip; of
  clip 1 in a split of one clip); `lip_sync_shift`: the clip's own voice shifted in time
  circularly by 0.3 to 0.8 s (at most the clip's length less 0.3 s; half a clip shorter
  than 0.6 s).
- `"face"` (category C, `video_label` 1): method `face_blend`, the inner face (brows to
  chin) or the lower face (nose to chin) of another identity blended into the picture with
  a visible, feathered boundary, a colour mismatch and a slight blur. Its mouth follows
  the same envelope, so sync stays right.
- `"voice"` (category B, `audio_label` 1): method `pitch_shift` (a phase-vocoder pitch
  shift of 3 to 7 semitones up or down, formants moving with it) or `vocoder` (the
  voice's band envelopes re-imposed on a noise or a monotone buzz carrier). The timing is
  kept, so sync stays right.
- `"face"` and `"voice"` together (category D, `label` 1, both modality labels 1): one
  manipulation of each, its method `face_blend+pitch_shift` or `face_blend+vocoder`.

With probability `partial_fraction` a fake's manipulation covers one segment of 30 to
70 % of the clip (whole frames) and the rest of the clip is real; `fake_segments` then
holds `[[start_s, end_s]]`, else `[]` (the whole clip when fake). All labels are decided
before rendering: `labels(split, index)` is cheap.

Stateless like the other generators: clip `i` of split `s` with seed `k` is a pure
function of `(k, s, i)`: its random numbers come from `np.random.SeedSequence([k,
s_id, i])` (children for the plan, the identity, the speech, the scene, the donor
identity of a face blend and the carrier of a vocoder). The plan is drawn in full for
every clip, so changing `fake_fraction` or `fake_kinds` changes which clips are fake
and how, never the content of the real ones; `clip(split, index, manipulated=False)`
gives the real clip that a fake was made from.

`generators.av_files.write_clips` writes clips as MP4 + WAV files with `labels.csv`.

Example:
>>> gen = AVClipGenerator(num_samples=4, duration=0.4, image_size=48, seed=3)
>>> clip = gen.clip("train", 1)
>>> clip["video"].shape, clip["video"].dtype.name, clip["audio"].shape, clip["audio"].dtype.name
((10, 48, 48, 3), 'uint8', (6400,), 'float32')
>>> gen.labels("train", 1)["category"] == clip["category"]
True
"""

import dataclasses
import math

import cv2
import numpy as np

from generators.multimodal import SPLITS
from generators.validation import check_int, check_number, check_unit, invalid, per_key

__all__ = ["CATEGORIES", "FAKE_KINDS", "AVClipGenerator"]

FAKE_KINDS = ("lip_sync", "face", "voice")
# FakeAVCeleb's categories by (video fake, audio fake), and E for lip-sync fakes.
CATEGORIES = {"A": "real video, real audio", "B": "real video, fake audio",
              "C": "fake video, real audio", "D": "fake video, fake audio",
              "E": "real video, real audio, not in sync"}
# The manipulations a fake may use, by the kinds it needs.
_MANIPULATIONS = (("lip_sync",), ("face",), ("voice",), ("face", "voice"))
_METHODS = {"lip_sync": ("lip_sync_swap", "lip_sync_shift"), "face": ("face_blend",),
            "voice": ("pitch_shift", "vocoder")}
_STREAMS = ("plan", "identity", "speech", "scene", "donor", "carrier")
MAX_NUM_SAMPLES = 2**62
MAX_CLIP_PIXELS = 2**26  # frames times pixels per frame: a clip renders in memory

# Speech. Vowel formants F1-F3 (Hz, adult male) and how far the mouth opens for each.
_VOWELS = np.array([[730, 1090, 2440], [530, 1840, 2480], [270, 2290, 3010], [570, 840, 2410],
                    [300, 870, 2240]], np.float32)
_VOWEL_OPENNESS = np.array([1.0, 0.7, 0.35, 0.75, 0.45], np.float32)
_FORMANT_GAINS = np.array([1.0, 0.6, 0.3], np.float32)
_FORMANT_BANDWIDTHS = np.array([90.0, 110.0, 170.0], np.float32)
_SYLLABLE_RATE = (3.0, 6.0)  # syllables per second
_PAUSE_PROBABILITY = 0.15
_CONTROL_RATE = 200  # Hz: envelopes, formants and f0 are computed at this rate
_HIGHEST_HARMONIC_HZ = 4000.0
_SYNTHESIS_BLOCK = 8192  # samples synthesised at a time
_FFT_SIZE, _FFT_HOP = 512, 128  # of the voice manipulations (at 16 kHz: 32 ms and 8 ms)
_VOCODER_BANDS = 16

# The face, in units of the head's half-height `b` (vertical) and half-width `a`
# (horizontal), from the head's centre.
_EYE_Y, _BROW_Y, _MOUTH_Y = -0.08, -0.30, 0.56
_MAX_MOUTH_OPENING = 0.2  # the inner mouth's half-height when fully open, in b
_BLINK_SECONDS = 0.12


def _rng(seed, split_id, index, stream):
    child = np.random.SeedSequence([seed, split_id, index]).spawn(len(_STREAMS))[_STREAMS.index(stream)]
    return np.random.default_rng(child)


@dataclasses.dataclass(frozen=True)
class _Plan:
    """Everything decided before rendering: what kind of fake a clip is, and how."""

    kinds: tuple  # () for a real clip
    methods: tuple
    segment: tuple  # (first frame, stop frame) of a partial fake, else ()
    partner: int  # the clip whose voice `lip_sync_swap` uses
    shift: float  # seconds, of `lip_sync_shift`
    semitones: float  # of `pitch_shift`
    carrier: str  # `"noise"` or `"buzz"`, of `vocoder`
    region: str  # `"face"` or `"lower"`, of `face_blend`


@dataclasses.dataclass(frozen=True)
class _Face:
    """How one identity looks: sizes in fractions of the image side and of `a`, `b`."""

    half_height: float
    aspect: float  # a / b
    skin: tuple
    hair: tuple
    hairline: float  # how far the hair comes down the forehead, in b from the top
    eye_spacing: float  # the eyes' distance from the midline, in a
    eye_size: float  # the eye's half-width, in a
    iris: tuple
    brow_thickness: float  # in b
    nose_length: float  # from the eyes, in b
    lips: tuple
    mouth_width: float  # half-width, in a
    light_angle: float  # radians: where the key light comes from


@dataclasses.dataclass(frozen=True)
class _Voice:
    f0: float  # Hz
    formant_scale: float
    breathiness: float
    tilt: float  # the source's spectral slope: harmonic h has amplitude h ** -tilt


@dataclasses.dataclass(frozen=True)
class _Speech:
    audio: np.ndarray  # float32 (num_samples,)
    mouth: np.ndarray  # float32 (num_frames,): the mouth opening in [0, 1]


@dataclasses.dataclass(frozen=True)
class _Scene:
    """Everything of a clip's picture except the face: the same for a face blend's donor."""

    background: np.ndarray  # float32 (S, S, 3)
    motion: np.ndarray  # float32 (T, 2, 3): the head's affine transform per frame
    lighting: np.ndarray  # float32 (T, S, S, 1): brightness gain per pixel
    noise: np.ndarray  # float32 (T, S, S, 1): uniform sensor noise
    blinks: np.ndarray  # bool (T,)


class AVClipGenerator:
    """Synthetic talking-face clips with real and fake ones of known kinds (module doc).

    Args:
        num_samples: clips per split, or a dict `{"train": n, "valid": n, "test": n}`.
        seed: the data set's seed.
        fps: frames per second.
        duration: the clip's length in seconds; a clip has `round(duration * fps)`
            frames and lasts exactly that many frames.
        image_size: the frames' side in pixels (square RGB frames).
        sample_rate: the audio's sample rate in Hz (mono float32 audio).
        fake_kinds: the manipulations fakes may use: any of `"lip_sync"`, `"face"`,
            `"voice"`.
        fake_fraction: the probability that a clip is fake.
        partial_fraction: the probability that a fake is fake on one segment only.

    Example:
    >>> gen = AVClipGenerator(num_samples={"train": 8, "valid": 2, "test": 2}, fake_kinds=("lip_sync",))
    >>> sorted({gen.labels("train", i)["category"] for i in range(8)})
    ['A', 'E']
    """

    def __init__(self, num_samples=1000, seed=0, fps=25, duration=2.0, image_size=96, sample_rate=16000,
                 fake_kinds=FAKE_KINDS, fake_fraction=0.5, partial_fraction=0.0):
        self.num_samples = _check_num_samples(num_samples)
        self.seed = check_int("seed", seed, low=0, high=2**64 - 1)
        self.fps = check_int("fps", fps, high=120)
        self.duration = check_number("duration", duration, low=0.1, high=60)
        self.num_frames = round(duration * fps)
        if self.num_frames < 2:
            raise invalid("duration", duration, f"at least 2 frames long (>= {1.5 / fps:g} s at fps={fps})")
        self.image_size = check_int("image_size", image_size, low=32, high=1024)
        if self.num_frames * image_size**2 > MAX_CLIP_PIXELS:
            largest = math.isqrt(MAX_CLIP_PIXELS // self.num_frames)
            raise invalid("image_size", image_size, f"at most {largest} for clips of {self.num_frames} "
                                                    f"frames (a clip holds at most {MAX_CLIP_PIXELS} pixels)")
        self.sample_rate = check_int("sample_rate", sample_rate, low=8000, high=48000)
        self.fake_kinds = _check_kinds(fake_kinds)
        self.fake_fraction = check_unit("fake_fraction", fake_fraction)
        self.partial_fraction = check_unit("partial_fraction", partial_fraction)
        self.num_audio_samples = round(self.num_frames * sample_rate / fps)
        self._manipulations = [m for m in _MANIPULATIONS if set(m) <= set(self.fake_kinds)]

    def to_dict(self):
        """The JSON-able arguments: `AVClipGenerator(**d)` remakes the generator."""
        names = ("num_samples", "seed", "fps", "duration", "image_size", "sample_rate", "fake_kinds",
                 "fake_fraction", "partial_fraction")
        values = {name: getattr(self, name) for name in names}
        values["fake_kinds"] = list(self.fake_kinds)
        return values

    def _split_id(self, split, index):
        if split not in SPLITS:
            raise invalid("split", split, f"one of {', '.join(map(repr, SPLITS))}")
        count = self.num_samples[split]
        if count == 0:
            raise invalid("split", split, f"a split with clips (num_samples[{split!r}] = 0)")
        check_int("index", index, low=0, high=count - 1,
                  accepted=f"an integer in [0, num_samples[{split!r}] - 1 = {count - 1}]")
        return SPLITS[split]

    def _plan(self, split_id, index):
        rng = _rng(self.seed, split_id, index, "plan")
        is_fake, which, *method_draws, partial, where, length, partner, shift = rng.random(10)
        details = dict(partner=self._partner(split_id, index, partner), shift=self._shift(shift),
                       semitones=float(rng.uniform(3, 7) * rng.choice((-1, 1))),
                       carrier=str(rng.choice(("noise", "buzz"))), region=str(rng.choice(("face", "lower"))))
        if is_fake >= self.fake_fraction:
            return _Plan(kinds=(), methods=(), segment=(), **details)
        kinds = self._manipulations[int(which * len(self._manipulations))]
        draws = dict(zip(FAKE_KINDS, method_draws))
        methods = tuple(_METHODS[k][int(draws[k] * len(_METHODS[k]))] for k in kinds)
        segment = ()
        if partial < self.partial_fraction:
            frames = max(1, round((0.3 + 0.4 * length) * self.num_frames))
            first = int(where * (self.num_frames - frames + 1))
            segment = (first, first + frames)
        return _Plan(kinds=kinds, methods=methods, segment=segment, **details)

    def _partner(self, split_id, index, draw):
        """The clip whose voice `lip_sync_swap` uses: another clip of the split, if it has two."""
        count = self.num_samples[list(SPLITS)[split_id]]
        return index + 1 if count < 2 else (index + 1 + int(draw * (count - 1))) % count

    def _shift(self, draw):
        """The time shift of `lip_sync_shift`: 0.3 to 0.8 s, and at least 0.3 s from a whole clip."""
        seconds = self.num_frames / self.fps
        low = min(0.3, seconds / 2)
        high = max(low, min(0.8, seconds - low))
        return float(low + draw * (high - low))

    def labels(self, split, index):
        """The labels of clip `index` of `split`, without rendering it.

        Returns `{"label", "video_label", "audio_label", "category", "method",
        "fake_segments", "video_id"}` (module doc).

        >>> AVClipGenerator(fake_fraction=0.0).labels("test", 2)
        {'label': 0, 'video_label': 0, 'audio_label': 0, 'category': 'A', 'method': 'real', \
'fake_segments': [], 'video_id': 'test_00002'}
        """
        return self._labels(self._plan(self._split_id(split, index), index), split, index)

    def _labels(self, plan, split, index):
        video_fake, audio_fake = "face" in plan.kinds, "voice" in plan.kinds
        category = ("E" if plan.kinds == ("lip_sync",)
                    else {(False, False): "A", (False, True): "B", (True, False): "C",
                          (True, True): "D"}[video_fake, audio_fake])
        segments = [[round(f / self.fps, 6) for f in plan.segment]] if plan.segment else []
        return {"label": int(bool(plan.kinds)), "video_label": int(video_fake),
                "audio_label": int(audio_fake), "category": category,
                "method": "+".join(plan.methods) or "real", "fake_segments": segments,
                "video_id": f"{split}_{index:05d}"}

    def clip(self, split, index, manipulated=True):
        """Renders clip `index` of `split`.

        Returns the labels of `labels()` and `"video"`: uint8 `(num_frames, size,
        size, 3)` RGB, `"audio"`: float32 `(num_audio_samples,)` in [-1, 1],
        `"mouth_opening"`: float32 `(num_frames,)` in [0, 1], the drawn mouth's opening,
        and `"face_box"`: float32 `(num_frames, 4)`, the drawn head's box `(x0, y0, x1,
        y1)` in pixels. `manipulated=False` gives the clip's source, the real clip that a
        fake is made from (the same identity, speech and scene; labels of a real clip).
        """
        split_id = self._split_id(split, index)
        plan = self._plan(split_id, index)
        if not manipulated:
            plan = dataclasses.replace(plan, kinds=(), methods=(), segment=())
        face, voice = self._identity(split_id, index)
        speech = self._speech(split_id, index, voice)
        scene = self._scene(split_id, index, face)
        frames = self._frames(face, scene, speech.mouth)
        audio = speech.audio
        if "face" in plan.kinds:
            frames = self._face_blend(frames, split_id, index, face, scene, speech.mouth, plan)
        if "voice" in plan.kinds:
            rng = _rng(self.seed, split_id, index, "carrier")
            audio = self._partial_audio(audio, _fake_voice(rng, audio, voice, plan, self.sample_rate), plan)
        if "lip_sync" in plan.kinds:
            audio = self._partial_audio(audio, self._other_audio(split_id, audio, plan), plan)
        video = np.clip(np.rint((frames + scene.noise) * 255), 0, 255).astype(np.uint8)
        audio = np.clip(audio, -1, 1).astype(np.float32)
        return dict(self._labels(plan, split, index), video=video, audio=audio,
                    mouth_opening=speech.mouth, face_box=_face_boxes(face, scene.motion, self.image_size))

    # Identity, speech and scene.

    def _identity(self, split_id, index):
        rng = _rng(self.seed, split_id, index, "identity")
        return _draw_face(rng), _draw_voice(rng)

    def _speech(self, split_id, index, voice):
        rng = _rng(self.seed, split_id, index, "speech")
        return _synthesize_speech(rng, voice, self.num_frames, self.fps, self.num_audio_samples,
                                  self.sample_rate)

    def _scene(self, split_id, index, face):
        rng = _rng(self.seed, split_id, index, "scene")
        size, frames = self.image_size, self.num_frames
        noise_level = rng.uniform(0.01, 0.04)
        return _Scene(background=_background(rng, face, size),
                      motion=_motion(rng, face, frames, self.fps, size),
                      lighting=_lighting(rng, frames, self.fps, size),
                      noise=noise_level * (rng.random((frames, size, size, 1), np.float32) - 0.5),
                      blinks=_blinks(rng, frames, self.fps))

    def _frames(self, face, scene, mouth):
        """float32 `(T, S, S, 3)`: the face over the background, lit; no noise, not yet clipped."""
        template = _face_template(face, self.image_size)
        frames = np.empty((self.num_frames, self.image_size, self.image_size, 3), np.float32)
        for t, frame in enumerate(frames):
            layer = _face_layer(template, face, mouth[t], scene.blinks[t], scene.motion[t])
            layer = layer.astype(np.float32) * (1 / 255)
            composite = layer[..., :3] + scene.background * (1 - layer[..., 3:])
            np.multiply(composite, scene.lighting[t], out=frame)
        return frames

    # Manipulations.

    def _segment_weights(self, plan, length, per_second):
        """float32 `(length,)`: 1 where the manipulation applies (all of a whole-clip fake)."""
        if not plan.segment:
            return np.ones(length, np.float32)
        first, stop = (round(f * per_second / self.fps) for f in plan.segment)
        weights = np.zeros(length, np.float32)
        weights[first:stop] = 1
        if per_second == self.sample_rate:  # 5 ms crossfades instead of clicks
            ramp = max(1, self.sample_rate // 200)
            weights = np.convolve(weights, np.ones(ramp, np.float32) / ramp, mode="same")
        return weights

    def _partial_audio(self, audio, fake, plan):
        weights = self._segment_weights(plan, len(audio), self.sample_rate)
        return audio * (1 - weights) + fake * weights

    def _other_audio(self, split_id, audio, plan):
        """The voice of a lip-sync fake: another clip's voice, or this one shifted."""
        if plan.methods == ("lip_sync_shift",):
            return np.roll(audio, round(plan.shift * self.sample_rate))
        _, voice = self._identity(split_id, plan.partner)
        return self._speech(split_id, plan.partner, voice).audio

    def _face_blend(self, frames, split_id, index, face, scene, mouth, plan):
        """`frames` with the donor's face region blended in (colour-shifted, blurred, with a
        darker seam along the blend's boundary)."""
        rng = _rng(self.seed, split_id, index, "donor")
        donor = _draw_face(rng)
        skin = tuple((np.array(face.skin) + donor.skin) / 2)  # a donor of a similar skin tone
        donor = dataclasses.replace(donor, half_height=face.half_height, aspect=face.aspect, skin=skin,
                                    hairline=face.hairline, hair=face.hair, light_angle=face.light_angle)
        # Each channel 10-20% too bright or too dark, and blurred by at least a pixel.
        gain = (1 + rng.choice([-1, 1], 3) * rng.uniform(0.1, 0.2, 3)).astype(np.float32)
        sigma = max(1.0, rng.uniform(0.6, 1.2) * self.image_size / 96)
        swapped = self._frames(donor, scene, mouth) * gain
        swapped = np.stack([cv2.GaussianBlur(f, (0, 0), sigma) for f in swapped])
        masks = _blend_masks(face, plan.region, scene.motion, self.image_size)
        masks *= self._segment_weights(plan, len(frames), self.fps)[:, None, None, None]
        # A seam where the mask fades: darker by up to 30%, as an imperfect blend leaves.
        seam = 1 - 0.3 * 4 * masks * (1 - masks)
        return (frames * (1 - masks) + swapped * masks) * seam


def _check_num_samples(value):
    """`{split: clips}` from one number of clips per split or a dict naming each split."""
    if isinstance(value, dict):
        return per_key("num_samples", value, tuple(SPLITS),
                       lambda name, count: check_int(name, count, low=0, high=MAX_NUM_SAMPLES))
    return dict.fromkeys(SPLITS, check_int("num_samples", value, low=0, high=MAX_NUM_SAMPLES))


def _check_kinds(value):
    """The fake kinds of `value` (a list of distinct kinds), in `FAKE_KINDS` order."""
    kinds_ok = isinstance(value, (list, tuple)) and all(isinstance(k, str) and k in FAKE_KINDS for k in value)
    if not kinds_ok or not value or len(set(value)) != len(value):
        raise invalid("fake_kinds", value, f"a non-empty list of distinct kinds of {FAKE_KINDS}")
    return tuple(k for k in FAKE_KINDS if k in value)


# Speech synthesis.


def _draw_voice(rng):
    f0 = float(np.exp(rng.uniform(math.log(85), math.log(240))))
    return _Voice(f0=f0, formant_scale=float(0.95 + 0.2 * math.log(f0 / 85) / math.log(240 / 85)
                                            + rng.uniform(-0.03, 0.03)),
                  breathiness=float(rng.uniform(0.01, 0.05)), tilt=float(rng.uniform(0.6, 1.2)))


def _syllables(rng, seconds):
    """`[(start_s, length_s, vowel, stress)]` of an utterance filling `seconds`."""
    rate = rng.uniform(*_SYLLABLE_RATE)
    time, syllables = rng.uniform(0.0, 0.2), []
    while time < seconds:
        length = rng.uniform(0.7, 1.3) / rate
        syllables.append((time, length, int(rng.integers(len(_VOWELS))), rng.uniform(0.5, 1.0)))
        time += length
        if rng.random() < _PAUSE_PROBABILITY:
            time += rng.uniform(0.15, 0.45)
    return syllables


def _control_tracks(syllables, voice, steps):
    """At `_CONTROL_RATE`: the vowel envelope, the openness, the formants `(steps, 3)`,
    and the consonant bursts' envelope."""
    envelope, burst = np.zeros(steps, np.float32), np.zeros(steps, np.float32)
    vowel = np.zeros(steps, np.int64)
    for start, length, which, stress in syllables:
        first, stop = round(start * _CONTROL_RATE), round((start + length) * _CONTROL_RATE)
        onset = first + max(1, round(0.25 * (stop - first)))
        if onset >= min(stop, steps):
            continue
        vowel[first:stop] = which
        ramp = np.sin(np.pi * (np.arange(onset, stop) - onset + 0.5) / (stop - onset)) ** 0.6
        envelope[onset:stop] = (stress * ramp)[:steps - onset]
        burst[first:onset] = (stress * np.linspace(1, 0.2, onset - first))[:steps - first]
    smooth = np.ones(8, np.float32) / 8  # 40 ms formant transitions
    formants = np.stack([np.convolve(np.pad(_VOWELS[vowel, k], 4, mode="edge"), smooth, mode="same")[4:-4]
                         for k in range(3)], axis=1) * voice.formant_scale
    return envelope, _VOWEL_OPENNESS[vowel] * envelope, formants, burst


def _f0_track(rng, voice, envelope, seconds):
    """f0 at `_CONTROL_RATE`: declination, a rise with the stress, a slow wobble."""
    time = np.arange(len(envelope), dtype=np.float32) / _CONTROL_RATE
    octaves = (-0.15 * time / seconds + 0.12 * envelope
               + 0.03 * np.sin(2 * np.pi * rng.uniform(1.5, 3.5) * time + rng.uniform(0, 2 * np.pi)))
    return voice.f0 * 2.0 ** octaves


def _voiced(f0, loudness, formants, voice, num_samples, sample_rate):
    """The harmonic source through the formants, its RMS `loudness` (tracks at control rate)."""
    position = np.arange(num_samples) * (_CONTROL_RATE / sample_rate)  # in control steps
    cycles = np.cumsum(np.interp(position, np.arange(len(f0)), f0)) / sample_rate
    phase = (2 * np.pi * (cycles % 1)).astype(np.float32)
    highest = min(_HIGHEST_HARMONIC_HZ, 0.45 * sample_rate)
    harmonics = np.arange(1, int(highest / f0.min()) + 1, dtype=np.float32)
    frequency = harmonics * f0[:, None]  # (steps, H)
    detuning = (frequency[:, :, None] - formants[:, None, :]) / (_FORMANT_BANDWIDTHS / 2)
    shape = (_FORMANT_GAINS / np.sqrt(1 + detuning**2)).sum(axis=2) * harmonics**-voice.tilt
    shape *= frequency < highest
    amplitude = (shape * (loudness / np.sqrt((shape**2).sum(axis=1) / 2))[:, None]).astype(np.float32)
    voiced = np.empty(num_samples, np.float32)
    for start in range(0, num_samples, _SYNTHESIS_BLOCK):  # blocks bound the memory of long clips
        block = slice(start, start + _SYNTHESIS_BLOCK)
        lower = np.minimum(position[block].astype(np.int64), len(f0) - 2)
        weight = (position[block] - lower).astype(np.float32)[:, None]
        per_sample = amplitude[lower] * (1 - weight) + amplitude[lower + 1] * weight
        voiced[block] = np.einsum("nh,nh->n", per_sample, np.cos(phase[block, None] * harmonics))
    return voiced


def _synthesize_speech(rng, voice, num_frames, fps, num_samples, sample_rate):
    seconds = num_frames / fps
    steps = math.ceil(seconds * _CONTROL_RATE) + 2
    syllables = _syllables(rng, seconds)
    envelope, opening, formants, burst = _control_tracks(syllables, voice, steps)
    f0 = _f0_track(rng, voice, envelope, seconds)
    # Open vowels are louder: the voice's loudness follows the envelope and the openness.
    voiced = _voiced(f0, (envelope + opening) / 2, formants, voice, num_samples, sample_rate)
    voiced /= max(float(np.abs(voiced).max()), 1e-6)
    time = np.arange(num_samples, dtype=np.float32) * (_CONTROL_RATE / sample_rate)
    control = np.arange(steps, dtype=np.float32)
    hiss = np.diff(rng.standard_normal(num_samples + 1).astype(np.float32))  # high-passed noise
    noise = hiss * (0.08 * np.interp(time, control, burst)
                    + voice.breathiness * np.interp(time, control, envelope))
    room = rng.uniform(0.002, 0.01) * rng.standard_normal(num_samples).astype(np.float32)
    audio = voiced + noise + room
    audio *= rng.uniform(0.3, 0.8) / max(float(np.abs(audio).max()), 1e-6)
    # A frame's mouth opening: the mean opening over the frame's span.
    edges = np.minimum(np.round(np.arange(num_frames) * _CONTROL_RATE / fps).astype(np.int64), steps - 1)
    mouth = np.add.reduceat(opening, edges)[:num_frames] / np.diff(np.append(edges, round(
        num_frames * _CONTROL_RATE / fps))).clip(1)
    return _Speech(audio=audio.astype(np.float32), mouth=np.clip(mouth, 0, 1).astype(np.float32))


# Voice manipulations.


def _stft(audio):
    window = np.hanning(_FFT_SIZE).astype(np.float32)
    padded = np.pad(audio, (_FFT_SIZE // 2, _FFT_SIZE // 2 + _FFT_HOP))
    frames = np.lib.stride_tricks.sliding_window_view(padded, _FFT_SIZE)[::_FFT_HOP]
    return np.fft.rfft(frames * window, axis=1)


def _istft(spectrum, length):
    """The inverse of `_stft`: overlap-add with the squared window normalised out."""
    window = np.hanning(_FFT_SIZE).astype(np.float32)
    frames = np.fft.irfft(spectrum, _FFT_SIZE, axis=1) * window
    count, parts = len(frames), _FFT_SIZE // _FFT_HOP
    out = np.zeros((count + parts, _FFT_HOP))
    norm = np.zeros((count + parts, _FFT_HOP))
    for part in range(parts):
        out[part:part + count] += frames[:, part * _FFT_HOP:(part + 1) * _FFT_HOP]
        norm[part:part + count] += window[part * _FFT_HOP:(part + 1) * _FFT_HOP] ** 2
    signal = (out / np.maximum(norm, 1e-3)).ravel()
    return signal[_FFT_SIZE // 2:_FFT_SIZE // 2 + length].astype(np.float32)


def _pitch_shift(audio, semitones):
    """Phase-vocoder time stretch by the pitch ratio, then resampling back to the length."""
    ratio = 2.0 ** (semitones / 12)
    spectrum = _stft(audio)
    steps = np.arange(0, len(spectrum) - 1, 1 / ratio)
    lower = steps.astype(np.int64)
    weight = (steps - lower)[:, None]
    magnitude = np.abs(spectrum[lower]) * (1 - weight) + np.abs(spectrum[lower + 1]) * weight
    expected = 2 * np.pi * _FFT_HOP * np.arange(spectrum.shape[1]) / _FFT_SIZE
    advance = np.angle(spectrum[1:]) - np.angle(spectrum[:-1]) - expected
    advance = expected + (advance + np.pi) % (2 * np.pi) - np.pi
    phase = np.angle(spectrum[0]) + np.concatenate([np.zeros((1, len(expected))),
                                                    np.cumsum(advance[lower[:-1]], axis=0)])
    stretched = _istft(magnitude * np.exp(1j * phase), len(steps) * _FFT_HOP)
    positions = np.linspace(0, len(stretched) - 1, len(audio))
    return _match_rms(np.interp(positions, np.arange(len(stretched)), stretched), audio)


def _vocode(audio, carrier):
    """The band envelopes of `audio` (`_VOCODER_BANDS` log-spaced bands) imposed on `carrier`."""
    speech, source = _stft(audio), _stft(carrier)
    bins = speech.shape[1]
    edges = np.geomspace(2, bins, _VOCODER_BANDS + 1)
    band = np.clip(np.searchsorted(edges, np.arange(bins), side="right") - 1, 0, _VOCODER_BANDS - 1)
    membership = np.eye(_VOCODER_BANDS)[band]  # (bins, bands)
    gain = np.sqrt((np.abs(speech) ** 2 @ membership)
                   / np.maximum(np.abs(source) ** 2 @ membership, 1e-9))
    return _match_rms(_istft(source * gain[:, band], len(audio)), audio)


def _match_rms(audio, like):
    """float32 `audio` scaled to the RMS of `like`: a manipulation keeps the loudness."""
    scale = math.sqrt(np.mean(like**2) / max(float(np.mean(audio**2)), 1e-12))
    return (audio * scale).astype(np.float32)


def _fake_voice(rng, audio, voice, plan, sample_rate):
    """The voice manipulation of `plan` applied to the whole of `audio`."""
    if "pitch_shift" in plan.methods:
        return _pitch_shift(audio, plan.semitones)
    if plan.carrier == "noise":
        return _vocode(audio, rng.standard_normal(len(audio)).astype(np.float32))
    phase = (np.arange(len(audio)) * voice.f0 / sample_rate) % 1.0
    return _vocode(audio, (2 * phase - 1).astype(np.float32))


# The face.


def _draw_face(rng):
    tone = rng.uniform()
    skin = (np.array([0.93, 0.78, 0.66]) * (1 - tone) + np.array([0.42, 0.28, 0.2]) * tone
            + rng.uniform(-0.03, 0.03, 3))
    hair = rng.choice([[0.1, 0.07, 0.05], [0.3, 0.2, 0.12], [0.15, 0.15, 0.15], [0.75, 0.6, 0.35]])
    return _Face(half_height=rng.uniform(0.29, 0.34), aspect=rng.uniform(0.72, 0.82),
                 skin=tuple(skin), hair=tuple(hair * rng.uniform(0.8, 1.2)),
                 hairline=rng.uniform(0.3, 0.45), eye_spacing=rng.uniform(0.36, 0.44),
                 eye_size=rng.uniform(0.17, 0.22),
                 iris=tuple(rng.choice([[0.25, 0.15, 0.08], [0.2, 0.35, 0.55], [0.2, 0.4, 0.25]])),
                 brow_thickness=rng.uniform(0.05, 0.09), nose_length=rng.uniform(0.32, 0.42),
                 lips=tuple(skin * np.array([0.85, 0.55, 0.55]) + rng.uniform(-0.03, 0.03, 3)),
                 mouth_width=rng.uniform(0.36, 0.46), light_angle=rng.uniform(-0.8, 0.8))


def _head(face, size):
    """The head's centre `(x, y)`, half-width `a` and half-height `b` in pixels, unmoved."""
    b = face.half_height * size
    return (size / 2, size * 0.46), face.aspect * b, b


class _Canvas:
    """Draws on a uint8 RGBA image in face coordinates (premultiplied alpha, antialiased)."""

    SHIFT = 4  # fractional bits of the coordinates

    def __init__(self, image, face):
        self.image = image
        self.centre, self.a, self.b = _head(face, len(image))

    def point(self, x, y):
        """Pixel coordinates (fixed point) of `(x * a, y * b)` from the head's centre."""
        return (round((self.centre[0] + x * self.a) * 2**self.SHIFT),
                round((self.centre[1] + y * self.b) * 2**self.SHIFT))

    def axes(self, x, y):
        return tuple(max(1, int(round(v * 2**self.SHIFT))) for v in (x * self.a, y * self.b))

    def ellipse(self, x, y, half_width, half_height, colour):
        """A filled ellipse centred at `(x, y)`."""
        cv2.ellipse(self.image, self.point(x, y), self.axes(half_width, half_height), 0, 0, 360,
                    _rgba(colour), -1, cv2.LINE_AA, self.SHIFT)

    def line(self, start, stop, colour, thickness):
        """A line from `start` to `stop` (face coordinates), `thickness` in b."""
        width = max(1, int(round(thickness * self.b)))
        cv2.line(self.image, self.point(*start), self.point(*stop), _rgba(colour), width, cv2.LINE_AA,
                 self.SHIFT)


def _rgba(colour):
    return tuple(min(max(float(c), 0.0), 1.0) * 255 for c in colour) + (255.0,)


def _face_template(face, size):
    """uint8 `(S, S, 4)`: the head without its mouth, shaded, in the neutral pose."""
    canvas = _Canvas(np.zeros((size, size, 4), np.uint8), face)
    skin = np.array(face.skin)
    canvas.ellipse(0, -0.12, 1.08, 0.95, face.hair)  # hair behind the head
    canvas.ellipse(-1.0, 0.02, 0.12, 0.2, skin * 0.9)  # ears
    canvas.ellipse(1.0, 0.02, 0.12, 0.2, skin * 0.9)
    canvas.ellipse(0, 0, 1, 1, skin)
    canvas.ellipse(0, -1.0, 0.97, face.hairline + 0.12, face.hair)  # hair on the forehead
    for side in (-1, 1):
        x = side * face.eye_spacing
        canvas.ellipse(x, _EYE_Y, face.eye_size * 1.5, 0.13, skin * 0.7)  # eye socket
        canvas.ellipse(x, _EYE_Y, face.eye_size, 0.06, (0.82, 0.8, 0.78))
        canvas.ellipse(x, _EYE_Y, 0.085, 0.06, face.iris)
        canvas.ellipse(x, _EYE_Y, 0.035, 0.03, (0.03, 0.03, 0.03))
        canvas.line((x - face.eye_size, _EYE_Y - 0.03), (x + face.eye_size, _EYE_Y - 0.03),
                    (0.08, 0.06, 0.05), 0.03)  # the lashes of the upper lid
        canvas.line((x - side * 0.05, _BROW_Y), (x + side * 0.28, _BROW_Y - 0.03),
                    np.minimum(face.hair, 0.3) * 0.6, face.brow_thickness)
    nose_tip = _EYE_Y + face.nose_length
    canvas.line((0.06, _EYE_Y + 0.08), (0.08, nose_tip), skin * 0.7, 0.06)  # the nose's shadow
    canvas.ellipse(0, nose_tip + 0.02, 0.16, 0.06, skin * 0.85)
    for side in (-1, 1):
        canvas.ellipse(side * 0.07, nose_tip + 0.04, 0.05, 0.025, skin * 0.4)  # nostrils
    image = canvas.image.astype(np.float32)
    image[..., :3] *= _shading(face, size)[..., None]
    return np.clip(image, 0, 255).astype(np.uint8)


def _shading(face, size):
    """A head lit from the side `light_angle`: brighter towards the light, darker at the rim."""
    (x0, y0), a, b = _head(face, size)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    u, v = (x - x0) / a, (y - y0) / b
    towards_light = u * math.sin(face.light_angle) - v * math.cos(face.light_angle) * 0.5
    return np.clip(1.0 - 0.22 * (u**2 + v**2) + 0.12 * towards_light, 0.55, 1.15)


def _draw_mouth(canvas, face, opening):
    inner = opening * _MAX_MOUTH_OPENING
    canvas.ellipse(0, _MOUTH_Y, face.mouth_width, 0.07 + inner * 0.9, face.lips)
    if inner * canvas.b >= 0.5:
        canvas.ellipse(0, _MOUTH_Y, face.mouth_width * 0.75, inner, (0.2, 0.05, 0.05))
        canvas.ellipse(0, _MOUTH_Y - inner * 0.6, face.mouth_width * 0.45, inner * 0.3, (0.85, 0.82, 0.75))
    else:
        canvas.line((-face.mouth_width * 0.8, _MOUTH_Y), (face.mouth_width * 0.8, _MOUTH_Y),
                    (0.25, 0.08, 0.08), 0.02)


def _close_eyes(canvas, face):
    for side in (-1, 1):
        x = side * face.eye_spacing
        canvas.ellipse(x, _EYE_Y, face.eye_size * 1.05, 0.075, np.array(face.skin) * 0.72)
        canvas.line((x - face.eye_size, _EYE_Y), (x + face.eye_size, _EYE_Y), (0.1, 0.07, 0.06), 0.02)


def _face_layer(template, face, opening, blink, matrix):
    """uint8 `(S, S, 4)`: the face of one frame, moved by `matrix` (premultiplied RGBA)."""
    size = len(template)
    canvas = _Canvas(template.copy(), face)
    _draw_mouth(canvas, face, float(opening))
    if blink:
        _close_eyes(canvas, face)
    return cv2.warpAffine(canvas.image, matrix, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _blend_masks(face, region, motion, size):
    """float32 `(T, S, S, 1)`: where a face blend shows the donor, feathered, moving with the head."""
    canvas = _Canvas(np.zeros((size, size, 4), np.uint8), face)
    if region == "face":
        canvas.ellipse(0, 0.12, 0.8, 0.78, (1, 1, 1))
    else:
        canvas.ellipse(0, 0.52, 0.72, 0.4, (1, 1, 1))
    mask = cv2.GaussianBlur(canvas.image[..., 3].astype(np.float32) / 255, (0, 0), size / 96)
    return np.stack([cv2.warpAffine(mask, matrix, (size, size), flags=cv2.INTER_LINEAR)
                     for matrix in motion])[..., None]


def _face_boxes(face, motion, size):
    """float32 `(T, 4)`: the box `(x0, y0, x1, y1)` of the head's ellipse in each frame."""
    centre, a, b = _head(face, size)
    centres = motion[:, :, :2] @ np.array(centre, np.float32) + motion[:, :, 2]
    # The affine part is a scaled rotation [[c, s], [-s, c]]: the ellipse's box half-sizes follow.
    c, s = motion[:, 0, 0], motion[:, 0, 1]
    half_x = np.sqrt((a * c) ** 2 + (b * s) ** 2)
    half_y = np.sqrt((a * s) ** 2 + (b * c) ** 2)
    return np.stack([centres[:, 0] - half_x, centres[:, 1] - half_y, centres[:, 0] + half_x,
                     centres[:, 1] + half_y], axis=1).astype(np.float32)


# The scene: background, motion, lighting, blinks.


def _smooth_noise(rng, cells, size):
    grid = rng.standard_normal((cells, cells)).astype(np.float32)
    return cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)


def _background(rng, face, size):
    """float32 `(S, S, 3)`: a textured wall with a shaded gradient, the neck and shoulders."""
    colour = 0.5 * rng.uniform(0.15, 0.9, 3) + 0.5 * rng.uniform(0.2, 0.8)
    texture = (rng.uniform(0, 0.1) * _smooth_noise(rng, int(rng.integers(3, 7)), size)
               + rng.uniform(0, 0.04) * _smooth_noise(rng, max(4, size // 4), size))
    gradient = np.linspace(rng.uniform(-0.1, 0.1), rng.uniform(-0.1, 0.1), size, dtype=np.float32)
    wall = colour[None, None, :] * (1 + texture + gradient[:, None])[..., None]
    canvas = _Canvas(np.zeros((size, size, 4), np.uint8), face)
    canvas.line((0, 0.6), (0, 2.0), np.array(face.skin) * 0.75, 0.65)  # the neck
    canvas.ellipse(0, 2.05, 2.6, 0.75, rng.uniform(0.05, 0.8, 3))  # the shoulders
    body = canvas.image.astype(np.float32) / 255
    return (body[..., :3] + wall * (1 - body[..., 3:])).astype(np.float32)


def _wander(rng, frames, fps, amplitude):
    """float32 `(frames,)`: a smooth random movement of about `amplitude`, two sinusoids."""
    time = np.arange(frames) / fps
    waves = [np.sin(2 * np.pi * rng.uniform(0.2, 1.2) * time + rng.uniform(0, 2 * np.pi)) for _ in range(2)]
    return (amplitude * rng.uniform(0.3, 1.0) * (waves[0] + 0.5 * waves[1]) / 1.5).astype(np.float32)


def _motion(rng, face, frames, fps, size):
    """float32 `(T, 2, 3)`: the head's affine transforms: translation, rotation, scale."""
    centre, _, _ = _head(face, size)
    dx, dy = _wander(rng, frames, fps, 0.04 * size), _wander(rng, frames, fps, 0.03 * size)
    angle, scale = _wander(rng, frames, fps, 6.0), 1 + _wander(rng, frames, fps, 0.04)
    matrices = [cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), float(a), float(s))
                for a, s in zip(angle, scale)]
    matrices = np.array(matrices, np.float32)
    matrices[:, 0, 2] += dx
    matrices[:, 1, 2] += dy
    return matrices


def _lighting(rng, frames, fps, size):
    """float32 `(T, S, S, 1)`: a brightness that drifts, times a gradient across the frame."""
    level = rng.uniform(0.8, 1.15) * (1 + _wander(rng, frames, fps, 0.06))
    angle, strength = rng.uniform(0, 2 * np.pi), rng.uniform(0, 0.35) * (1 + _wander(rng, frames, fps, 0.3))
    y, x = (np.mgrid[0:size, 0:size].astype(np.float32) + 0.5) / size - 0.5
    across = x * math.cos(angle) + y * math.sin(angle)
    return (level[:, None, None] * (1 + strength[:, None, None] * across))[..., None].astype(np.float32)


def _blinks(rng, frames, fps):
    blinks = np.zeros(frames, bool)
    length = max(1, round(_BLINK_SECONDS * fps))
    for start in rng.integers(0, frames, int(rng.integers(0, 3))):
        blinks[start:start + length] = True
    return blinks
