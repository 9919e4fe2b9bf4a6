"""Synthetic token sequences with known structure, for language-model prototyping.

A family of sequences is a `SequenceGenerator` subclass registered in `FAMILIES`;
`make_generator("mqar", num_pairs=4)` makes one by name. Every generator yields
batches of dicts of tensors with a leading batch axis:

- `tokens`: int32 `(batch, seq_length)`, `PAD` after the real length.
- `tokens_mask`: bool, `True` at real tokens.
- `labels`: int32, what to predict at position `t`: the next token `tokens[t + 1]`
  where `t + 1` is real, `IGNORE_INDEX` elsewhere. Recall tasks (`mqar`,
  `induction`, `selective_copy`) keep labels only where the next token is an answer.
  Wherever a label is set, it is the next token.
- `pattern`: int32, the `PATTERN_TYPES` id of the span holding position `t`, -1 outside.
- `predictable`: bool, the token at `t` is determined by earlier tokens of its span
  or task (the family says exactly which).
- `condition`: int32 `(batch,)`, a per-sequence class: the condition (`conditional`),
  the theme (`hierarchical`), the template (`template`), the letter (`planted`);
  -1 for the other families.

Sampled tokens are in `[NUM_SPECIAL_TOKENS, vocab_size)`; `PAD`, `BOS`, `EOS` and
`SEP` are reserved. Options common to every family: `vocab_size`, `seq_length`,
`num_samples` (per split; `None` streams forever), `seed`, `length_variation` (`v` in
[0, 1): the real length is uniform in `[ceil((1 - v) seq_length), seq_length]`) and
`noise_probability` (each real token is replaced by a uniform random sampled token
with that probability, after the family made the sequence). Noise never touches a
recall task's keys, values, triggers, answers or copied tokens, nor a prompt
(`conditional`'s control token, `planted`'s letter and separator). A replaced token
keeps its `pattern` id and loses `predictable` (the tokens after it keep theirs), and
the default labels follow the noisy tokens.

Determinism. Sequence `i` of split `s` with seed `k` is a pure function of `(k, s, i)`:
each random block comes from its own counter-based Philox stream and starts at a
counter fixed by `i` (see `generators.draws.Draws`), so any batch size, start or shard split gives
bit-identical sequences, and a batch costs a few vectorised draws.

A new family is a subclass with one vectorised method, `_sequences(draw, lengths)`,
returning at least `tokens` (and, as it likes, `pattern`, `predictable`, `condition`,
`labels`, `lengths`, `protected`: see `SequenceGenerator._sequences`); the base class
does lengths, masks, noise, labels and datasets. `register(name)` adds it to
`FAMILIES`. A counter that steps down from a random start:

>>> class Countdown(SequenceGenerator):
...     options = {"step": 1}
...
...     def _setup(self):
...         check_int("step", self.step)
...
...     def _sequences(self, draw, lengths):
...         first = draw.integers(1, 0, self.sampled_size)  # one random start per sequence
...         offsets = self.step * tf.range(self.seq_length)[None, :]
...         tokens = NUM_SPECIAL_TOKENS + (first - offsets) % self.sampled_size
...         return {"tokens": tokens, "predictable": offsets > 0}
>>> gen = Countdown(vocab_size=24, seq_length=6, length_variation=0.5, step=2)
>>> batch = gen.generate("train", start=0, count=3)
>>> batch["tokens"].numpy()
array([[19, 17, 15, 13, 11,  0],
       [16, 14, 12,  0,  0,  0],
       [15, 13, 11,  9,  7,  0]], dtype=int32)
>>> batch["labels"].numpy()[1]
array([  14,   12, -100, -100, -100, -100], dtype=int32)
"""

import abc
import difflib
import functools
import math

import numpy as np
import tensorflow as tf

from generators.draws import Draws, block_batches, graph_generate, mix64
from generators.multimodal import SPLITS
from generators.validation import (
    check_bool,
    check_choice,
    check_int,
    check_number,
    check_unit,
    invalid,
    is_integer,
)

PAD, BOS, EOS, SEP = 0, 1, 2, 3
NUM_SPECIAL_TOKENS = 4
IGNORE_INDEX = -100
PATTERN_TYPES = ("repetition", "alternation", "progression", "reversal")
NO_PATTERN = len(PATTERN_TYPES)  # the row of the span tables for positions outside spans
# Token ids go through float32 in places (exact up to 2**24); a batch holds at most
# MAX_BATCH_TOKENS tokens, so that every index of a batch fits int32.
MAX_VOCAB_SIZE = 2**24
MAX_SEQ_LENGTH = 2**20
MAX_BATCH_TOKENS = 2**28
MAX_NUM_SAMPLES = 2**62
STREAM_LENGTHS, STREAM_NOISE, STREAM_FAMILY = 0, 1, 2
TABLE_SPLIT = len(SPLITS)  # the "split" of the per-seed tables, which all splits share

FAMILIES = {}


def register(name):
    """Class decorator: registers a `SequenceGenerator` subclass as family `name`."""

    def decorator(cls):
        if name in FAMILIES and FAMILIES[name] is not cls:
            raise ValueError(f"A sequence family named {name!r} is registered already: {FAMILIES[name]}")
        FAMILIES[name] = cls
        cls.family = name
        return cls

    return decorator


def family_names():
    """The registered family names, sorted."""
    return sorted(FAMILIES)


def make_generator(family, **options):
    """The generator of the registered `family` with `options`.

    `make_generator(**generator.to_dict())` remakes a generator.

    >>> make_generator("random", vocab_size=50, seq_length=4).to_dict()["vocab_distribution"]
    'uniform'
    >>> make_generator("mqar", num_pair=2)
    Traceback (most recent call last):
    ...
    ValueError: sequence family 'mqar' takes no argument 'num_pair' (did you mean 'num_pairs'?); \
accepted: vocab_size, seq_length, num_samples, seed, length_variation, noise_probability, \
num_pairs, power_a
    """
    check_choice("family", family, tuple(family_names()))
    return FAMILIES[family](**options)


def _table(seed, stream, shape, high):
    """A per-seed int32 table of `shape`, uniform in [0, `high`), shared by all splits."""
    key = tf.constant([mix64(seed, TABLE_SPLIT, stream)], tf.uint64)
    flat = tf.raw_ops.StatelessRandomUniformIntV2(
        shape=[int(np.prod(shape))], key=key, counter=tf.zeros([2], tf.uint64), alg=1,
        minval=tf.constant(0, tf.int32), maxval=tf.constant(high, tf.int32))
    return tf.reshape(flat, shape).numpy()


