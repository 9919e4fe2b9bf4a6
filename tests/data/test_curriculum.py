"""`Curriculum`: stages of training sequences that `model.fit` moves through by epoch."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from generators.sequence_analysis import sequence_complexity
from generators.sequences import IGNORE_INDEX, PAD
from msa_tf.data import get_source
from msa_tf.data.curriculum import Curriculum

WIDTH = 24


def numpy_batches(dataset):
    return [tf.nest.map_structure(lambda t: t.numpy(), element) for element in dataset]


def mixed_batches(shuffle=False, batch_size=8):
    """60 sequences: 20 repeating a 3-token motif (complexity 0), 20 random over 1,000 ids
    (complexity 1) and 20 half motif, half random (about 0.5), in a shuffled order."""
    rng = np.random.default_rng(0)
    motif = np.tile(rng.integers(4, 1000, size=(20, 3)), (1, WIDTH // 3))
    random = rng.integers(4, 1000, size=(20, WIDTH))
    half = np.concatenate([motif[:, :WIDTH // 2], random[:, WIDTH // 2:]], axis=1)
    tokens = np.concatenate([motif, random, half])[rng.permutation(60)].astype(np.int32)
    labels = np.concatenate([tokens[:, 1:], np.full((60, 1), IGNORE_INDEX, np.int32)], axis=1)
    dataset = tf.data.Dataset.from_tensor_slices(
        ({"tokens": tokens, "tokens_mask": np.ones(tokens.shape, bool)}, {"next_token": labels}))
    if shuffle:
        dataset = dataset.shuffle(60, seed=1)
    return dataset.batch(batch_size)


def epoch_complexities(curriculum, batches, epoch):
    curriculum.on_epoch_begin(epoch)
    epoch_batches = numpy_batches(batches)
    complexity = np.concatenate([sequence_complexity(inputs["tokens"], inputs["tokens_mask"])
                                 for inputs, _ in epoch_batches])
    return complexity, epoch_batches


def test_each_stage_trains_on_its_complexity_range_for_epochs_of_the_same_length():
    curriculum = Curriculum([{"epochs": 2, "complexity": [0, 0.2]}, {"epochs": 1, "complexity": [0.3, 0.7]},
                             {"complexity": [0.8, 1]}])
    batches = curriculum.apply(mixed_batches(shuffle=True))
    assert curriculum.shares == pytest.approx([1 / 3, 1 / 3, 1 / 3])
    assert int(batches.cardinality()) == 8  # ceil(60 / 8), as without the curriculum
    seen = []
    for epoch, (low, high) in enumerate([(0, 0.2), (0, 0.2), (0.3, 0.7), (0.8, 1), (0.8, 1)]):
        complexity, epoch_batches = epoch_complexities(curriculum, batches, epoch)
        assert len(epoch_batches) == 8 and all(len(inputs["tokens"]) == 8 for inputs, _ in epoch_batches)
        assert ((complexity >= low) & (complexity <= high)).all(), (epoch, complexity)
        rows = {tuple(row) for inputs, _ in epoch_batches for row in inputs["tokens"]}
        assert len(rows) == 20, "the stage's 20 sequences, repeated to fill 64 places"
        seen.append([row for inputs, _ in epoch_batches for row in map(tuple, inputs["tokens"])])
    assert seen[0] != seen[1], "the source's shuffle still reshuffles each epoch"
    for inputs, targets in epoch_batches:  # labels travel with their sequences
        np.testing.assert_array_equal(targets["next_token"][:, :-1], inputs["tokens"][:, 1:])


def test_max_length_cuts_sequences_and_keeps_the_shapes_and_the_labels_before_the_cut():
    source = get_source("sequences", family="pattern", vocab_size=24, seq_length=WIDTH, num_samples=12,
                        length_variation=0.5, seed=2)
    plain = numpy_batches(source.dataset("train", batch_size=5))
    curriculum = Curriculum([{"epochs": 1, "max_length": 6}, {"epochs": 1, "max_length": 15}, {}])
    batches = curriculum.apply(source.dataset("train", batch_size=5))
    assert batches.element_spec == source.dataset("train", batch_size=5).element_spec
    for epoch, limit in enumerate([6, 15, WIDTH]):
        curriculum.on_epoch_begin(epoch)
        cut = numpy_batches(batches)
        assert len(cut) == len(plain) == 3
        for (inputs, targets), (expected, expected_targets) in zip(cut, plain):
            keep = np.arange(WIDTH) < limit
            np.testing.assert_array_equal(inputs["tokens_mask"], expected["tokens_mask"] & keep)
            np.testing.assert_array_equal(inputs["tokens"], np.where(keep, expected["tokens"], PAD))
            np.testing.assert_array_equal(targets["next_token"],
                                          np.where(keep, expected_targets["next_token"], IGNORE_INDEX))
        assert max(inputs["tokens_mask"].sum(axis=1).max() for inputs, _ in cut) == limit


def test_stage_of_counts_epochs_and_the_last_stage_goes_on():
    curriculum = Curriculum([{"epochs": 2}, {"epochs": 1, "max_length": 4}, {"epochs": 1, "max_length": 8}])
    assert [curriculum.stage_of(epoch) for epoch in range(7)] == [0, 0, 1, 2, 2, 2, 2]
    assert curriculum.stage == 0


class LabelCount(keras.metrics.Metric):
    """The least or the most labelled positions of a sequence seen in the epoch."""

    def __init__(self, most, **kwargs):
        super().__init__(**kwargs)
        self.most = most
        self.value = self.add_variable(shape=(), initializer="zeros" if most else "ones", dtype="float32")
        self.reset_state()

    def reset_state(self):
        self.value.assign(0.0 if self.most else 1e9)

    def update_state(self, y_true, y_pred, sample_weight=None):
        counts = keras.ops.sum(keras.ops.cast(y_true != IGNORE_INDEX, "float32"), axis=1)
        reduce = keras.ops.maximum if self.most else keras.ops.minimum
        self.value.assign(reduce(self.value, (keras.ops.max if self.most else keras.ops.min)(counts)))

    def result(self):
        return self.value


def test_fit_moves_through_the_stages_at_each_epoch_without_a_batch_of_the_last_stage():
    # Fixed-length pattern sequences: WIDTH - 1 labels each, `max_length` when cut.
    source = get_source("sequences", family="pattern", vocab_size=24, seq_length=WIDTH, num_samples=64)
    curriculum = Curriculum([{"epochs": 1, "max_length": 4}, {"epochs": 1}, {"max_length": 9}])
    tokens = keras.Input((WIDTH,), dtype="int32", name="tokens")
    mask = keras.Input((WIDTH,), dtype="bool", name="tokens_mask")
    logits = keras.layers.Dense(24, name="next_token")(keras.layers.Embedding(24, 4)(tokens))
    model = keras.Model({"tokens": tokens, "tokens_mask": mask}, {"next_token": logits})
    model.compile("adam", {"next_token": keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, ignore_class=IGNORE_INDEX)},
        metrics={"next_token": [LabelCount(False, name="least"), LabelCount(True, name="most")]},
        jit_compile=False)
    train = curriculum.apply(source.dataset("train", batch_size=8)).prefetch(8)
    history = model.fit(train, epochs=4, callbacks=[curriculum], shuffle=False, verbose=0).history
    assert history["curriculum_stage"] == [0, 1, 2, 2]
    expected = [4, WIDTH - 1, 9, 9]
    assert history["least"] == expected and history["most"] == expected


@pytest.mark.parametrize("stages, message", [
    ([], r"`curriculum` must be a non-empty list of stages"),
    ({"epochs": 1}, r"`curriculum` must be a non-empty list"),
    ([3], r"`curriculum\[0\]` must be a mapping with the keys epochs, max_length and complexity; "
          r"received curriculum\[0\]=3"),
    ([{"epoch": 1}], r"`curriculum\[0\]` has an unknown key 'epoch' \(did you mean 'epochs'\?\)"),
    ([{"epochs": 0}], r"`curriculum\[0\].epochs` must be a positive integer; received "
                      r"curriculum\[0\].epochs=0"),
    ([{"max_length": 4}, {}], r"`curriculum\[0\].epochs` must be a positive integer \(only the last stage "
                              r"may leave it out\)"),
    ([{"max_length": 2.5}], r"`curriculum\[0\].max_length` must be a positive integer; received "
                            r"curriculum\[0\].max_length=2.5"),
    ([{"complexity": 0.5}], r"`curriculum\[0\].complexity` must be two numbers \[low, high\] with "
                            r"0 <= low <= high <= 1; received curriculum\[0\].complexity=0.5"),
    ([{"complexity": [0.6, 0.2]}], r"received curriculum\[0\].complexity=\[0.6, 0.2\]"),
    ([{"complexity": [0, 1.5]}], r"received curriculum\[0\].complexity=1.5"),
])
def test_bad_stages_name_the_stage_the_key_and_the_value(stages, message):
    with pytest.raises(ValueError, match=message):
        Curriculum(stages)


def test_a_range_that_holds_no_sequence_is_refused_before_training():
    curriculum = Curriculum([{"epochs": 1, "complexity": [0, 0.2]}, {"complexity": [0.7, 0.75]}])
    with pytest.raises(ValueError, match=r"`curriculum\[1\].complexity` must hold some of the training "
                                         r"sequences; received curriculum\[1\].complexity=\[0.7, 0.75\], "
                                         r"and none of the first 60 falls in it \(theirs range over "
                                         r"\[0.000, 1.000\]\)"):
        curriculum.apply(mixed_batches())
    unknown = mixed_batches().filter(lambda inputs, targets: True)
    with pytest.raises(ValueError, match=r"`batches` must have a known number of batches"):
        Curriculum([{"max_length": 3}]).apply(unknown)
