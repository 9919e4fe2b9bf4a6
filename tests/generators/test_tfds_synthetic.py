import numpy as np
import tensorflow_datasets as tfds

from generators import MultimodalGenerator
from generators.tfds_synthetic import SyntheticMultimodal


def test_tfds_load_gives_the_generator_examples(tmp_path):
    data = tfds.load("synthetic_multimodal/tiny", split="validation", as_supervised=True,
                     data_dir=str(tmp_path))
    examples = list(data.batch(100))
    assert len(examples) == 1
    inputs, targets = examples[0]
    config = SyntheticMultimodal.builder_configs["tiny"]
    generator = MultimodalGenerator(**config.generator_fields, num_samples=16)
    want_inputs, want_targets = generator.generate("valid", 0, 16)
    for key, value in want_inputs.items():
        np.testing.assert_array_equal(inputs[key].numpy(), value.numpy(), err_msg=key)
    np.testing.assert_array_equal(targets["regression"].numpy(), want_targets["regression"].numpy())
    np.testing.assert_array_equal(targets["classification"].numpy(), want_targets["classification"].numpy())


def test_every_preset_declares_the_feature_file_shapes():
    info = SyntheticMultimodal(config="mosei_unaligned", data_dir="/nonexistent").info
    features = info.features["inputs"]
    assert features["text"].shape == (50, 768)
    assert features["audio"].shape == (500, 74)
    assert features["vision"].shape == (500, 35)
    assert info.supervised_keys == ("inputs", "targets")
    assert set(SyntheticMultimodal.builder_configs) == {
        "mosi", "mosi_unaligned", "mosei", "mosei_unaligned", "sims", "tiny"
    }
