"""Counter-based random numbers for stateless generators: example `i` never depends on the batch.

`mix64(*values)` hashes small integers (seed, split, stream, ...) into a 64-bit Philox
key. `Draws(seed, split, stream, start, count)` gives the random numbers of examples
`start .. start + count - 1`: each call is one vectorised Philox draw with its own key,
made from `(seed, split, stream, call number)`, and row `r` of a block belongs to example
`start + r`, whose counter starts at `(start + r) * ceil(width / 4)`. So a row is the same
whatever the batch size, start or shard split that made it, and a generator that makes
its calls in a fixed order gets the same stream from call `n` every time.

Example:
>>> first = Draws(seed=0, split=0, stream=1, start=0, count=4)(3)
>>> again = Draws(seed=0, split=0, stream=1, start=2, count=1)(3)
>>> bool((first[2] == again[0]).numpy().all())
True
"""

import functools

import tensorflow as tf

__all__ = ["Draws", "block_batches", "graph_generate", "mix64", "round_up4"]


def mix64(*values):
    """A 64-bit hash of small integers (splitmix64 steps), for Philox keys."""
    state = 0x9E3779B97F4A7C15
    for value in values:
        state = (state ^ (int(value) & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9
        state &= 0xFFFFFFFFFFFFFFFF
        state ^= state >> 31
    return state


def round_up4(n):
    """`n` rounded up to a multiple of 4 (Philox makes 4 numbers per counter step)."""
    return (n + 3) // 4 * 4


class Draws:
    """The random numbers of a batch of examples `start .. start + count - 1` (module doc).

    Attributes:
        count: the number of examples, an int32 scalar tensor.
    """

    def __init__(self, seed, split, stream, start, count):
        self._seed, self._split, self._stream = seed, split, stream
        self._start = tf.cast(start, tf.uint64)
        self.count = tf.cast(count, tf.int32)
        self._calls = 0

    def _draw(self, op, width, **bounds):
        padded = round_up4(width)
        key = tf.constant([mix64(self._seed, self._split, self._stream, self._calls)], tf.uint64)
        self._calls += 1
        counter = tf.stack([self._start * (padded // 4), tf.constant(0, tf.uint64)])
        flat = op(shape=tf.reshape(self.count * padded, [1]), key=key, counter=counter, alg=1, **bounds)
        return tf.reshape(flat, [self.count, padded])

    def _blocks(self, op, widths):
        total = sum(widths)
        block = self._draw(op, total)
        if len(widths) == 1:
            return block if total == round_up4(total) else block[:, :total]
        return tf.split(block, list(widths) + [round_up4(total) - total], axis=1)[:-1]

    def __call__(self, *widths):
        """Uniform float32 numbers in [0, 1): one `(count, width)` block per width, from one draw."""
        return self._blocks(tf.raw_ops.StatelessRandomUniformV2, widths)

    def normals(self, *widths):
        """Standard normal float32 numbers: one `(count, width)` block per width, from one draw."""
        return self._blocks(tf.raw_ops.StatelessRandomNormalV2, widths)

    def integers(self, width, low, high):
        """Uniform int32 numbers in [`low`, `high`): a `(count, width)` block, from one draw."""
        block = self._draw(tf.raw_ops.StatelessRandomUniformIntV2, width,
                           minval=tf.constant(low, tf.int32), maxval=tf.constant(high, tf.int32))
        return block if width == round_up4(width) else block[:, :width]


def block_batches(generate, start, stop, batch_size, drop_remainder):
    """The dataset of batches `generate(first, count)` of examples `start .. stop - 1`.

    `stop=None` streams forever. Each batch is one call (one vectorised draw); the last
    one is smaller unless `drop_remainder`, which also makes the batch dimension static.
    The cardinality is known when the dataset is finite.
    """
    if stop is None:
        starts, end = tf.data.Dataset.counter(start, batch_size), None
    else:
        end = stop - (stop - start) % batch_size if drop_remainder else stop
        starts = tf.data.Dataset.range(start, end, batch_size)

    def block(first):
        if drop_remainder or end is None:
            return generate(first, batch_size)
        return generate(first, tf.minimum(first + batch_size, end) - first)

    return starts.map(block, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def graph_generate(functions, generate, split, start, count):
    """`generate(split, start, count)` run as a graph function traced once per split.

    `functions` (a dict the generator owns) keeps the traced function of each split.
    """
    if split not in functions:
        functions[split] = tf.function(
            functools.partial(generate, split), autograph=False,
            input_signature=[tf.TensorSpec([], tf.int64), tf.TensorSpec([], tf.int32)])
    return functions[split](tf.constant(start, tf.int64), tf.constant(count, tf.int32))
