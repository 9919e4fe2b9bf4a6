"""The model zoo. `get(name, **kwargs)` builds any registered model; `names()` lists them."""

from msa_tf.models import msa  # noqa: F401  (registers the sentiment models)
from msa_tf.models.registry import get, model_class, names, register

__all__ = ["get", "model_class", "names", "register"]
