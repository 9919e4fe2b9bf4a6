"""msa-tf: a Keras 3 model zoo and dataset generators for multimodal deep learning."""

__version__ = "0.1.0"
