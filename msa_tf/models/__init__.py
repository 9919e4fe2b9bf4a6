"""The model zoo. `get(name, **kwargs)` builds any registered model; `names()` lists them."""

# Importing the domain packages registers their models.
from msa_tf.models import deepfake, image, msa, sequence  # noqa: F401
from msa_tf.models.registry import get, model_class, names, register

__all__ = ["get", "model_class", "names", "register"]
