"""Measured properties of token-sequence data, streamed in bounded memory.

`analyze` reads batches of token sequences once and reports their lengths, vocabulary,
rank-frequency law, frequent n-grams, coherence, diversity, entropy, patterns and
compressibility; `validate` lists what is wrong with them; `format_report` turns a report
into text (what `msa-tf analyze sequences PATH` prints); `detect_patterns` marks the
positions that the pattern detector finds, and `sequence_complexity` scores each sequence
by the share of its tokens that it leaves unmarked (what a curriculum,
`msa_tf.data.curriculum`, ranks sequences by).

The input, `batches`, is an iterable of one of:

- dicts with `"tokens"` (integers, `(batch, length)`, or `(length,)` for one sequence),
  optionally `"tokens_mask"` (bool, the same shape, `True` = a real token; without it
  every token is real) and the metadata `"pattern"` (an integer pattern-type id inside
  a pattern span, -1 outside) and `"predictable"` (bool). NumPy arrays or TensorFlow
  tensors; an `(inputs, targets)` pair of dicts is read as their union, `inputs` first;
- plain sequences of token ids (lists read from JSONL, 1-D arrays), every token real.

A `tf.data.Dataset` of such elements is read with `as_numpy_iterator()`. A sequence is
its real tokens in order: a mask with padding on the left or gaps is read the same as
the real tokens moved to the front.

How each figure is measured, per batch with NumPy (Python runs per sequence only to
build the bounded compression sample):

- Rank-frequency slope: the least-squares slope of log frequency against log rank over
  ranks 1..R, R the last rank whose token occurs at least `FIT_MIN_COUNT` (10) times
  (every nonzero rank when fewer than 2 reach it), each rank weighted by 1/rank so that
  every stretch of log-rank weighs the same. The tail of rarer tokens is left out: its
  counts of 1, 2, 3 form plateaus that flatten an unweighted fit over all nonzero ranks
  (to -0.96 for 20,000 Zipf(1.2) tokens over 10,000 ids); this fit is within 0.03 of
  minus the exponent from 5,000 tokens on (measured for exponents 0.8, 1.2 and 2 over
  1,000 and 10,000 ids).
- Top n-grams: Misra-Gries (mergeable) counting of the n-grams inside real tokens with
  at most `ngram_capacity` counters. The counts are exact while the distinct n-grams
  fit; beyond, each count is low by at most `ngram_max_error` (at most the number of
  n-grams / (capacity + 1)), and which n-grams survive may depend on the batching.
- Unique sequences: a 64-bit hash of each sequence (the sum over positions of a
  SplitMix64 mix of (token, position), mixed with the length): two distinct sequences
  collide with probability about 2^-64 (among 10^6 distinct ones, some pair does with
  probability 3e-8), so up to `exact_sequences` distinct hashes the count is exact in
  practice (kept in a sorted array, 8 bytes each). Beyond that the count is
  a HyperLogLog estimate over 2^14 registers: relative standard error 1.04 / 128 = 0.8%.
- Detected patterns (`detect_patterns`), without the metadata: a real position is in a
  pattern if it lies in a span where one rule holds at `min_run` (3) consecutive
  positions, the span taking in the positions the rule refers back to:
  repetition with period p in 1..`max_period` (t[i] == t[i-p]; spans of p + 3 tokens or
  more: "aaaa", "abcab" ...), an arithmetic progression of any nonzero step (t[i] -
  t[i-1] == t[i-1] - t[i-2]; "abcde"), and a mirror around a centre (t[c-k] == t[c+k]
  or t[c-1-k] == t[c+k] for k up to the radius; "abcdcba", "abccba"), its radius
  measured out to `MIRROR_RADIUS` (32) pairs. On uniform random tokens over V ids a
  position is wrongly marked with probability about (P^2 / 2 + 4 P + 18) / V^3 for
  P = max_period (measured: 0.044 over 16 ids, 0.002 over 50, 0 over 1,000). Planted
  spans of 8 to 24 tokens (motifs of 1 to 6 tokens repeated, progressions, mirrors) are
  found to within 0.004 of their share of positions, spans of 4 to 24 to within 0.03
  (below: a span shorter than its rule's minimum escapes; an accidental match at a
  boundary extends a span by a token).
- Complexity: `8 * zlib.compress(sample, 9)` bits per token, divided by log2(vocab_size)
  (the bits per token of a uniform code over the vocabulary) and clipped to [0, 1]. The
  sample is the first sequences up to `complexity_tokens` tokens, each token in the
  fewest of 1, 2, 4 or 8 little-endian bytes that hold its sequence's largest id,
  compressed as one buffer. About 1 for uniform random tokens, near 0 for constant or
  repeated sequences; zlib's headers (tens of bytes) inflate it for a sample of a few
  hundred tokens.
- Sequence complexity (`sequence_complexity`): per sequence, the share of its real
  tokens outside detected patterns: 0 for a sequence made of patterns, near 1 for
  random tokens over a vocabulary of 50 ids or more (a few detector false alarms
  below). Unlike the compression score it is defined for one short sequence; the
  report gives its mean and histogram.

Example:
>>> import numpy as np
>>> batch = {"tokens": np.array([[5, 5, 5, 5, 0, 0], [1, 2, 3, 4, 5, 6]]),
...          "tokens_mask": np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], bool)}
>>> report = analyze([batch], vocab_size=8, top_k=2)
>>> report["num_sequences"], report["length"], report["top_ngrams"]
(2, {'mean': 5.0, 'min': 4, 'max': 6}, [((5, 5), 3), ((1, 2), 1)])
>>> report["local_coherence"], report["global_coherence"], report["detected_pattern_ratio"]
(0.375, 0.5833333333333334, 1.0)
>>> validate([[1, 2, 3], [], [4, 9]], vocab_size=8)
['1 of 3 sequences are empty (e.g. sequence 1)', '1 real tokens in 1 sequences are \
outside [0, 8) (e.g. sequence 2 holds 9 at position 1)']
"""

