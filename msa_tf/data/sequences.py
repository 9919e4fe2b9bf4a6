"""Token-sequence sources for language modelling (task `language_modeling`).

A batch is `(inputs, targets)` with `inputs = {"tokens": int32 (batch, length),
"tokens_mask": bool (batch, length)}` (`True` = a real token, padding is `PAD` = 0 at
the end) and `targets = {"next_token": int32 (batch, length)}`: the token to predict at
each position, `IGNORE_INDEX` where no loss applies. Lengths are one int: `dataset(...,
lengths=n)` pads (PAD, `False`, `IGNORE_INDEX`) or cuts every batch to `n` tokens.

Registered sources:

- `sequences(family="pattern", **options)`: a `generators.sequences` family, made on
  the fly.

Example:
>>> source = get_source("sequences", family="pattern", vocab_size=24, seq_length=12,
...                     num_samples=8)
>>> inputs, targets = next(iter(source.dataset("train", batch_size=4, lengths=10)))
>>> {k: tuple(v.shape) for k, v in sorted(inputs.items())}, targets["next_token"].dtype.name
({'tokens': (4, 10), 'tokens_mask': (4, 10)}, 'int32')
>>> source.model_arguments(10), source.default_task
({'vocab_size': 24, 'max_length': 10}, 'language_modeling')
"""

import abc

import tensorflow as tf

from generators import sequences
from msa_tf.data.sources import DataSource, get_source, register_source
from msa_tf.validation import check_positive_int

__all__ = ["GeneratedSequencesSource", "SequenceSource", "fit_sequence_length", "get_source"]


def fit_sequence_length(inputs, targets, length):
    """A batch padded (PAD, `False`, `IGNORE_INDEX`) or cut to `length` tokens.

    The labels of the positions kept stay as they were: after a cut, the last position
    still predicts the token that followed it.
    """
    steps = inputs["tokens"].shape[1]
    if length == steps:
        return inputs, targets
    if length < steps:
        cut = slice(None), slice(0, length)
        return ({key: value[cut] for key, value in inputs.items()},
                {key: value[cut] for key, value in targets.items()})
    padding = [[0, 0], [0, length - steps]]
    fill = {"tokens": sequences.PAD, "tokens_mask": False}
    padded = {key: tf.pad(value, padding, constant_values=fill[key]) for key, value in inputs.items()}
    labels = {key: tf.pad(value, padding, constant_values=sequences.IGNORE_INDEX)
              for key, value in targets.items()}
    return padded, labels


class SequenceSource(DataSource):
    """Base of the token-sequence sources.

    Attributes:
        vocab_size: the number of token ids (ids are in `[0, vocab_size)`).
        seq_length: the length of the sequences as the source stores them.
    """

    default_task = "language_modeling"

    def fixed_lengths(self, lengths=None):
        """`lengths` (an int) checked, or `seq_length` for `None`."""
        return self.seq_length if lengths is None else check_positive_int("lengths", lengths)

    def input_spec(self, lengths=None):
        length = self.fixed_lengths(lengths)
        return {"tokens": ((length,), "int32"), "tokens_mask": ((length,), "bool")}

    def model_arguments(self, lengths=None):
        """`vocab_size` and `max_length` (the fixed length)."""
        return {"vocab_size": self.vocab_size, "max_length": self.fixed_lengths(lengths)}

    def num_classes(self):
        return None

    def _batches(self, split, batch_size, lengths, shuffle, seed, drop_remainder):
        batches = self._sequence_batches(split, batch_size, shuffle, seed, drop_remainder)
        if lengths != self.seq_length:
            batches = batches.map(lambda inputs, targets: fit_sequence_length(inputs, targets, lengths),
                                  num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return batches

    @abc.abstractmethod
    def _sequence_batches(self, split, batch_size, shuffle, seed, drop_remainder):
        """`(inputs, targets)` batches of `split` at `seq_length` tokens."""


@register_source("sequences")
class GeneratedSequencesSource(SequenceSource):
    """Synthetic token sequences of a `generators.sequences` family, made on the fly.

    Takes the `family` (`generators.sequences.family_names()`) and that family's
    options (`vocab_size`, `seq_length`, `num_samples`, `seed`, ...); an option that
    the family does not take, or a bad value, raises `ValueError` naming it. Its
    `origin` is the family. `shuffle` is accepted and ignored: sequences are
    independent draws, so their order is random already.
    """

    def __init__(self, family="pattern", **options):
        self.generator = sequences.make_generator(family, **options)
        self.vocab_size = self.generator.vocab_size
        self.seq_length = self.generator.seq_length
        self.origin = family

    @classmethod
    def arguments(cls):
        """`family` and every option of any family (each family checks its own)."""
        options = {name: None for family in sequences.FAMILIES.values() for name in family.options}
        return ("family", *sequences.SequenceGenerator._common_arguments(), *options)

    def _sequence_batches(self, split, batch_size, shuffle, seed, drop_remainder):
        return self.generator.dataset(split, batch_size, drop_remainder=drop_remainder)