class SequenceGenerator(abc.ABC):
    """Streams synthetic token sequences of one family through `tf.data`.

    Args:
        vocab_size: token ids are below it; sampled ones are at least `NUM_SPECIAL_TOKENS`.
        seq_length: tokens per sequence, padding included.
        num_samples: sequences per split; `None` streams forever.
        seed: the data set's seed.
        length_variation: `v` in [0, 1); real lengths are uniform in
            `[ceil((1 - v) seq_length), seq_length]`.
        noise_probability: probability in [0, 1] that a real token is replaced by a
            random sampled token (see the module doc for what noise never touches).
        **family_options: the options of the family, listed in its class attribute
            `options` with their defaults.

    A bad value raises `ValueError` naming it, the value and what is accepted.
    """

    family = None
    options = {}

    def __init__(self, *, vocab_size=1000, seq_length=128, num_samples=1000, seed=0,
                 length_variation=0.0, noise_probability=0.0, **family_options):
        for name in family_options:
            if name not in self.options:
                accepted = list(self._common_arguments()) + list(self.options)
                matches = difflib.get_close_matches(name, accepted, n=1)
                hint = f" (did you mean {matches[0]!r}?)" if matches else ""
                raise ValueError(f"sequence family {self.family!r} takes no argument {name!r}{hint}; "
                                 f"accepted: {', '.join(accepted)}")
        self.vocab_size = check_int("vocab_size", vocab_size, low=NUM_SPECIAL_TOKENS + 1,
                                    high=MAX_VOCAB_SIZE)
        self.seq_length = check_int("seq_length", seq_length, high=MAX_SEQ_LENGTH)
        if num_samples is not None:
            check_int("num_samples", num_samples, high=MAX_NUM_SAMPLES)
        self.num_samples = num_samples
        self.seed = check_int("seed", seed, low=0, high=2**64 - 1)
        check_number("length_variation", length_variation, low=0, high=1, accepted="a number in [0, 1)")
        if length_variation == 1:
            raise invalid("length_variation", length_variation, "a number in [0, 1)")
        self.length_variation = length_variation
        self.noise_probability = check_unit("noise_probability", noise_probability)
        # ceil((1 - v) L), robust to rounding: (1 - 0.3) * 10 is 7.000000000000001.
        self.min_length = max(1, math.ceil(round((1 - length_variation) * seq_length, 9)))
        for name, default in self.options.items():
            setattr(self, name, family_options.get(name, default))
        self._setup()
        self._functions = {}  # split: `_generate` as a graph function

    @staticmethod
    def _common_arguments():
        return ("vocab_size", "seq_length", "num_samples", "seed", "length_variation",
                "noise_probability")

    def _setup(self):
        """Checks the family options (set as attributes) and prepares tables; optional."""
        return None

    @abc.abstractmethod
    def _sequences(self, draw, lengths):
        """The family's sequences of one batch (the one method a family must implement).

        Args:
            draw: a `Draws`: `draw(*widths)` gives `(count, width)` float32 uniforms,
                `draw.integers(width, low, high)` int32 ones; `draw.count` is the batch size.
            lengths: int32 `(count,)` real lengths; the base class pads after them.

        Returns:
            A dict with `tokens` (int32 `(count, seq_length)`) and any of: `pattern`,
            `predictable`, `labels` (defaults: -1, `False`, next tokens), `condition`
            (`(count,)`, default -1), `lengths` (`(count,)` real lengths, at most
            `lengths`) and `protected` (bool, tokens that noise never replaces). Values
            may broadcast to `(count, seq_length)`.
        """

    @property
    def sampled_size(self):
        """The number of sampled (non-special) token ids."""
        return self.vocab_size - NUM_SPECIAL_TOKENS

    def to_dict(self):
        """The JSON-able arguments, with `"family"`: `make_generator(**d)` remakes the generator."""
        values = {"family": self.family}
        for name in self._common_arguments() + tuple(self.options):
            values[name] = _jsonable(getattr(self, name))
        return values

    def _check_count(self, name, value, available=None):
        check_int(name, value, high=MAX_NUM_SAMPLES)
        rows = value if available is None else min(value, available)
        if rows * self.seq_length > MAX_BATCH_TOKENS:
            raise invalid(name, value, f"at most {MAX_BATCH_TOKENS // self.seq_length} for "
                                       f"seq_length={self.seq_length} (a batch holds at most "
                                       f"{MAX_BATCH_TOKENS} tokens)")
        return value

    def generate(self, split, start, count):
        """Sequences `start .. start + count - 1` of `split`, as a dict of tensors.

        Runs as a graph function, traced once per split.
        """
        index = SPLITS[check_choice("split", split, tuple(SPLITS))]
        check_int("start", start, low=0, high=MAX_NUM_SAMPLES)
        self._check_count("count", count)
        return graph_generate(self._functions, self._generate, index, start, count)

    def _generate(self, split, start, count):
        length = self.seq_length
        draws = {stream: Draws(self.seed, split, stream, start, count)
                 for stream in (STREAM_LENGTHS, STREAM_NOISE, STREAM_FAMILY)}
        count = draws[STREAM_FAMILY].count
        shape = [count, length]
        if self.min_length < length:
            lengths = draws[STREAM_LENGTHS].integers(1, self.min_length, length + 1)[:, 0]
        else:
            lengths = tf.fill([count], length)
        out = self._sequences(draws[STREAM_FAMILY], lengths)
        full = self.min_length == length and "lengths" not in out
        if "lengths" in out:
            lengths = tf.minimum(lengths, out["lengths"])
        mask = tf.ones(shape, tf.bool) if full else tf.sequence_mask(lengths, length)
        tokens = tf.ensure_shape(tf.broadcast_to(out["tokens"], shape), [None, length])
        predictable = tf.broadcast_to(out.get("predictable", False), shape)
        if self.noise_probability > 0:
            noise = draws[STREAM_NOISE]
            replace = tf.logical_and(noise(length) < self.noise_probability, mask)
            if "protected" in out:
                replace = tf.logical_and(replace, tf.logical_not(out["protected"]))
            tokens = tf.where(replace, noise.integers(length, NUM_SPECIAL_TOKENS, self.vocab_size), tokens)
            predictable = tf.logical_and(predictable, tf.logical_not(replace))
        pattern = tf.broadcast_to(out.get("pattern", -1), shape)
        if not full:
            tokens = tf.where(mask, tokens, PAD)
            predictable = tf.logical_and(predictable, mask)
            pattern = tf.where(mask, pattern, -1)
        if "labels" in out:
            labels = tf.broadcast_to(out["labels"], shape)
            if not full:
                labels = tf.where(mask, labels, IGNORE_INDEX)
        else:
            has_next = np.arange(length) < length - 1 if full else tf.sequence_mask(lengths - 1, length)
            labels = tf.where(has_next, tf.roll(tokens, -1, axis=1), IGNORE_INDEX)
        condition = tf.broadcast_to(out.get("condition", -1), [count])
        return {"tokens": tokens, "tokens_mask": mask, "labels": labels, "pattern": pattern,
                "predictable": predictable, "condition": condition}

    def batches(self, split, batch_size, start=0, stop=None, drop_remainder=False):
        """A dataset of batches (dicts as `generate` returns) of sequences `start .. stop - 1`.

        `stop=None` means `num_samples`, or forever when that is `None`. The cardinality
        is known when the dataset is finite; `drop_remainder` drops a last, smaller
        batch and makes the batch dimension static.
        """
        index = SPLITS[check_choice("split", split, tuple(SPLITS))]
        check_int("start", start, low=0, high=MAX_NUM_SAMPLES)
        stop = self.num_samples if stop is None else check_int("stop", stop, low=start,
                                                                high=MAX_NUM_SAMPLES)
        self._check_count("batch_size", batch_size, None if stop is None else stop - start)
        check_bool("drop_remainder", drop_remainder)
        return block_batches(functools.partial(self._generate, index), start, stop, batch_size,
                             drop_remainder)

    def dataset(self, split, batch_size, drop_remainder=False, repeat=False):
        """The `tf.data.Dataset` of `({"tokens", "tokens_mask"}, {"next_token": labels})`
        batches of `split`, prefetched; `repeat` cycles through the split forever."""
        data = self.batches(split, batch_size, drop_remainder=drop_remainder).map(
            lambda b: ({"tokens": b["tokens"], "tokens_mask": b["tokens_mask"]},
                       {"next_token": b["labels"]}),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        if check_bool("repeat", repeat):
            data = data.repeat()
        return data.prefetch(tf.data.AUTOTUNE)


def _jsonable(value):
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    return value


def leakage(generator, train="train", test="test", num_samples=None):
    """The share of `test` sequences whose real tokens are also a sequence of `train`.

    `num_samples` sequences of each split are compared (default: the generator's
    `num_samples`). Tiny vocabularies and lengths leak; the defaults do not.

    >>> leakage(make_generator("random", vocab_size=6, seq_length=3, num_samples=64))
    1.0
    >>> leakage(make_generator("random", num_samples=64))
    0.0
    """
    check_choice("train", train, tuple(SPLITS))
    check_choice("test", test, tuple(SPLITS))
    if num_samples is None and generator.num_samples is None:
        raise invalid("num_samples", None, "an integer >= 1 when the generator's num_samples is None")
    num_samples = check_int("num_samples", generator.num_samples if num_samples is None else num_samples,
                            high=MAX_NUM_SAMPLES)
    block = max(1, min(num_samples, 2**20 // generator.seq_length))
    seen = set(_real_sequences(generator, train, num_samples, block))
    return float(np.mean([s in seen for s in _real_sequences(generator, test, num_samples, block)]))


def _real_sequences(generator, split, num_samples, block):
    for batch in generator.batches(split, block, stop=num_samples):
        tokens, lengths = batch["tokens"].numpy(), batch["tokens_mask"].numpy().sum(axis=1)
        for row, length in zip(tokens, lengths):
            yield row[:length].tobytes()


# The families.


def _pick(u, n):
    """Indices uniform in [0, `n`) from uniforms `u` in [0, 1) (`n` an int or an int32 tensor)."""
    return tf.minimum(tf.cast(u * tf.cast(n, tf.float32), tf.int32), n - 1)


def _other(u, own, n):
    """Indices uniform among [0, `n`) without `own`, from uniforms `u`."""
    return (own + 1 + _pick(u, n - 1)) % n


def _take(values, index):
    """`values[r, index[r, t]]` for every row `r` (a flat gather, faster than `batch_dims`)."""
    rows = tf.range(tf.shape(index)[0])[:, None] * values.shape[1]
    return tf.gather(tf.reshape(values, [-1]), index + rows)


def _place(values, positions, length):
    """`(count, length)` int32: `values[r, j]` at `positions[r, j]` (distinct in a row), 0 elsewhere."""
    count = tf.shape(values)[0]
    flat = positions + tf.range(count)[:, None] * length
    placed = tf.math.unsorted_segment_sum(tf.reshape(values, [-1]), tf.reshape(flat, [-1]), count * length)
    return tf.reshape(placed, [count, length])


def _spread(values):
    """`values` `(count, k)` sorted in each row, the `j`-th plus `j`: distinct, ascending.

    From `k` i.i.d. draws in [0, n) this gives a `k`-subset of [0, n + k - 1); the
    subsets with neighbours are a little rarer than under uniform sampling of subsets.
    """
    return tf.sort(values, axis=1) + tf.range(values.shape[1])


def _shuffle(values, u):
    """Each row of `values` in the random order given by the uniforms `u` (same shape)."""
    return _take(values, tf.argsort(u, axis=1))


def _wrap(values, size):
    """`values % size` for `values` in [0, 2 size) (cheaper than a modulo)."""
    return tf.where(values >= size, values - size, values)


def _next(tokens):
    """`tokens[:, t + 1]` at every `t` (the last column wraps round: mask it)."""
    return tf.roll(tokens, -1, axis=1)


def _check_pattern_types(name, value, minimum=1):
    if not isinstance(value, (tuple, list)) or len(value) < minimum:
        raise invalid(name, value, f"a list of at least {minimum} different names of {PATTERN_TYPES}")
    for index, item in enumerate(value):
        check_choice(f"{name}[{index}]", item, PATTERN_TYPES)
    if len(set(value)) != len(value):
        raise invalid(name, value, f"a list of different names of {PATTERN_TYPES}")
    return tuple(value)


class _SpanTables:
    """Where each token of a pattern span comes from, per type and offset in the span.

    Rows 0-3 are the `PATTERN_TYPES`, row `NO_PATTERN` positions outside spans; column
    `o` is the offset in a span of `pattern_length`. A span's tokens are the span's
    own random ranks, read at `source` and shifted by `step` (modulo the sampled
    range): a repetition repeats its first `motif_length` tokens, an alternation its
    first two, a progression counts up from its first, a reversal mirrors its first
    half (the middle token once, for odd lengths).
    """

    def __init__(self, pattern_length, motif_length, types, size):
        m, o = pattern_length, np.arange(pattern_length)
        zeros = np.zeros(m, np.int32)
        self.size = size
        self.source = np.stack([o % motif_length, o % 2, zeros, np.minimum(o, m - 1 - o), o]).astype(np.int32)
        step = np.stack([zeros, zeros, o % size, zeros, zeros]).astype(np.int32)  # below size: see _wrap
        self.step = step if "progression" in types else None
        first_predictable = np.array([motif_length, 2, 1, (m + 1) // 2, m])
        self.predictable = o[None, :] >= first_predictable[:, None]
        self.pattern = np.repeat(np.array([0, 1, 2, 3, -1], np.int32)[:, None], m, axis=1)

    def slots(self, rows, ranks, offset=0):
        """Spans laid out in slots of `pattern_length`, from position `-offset` on.

        `rows` `(count, slots)` is each slot's row (the last slot may be cut),
        `ranks` `(count, length)` random ranks in [0, `size`). Returns the ranks,
        `predictable` and `pattern` of the positions, `(count, length)` each.
        """
        m, length = self.source.shape[1], ranks.shape[1]
        starts = np.arange(offset, offset + length) // m * m - offset

        def spread(table):
            gathered = tf.gather(tf.constant(table), rows)
            return tf.reshape(gathered, [tf.shape(rows)[0], -1])[:, offset:offset + length]

        ranks = _take(ranks, spread(self.source) + starts)
        if self.step is not None:
            ranks = _wrap(ranks + spread(self.step), self.size)
        return ranks, spread(self.predictable), spread(self.pattern)


class _SpanOptions:
    """The span options shared by `pattern`, `conditional` and `template`."""

    def _check_spans(self, size, minimum_types=1):
        """Checks the span options; spans draw their tokens from `size` ranks."""
        self.pattern_types = _check_pattern_types("pattern_types", self.pattern_types, minimum_types)
        check_int("pattern_length", self.pattern_length, low=2, high=self.seq_length,
                  accepted=f"an integer in [2, seq_length={self.seq_length}]")
        check_int("motif_length", self.motif_length, high=self.pattern_length - 1,
                  accepted=f"an integer in [1, pattern_length - 1={self.pattern_length - 1}]")
        self._spans = _SpanTables(self.pattern_length, self.motif_length, self.pattern_types, size)
        self._type_ids = tf.constant([PATTERN_TYPES.index(t) for t in self.pattern_types], tf.int32)


def _alias_table(probabilities):
    """Vose's alias table of `probabilities`, packed for `RandomSequences`.

    Column `c` of `2**bits` (at least `len(probabilities)`) keeps `c` when a
    `31 - bits`-bit coin is below its threshold and else gives its alias; the int32
    entry is `threshold << bits | alias`. Returns `(table, bits)`.
    """
    bits = max(0, (len(probabilities) - 1).bit_length())
    columns, coin = 1 << bits, 1 << (31 - bits)
    share = np.zeros(columns)
    share[:len(probabilities)] = probabilities * columns
    alias = np.arange(columns)
    small = [c for c in range(columns) if share[c] < 1]
    large = [c for c in range(columns) if share[c] >= 1]
    while small and large:
        low, high = small.pop(), large.pop()
        alias[low] = high
        share[high] -= 1 - share[low]
        (small if share[high] < 1 else large).append(high)
    # The columns past the range (share 0) are last in `small`, so paired first: only
    # columns with a share of about 1 are left over by rounding, and keep.
    share[small + large] = 1
    threshold = np.minimum(np.round(share * coin), coin - 1).astype(np.int64)
    return (threshold << bits | alias).astype(np.int32), bits


@register("random")
class RandomSequences(SequenceGenerator):
    """Independent random tokens.

    Options:
        vocab_distribution: `"uniform"`, or `"zipf"`: the token of rank `r` (1 =
            `NUM_SPECIAL_TOKENS`) has probability proportional to `r ** -zipf_exponent`.
        zipf_exponent: a number > 0.

    Zipf ranks come from an alias table (Walker, Vose: one draw and one table
    lookup per token); its coins have `31 - ceil(log2(sampled range))` bits, so a
    rank's probability is exact to that many bits of `1 / sampled range`.

    Metadata: none (`pattern` -1, nothing `predictable`).

    >>> gen = RandomSequences(vocab_size=50, seq_length=6, vocab_distribution="zipf")
    >>> gen.generate("train", 0, 2)["tokens"].numpy()
    array([[ 5,  4, 15,  4,  4, 32],
           [ 4, 32, 10,  4, 28, 21]], dtype=int32)
    """

    options = {"vocab_distribution": "uniform", "zipf_exponent": 1.0}

    def _setup(self):
        check_choice("vocab_distribution", self.vocab_distribution, ("uniform", "zipf"))
        check_number("zipf_exponent", self.zipf_exponent, low=0, accepted="a finite number > 0")
        if self.zipf_exponent <= 0:
            raise invalid("zipf_exponent", self.zipf_exponent, "a finite number > 0")
        if self.vocab_distribution == "zipf":
            weights = np.arange(1, self.sampled_size + 1, dtype=np.float64) ** -float(self.zipf_exponent)
            table, self._bits = _alias_table(weights / weights.sum())
            self._alias = tf.constant(table)

    def _sequences(self, draw, lengths):
        if self.vocab_distribution == "uniform":
            return {"tokens": draw.integers(self.seq_length, NUM_SPECIAL_TOKENS, self.vocab_size)}
        bits = self._bits
        number = draw.integers(self.seq_length, 0, 2**31 - 1)
        column = tf.bitwise.right_shift(number, 31 - bits)
        entry = tf.gather(self._alias, column)
        keep = tf.bitwise.bitwise_and(number, (1 << (31 - bits)) - 1) < tf.bitwise.right_shift(entry, bits)
        rank = tf.where(keep, column, tf.bitwise.bitwise_and(entry, (1 << bits) - 1))
        return {"tokens": NUM_SPECIAL_TOKENS + rank}


@register("pattern")
class PatternSequences(_SpanOptions, SequenceGenerator):
    """Random tokens with pattern spans.

    The sequence is cut into slots of `pattern_length` (the last one may be shorter);
    each slot is a pattern span with probability `pattern_probability`, of a type
    drawn uniformly from `pattern_types`, and random tokens otherwise. So the expected
    share of real positions inside spans is exactly `pattern_probability`, whatever
    the lengths. Spans: `repetition` repeats a random motif of `motif_length`,
    `alternation` is A B A B ... (A and B random, equal with probability 1 over the
    sampled range), `progression` is k, k+1, ... modulo the sampled range,
    `reversal` a random half and then its mirror.

    Metadata: `pattern` is the span's type id; `predictable` marks the motif's
    repeats, the alternation after A B, the progression after its first token and the
    mirrored half.

    Options: `pattern_types` (default all), `pattern_probability` (0.5),
    `pattern_length` (8, in [2, seq_length]), `motif_length` (3, below `pattern_length`).

    >>> gen = PatternSequences(vocab_size=30, seq_length=8, pattern_length=4,
    ...                        pattern_probability=1.0, pattern_types=["progression"])
    >>> gen.generate("train", 0, 1)["tokens"].numpy()
    array([[28, 29,  4,  5,  5,  6,  7,  8]], dtype=int32)
    """

    options = {"pattern_types": PATTERN_TYPES, "pattern_probability": 0.5, "pattern_length": 8,
               "motif_length": 3}

    def _setup(self):
        self._check_spans(self.sampled_size)
        check_unit("pattern_probability", self.pattern_probability)

    def _sequences(self, draw, lengths):
        slots = -(-self.seq_length // self.pattern_length)
        decide, kind = draw(slots, slots)
        ranks = draw.integers(self.seq_length, 0, self.sampled_size)
        types = tf.gather(self._type_ids, _pick(kind, len(self.pattern_types)))
        rows = tf.where(decide < self.pattern_probability, types, NO_PATTERN)
        ranks, predictable, pattern = self._spans.slots(rows, ranks)
        return {"tokens": NUM_SPECIAL_TOKENS + ranks, "predictable": predictable, "pattern": pattern}


@register("hierarchical")
class HierarchicalSequences(SequenceGenerator):
    """Phrases of a theme's vocabulary, phrases of phrases, under a global theme.

    The sampled range is cut into `num_themes` sub-vocabularies of
    `(vocab_size - NUM_SPECIAL_TOKENS) // num_themes` tokens (theme `t` owns the
    `t`-th block; a remainder is never used). Level 1: each sequence has a theme
    (uniform; reported as `condition`). Level 2: a phrase is `phrase_length` tokens; a
    per-seed table holds `num_phrases` phrase templates per theme (`phrases`, token
    ids). Level `l > 2`: a unit of `phrase_length ** (l - 1)` tokens is
    `phrase_length` units of level `l - 1`, whose template ids a per-seed table of
    level `l` gives. The sequence is a run of units of the top level,
    `hierarchy_levels`, the last one cut.

    Each top unit takes the sequence's theme with probability `global_coherence`,
    else a uniform random theme (possibly the same), and all its tokens come from
    that theme's sub-vocabulary. Each unit follows its template with probability
    `structure_probability`, else its parts are random: random template ids below
    it, or, for a phrase, random tokens of its theme. Top units pick random template
    ids.

    Measurable: the expected share of a sequence's tokens in its theme's
    sub-vocabulary is `g + (1 - g) / num_themes` with `g = global_coherence`, and the
    share of phrases (aligned runs of `phrase_length`) equal to a template of their
    theme is `structure_probability` (plus the rare chance a random phrase is one).

    Metadata: `condition` is the theme; `predictable` marks the tokens of a template
    phrase after its first (determined given the template); `pattern` is -1.

    Options: `hierarchy_levels` (2, in [2, 8]), `num_themes` (8), `num_phrases` (16),
    `phrase_length` (4, at least 2), `structure_probability` (0.8),
    `global_coherence` (0.9). `vocab_size` must give each theme 2 tokens at least.

    >>> gen = HierarchicalSequences(vocab_size=36, seq_length=8, num_themes=4, num_phrases=2,
    ...                             structure_probability=1.0, global_coherence=1.0, seed=1)
    >>> batch = gen.generate("train", 0, 2)
    >>> batch["condition"].numpy(), batch["tokens"].numpy()  # doctest: +NORMALIZE_WHITESPACE
    (array([1, 3], dtype=int32), array([[17, 17, 12, 12, 13, 12, 18, 17],
                                        [35, 30, 28, 32, 35, 30, 28, 32]], dtype=int32))
    >>> gen.phrases[1].tolist()  # the templates of theme 1 (tokens 12 to 19)
    [[13, 12, 18, 17], [17, 17, 12, 12]]
    """

    options = {"hierarchy_levels": 2, "num_themes": 8, "num_phrases": 16, "phrase_length": 4,
               "structure_probability": 0.8, "global_coherence": 0.9}

    def _setup(self):
        check_int("hierarchy_levels", self.hierarchy_levels, low=2, high=8)
        check_int("vocab_size", self.vocab_size, low=NUM_SPECIAL_TOKENS + 2, high=MAX_VOCAB_SIZE)
        check_int("num_themes", self.num_themes, high=self.sampled_size // 2,
                  accepted=f"an integer in [1, {self.sampled_size // 2}] (2 tokens per theme at least, "
                           f"with vocab_size={self.vocab_size})")
        check_int("num_phrases", self.num_phrases, high=2**16)
        check_int("phrase_length", self.phrase_length, low=2, high=self.seq_length,
                  accepted=f"an integer in [2, seq_length={self.seq_length}]")
        check_unit("structure_probability", self.structure_probability)
        check_unit("global_coherence", self.global_coherence)
        self._theme_size = self.sampled_size // self.num_themes
        shape = (self.num_themes, self.num_phrases, self.phrase_length)
        words = _table(self.seed, 0, shape, self._theme_size)
        firsts = NUM_SPECIAL_TOKENS + self._theme_size * np.arange(self.num_themes)
        self.phrases = firsts[:, None, None] + words
        self._words = tf.constant(words.reshape(-1, self.phrase_length))
        # Level l (from 3) maps (theme, template id, part) to the template id of a part.
        self._parts = {level: tf.constant(_table(self.seed, level, shape, self.num_phrases).reshape(-1))
                       for level in range(3, self.hierarchy_levels + 1)}

    def _sequences(self, draw, lengths):
        length, p, top = self.seq_length, self.phrase_length, self.hierarchy_levels
        levels = range(2, top + 1)

        def tokens_of(level):
            """Tokens in a unit of `level` (or the whole sequence, if fewer)."""
            return min(p ** (level - 1), length)

        units = {level: -(-length // tokens_of(level)) for level in levels}
        own_theme, coherent, random_theme, *blocks = draw(
            1, units[top], units[top], *[units[level] for level in levels for _ in (0, 1)])
        ids = {level: _pick(blocks[2 * i], self.num_phrases) for i, level in enumerate(levels)}
        follows = {level: blocks[2 * i + 1] < self.structure_probability for i, level in enumerate(levels)}
        ranks = draw.integers(length, 0, self._theme_size)
        theme = _pick(own_theme, self.num_themes)
        themes = tf.where(coherent < self.global_coherence, theme, _pick(random_theme, self.num_themes))
        for level in range(top, 2, -1):
            child = np.arange(units[level - 1])
            parent = child // p
            unit_theme = tf.gather(themes, child * tokens_of(level - 1) // tokens_of(top), axis=1)
            parts = (unit_theme * self.num_phrases + tf.gather(ids[level], parent, axis=1)) * p + child % p
            ids[level - 1] = tf.where(tf.gather(follows[level], parent, axis=1),
                                      tf.gather(self._parts[level], parts), ids[level - 1])
        phrase_theme = tf.gather(themes, np.arange(units[2]) * p // tokens_of(top), axis=1)
        words = tf.reshape(tf.gather(self._words, phrase_theme * self.num_phrases + ids[2]),
                           [draw.count, -1])[:, :length]
        template = tf.repeat(follows[2], p, axis=1)[:, :length]
        offset = self._theme_size * tf.repeat(phrase_theme, p, axis=1)[:, :length]
        first = np.arange(length) % p == 0
        return {"tokens": NUM_SPECIAL_TOKENS + offset + tf.where(template, words, ranks),
                "condition": theme[:, 0], "predictable": tf.logical_and(template, tf.logical_not(first))}


def _free_runs(controls, vocab_size, count):
    """`(size, first tokens)`: the largest `size` such that `count` runs of `size`
    consecutive sampled tokens hold no control token, and those runs' first tokens."""
    edges = [NUM_SPECIAL_TOKENS - 1] + sorted(controls) + [vocab_size]
    runs = [(a + 1, b - a - 1) for a, b in zip(edges, edges[1:]) if b - a > 1]
    for size in range((vocab_size - NUM_SPECIAL_TOKENS - count) // count, 1, -1):
        firsts = [first + k * size for first, n in runs for k in range(n // size)]
        if len(firsts) >= count:
            return size, firsts[:count]
    return 1, None


@register("conditional")
class ConditionalSequences(_SpanOptions, SequenceGenerator):
    """A control token, then pattern spans whose type and vocabulary it decides.

    Layout: `[control, body...]`. The condition `c` is uniform in
    [0, `num_conditions`); the control token is `condition_tokens[c]` (default: the
    first `num_conditions` ids after the special tokens). Condition `c` is assigned
    the type `pattern_types[c % len(pattern_types)]` and the `c`-th sub-vocabulary: a
    run of consecutive sampled tokens without control tokens (all as long as
    possible). With probability `condition_strength` the sequence follows its
    condition (its type and sub-vocabulary); otherwise its type is drawn uniformly
    among the other types and its sub-vocabulary among the other ones, so the share
    of sequences whose type is their condition's is `condition_strength` exactly, in
    expectation. The body is cut into slots of `pattern_length`, each a span of the
    sequence's type with probability `pattern_probability` (default 1), else random
    tokens of the sub-vocabulary; a progression counts modulo the sub-vocabulary.

    Metadata: `condition` is `c`; `pattern` and `predictable` as for `pattern`.
    Noise never replaces the control token.

    Options: `num_conditions` (4, at least 2), `condition_tokens` (None, or
    `num_conditions` different tokens), `condition_strength` (0.8), `pattern_types`
    (all; 2 at least), `pattern_probability` (1.0), `pattern_length` (8),
    `motif_length` (3). Each sub-vocabulary needs 2 tokens at least.

    >>> gen = ConditionalSequences(vocab_size=40, seq_length=9, pattern_length=4, seed=3)
    >>> batch = gen.generate("train", 0, 3)
    >>> batch["condition"].numpy(), batch["pattern"].numpy()[:, 1]  # alternation, reversal
    (array([1, 3, 1], dtype=int32), array([1, 3, 1], dtype=int32))
    >>> batch["tokens"].numpy()
    array([[ 5, 16, 17, 16, 17, 18, 23, 18, 23],
           [ 7, 39, 36, 36, 39, 35, 34, 34, 35],
           [ 5, 18, 16, 18, 16, 19, 17, 19, 17]], dtype=int32)
    """

    options = {"num_conditions": 4, "condition_tokens": None, "condition_strength": 0.8,
               "pattern_types": PATTERN_TYPES, "pattern_probability": 1.0, "pattern_length": 8,
               "motif_length": 3}

    def _setup(self):
        check_int("vocab_size", self.vocab_size, low=NUM_SPECIAL_TOKENS + 6, high=MAX_VOCAB_SIZE,
                  accepted=f"an integer in [{NUM_SPECIAL_TOKENS + 6}, {MAX_VOCAB_SIZE}] for the conditional "
                           "family (2 conditions with 2 tokens each at least)")
        check_int("num_conditions", self.num_conditions, low=2, high=self.sampled_size // 3,
                  accepted=f"an integer in [2, {self.sampled_size // 3}] (2 tokens per condition's "
                           f"sub-vocabulary at least, with vocab_size={self.vocab_size})")
        if self.condition_tokens is None:
            controls = list(range(NUM_SPECIAL_TOKENS, NUM_SPECIAL_TOKENS + self.num_conditions))
        else:
            controls = self.condition_tokens
            if (not isinstance(controls, (list, tuple)) or len(controls) != self.num_conditions
                    or not all(is_integer(t) and NUM_SPECIAL_TOKENS <= t < self.vocab_size for t in controls)
                    or len(set(controls)) != len(controls)):
                raise invalid("condition_tokens", controls,
                              f"None or a list of num_conditions={self.num_conditions} different token ids "
                              f"in [{NUM_SPECIAL_TOKENS}, vocab_size={self.vocab_size})")
            controls = self.condition_tokens = [int(t) for t in controls]
        self._block, firsts = _free_runs(controls, self.vocab_size, self.num_conditions)
        if firsts is None:  # only custom control tokens can cut the sampled range so
            raise invalid("condition_tokens", controls, f"tokens leaving {self.num_conditions} runs of 2 "
                                                        f"consecutive sampled tokens without control tokens")
        check_unit("condition_strength", self.condition_strength)
        check_int("seq_length", self.seq_length, low=2, accepted="an integer >= 2 for the conditional family")
        self._check_spans(self._block, minimum_types=2)
        check_unit("pattern_probability", self.pattern_probability)
        self._controls = tf.constant(controls, tf.int32)
        self._firsts = tf.constant(firsts, tf.int32)

    def _sequences(self, draw, lengths):
        m = self.pattern_length
        slots = -(-(self.seq_length - 1) // m)
        picks, decide = draw(4, slots)
        ranks = draw.integers(self.seq_length, 0, self._block)
        pick_condition, follow, other_type, other_block = tf.unstack(picks, axis=1)
        num_types = len(self.pattern_types)
        condition = _pick(pick_condition, self.num_conditions)
        follows = follow < self.condition_strength
        own_type = condition % num_types
        type_index = tf.where(follows, own_type, _other(other_type, own_type, num_types))
        block = tf.where(follows, condition, _other(other_block, condition, self.num_conditions))
        seq_type = tf.gather(self._type_ids, type_index)
        rows = tf.where(decide < self.pattern_probability, seq_type[:, None], NO_PATTERN)
        # Position 0 (the control token) ends a first slot without pattern.
        rows = tf.concat([tf.fill([draw.count, 1], NO_PATTERN), rows], axis=1)
        ranks, predictable, pattern = self._spans.slots(rows, ranks, offset=m - 1)
        first_position = np.arange(self.seq_length) == 0
        tokens = tf.where(first_position, tf.gather(self._controls, condition)[:, None],
                          tf.gather(self._firsts, block)[:, None] + ranks)
        return {"tokens": tokens, "condition": condition, "predictable": predictable, "pattern": pattern,
                "protected": first_position}


TEMPLATE_ITEMS = ("an int token in [1, vocab_size)", "'RANDOM'", "'RANDOM:<n>' (n >= 1 random tokens)",
                  "'PATTERN'", "'PATTERN:<type>' (type one of " + ", ".join(PATTERN_TYPES) + ")")
DEFAULT_TEMPLATES = ((BOS, "RANDOM:4", SEP, "PATTERN", EOS), (BOS, "PATTERN", SEP, "PATTERN:reversal", EOS))


@register("template")
class TemplateSequences(_SpanOptions, SequenceGenerator):
    """Sequences laid out by templates.

    A template is a list of items: an int literal token, `"RANDOM"` (one random
    token), `"RANDOM:n"` (n random tokens), `"PATTERN"` (a span of `pattern_length`
    of the sequence's pattern type, drawn uniformly from `pattern_types` once per
    sequence, so all `"PATTERN"` items of a sequence share it) or `"PATTERN:name"` (a
    span of that type). Each sequence picks a template uniformly; a template longer
    than `seq_length` is cut, a shorter one padded (`PAD`, mask `False`).

    Metadata: `condition` is the template's index; `pattern` and `predictable` as
    for `pattern` (literals are not predictable).

    Options: `templates` (default `DEFAULT_TEMPLATES`), `pattern_types` (all),
    `pattern_length` (8), `motif_length` (3).

    >>> gen = TemplateSequences(vocab_size=30, seq_length=8, templates=[[BOS, "RANDOM:2", SEP, 7]])
    >>> gen.generate("train", 0, 2)["tokens"].numpy()
    array([[ 1, 23, 18,  3,  7,  0,  0,  0],
           [ 1, 14, 18,  3,  7,  0,  0,  0]], dtype=int32)
    """

    options = {"templates": DEFAULT_TEMPLATES, "pattern_types": PATTERN_TYPES, "pattern_length": 8,
               "motif_length": 3}

    def _setup(self):
        self._check_spans(self.sampled_size)
        templates = self.templates
        if not isinstance(templates, (list, tuple)) or not templates:
            raise invalid("templates", templates, "a non-empty list of templates (lists of items)")
        programs = [self._program(index, type_index) for index in range(len(templates))
                    for type_index in range(len(self.pattern_types))]
        self.templates = [list(t) for t in templates]
        for name, dtype in (("literal", tf.int32), ("source", tf.int32), ("step", tf.int32),
                            ("predictable", tf.bool), ("pattern", tf.int32), ("length", tf.int32)):
            setattr(self, f"_{name}", tf.constant(np.stack([p[name] for p in programs]), dtype))
        self._has_steps = any(p["step"].any() for p in programs)

    def _program(self, index, type_index):
        """Per position of template `index` with `"PATTERN"` of `pattern_types[type_index]`."""
        template, spans = self.templates[index], self._spans
        if not isinstance(template, (list, tuple)) or not template:
            raise invalid(f"templates[{index}]", template,
                          "a non-empty list of items: " + ", ".join(TEMPLATE_ITEMS))
        rows, literals = [], []  # per position: (row, offset, span start); literal or -1
        for item in template:
            row, count = self._item(index, template, item)
            if row is None:
                rows += [(NO_PATTERN, 0, len(rows) + j) for j in range(count)]
                literals += [item if is_integer(item) else -1] * count
            else:
                if row == "PATTERN":
                    row = PATTERN_TYPES.index(self.pattern_types[type_index])
                start = len(rows)
                rows += [(row, o, start) for o in range(self.pattern_length)]
                literals += [-1] * self.pattern_length
        length = min(len(rows), self.seq_length)
        cut = rows[:length] + [(NO_PATTERN, 0, p) for p in range(length, self.seq_length)]
        row, offset, start = (np.array(c) for c in zip(*cut))
        step = spans.step[row, offset] if spans.step is not None else np.zeros(self.seq_length, np.int32)
        return {"literal": np.array(literals[:length] + [-1] * (self.seq_length - length)),
                "source": start + spans.source[row, offset], "step": step,
                "predictable": spans.predictable[row, offset], "pattern": spans.pattern[row, offset],
                "length": length}

    def _item(self, index, template, item):
        """`(span row, "PATTERN" or None for other items; number of positions)` of `item`."""
        if is_integer(item) and 1 <= item < self.vocab_size:
            return None, 1
        if isinstance(item, str):
            kind, _, argument = item.partition(":")
            if kind == "RANDOM" and not argument:
                return None, 1
            if kind == "RANDOM" and argument.isdecimal() and int(argument) >= 1:
                return None, int(argument)
            if kind == "PATTERN" and not argument:
                return "PATTERN", self.pattern_length
            if kind == "PATTERN" and argument in PATTERN_TYPES:
                return PATTERN_TYPES.index(argument), self.pattern_length
        raise ValueError(f"`templates[{index}]` must hold only items {', '.join(TEMPLATE_ITEMS)}; "
                         f"received the item {item!r} in templates[{index}]={template!r}")

    def _sequences(self, draw, lengths):
        num_types = len(self.pattern_types)
        picks = draw(2)
        ranks = draw.integers(self.seq_length, 0, self.sampled_size)
        template = _pick(picks[:, 0], len(self.templates))
        program = template * num_types + _pick(picks[:, 1], num_types)
        ranks = _take(ranks, tf.gather(self._source, program))
        if self._has_steps:
            ranks = _wrap(ranks + tf.gather(self._step, program), self.sampled_size)
        literal = tf.gather(self._literal, program)
        return {"tokens": tf.where(literal >= 0, literal, NUM_SPECIAL_TOKENS + ranks),
                "predictable": tf.gather(self._predictable, program),
                "pattern": tf.gather(self._pattern, program), "condition": template,
                "lengths": tf.gather(self._length, program)}


def _check_fits(name, value, needed, generator, what):
    """Checks that `needed` tokens (for `value` of `name`) fit the shortest real sequence."""
    if needed > generator.min_length:
        raise invalid(name, value, f"small enough that {what} fit the shortest sequence, "
                                   f"{generator.min_length} tokens (seq_length={generator.seq_length}, "
                                   f"length_variation={generator.length_variation})")


@register("mqar")
class MultiQueryRecall(SequenceGenerator):
    """Multi-query associative recall, as in zoology (Arora et al. 2023, "Zoology").

    Layout: `k_1 v_1 ... k_P v_P` (`P = num_pairs`), then the query region up to
    the real length, cut into slots of two tokens. `P` slots hold a key and its
    value, each key once, in random order; other positions hold random sampled
    tokens (which may equal a key, as in zoology). Query slots follow a power law
    like zoology's: `P` draws with density proportional to `x ** (power_a - 1)` (`x`
    in [1, n + 1), floored; `power_a` 0.01 favours short gaps), sorted and spread
    apart (see `_spread`) so that they are distinct. Keys are distinct, from the
    first half of the sampled range (also spread apart, then shuffled); values are
    independent draws from the second half.

    Metadata: `labels` only at query keys (the value, which is the next token);
    `predictable` marks those answers. Noise never touches keys or values.

    Options: `num_pairs` (8; `4 num_pairs` tokens must fit the shortest sequence),
    `power_a` (0.01, in (0, 1]; 1 spreads the queries uniformly). `vocab_size` needs
    `NUM_SPECIAL_TOKENS + 2 num_pairs` at least.

    >>> gen = MultiQueryRecall(vocab_size=24, seq_length=12, num_pairs=2)
    >>> batch = gen.generate("train", 0, 1)
    >>> batch["tokens"].numpy()[0].tolist()
    [13, 18, 5, 17, 13, 18, 5, 17, 19, 20, 4, 9]
    >>> batch["labels"].numpy()[0].tolist()
    [-100, -100, -100, -100, 18, -100, 17, -100, -100, -100, -100, -100]
    """

    options = {"num_pairs": 8, "power_a": 0.01}

    def _setup(self):
        check_int("num_pairs", self.num_pairs, high=MAX_SEQ_LENGTH)
        _check_fits("num_pairs", self.num_pairs, 4 * self.num_pairs, self, "4 * num_pairs tokens")
        minimum = NUM_SPECIAL_TOKENS + 2 * self.num_pairs
        check_int("vocab_size", self.vocab_size, low=minimum, high=MAX_VOCAB_SIZE,
                  accepted=f"an integer in [{minimum}, {MAX_VOCAB_SIZE}] for num_pairs={self.num_pairs} "
                           f"(NUM_SPECIAL_TOKENS + 2 * num_pairs)")
        check_number("power_a", self.power_a, low=0, high=1, accepted="a number in (0, 1]")
        if self.power_a <= 0:
            raise invalid("power_a", self.power_a, "a number in (0, 1]")
        self._half = self.sampled_size // 2

    def _sequences(self, draw, lengths):
        pairs, length, a = self.num_pairs, self.seq_length, self.power_a
        key_draws, key_order, slot_draws, slot_order = draw(pairs, pairs, pairs, pairs)
        values = draw.integers(pairs, NUM_SPECIAL_TOKENS + self._half, NUM_SPECIAL_TOKENS + 2 * self._half)
        filler = draw.integers(length, NUM_SPECIAL_TOKENS, self.vocab_size)
        keys = NUM_SPECIAL_TOKENS + _shuffle(_spread(_pick(key_draws, self._half - pairs + 1)), key_order)
        # Inverse CDF of the density x ** (a - 1) on [1, room + 1).
        room = tf.cast((lengths[:, None] - 2 * pairs) // 2 - pairs + 1, tf.float32)
        scale = tf.math.expm1(a * tf.math.log1p(room))
        gaps = tf.exp(tf.math.log1p(slot_draws * scale) / a)
        slots = _spread(tf.minimum(tf.cast(gaps, tf.int32) - 1, tf.cast(room, tf.int32) - 1))
        query = 2 * pairs + 2 * _shuffle(slots, slot_order)
        context = 2 * tf.range(pairs)[None, :] + tf.zeros_like(query)
        # Each placed token carries its role in its low 2 bits: 1 context, 2 query key, 3 answer.
        placed = _place(tf.concat([4 * keys + 1, 4 * values + 1, 4 * keys + 2, 4 * values + 3], axis=1),
                        tf.concat([context, context + 1, query, query + 1], axis=1), length)
        role = tf.bitwise.bitwise_and(placed, 3)
        tokens = tf.where(role > 0, tf.bitwise.right_shift(placed, 2), filler)
        return {"tokens": tokens, "labels": tf.where(role == 2, _next(tokens), IGNORE_INDEX),
                "predictable": role == 3, "protected": role > 0}


@register("induction")
class InductionHeads(SequenceGenerator):
    """The induction-head task: recall the token that followed the trigger.

    Layout (real length `n`): random sampled tokens; the trigger `SEP` at a uniform
    position `q` in [0, n - 4], the target (a random token) at `q + 1`; then the
    trigger again at `n - 2` and its answer, the target, at `n - 1`. `SEP` occurs
    nowhere else.

    Metadata: the only label is the target, at the last trigger (`n - 2`);
    `predictable` marks the answer. Noise never touches the triggers, target or
    answer. Sequences need 4 real tokens at least.

    >>> gen = InductionHeads(vocab_size=30, seq_length=8)
    >>> batch = gen.generate("train", 0, 1)
    >>> batch["tokens"].numpy()[0].tolist(), int(batch["labels"][0, -2])
    ([3, 23, 18, 8, 5, 26, 3, 23], 23)
    """

    def _setup(self):
        _check_fits("seq_length", self.seq_length, 4, self, "4 tokens")

    def _sequences(self, draw, lengths):
        first = draw(1)
        tokens = draw.integers(self.seq_length, NUM_SPECIAL_TOKENS, self.vocab_size)
        trigger = _pick(first, lengths[:, None] - 3)
        target = _take(tokens, trigger + 1)
        positions = np.arange(self.seq_length)
        end = lengths[:, None]
        triggers = (positions == trigger) | (positions == end - 2)
        answer = positions == end - 1
        tokens = tf.where(triggers, SEP, tf.where(answer, target, tokens))
        return {"tokens": tokens, "labels": tf.where(positions == end - 2, target, IGNORE_INDEX),
                "predictable": answer, "protected": triggers | answer | (positions == trigger + 1)}


@register("selective_copy")
class SelectiveCopy(SequenceGenerator):
    """Selective copying: copy the scattered content tokens, in order, after `SEP`.

    Layout (real length `n`, `c = num_tokens_to_copy`): the first `n - c - 1`
    positions hold `c` content tokens (random, from `NUM_SPECIAL_TOKENS + 1` up) at
    distinct positions (drawn uniformly, sorted and spread apart: see `_spread`) and
    the blank token `NUM_SPECIAL_TOKENS` elsewhere; then `SEP`; then the content
    tokens in order.

    Metadata: labels from `SEP` to the token before the last (the next copied
    token); `predictable` marks the copies. Noise never touches content, `SEP` or
    copies (only blanks). Sequences need `2 c + 1` real tokens at least, and
    `vocab_size` at least `NUM_SPECIAL_TOKENS + 2`.

    >>> gen = SelectiveCopy(vocab_size=30, seq_length=10, num_tokens_to_copy=3)
    >>> gen.generate("train", 0, 1)["tokens"].numpy()
    array([[19, 28,  4,  4,  4, 10,  3, 19, 28, 10]], dtype=int32)
    """

    options = {"num_tokens_to_copy": 16}

    def _setup(self):
        check_int("vocab_size", self.vocab_size, low=NUM_SPECIAL_TOKENS + 2, high=MAX_VOCAB_SIZE)
        check_int("num_tokens_to_copy", self.num_tokens_to_copy, high=MAX_SEQ_LENGTH)
        _check_fits("num_tokens_to_copy", self.num_tokens_to_copy, 2 * self.num_tokens_to_copy + 1, self,
                    "2 * num_tokens_to_copy + 1 tokens")

    def _sequences(self, draw, lengths):
        copies, length = self.num_tokens_to_copy, self.seq_length
        spread = draw(copies)
        content = draw.integers(copies, NUM_SPECIAL_TOKENS + 1, self.vocab_size)
        sep = lengths[:, None] - copies - 1
        places = _spread(_pick(spread, sep - copies + 1))
        placed = _place(tf.concat([content, content], axis=1),
                        tf.concat([places, sep + 1 + tf.range(copies)], axis=1), length)
        positions = np.arange(length)
        tokens = tf.where(placed > 0, placed, tf.where(positions == sep, SEP, NUM_SPECIAL_TOKENS))
        copying = (positions >= sep) & (positions < lengths[:, None] - 1)
        return {"tokens": tokens, "labels": tf.where(copying, _next(tokens), IGNORE_INDEX),
                "predictable": positions > sep, "protected": (positions >= sep) | (placed > 0)}


@register("planted")
class PlantedBlock(SequenceGenerator):
    """The synthetic task of Fleuret, "The Free Transformer" (arXiv 2510.17558).

    Layout (real length `n`): `[letter, SEP, line...]`, the line `n - 2` tokens of
    the filler token `NUM_SPECIAL_TOKENS` in which the letter is repeated
    `block_length` times from a uniform position in [0, n - 2 - block_length]; then
    each line token (block included) becomes the noise character
    `NUM_SPECIAL_TOKENS + 1` with probability `noise_rate`. Letter `l` is the token
    `NUM_SPECIAL_TOKENS + 2 + l`, `l` uniform in [0, `num_letters`).

    Metadata: `condition` is `l`; `pattern` marks the block (`repetition`, id 0; the
    block starts at line position `argmax(pattern >= 0) - 2`); `predictable` marks
    the block's letters after its first (unless a noise character). Noise of
    `noise_probability` never touches the letter and `SEP`.

    Options: `num_letters` (26), `block_length` (8; `block_length + 2` tokens must
    fit the shortest sequence), `noise_rate` (1/16). `vocab_size` needs
    `NUM_SPECIAL_TOKENS + 2 + num_letters` at least.

    >>> gen = PlantedBlock(seq_length=12, num_letters=3, block_length=4)
    >>> gen.generate("train", 0, 2)["tokens"].numpy()
    array([[6, 3, 4, 5, 4, 4, 4, 4, 6, 6, 5, 5],
           [6, 3, 4, 4, 4, 4, 4, 6, 6, 6, 6, 4]], dtype=int32)
    """

    options = {"num_letters": 26, "block_length": 8, "noise_rate": 1 / 16}

    def _setup(self):
        check_int("vocab_size", self.vocab_size, low=NUM_SPECIAL_TOKENS + 3, high=MAX_VOCAB_SIZE,
                  accepted=f"an integer in [{NUM_SPECIAL_TOKENS + 3}, {MAX_VOCAB_SIZE}] for the planted "
                           "family (filler, noise and a letter)")
        check_int("num_letters", self.num_letters, high=self.sampled_size - 2,
                  accepted=f"an integer in [1, {self.sampled_size - 2}] (vocab_size={self.vocab_size})")
        check_int("block_length", self.block_length, high=MAX_SEQ_LENGTH)
        _check_fits("block_length", self.block_length, self.block_length + 2, self, "block_length + 2 tokens")
        check_unit("noise_rate", self.noise_rate)

    def _sequences(self, draw, lengths):
        length, filler, noise = self.seq_length, NUM_SPECIAL_TOKENS, NUM_SPECIAL_TOKENS + 1
        picks, noisy = draw(2, length)
        letter = _pick(picks[:, :1], self.num_letters)
        start = 2 + _pick(picks[:, 1:], lengths[:, None] - 1 - self.block_length)
        positions = np.arange(length)
        block = (positions >= start) & (positions < start + self.block_length)
        noisy = (noisy < self.noise_rate) & (positions >= 2)
        letter_token = NUM_SPECIAL_TOKENS + 2 + letter
        line = tf.where(noisy, noise, tf.where(block, letter_token, filler))
        tokens = tf.where(positions == 0, letter_token, tf.where(positions == 1, SEP, line))
        return {"tokens": tokens, "condition": letter[:, 0], "pattern": tf.where(block, 0, -1),
                "predictable": block & (positions > start) & tf.logical_not(noisy),
                "protected": positions < 2}