import collections.abc
import math
import zlib

import numpy as np

from generators.validation import check_int, invalid

# Rank-frequency fit: the ranks whose token occurs at least this often.
FIT_MIN_COUNT = 10
# Mirrors are measured out to this many pairs from their centre.
MIRROR_RADIUS = 32
# Histogram bins: entropies are counted in bins of 1/32 bit, then both histograms merge
# neighbouring bins until at most HISTOGRAM_BINS remain.
ENTROPY_BINS_PER_BIT = 32
HISTOGRAM_BINS = 128
# Sequence complexities are counted in bins of 1/COMPLEXITY_BINS (1 falls in the last).
COMPLEXITY_BINS = 32
# Plain sequences of token ids are analysed in padded chunks of this many.
LIST_CHUNK = 1024
# HyperLogLog: 2^HLL_BITS registers.
HLL_BITS = 14
METADATA = ("pattern", "predictable")
_SENTINEL = np.iinfo(np.int64).max


class OutOfVocabularyError(ValueError):
    """`analyze` met a token outside [0, vocab_size) (`validate` lists them all)."""


def analyze(batches, vocab_size=None, top_k=10, ngram=2, *, max_period=16, min_run=3,
            ngram_capacity=65536, exact_sequences=2**20, complexity_tokens=2**16):
    """Measures token sequences in one pass and bounded memory (see the module doc).

    Args:
        batches: an iterable of batches or sequences, or a `tf.data.Dataset` (the
            module doc lists the forms).
        vocab_size: the number of token ids; `None`: the largest id seen + 1 (the
            per-id counts then take 8 bytes per id up to the largest). A token outside
            [0, vocab_size) raises `ValueError` (`validate` lists them all).
        top_k: how many of the most frequent n-grams to report.
        ngram: the n of the n-grams.
        max_period: the longest repetition period that the pattern detector tries.
        min_run: how many consecutive positions a detector rule must hold at.
        ngram_capacity: the most n-gram counters kept (>= `top_k`).
        exact_sequences: the most distinct sequence hashes kept for an exact count of
            unique sequences; beyond, a HyperLogLog estimate.
        complexity_tokens: the size in tokens of the compression sample.

    Returns:
        A dict; a share with nothing to measure (no tokens, no adjacent pairs, no
        metadata) is `None`:
        - `num_sequences`, `num_tokens` (real), `empty_sequences` (no real token);
        - `length`: `{"mean", "min", "max"}` real tokens per sequence;
        - `vocab_size`, `distinct_tokens` (ids used), `vocab_usage` (their share);
        - `token_distribution`: `counts` (per id), `rank` and `frequency` (1-based
          ranks of the ids used by decreasing count, and their share of all tokens),
          `slope` and `intercept` (the line fitted to the natural log of frequency
          against that of rank, `None` below 2 ids) and `fit_ranks` (`(1, R)`, the
          ranks fitted);
        - `ngram`, `top_ngrams` (`[(ids, count)]`, most frequent first, ties by ids)
          and `ngram_max_error` (0: the counts are exact);
        - `local_coherence`: the share of adjacent real pairs with t[i] == t[i-1];
        - `global_coherence`: the mean over non-empty sequences of the largest share
          of one token in the sequence;
        - `unique_sequences`, `unique_sequences_exact` and `sequence_diversity`
          (unique / all sequences);
        - `token_diversity`: distinct tokens / real tokens;
        - `entropy_bits`: the mean over non-empty sequences of the Shannon entropy of
          the sequence's token distribution;
        - `pattern_ratio` and `predictable_ratio`: the share of real positions with
          `pattern >= 0` and with `predictable`, over the batches that carry them;
          `detected_pattern_ratio`: the share that `detect_patterns` marks;
        - `complexity`: the compressibility score in [0, 1];
        - `sequence_complexity`: the mean over non-empty sequences of
          `sequence_complexity`;
        - `lengths`, `entropies` and `complexities`: histograms `{"edges", "counts"}`
          of real length, entropy (bits) and `sequence_complexity` per sequence (the
          last two over non-empty sequences).

    Raises:
        ValueError: for a bad argument, a batch of the wrong structure or no sequence;
            `OutOfVocabularyError`, a `ValueError`, for a token outside [0, vocab_size).
    """
    if vocab_size is not None:
        check_int("vocab_size", vocab_size)
    check_int("top_k", top_k)
    check_int("ngram", ngram)
    check_int("max_period", max_period)
    check_int("min_run", min_run)
    check_int("ngram_capacity", ngram_capacity, low=top_k,
              accepted=f"an integer >= top_k={top_k}")
    check_int("exact_sequences", exact_sequences, low=0)
    check_int("complexity_tokens", complexity_tokens)
    analysis = _Analysis(vocab_size, ngram, max_period, min_run, ngram_capacity,
                         exact_sequences, complexity_tokens)
    for start, batch in _read(batches):
        analysis.update(start, batch)
    return analysis.report(top_k)


