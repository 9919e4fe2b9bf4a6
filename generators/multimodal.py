"""Synthetic multimodal sentiment data with known cross-modal structure.

Every example has a text, an audio and a vision sequence (with padding masks), a
regression target in [-3, 3] and a class label, laid out exactly like the real MSA
readers' elements (`msa_tf.data.load_mmsa`), so any model trains on either.

How an example is made. Four latent signals are drawn: a shared `z` and one `z_m` per
modality. The `interaction` decides what each modality carries and what the target is:

- `redundant`: every modality carries `z`; the target is `clip(1.5 z, -3, 3)`.
- `unique`: only `unique_modality` carries `z`; the others carry their own `z_m`.
- `synergy`: the two `synergy_modalities` carry `z_a` and `z_b`, the third its own
  `z_m`, and the target is `clip(1.5 z_a z_b, -3, 3)`: neither modality alone says
  anything about it, only the two together.

A feature modality's real step is `c s w + sqrt(1 - c^2) noise_level e_t`, where `c` is
the modality's `correlation_strength`, `s` its signal, `w` a fixed unit direction (one
per modality and seed, shared by all splits) and `e_t` standard normal noise, summed
over a moving window of `smoothing` steps (scaled back to unit variance) when
`smoothing > 1`. Token text puts a sentiment token at a step with probability `c`,
positive with probability `sigmoid(3 s)`, and a neutral token otherwise.

For redundant data, the correlation between the target and a modality's mean over its
real steps of `<x_t, w>` is about `0.995 c / sqrt(c^2 + (1 - c^2) noise_level^2
smoothing E[1/L])`, with `L` the real length (0.995 is the correlation of `z` with the
clipped target). At the defaults (`c = 0.5`, lengths 10 to 50) that is about 0.94.
`MultimodalGenerator.report()` measures it and states the formula's value.

Determinism. Example `i` of split `s` with seed `k` is a pure function of `(k, s, i)`:
its random numbers are the block of a counter-based Philox stream (key from `(k, s)`)
that starts at a counter fixed by `i`, so any batch size, shard count or degree of
parallelism gives bit-identical examples, and a batch of examples costs one vectorised
draw.

Example:
>>> gen = MultimodalGenerator(num_samples=8, text_dim=6, audio_dim=4, vision_dim=3,
...                           min_length=2, max_length=5)
>>> inputs, targets = next(iter(gen.dataset("train", batch_size=4, pad_to=5)))
>>> {k: tuple(v.shape) for k, v in sorted(inputs.items())}  # doctest: +NORMALIZE_WHITESPACE
{'audio': (4, 5, 4), 'audio_mask': (4, 5), 'text': (4, 5, 6), 'text_mask': (4, 5),
 'vision': (4, 5, 3), 'vision_mask': (4, 5)}
>>> tuple(targets["regression"].shape), targets["classification"].dtype.name
((4, 1), 'int32')
"""

import dataclasses
import math

import numpy as np
import tensorflow as tf

from generators.draws import mix64, round_up4
from generators.padding import fit_lengths
from generators.validation import (
    check_bool,
    check_choice,
    check_int,
    check_number,
    check_unit,
    invalid,
    per_key,
)

MODALITIES = ("text", "audio", "vision")
SPLITS = {"train": 0, "valid": 1, "test": 2}
INTERACTIONS = ("redundant", "unique", "synergy")
NUM_CLASSES = (2, 3, 7)
MISSING_KINDS = ("modality", "steps")
PADDING_SIDES = ("right", "left")
TEXT_KINDS = ("features", "tokens")
TARGET_SCALE = 1.5
NUM_LATENTS = 4  # z shared, z_text, z_audio, z_vision
# Upper bounds: one modality of one example draws at most MAX_NUMBERS random numbers, a
# batch at most MAX_BATCH_NUMBERS; token ids are drawn through float32, exact up to 2**24;
# example indices stay in int64.
MAX_NUMBERS = 2**26
MAX_BATCH_NUMBERS = 2**31
MAX_VOCAB_SIZE = 2**24
MAX_NUM_SAMPLES = 2**62
MAX_NOISE_LEVEL = 10**6
INT32_MAX = 2**31 - 1

