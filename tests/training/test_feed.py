"""`runner.feed`: the batches the runner gives `fit`."""

import numpy as np
import pytest
import tensorflow as tf

from msa_tf.training.config import ConfigError, ExperimentConfig
from msa_tf.training.runner import feed


def _fresh_each_pass():
    """Three batches whose values are new on every pass, like a generator's (a counter,
    so that no random seed set by another test can make two passes alike)."""
    counter = tf.Variable(0.0)

    def batch(_):
        inputs = {"x": tf.fill((2, 4), counter.assign_add(1.0))}
        return inputs, {"regression": tf.zeros((2, 1)), "classification": tf.zeros((2,))}

    return tf.data.Dataset.range(3).map(batch)


def _passes(dataset, count=2):
    return [[inputs["x"].numpy() for inputs, _ in dataset] for _ in range(count)]


def test_targets_are_cut_to_the_model_outputs():
    _, targets = next(iter(feed(_fresh_each_pass(), ["regression"])))
    assert list(targets) == ["regression"]


def test_autotuning_is_off_for_the_whole_pipeline():
    fed = feed(_fresh_each_pass().prefetch(tf.data.AUTOTUNE), ["regression"])
    assert fed.options().autotune.enabled is False


def test_cache_replays_the_first_pass_and_without_it_every_pass_is_new():
    first, second = _passes(feed(_fresh_each_pass(), ["regression"], cache=True))
    np.testing.assert_array_equal(np.stack(first), np.stack(second))
    first, second = _passes(feed(_fresh_each_pass(), ["regression"]))
    assert not np.array_equal(np.stack(first), np.stack(second))


def test_cache_is_a_data_setting_that_takes_true_or_false():
    assert ExperimentConfig.from_dict({"data": {"cache": True}}).data.cache is True
    assert ExperimentConfig.from_dict({}).data.cache is False
    with pytest.raises(ConfigError, match=r"`data.cache` must be true or false; received data.cache='yes'"):
        ExperimentConfig.from_dict({"data": {"cache": "yes"}})


def test_cache_refuses_endless_data():
    with pytest.raises(ConfigError, match=r"needs finite ones; received data.num_samples=None"):
        ExperimentConfig.from_dict({"data": {"cache": True, "num_samples": None}})