def validate(batches, vocab_size, min_length=1, max_length=None):
    """Lists what is wrong with token sequences: an empty list when nothing is.

    Each problem is one string with its count and the index (in reading order) of one
    sequence that has it: sequences with no real token (when `min_length >= 1`),
    shorter than `min_length` or longer than `max_length` real tokens, and real tokens
    outside [0, vocab_size).

    Args:
        batches: as for `analyze`.
        vocab_size: the number of token ids.
        min_length: the fewest real tokens a sequence may have (0 allows empty ones).
        max_length: the most real tokens a sequence may have; `None`: no limit.

    Raises:
        ValueError: for a bad argument or a batch of the wrong structure.

    Example:
    >>> validate([[1, 2], [3, 4, 5, 6], [7]], vocab_size=8, min_length=2, max_length=3)
    ['1 of 3 sequences are shorter than min_length=2 (e.g. sequence 2 has 1)', \
'1 of 3 sequences are longer than max_length=3 (e.g. sequence 1 has 4)']
    """
    check_int("vocab_size", vocab_size)
    check_int("min_length", min_length, low=0)
    if max_length is not None:
        check_int("max_length", max_length, low=max(min_length, 1),
                  accepted=f"None or an integer >= max(min_length, 1) = {max(min_length, 1)}")
    limits = (
        ("are empty", lambda n: (n == 0) & (min_length >= 1)),
        (f"are shorter than min_length={min_length}", lambda n: (n > 0) & (n < min_length)),
        (f"are longer than max_length={max_length}",
         lambda n: n > (np.inf if max_length is None else max_length)),
    )
    found = [[0, ""] for _ in limits]  # per limit: count, first example
    outside = [0, 0, ""]  # tokens, sequences, first example
    total = 0
    for start, batch in _read(batches, compact=False):
        tokens, mask = batch["tokens"], batch["mask"]
        lengths = mask.sum(axis=1)
        total += len(tokens)
        for (_, rows), kind in zip(limits, found):
            rows = rows(lengths)
            if rows.any():
                row = int(np.argmax(rows))
                has = f" has {lengths[row]}" if lengths[row] else ""
                kind[1] = kind[1] or f"sequence {start + row}{has}"
                kind[0] += int(rows.sum())
        bad = mask & ((tokens < 0) | (tokens >= vocab_size))
        if bad.any():
            row, position = np.argwhere(bad)[0]
            outside[0] += int(bad.sum())
            outside[1] += int(bad.any(axis=1).sum())
            outside[2] = outside[2] or (f"sequence {start + row} holds {tokens[row, position]} "
                                        f"at position {position}")
    problems = [f"{count} of {total} sequences {what} (e.g. {example})"
                for (what, _), (count, example) in zip(limits, found) if count]
    if outside[0]:
        problems.append(f"{outside[0]} real tokens in {outside[1]} sequences are outside "
                        f"[0, {vocab_size}) (e.g. {outside[2]})")
    return problems