# Shapes of the public feature files (MMSA releases): max lengths and feature sizes.
PRESETS = {
    "mosi": dict(aligned=True, max_length=50, text_dim=768, audio_dim=5, vision_dim=20),
    "mosi_unaligned": dict(
        max_length={"text": 50, "audio": 375, "vision": 500},
        text_dim=768, audio_dim=5, vision_dim=20,
    ),
    "mosei": dict(aligned=True, max_length=50, text_dim=768, audio_dim=74, vision_dim=35),
    "mosei_unaligned": dict(
        max_length={"text": 50, "audio": 500, "vision": 500},
        text_dim=768, audio_dim=74, vision_dim=35,
    ),
    "sims": dict(
        max_length={"text": 39, "audio": 400, "vision": 55},
        text_dim=768, audio_dim=33, vision_dim=709,
    ),
}


@dataclasses.dataclass(frozen=True)
class MultimodalConfig:
    """Everything that defines a synthetic multimodal data set.

    Args:
        num_samples: examples per split; `None` repeats forever.
        seed: the data set's seed `k`.
        text: `"features"` (float vectors of `text_dim`) or `"tokens"` (int32 ids
            below `vocab_size`, 0 = padding).
        text_dim, audio_dim, vision_dim: feature sizes.
        vocab_size: vocabulary of token text.
        min_length, max_length: real lengths are uniform in [min, max]; an int or a
            dict per modality. Arrays are `max_length` long.
        aligned: if `True`, all modalities share the text's length and max length.
        padding: `"right"` or `"left"`.
        correlation_strength: `c` in [0, 1], one value or a dict per modality.
        smoothing: moving-window length of the noise in steps (1 = white noise).
        noise_level: scale of the noise, in [0, 10**6].
        num_classes: 2, 3 or 7 classes for `classification`.
        missing_rate: probability in [0, 1] that a modality (or a step) is missing.
        missing: `"modality"` (whole modalities go) or `"steps"` (single steps go).
        interaction: `"redundant"`, `"unique"` or `"synergy"`.
        unique_modality: the modality that carries the target for `"unique"`.
        synergy_modalities: the two modalities whose product is the target.

    A bad field raises `ValueError` naming it (NaN and infinity are never accepted).
    Sizes are bounded: a modality of one example draws at most `MAX_NUMBERS` random
    numbers (`max_length` times its feature size plus one, or times 4 for token text),
    and `vocab_size` is at most 2**24.
    """

    num_samples: int = 1000
    seed: int = 0
    text: str = "features"
    text_dim: int = 300
    audio_dim: int = 74
    vision_dim: int = 35
    vocab_size: int = 30000
    min_length: object = 10
    max_length: object = 50
    aligned: bool = False
    padding: str = "right"
    correlation_strength: object = 0.5
    smoothing: int = 1
    noise_level: float = 1.0
    num_classes: int = 7
    missing_rate: float = 0.0
    missing: str = "modality"
    interaction: str = "redundant"
    unique_modality: str = "text"
    synergy_modalities: tuple = ("audio", "vision")

    def __post_init__(self):
        if self.num_samples is not None:
            check_int("num_samples", self.num_samples, high=MAX_NUM_SAMPLES)
        check_int("seed", self.seed, low=0, high=2**64 - 1)
        check_choice("text", self.text, TEXT_KINDS)
        for name in ("text_dim", "audio_dim", "vision_dim"):
            check_int(name, getattr(self, name), high=MAX_NUMBERS - 1)
        check_int("vocab_size", self.vocab_size, low=16, high=MAX_VOCAB_SIZE)
        check_int("smoothing", self.smoothing, high=INT32_MAX)
        check_bool("aligned", self.aligned)
        min_length = per_key("min_length", self.min_length, MODALITIES, check_int)
        max_length = self.check_lengths("max_length", self.max_length)
        for m in MODALITIES:
            if min_length[m] > max_length[m]:
                raise ValueError(
                    f"`min_length` must not exceed `max_length`; received "
                    f"min_length={min_length[m]} > max_length={max_length[m]} for {m}"
                )
        if self.aligned and len({max_length[m] for m in MODALITIES}) > 1:
            raise invalid("max_length", self.max_length, "one length for aligned=True")
        check_choice("padding", self.padding, PADDING_SIDES)
        per_key("correlation_strength", self.correlation_strength, MODALITIES, check_unit)
        check_number("noise_level", self.noise_level, low=0, high=MAX_NOISE_LEVEL)
        check_choice("num_classes", self.num_classes, NUM_CLASSES)
        check_unit("missing_rate", self.missing_rate)
        check_choice("missing", self.missing, MISSING_KINDS)
        check_choice("interaction", self.interaction, INTERACTIONS)
        check_choice("unique_modality", self.unique_modality, MODALITIES)
        pair = self.synergy_modalities
        if (not isinstance(pair, (tuple, list)) or len(pair) != 2
                or not all(isinstance(m, str) and m in MODALITIES for m in pair) or pair[0] == pair[1]):
            raise invalid("synergy_modalities", pair, f"two different modalities of {MODALITIES}")
        object.__setattr__(self, "synergy_modalities", tuple(pair))  # a list read from JSON

    def check_lengths(self, name, value):
        """`value` (one number of steps, or a dict per modality) as a checked dict.

        A modality's steps are at most what `MAX_NUMBERS` random numbers per example allow.
        """
        lengths = per_key(name, value, MODALITIES, check_int)
        for m, steps in lengths.items():
            tokens = m == "text" and self.text == "tokens"
            high = MAX_NUMBERS // ((3 if tokens else self.dims()[m]) + 1)
            size = "token text" if tokens else f"{m}_dim={self.dims()[m]}"
            check_int(f"{name}[{m!r}]", steps, high=high, accepted=(
                f"an integer in [1, {high}] (with {size}: at most {MAX_NUMBERS} random numbers "
                "per modality and example)"))
        return lengths

    @classmethod
    def from_preset(cls, preset, **overrides):
        """The config with a public data set's shapes; `overrides` change any field.

        Presets: `mosi`, `mosi_unaligned`, `mosei`, `mosei_unaligned`, `sims`.
        """
        check_choice("preset", preset, tuple(PRESETS))
        values = dict(PRESETS[preset])
        values.update(overrides)
        if "min_length" not in overrides:
            max_length = per_key("max_length", values["max_length"], MODALITIES, check_int)
            values["min_length"] = {m: max(1, n // 5) for m, n in max_length.items()}
        return cls(**values)

    def lengths(self):
        """`{modality: (min_length, max_length)}` after alignment."""
        low = per_key("min_length", self.min_length, MODALITIES, check_int)
        high = per_key("max_length", self.max_length, MODALITIES, check_int)
        if self.aligned:
            return {m: (low["text"], high["text"]) for m in MODALITIES}
        return {m: (low[m], high[m]) for m in MODALITIES}

    def dims(self):
        return {"text": self.text_dim, "audio": self.audio_dim, "vision": self.vision_dim}

    def strengths(self):
        return per_key("correlation_strength", self.correlation_strength, MODALITIES, check_unit)

    def to_dict(self):
        values = dataclasses.asdict(self)
        values["synergy_modalities"] = list(self.synergy_modalities)
        return values


class _Layout:
    """Where each random number of an example sits in its normal and uniform blocks."""

    def __init__(self, config):
        self.lengths = config.lengths()
        self.dims = config.dims()
        self.float_modalities = [
            m for m in MODALITIES if not (m == "text" and config.text == "tokens")
        ]
        normal = {"latents": NUM_LATENTS}
        for m in self.float_modalities:
            normal[m] = self.lengths[m][1] * self.dims[m]
        # The draws for missing data are always made, so that changing `missing` or
        # `missing_rate` removes modalities or steps and leaves the rest unchanged.
        uniform = {"lengths": len(MODALITIES), "drop_modality": len(MODALITIES)}
        for m in MODALITIES:
            uniform[f"drop_{m}"] = self.lengths[m][1]
        if config.text == "tokens":
            uniform["tokens"] = 3 * self.lengths["text"][1]
        self.normal_sizes, self.uniform_sizes = normal, uniform
        self.normal_width = round_up4(sum(normal.values()))
        self.uniform_width = round_up4(sum(uniform.values()))

    @staticmethod
    def split(block, sizes, width):
        parts = tf.split(block, list(sizes.values()) + [width - sum(sizes.values())], axis=1)
        return dict(zip(sizes, parts))


class MultimodalGenerator:
    """Streams synthetic multimodal sentiment examples through `tf.data`.

    Takes a `MultimodalConfig`, or its fields as keyword arguments, or a `preset`
    name with overrides (see `MultimodalConfig.from_preset`).

    Example:
    >>> gen = MultimodalGenerator(preset="mosei", num_samples=64)
    >>> gen.config.audio_dim, gen.config.lengths()["vision"]
    (74, (10, 50))
    """

    def __init__(self, config=None, *, preset=None, **fields):
        if config is not None and (preset is not None or fields):
            raise ValueError("Give a `config`, or a `preset` and/or fields, not both")
        if config is not None and not isinstance(config, MultimodalConfig):
            raise invalid("config", config, "a MultimodalConfig")
        if config is None:
            config = (
                MultimodalConfig.from_preset(preset, **fields)
                if preset is not None
                else MultimodalConfig(**fields)
            )
        self.config = config
        self.layout = _Layout(config)
        self._directions = {
            m: self._direction(m) for m in self.layout.float_modalities
        }

    def _direction(self, modality):
        key = tf.constant([mix64(self.config.seed, 7, MODALITIES.index(modality))], tf.uint64)
        raw = tf.raw_ops.StatelessRandomNormalV2(
            shape=[self.config.dims()[modality]], key=key,
            counter=tf.zeros([2], tf.uint64), alg=1,
        )
        return raw / tf.norm(raw)

    def _keys(self, split):
        index = SPLITS[check_choice("split", split, tuple(SPLITS))]
        return tuple(
            tf.constant([mix64(self.config.seed, index, stream)], tf.uint64) for stream in (0, 1)
        )

    def generate(self, split, start, count):
        """Examples `start .. start + count - 1` of `split`, at full length.

        Returns `(inputs, targets)` dicts of tensors with a leading batch axis.
        """
        normal_key, uniform_key = self._keys(split)
        check_int("start", start, low=0, high=MAX_NUM_SAMPLES)
        self._check_batch("count", count)
        return self._generate(normal_key, uniform_key, start, count)

    def _check_batch(self, name, value, available=None):
        """`value` if a batch of `value` examples (at most `available`) draws at most
        `MAX_BATCH_NUMBERS` random numbers."""
        check_int(name, value, high=MAX_NUM_SAMPLES)
        numbers = self.layout.normal_width + self.layout.uniform_width
        rows = value if available is None else min(value, available)
        if rows * numbers > MAX_BATCH_NUMBERS:
            raise invalid(name, value, f"at most {MAX_BATCH_NUMBERS // numbers} for this config (a "
                                       f"batch draws at most {MAX_BATCH_NUMBERS} random numbers, an "
                                       f"example {numbers})")
        return value

    def _draw(self, op, key, start, count, width):
        counter = tf.stack([tf.cast(start, tf.uint64) * (width // 4), tf.constant(0, tf.uint64)])
        flat = op(shape=tf.reshape(count * width, [1]), key=key, counter=counter, alg=1)
        return tf.reshape(flat, [count, width])

    def _generate(self, normal_key, uniform_key, start, count):
        config, layout = self.config, self.layout
        start, count = tf.cast(start, tf.int64), tf.cast(count, tf.int64)
        normal = layout.split(
            self._draw(tf.raw_ops.StatelessRandomNormalV2, normal_key, start, count,
                       layout.normal_width),
            layout.normal_sizes, layout.normal_width,
        )
        uniform = layout.split(
            self._draw(tf.raw_ops.StatelessRandomUniformV2, uniform_key, start, count,
                       layout.uniform_width),
            layout.uniform_sizes, layout.uniform_width,
        )
        signals, regression = self._signals(normal["latents"])
        masks = self._masks(uniform)
        strengths = config.strengths()
        inputs = {}
        for m in MODALITIES:
            if m in layout.float_modalities:
                values = self._features(m, normal[m], signals[m], strengths[m])
            else:
                values = self._tokens(uniform["tokens"], signals[m], strengths[m])
            mask = masks[m]
            zero = tf.zeros([], values.dtype)
            inputs[m] = tf.where(mask[..., None] if values.shape.rank == 3 else mask, values, zero)
            inputs[f"{m}_mask"] = mask
        targets = {"regression": regression[:, None], "classification": self._classes(regression)}
        return inputs, targets

    def _signals(self, latents):
        config = self.config
        shared = latents[:, 0]
        own = {m: latents[:, 1 + i] for i, m in enumerate(MODALITIES)}
        if config.interaction == "redundant":
            signals = {m: shared for m in MODALITIES}
            target = shared
        elif config.interaction == "unique":
            signals = dict(own, **{config.unique_modality: shared})
            target = shared
        else:
            first, second = config.synergy_modalities
            signals = own
            target = own[first] * own[second]
        regression = tf.clip_by_value(TARGET_SCALE * target, -3.0, 3.0)
        return signals, regression

    def _masks(self, uniform):
        config, layout = self.config, self.layout
        lengths = {}
        for index, m in enumerate(MODALITIES):
            low, high = layout.lengths[m]
            source = 0 if config.aligned else index
            draw = uniform["lengths"][:, source]
            lengths[m] = tf.minimum(low + tf.cast(draw * (high - low + 1), tf.int32), high)
        masks = {}
        for index, m in enumerate(MODALITIES):
            high = layout.lengths[m][1]
            positions = tf.range(high)[None, :]
            length = lengths[m][:, None]
            mask = positions < length if config.padding == "right" else positions >= high - length
            if config.missing_rate > 0 and config.missing == "modality":
                kept = uniform["drop_modality"][:, index] >= config.missing_rate
                mask = tf.logical_and(mask, kept[:, None])
            elif config.missing_rate > 0:
                mask = tf.logical_and(mask, uniform[f"drop_{m}"] >= config.missing_rate)
            masks[m] = mask
        return masks

    def _features(self, modality, noise, signal, strength):
        config = self.config
        length = self.layout.lengths[modality][1]
        dim = self.layout.dims[modality]
        noise = tf.reshape(noise, [-1, length, dim])
        if config.smoothing > 1:
            window = config.smoothing
            total = tf.cumsum(noise, axis=1)
            # A window as long as the sequence or longer sums every step before.
            shifted = tf.pad(total, [[0, 0], [min(window, length), 0], [0, 0]])[:, :length]
            noise = (total - shifted) * (1.0 / math.sqrt(window))
        noise_scale = math.sqrt(1.0 - strength**2) * config.noise_level
        direction = self._directions[modality][None, None, :]
        return (strength * signal)[:, None, None] * direction + noise_scale * noise

    def _tokens(self, uniform, signal, strength):
        """Token ids: sentiment tokens (positive or negative) with probability `c`."""
        vocab = self.config.vocab_size
        length = self.layout.lengths["text"][1]
        is_sentiment, polarity, choice = tf.unstack(tf.reshape(uniform, [-1, length, 3]), axis=-1)
        sentiment_words = max(vocab // 10, 1)
        positive = polarity < tf.sigmoid(3.0 * signal)[:, None]
        sentiment_id = 1 + tf.cast(choice * sentiment_words, tf.int32)
        sentiment_id += tf.where(positive, 0, sentiment_words)
        neutral_first = 1 + 2 * sentiment_words
        neutral_id = neutral_first + tf.cast(choice * (vocab - neutral_first), tf.int32)
        ids = tf.where(is_sentiment < strength, sentiment_id, neutral_id)
        return tf.minimum(ids, vocab - 1)

    def _classes(self, regression):
        classes = self.config.num_classes
        if classes == 2:
            return tf.cast(regression >= 0, tf.int32)
        half = (classes - 1) // 2
        clipped = tf.clip_by_value(regression, -float(half), float(half))
        return tf.cast(tf.round(clipped), tf.int32) + half

    def batches(self, split, batch_size, start=0, stop=None, drop_remainder=False):
        """A dataset of full-length batches of examples `start .. stop - 1` of `split`.

        `stop=None` means `num_samples` (forever when that is `None`). Each batch is
        one vectorised draw; the last one may be smaller unless `drop_remainder`,
        which also makes the batch dimension static.
        """
        normal_key, uniform_key = self._keys(split)
        check_int("start", start, low=0, high=MAX_NUM_SAMPLES)
        stop = self.config.num_samples if stop is None else check_int(
            "stop", stop, low=start, high=MAX_NUM_SAMPLES)
        end = stop if stop is not None else MAX_NUM_SAMPLES
        self._check_batch("batch_size", batch_size, end - start)
        check_bool("drop_remainder", drop_remainder)
        if drop_remainder:
            end = start + (end - start) // batch_size * batch_size

        def block(first):
            count = batch_size if drop_remainder else tf.minimum(first + batch_size, end) - first
            return self._generate(normal_key, uniform_key, first, count)

        starts = tf.data.Dataset.range(start, end, batch_size)
        return starts.map(block, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    def dataset(self, split, batch_size, pad_to=None, drop_remainder=False, repeat=False):
        """The `tf.data.Dataset` of `(inputs, targets)` batches of `split`.

        Args:
            split: `"train"`, `"valid"` or `"test"`.
            batch_size: examples per batch.
            pad_to: `None` cuts each batch to its longest real sequence per modality;
                an int or a `{modality: int}` dict pads or cuts every batch to fixed
                lengths (static shapes for XLA and TPUs).
            drop_remainder: drop a last, smaller batch (static batch size).
            repeat: cycle through the split forever.
        """
        data = self.fit_lengths(self.batches(split, batch_size, drop_remainder=drop_remainder), pad_to)
        if check_bool("repeat", repeat):
            data = data.repeat()
        return data.prefetch(tf.data.AUTOTUNE)

    def fit_lengths(self, batches, pad_to):
        """Cuts or pads every modality of a batched `(inputs, targets)` dataset.

        `pad_to=None` cuts each batch after its last real step per modality (before
        the first, for left padding); otherwise each modality gets a fixed length (an
        int, or a dict per modality): zeros are added, or steps removed, at the
        padded side.
        """
        lengths = dict.fromkeys(MODALITIES) if pad_to is None else self.config.check_lengths("pad_to", pad_to)
        left = self.config.padding == "left"

        def fit(inputs, targets):
            return fit_lengths(inputs, lengths, left), targets

        return batches.map(fit, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    def report(self, split="train", num_samples=2048):
        """Measured properties of `num_samples` examples of `split`.

        Returns a dict: `correlation` (per modality, the Pearson correlation of the
        regression target with the modality's mean over real steps of its projection
        on the signal direction, or of its share of positive minus negative
        sentiment tokens), `expected_correlation` (the formula of the module doc,
        for redundant data), `length` (per modality mean/min/max real length),
        `missing_fraction` (per modality, examples with no real step), `regression`
        (mean, std, min, max) and `class_counts`.
        """
        check_int("num_samples", num_samples)
        count = min(num_samples, self.config.num_samples or num_samples)
        inputs, targets = self.generate(split, 0, count)
        target = targets["regression"].numpy()[:, 0]
        report = {"num_samples": count, "correlation": {}, "length": {}, "missing_fraction": {}}
        strengths = self.config.strengths()
        expected = {}
        for m in MODALITIES:
            mask = inputs[f"{m}_mask"].numpy()
            real = mask.sum(axis=1)
            score = self._evidence(m, inputs[m].numpy(), mask)
            mean_score = np.where(real > 0, score.sum(axis=1) / np.maximum(real, 1), 0.0)
            report["correlation"][m] = _pearson(mean_score, target)
            report["length"][m] = {
                "mean": float(real.mean()), "min": int(real.min()), "max": int(real.max())
            }
            report["missing_fraction"][m] = float(np.mean(real == 0))
            c = strengths[m]
            noise = (1 - c**2) * self.config.noise_level**2 * self.config.smoothing
            inverse_length = float(np.mean(1.0 / real[real > 0])) if real.any() else 1.0
            expected[m] = 0.995 * c / math.sqrt(c**2 + noise * inverse_length) if c else 0.0
        if self.config.interaction == "redundant" and self.config.text == "features":
            report["expected_correlation"] = expected
        report["regression"] = {
            "mean": float(target.mean()), "std": float(target.std()),
            "min": float(target.min()), "max": float(target.max()),
        }
        labels = targets["classification"].numpy()
        report["class_counts"] = np.bincount(labels, minlength=self.config.num_classes).tolist()
        return report

    def _evidence(self, modality, values, mask):
        """Per-step evidence for the signal: the projection, or the token polarity."""
        if modality in self._directions:
            return np.einsum("btd,d->bt", values, self._directions[modality].numpy()) * mask
        words = max(self.config.vocab_size // 10, 1)
        positive = (values >= 1) & (values < 1 + words)
        negative = (values >= 1 + words) & (values < 1 + 2 * words)
        return (positive.astype(float) - negative) * mask


def _pearson(x, y):
    if np.std(x) == 0 or np.std(y) == 0:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])
