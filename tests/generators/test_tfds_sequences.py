import numpy as np
import tensorflow_datasets as tfds

from generators import make_generator
from generators.tfds_sequences import SyntheticSequences

FIELDS = ("tokens", "tokens_mask", "labels", "pattern", "predictable", "condition")


def test_tfds_load_gives_the_generator_sequences(tmp_path):
    config = SyntheticSequences.builder_configs["planted"]
    size = config.split_sizes["validation"]
    data = tfds.load("synthetic_sequences/planted", split="validation", data_dir=str(tmp_path))
    (examples,) = list(data.batch(size + 1))
    generator = make_generator(**config.generator_fields, num_samples=size)
    want = generator.generate("valid", 0, size)
    assert set(examples) == set(FIELDS)
    for key in FIELDS:
        np.testing.assert_array_equal(examples[key].numpy(), want[key].numpy(), err_msg=key)
        assert examples[key].dtype == want[key].dtype
    inputs, targets = next(iter(tfds.load("synthetic_sequences/planted", split="validation",
                                          data_dir=str(tmp_path), as_supervised=True).batch(size)))
    want_inputs, want_targets = next(iter(generator.dataset("valid", size)))
    np.testing.assert_array_equal(inputs["tokens"].numpy(), want_inputs["tokens"].numpy())
    np.testing.assert_array_equal(targets["next_token"].numpy(), want_targets["next_token"].numpy())


def test_every_config_declares_fixed_length_features():
    assert set(SyntheticSequences.builder_configs) == {"pattern", "mqar", "planted"}
    for name, config in SyntheticSequences.builder_configs.items():
        features = SyntheticSequences(config=name, data_dir="/nonexistent").info.features
        length = config.generator_fields["seq_length"]
        assert {key: features[key].shape for key in FIELDS} == {
            **dict.fromkeys(FIELDS[:-1], (length,)), "condition": ()}
        assert make_generator(**config.generator_fields).seq_length == length