def format_report(report):
    """The text of an `analyze` report: one figure per line.

    Example:
    >>> print(format_report(analyze([[1, 2, 3, 4, 5], [2, 2, 2, 2, 7]], vocab_size=8, top_k=2)))
    ... # doctest: +NORMALIZE_WHITESPACE
    sequences            2 (0 empty), 10 tokens
    length               mean 5.0, min 5, max 5
    vocabulary           6 of 8 ids used (75.0%)
    rank-frequency slope -1.08 (fit over ranks 1-6)
    entropy              1.52 bits per sequence (mean)
    coherence            local 0.375, global 0.500
    diversity            sequences 1.000 (2 unique, exact), tokens 0.600
    patterns             metadata n/a, detected 0.900
    predictable          n/a
    complexity           1.000 (compression), 0.100 per sequence (mean)
    top 2-grams          (2, 2) 3; (1, 2) 1
    """
    distribution = report["token_distribution"]
    length = report["length"]
    fit = "n/a" if distribution["slope"] is None else (
        f"{distribution['slope']:.2f} (fit over ranks {distribution['fit_ranks'][0]}-"
        f"{distribution['fit_ranks'][1]})")
    exact = "exact" if report["unique_sequences_exact"] else "HyperLogLog estimate"
    grams = "; ".join(f"({', '.join(map(str, ids))}) {count}" for ids, count in report["top_ngrams"])
    if report["ngram_max_error"]:
        grams += f" (each count low by at most {report['ngram_max_error']})"
    lines = [
        ("sequences", f"{report['num_sequences']} ({report['empty_sequences']} empty), "
                      f"{report['num_tokens']} tokens"),
        ("length", f"mean {length['mean']:.1f}, min {length['min']}, max {length['max']}"),
        ("vocabulary", f"{report['distinct_tokens']} of {report['vocab_size']} ids used "
                       f"({_text(report['vocab_usage'], '.1%')})"),
        ("rank-frequency slope", fit),
        ("entropy", f"{_text(report['entropy_bits'], '.2f')} bits per sequence (mean)"),
        ("coherence", f"local {_text(report['local_coherence'])}, "
                      f"global {_text(report['global_coherence'])}"),
        ("diversity", f"sequences {_text(report['sequence_diversity'])} "
                      f"({report['unique_sequences']} unique, {exact}), "
                      f"tokens {_text(report['token_diversity'])}"),
        ("patterns", f"metadata {_text(report['pattern_ratio'])}, "
                     f"detected {_text(report['detected_pattern_ratio'])}"),
        ("predictable", _text(report["predictable_ratio"])),
        ("complexity", f"{_text(report['complexity'])} (compression), "
                       f"{_text(report['sequence_complexity'])} per sequence (mean)"),
        (f"top {report['ngram']}-grams", grams or "none"),
    ]
    return "\n".join(f"{name:<20} {value}" for name, value in lines)


def sequence_complexity(tokens, mask=None, max_period=16, min_run=3):
    """The share of each sequence's real tokens that `detect_patterns` leaves unmarked.

    0 for a sequence made of patterns (and for an empty one), near 1 for random tokens
    over a large vocabulary. The arguments are those of `detect_patterns`.

    Returns:
        A float32 `(batch,)` NumPy array.

    Example:
    >>> sequence_complexity([[7, 1, 2, 1, 2, 1, 9, 4], [3, 4, 5, 6, 7, 2, 9, 0], [5, 5, 5, 5, 5, 5, 5, 5]])
    array([0.375, 0.375, 0.   ], dtype=float32)
    """
    marked = detect_patterns(tokens, mask, max_period, min_run)
    real = marked.shape[1] if mask is None else np.asarray(mask).sum(axis=1)
    return _unmarked_share(marked.sum(axis=1), real).astype(np.float32)


def _unmarked_share(marked, real):
    """`1 - marked / real` per sequence, 0 where `real` is 0."""
    return np.where(real > 0, 1 - marked / np.maximum(real, 1), 0.0)


def detect_patterns(tokens, mask=None, max_period=16, min_run=3):
    """Marks the real positions that lie in a detected pattern (see the module doc).

    Args:
        tokens: integer token ids, `(batch, length)`.
        mask: bool, the same shape, `True` = a real token; `None`: all real. A
            sequence is its real tokens in order.
        max_period: the longest repetition period tried.
        min_run: how many consecutive positions a rule must hold at.

    Returns:
        A bool `(batch, length)` NumPy array, `False` at padding.

    Example:
    >>> detect_patterns([[7, 1, 2, 1, 2, 1, 9, 4], [3, 4, 5, 6, 7, 2, 9, 0]]).astype(int)
    array([[0, 1, 1, 1, 1, 1, 0, 0],
           [1, 1, 1, 1, 1, 0, 0, 0]])
    """
    check_int("max_period", max_period)
    check_int("min_run", min_run)
    tokens = _integers("tokens", np.asarray(tokens), ndim=2)
    if mask is None:
        mask = np.ones(tokens.shape, bool)
    mask = _mask("tokens_mask", np.asarray(mask), tokens.shape)
    order = _compacting_order(mask)
    if order is not None:
        tokens, mask = (np.take_along_axis(x, order, axis=1) for x in (tokens, mask))
    marked = _detect(tokens, mask.sum(axis=1), max_period, min_run)
    if order is not None:
        unordered = np.empty_like(marked)
        np.put_along_axis(unordered, order, marked, axis=1)
        marked = unordered
    return marked


