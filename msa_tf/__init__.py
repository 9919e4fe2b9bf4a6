"""msa-tf: a Keras 3 model zoo and dataset generators for multimodal deep learning.

Importing `msa_tf` registers every layer, model and metric with Keras, so that
`keras.saving.load_model` reads any `.keras` file the project writes.
"""

__version__ = "0.1.0"

from msa_tf import layers, metrics, models  # noqa: E402, F401  (registers them with Keras)