class _Analysis:
    """The streaming state of `analyze`: counters of bounded size."""

    def __init__(self, vocab_size, ngram, max_period, min_run, ngram_capacity,
                 exact_sequences, complexity_tokens):
        self.vocab_size = vocab_size
        self.ngram = ngram
        self.max_period = max_period
        self.min_run = min_run
        self.complexity_tokens = complexity_tokens
        self.ngrams = _MisraGries(ngram, ngram_capacity)
        self.sequences = _DistinctCounter(exact_sequences)
        self.num_sequences = 0
        self.token_counts = np.zeros(vocab_size or 0, np.int64)
        self.length_counts = np.zeros(0, np.int64)
        self.entropy_counts = np.zeros(0, np.int64)
        self.complexity_counts = np.zeros(0, np.int64)
        self.complexity_sum = 0.0
        self.pairs = self.repeats = 0
        self.max_share_sum = self.entropy_sum = 0.0
        self.detected = 0
        self.metadata = {key: [0, 0] for key in METADATA}  # key: [positions, real positions]
        self.sample, self.sample_tokens = [], 0

    def update(self, start, batch):
        tokens, mask = batch["tokens"], batch["mask"]
        lengths = mask.sum(axis=1)
        self._check_tokens(start, tokens, mask)
        tokens = np.where(mask, tokens, 0)
        self.num_sequences += len(tokens)
        self.length_counts = _add_counts(self.length_counts, lengths)
        self.token_counts = _add_counts(self.token_counts, tokens[mask])
        if tokens.shape[1] >= self.ngram:
            windows = np.lib.stride_tricks.sliding_window_view(tokens, self.ngram, axis=1)
            inside = np.arange(windows.shape[1]) + self.ngram <= lengths[:, None]
            self.ngrams.add(windows[inside])
        self.pairs += int(mask[:, 1:].sum())
        self.repeats += int(((tokens[:, 1:] == tokens[:, :-1]) & mask[:, 1:]).sum())
        self._add_shares(tokens, lengths)
        self.sequences.add(_sequence_hashes(tokens, lengths))
        marked = _detect(tokens, lengths, self.max_period, self.min_run).sum(axis=1)
        self.detected += int(marked.sum())
        present = lengths > 0
        complexity = _unmarked_share(marked, lengths)[present]
        self.complexity_sum += float(complexity.sum())
        bins = np.minimum(complexity * COMPLEXITY_BINS, COMPLEXITY_BINS - 1).astype(np.int64)
        self.complexity_counts = _add_counts(self.complexity_counts, bins)
        for key in METADATA:
            if key in batch:
                values = batch[key] >= 0 if key == "pattern" else batch[key]
                self.metadata[key][0] += int((values & mask).sum())
                self.metadata[key][1] += int(mask.sum())
        self._add_sample(tokens, lengths)

    def _check_tokens(self, start, tokens, mask):
        high = self.vocab_size if self.vocab_size is not None else np.inf
        bad = mask & ((tokens < 0) | (tokens >= high))
        if bad.any():
            row, position = np.argwhere(bad)[0]
            accepted = "ids >= 0" if self.vocab_size is None else f"ids in [0, {self.vocab_size})"
            raise OutOfVocabularyError(
                f"`batches` must hold token {accepted}; received {tokens[row, position]} in sequence "
                f"{start + row} at position {position} of its real tokens (validate() lists every problem)")

    def _add_shares(self, tokens, lengths):
        """The largest token share and the entropy of each sequence, from sorted runs."""
        batch, width = tokens.shape
        real = np.arange(width) < lengths[:, None]
        ordered = np.sort(np.where(real, tokens, _SENTINEL), axis=1)
        starts = np.ones(ordered.shape, bool)
        starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
        run = np.cumsum(starts.ravel()) - 1
        counts = np.bincount(run, weights=real.ravel())
        row = np.repeat(np.arange(batch), starts.sum(axis=1))
        largest = np.zeros(batch)
        np.maximum.at(largest, row, counts)
        share = counts / np.maximum(lengths[row], 1)
        terms = -share * np.log2(np.where(share > 0, share, 1.0))
        entropy = np.bincount(row, weights=terms, minlength=batch)
        present = lengths > 0
        self.max_share_sum += float(np.sum(largest[present] / lengths[present]))
        self.entropy_sum += float(np.sum(entropy[present]))
        bins = np.floor(entropy[present] * ENTROPY_BINS_PER_BIT + 1e-6).astype(np.int64)
        self.entropy_counts = _add_counts(self.entropy_counts, bins)

    def _add_sample(self, tokens, lengths):
        for row in range(len(tokens)):
            if self.sample_tokens >= self.complexity_tokens:
                return
            sequence = tokens[row, :lengths[row]]
            if sequence.size:
                width = next(w for w in (1, 2, 4, 8) if int(sequence.max()) < 256**w)
                self.sample.append(sequence.astype(f"<u{width}").tobytes())
                self.sample_tokens += sequence.size

    def report(self, top_k):
        if not self.num_sequences:
            raise ValueError("`batches` must hold at least one sequence; received none")
        length_values = np.nonzero(self.length_counts)[0]
        num_tokens = int(np.dot(np.arange(self.length_counts.size), self.length_counts))
        vocab_size = self.vocab_size if self.vocab_size is not None else self.token_counts.size
        counts = np.zeros(vocab_size, np.int64)
        counts[:self.token_counts.size] = self.token_counts
        distinct = int(np.count_nonzero(counts))
        non_empty = self.num_sequences - int(self.length_counts[0])
        unique, exact = self.sequences.count()
        return {
            "num_sequences": self.num_sequences,
            "num_tokens": num_tokens,
            "empty_sequences": self.num_sequences - non_empty,
            "length": {"mean": num_tokens / self.num_sequences, "min": int(length_values[0]),
                       "max": int(length_values[-1])},
            "vocab_size": vocab_size,
            "distinct_tokens": distinct,
            "vocab_usage": _share(distinct, vocab_size),
            "token_distribution": _rank_frequency(counts),
            "ngram": self.ngram,
            "top_ngrams": self.ngrams.top(top_k),
            "ngram_max_error": self.ngrams.error,
            "local_coherence": _share(self.repeats, self.pairs),
            "global_coherence": _share(self.max_share_sum, non_empty),
            "unique_sequences": unique,
            "unique_sequences_exact": exact,
            "sequence_diversity": unique / self.num_sequences,
            "token_diversity": _share(distinct, num_tokens),
            "entropy_bits": _share(self.entropy_sum, non_empty),
            "pattern_ratio": _share(*self.metadata["pattern"]),
            "predictable_ratio": _share(*self.metadata["predictable"]),
            "detected_pattern_ratio": _share(self.detected, num_tokens),
            "complexity": self._complexity(vocab_size),
            "sequence_complexity": _share(self.complexity_sum, non_empty),
            "lengths": _histogram(self.length_counts, 1.0),
            "entropies": _histogram(self.entropy_counts, 1.0 / ENTROPY_BINS_PER_BIT),
            "complexities": _histogram(self.complexity_counts, 1.0 / COMPLEXITY_BINS),
        }

    def _complexity(self, vocab_size):
        if not self.sample_tokens:
            return None
        if vocab_size < 2:
            return 0.0
        bits = 8 * len(zlib.compress(b"".join(self.sample), 9))
        return min(1.0, bits / (self.sample_tokens * math.log2(vocab_size)))


class _MisraGries:
    """Mergeable Misra-Gries counts of n-grams with at most `capacity` counters.

    Occurrences wait in a buffer and are merged in when it holds `capacity` of them:
    the merged counts keep the `capacity` largest after subtracting the
    (capacity + 1)-th largest from all, which `error` accumulates.
    """

    def __init__(self, n, capacity):
        self.capacity = capacity
        self.keys = np.zeros((0, n), np.int64)
        self.counts = np.zeros(0, np.int64)
        self.pending, self.pending_size = [], 0
        self.error = 0

    def add(self, grams):
        self.pending.append(grams)
        self.pending_size += len(grams)
        if self.pending_size >= self.capacity:
            self._merge()

    def _merge(self):
        grams = np.concatenate([self.keys, *self.pending])
        weights = np.concatenate([self.counts, np.ones(self.pending_size, np.int64)])
        self.pending, self.pending_size = [], 0
        # Rows grouped by a lexsort of the columns (5 times faster than np.unique(axis=0)).
        order = np.lexsort(grams.T[::-1])
        grams = grams[order]
        new = np.ones(len(grams), bool)
        new[1:] = (grams[1:] != grams[:-1]).any(axis=1)
        self.keys = grams[new]
        self.counts = np.bincount(np.cumsum(new) - 1, weights=weights[order]).astype(np.int64)
        if len(self.counts) > self.capacity:
            threshold = int(np.partition(self.counts, -(self.capacity + 1))[-(self.capacity + 1)])
            kept = self.counts > threshold
            self.keys, self.counts = self.keys[kept], self.counts[kept] - threshold
            self.error += threshold

    def top(self, k):
        self._merge()
        order = np.lexsort((*self.keys.T[::-1], -self.counts))[:k]
        return [(tuple(int(t) for t in self.keys[i]), int(self.counts[i])) for i in order]


class _DistinctCounter:
    """Distinct 64-bit hashes: exact up to `capacity`, else a HyperLogLog estimate."""

    def __init__(self, capacity):
        self.capacity = capacity
        self.exact = np.zeros(0, np.uint64)
        self.pending, self.pending_size = [], 0
        self.registers = np.zeros(2**HLL_BITS, np.uint8)

    def add(self, hashes):
        low = hashes & np.uint64(2 ** (64 - HLL_BITS) - 1)
        lowest_bit = low & (~low + np.uint64(1))
        # The rank: trailing zeros + 1 (exact: a power of two converts to float exactly).
        rank = np.where(low > 0, np.frexp(lowest_bit.astype(np.float64))[1], 65 - HLL_BITS)
        np.maximum.at(self.registers, (hashes >> np.uint64(64 - HLL_BITS)).astype(np.intp),
                      rank.astype(np.uint8))
        if self.exact is not None:
            self.pending.append(hashes)
            self.pending_size += len(hashes)
            if self.pending_size >= max(self.capacity, 1):
                self._merge()

    def _merge(self):
        if self.exact is not None and self.pending:
            self.exact = np.union1d(self.exact, np.concatenate(self.pending))
            if len(self.exact) > self.capacity:
                self.exact = None
        self.pending, self.pending_size = [], 0

    def count(self):
        """(the number of distinct hashes, whether it is exact)."""
        self._merge()
        if self.exact is not None:
            return len(self.exact), True
        m = len(self.registers)
        estimate = 0.7213 / (1 + 1.079 / m) * m * m / np.sum(2.0 ** -self.registers.astype(float))
        zeros = int(np.sum(self.registers == 0))
        if estimate <= 2.5 * m and zeros:
            estimate = m * math.log(m / zeros)
        return int(round(estimate)), False


def _detect(tokens, lengths, max_period, min_run):
    """`detect_patterns` for right-aligned real tokens."""
    width = tokens.shape[1]
    real = np.arange(width) < lengths[:, None]
    marked = np.zeros(tokens.shape, bool)
    for back in range(1, min(max_period, width - 1) + 1):
        holds = np.zeros(tokens.shape, bool)
        holds[:, back:] = (tokens[:, back:] == tokens[:, :-back]) & real[:, back:]
        marked |= _spans(holds, back, min_run)
    if width > 2:
        step = tokens[:, 1:] - tokens[:, :-1]
        holds = np.zeros(tokens.shape, bool)
        holds[:, 2:] = (step[:, 1:] == step[:, :-1]) & (step[:, 1:] != 0) & real[:, 2:]
        marked |= _spans(holds, 2, min_run)
    for even in (0, 1):
        marked |= _mirrors(tokens, real, even, min_run)
    return marked & real


def _spans(holds, back, min_run):
    """Positions in a run of `min_run` positions where `holds`, or `back` before one."""
    full = _window_sum(holds, 0, min_run - 1) == min_run
    return _window_sum(full, 1 - min_run, back) > 0


def _window_sum(values, low, high):
    """Per position j, the sum of `values[:, j + low : j + high + 1]` (cut at the ends)."""
    width = values.shape[1]
    cumulative = np.zeros((len(values), width + 1), np.int64)
    np.cumsum(values, axis=1, out=cumulative[:, 1:])
    j = np.arange(width)
    return cumulative[:, np.clip(j + high + 1, 0, width)] - cumulative[:, np.clip(j + low, 0, width)]


def _mirrors(tokens, real, even, min_run):
    """Positions in a mirror of at least `min_run` pairs around a centre.

    Odd mirrors pair c - k with c + k (k >= 1); even ones pair c - 1 - k with c + k
    (k >= 0), `even` shifting the left side by one.
    """
    batch, width = tokens.shape
    radius = np.zeros(tokens.shape, np.int64)
    alive = np.ones(tokens.shape, bool)
    for k in range(1, MIRROR_RADIUS + 1):
        left = k + even - 1 if even else k
        right = k - 1 if even else k
        if left + right >= width:
            break
        pair = np.zeros(tokens.shape, bool)
        pair[:, left:width - right] = (
            (tokens[:, :width - left - right] == tokens[:, left + right:]) & real[:, left + right:])
        alive &= pair
        radius += alive
    centres = np.argwhere(radius >= min_run)
    r = radius[centres[:, 0], centres[:, 1]]
    first = centres[:, 1] - r
    last = centres[:, 1] + r - even
    offsets = centres[:, 0] * (width + 1)
    size = batch * (width + 1)
    changes = np.bincount(offsets + first, minlength=size) - np.bincount(offsets + last + 1,
                                                                          minlength=size)
    return np.cumsum(changes.reshape(batch, width + 1), axis=1)[:, :width] > 0


def _sequence_hashes(tokens, lengths):
    """A 64-bit hash of each sequence's real tokens (see the module doc)."""
    width = tokens.shape[1]
    positions = np.arange(width, dtype=np.uint64)
    mixed = _splitmix64(_splitmix64(tokens.astype(np.uint64)) + positions)
    mixed[np.arange(width) >= lengths[:, None]] = 0
    return _splitmix64(mixed.sum(axis=1, dtype=np.uint64) ^ _splitmix64(lengths.astype(np.uint64)))


def _splitmix64(x):
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _rank_frequency(counts):
    """The token distribution of the report, with the fitted rank-frequency slope."""
    used = np.sort(counts[counts > 0])[::-1]
    rank = np.arange(1, used.size + 1)
    frequency = used / max(int(used.sum()), 1)
    distribution = {"counts": counts, "rank": rank, "frequency": frequency, "slope": None,
                    "intercept": None, "fit_ranks": None}
    fitted = int(np.sum(used >= FIT_MIN_COUNT))
    fitted = fitted if fitted >= 2 else used.size
    if fitted >= 2:
        x, y = np.log(rank[:fitted]), np.log(frequency[:fitted])
        slope, intercept = np.polyfit(x, y, 1, w=1 / np.sqrt(rank[:fitted]))
        distribution.update(slope=float(slope), intercept=float(intercept), fit_ranks=(1, fitted))
    return distribution


def _histogram(counts, bin_width):
    """`{"edges", "counts"}` over the used range of per-bin `counts`, at most
    `HISTOGRAM_BINS` bins (neighbours merged)."""
    used = np.nonzero(counts)[0]
    if not used.size:
        return {"edges": np.zeros(1), "counts": np.zeros(0, np.int64)}
    low, high = used[0], used[-1] + 1
    group = -(-(high - low) // HISTOGRAM_BINS)
    bins = -(-(high - low) // group)
    padded = np.zeros(bins * group, np.int64)
    padded[:high - low] = counts[low:high]
    edges = (low + group * np.arange(bins + 1)) * bin_width
    return {"edges": edges, "counts": padded.reshape(bins, group).sum(axis=1)}


def _add_counts(counts, values):
    """`counts` (per value) plus the occurrences of the non-negative `values`."""
    added = np.bincount(values.ravel(), minlength=counts.size)
    added[:counts.size] += counts
    return added


def _share(part, whole):
    return part / whole if whole else None


def _text(value, spec=".3f"):
    return "n/a" if value is None else format(value, spec)


def _read(batches, compact=True):
    """Yields (index of the first sequence, batch) for each batch of `batches`.

    A batch is a dict with `"tokens"` (int64, `(batch, length)`), `"mask"` and the
    metadata present; with `compact`, real tokens (and their metadata) come first.
    """
    if hasattr(batches, "as_numpy_iterator"):
        batches = batches.as_numpy_iterator()
    elif isinstance(batches, (str, bytes, collections.abc.Mapping)) or not isinstance(
            batches, collections.abc.Iterable):
        raise invalid("batches", batches, "an iterable of dicts of token arrays or of token-id "
                                          "sequences, or a tf.data.Dataset")
    start, chunk = 0, []
    for element in batches:
        parts = element if isinstance(element, tuple) and element and all(
            isinstance(part, collections.abc.Mapping) for part in element) else None
        if isinstance(element, collections.abc.Mapping) or parts:
            if chunk:
                yield start, _chunk(chunk)
                start, chunk = start + len(chunk), []
            merged = {key: value for part in (parts or (element,))[::-1] for key, value in part.items()}
            batch = _batch(merged, start)
        else:
            chunk.append(_integers(f"batches (sequence {start + len(chunk)})", np.asarray(element), ndim=1))
            if len(chunk) < LIST_CHUNK:
                continue
            batch = _chunk(chunk)
            chunk = []
        if compact:
            order = _compacting_order(batch["mask"])
            if order is not None:
                batch = {key: np.take_along_axis(value, order, axis=1) for key, value in batch.items()}
        yield start, batch
        start += len(batch["tokens"])
    if chunk:
        yield start, _chunk(chunk)


def _chunk(sequences):
    """Plain sequences as one right-padded batch."""
    lengths = np.array([len(s) for s in sequences])
    tokens = np.zeros((len(sequences), max(lengths.max(), 1)), np.int64)
    mask = np.arange(tokens.shape[1]) < lengths[:, None]
    tokens[mask] = np.concatenate(sequences) if lengths.sum() else []
    return {"tokens": tokens, "mask": mask}


def _batch(element, start):
    """A dict element as a checked batch (one sequence of a 1-D `"tokens"` as a batch of 1)."""
    if "tokens" not in element:
        raise ValueError(f"`batches` must hold dicts with a 'tokens' array; received a dict with "
                         f"keys {sorted(element)} (batch of sequence {start})")
    tokens = np.asarray(element["tokens"])
    if tokens.ndim == 1:
        element = {key: np.asarray(value)[None] for key, value in element.items()
                   if key in ("tokens", "tokens_mask", *METADATA)}
        tokens = element["tokens"]
    tokens = _integers("tokens", tokens, ndim=2)
    mask = element.get("tokens_mask", np.ones(tokens.shape, bool))
    batch = {"tokens": tokens, "mask": _mask("tokens_mask", np.asarray(mask), tokens.shape)}
    for key in METADATA:
        if key in element:
            value = np.asarray(element[key])
            if value.shape != tokens.shape:
                raise ValueError(f"`{key}` must have the shape of `tokens` {tokens.shape}; received "
                                 f"shape {value.shape}")
            if key == "pattern":
                batch[key] = _integers(key, value, ndim=2)
            else:
                batch[key] = _mask(key, value, tokens.shape)
    return batch


def _integers(name, values, ndim):
    """`values` as int64 if they are integers with `ndim` dimensions (empty: any dtype)."""
    plural = "s" if ndim > 1 else ""
    if values.ndim != ndim:
        raise ValueError(f"`{name}` must be token ids with {ndim} dimension{plural}; received "
                         f"an array of shape {values.shape}")
    if values.size and not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f"`{name}` must be integers; received an array of dtype {values.dtype}")
    return values.astype(np.int64)


def _mask(name, values, shape):
    """`values` as bool if they have `shape` and are booleans or 0/1 integers."""
    if values.shape != shape:
        raise ValueError(f"`{name}` must have the shape of `tokens` {shape}; received shape "
                         f"{values.shape}")
    if values.dtype != bool and not (
            np.issubdtype(values.dtype, np.integer) and np.isin(values, (0, 1)).all()):
        raise ValueError(f"`{name}` must be booleans or 0/1 integers; received an array of dtype "
                         f"{values.dtype}")
    return values.astype(bool)


def _compacting_order(mask):
    """The per-row order moving real positions first (stable), or `None` if they are."""
    lengths = mask.sum(axis=1)
    if np.array_equal(mask, np.arange(mask.shape[1]) < lengths[:, None]):
        return None
    return np.argsort(~mask, axis=1, kind="stable")
