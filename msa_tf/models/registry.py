"""One registry for every model of the zoo: `get(name, **kwargs)` and `names()`."""

from msa_tf.registry import Registry

_MODELS = Registry("model")

register = _MODELS.register  # class decorator: makes the model available as `get(name)`
names = _MODELS.names  # the registered model names, sorted
model_class = _MODELS.get_class  # the class registered as `name`, or `ValueError`


def get(name, **kwargs):
    """A new model `name` built with `kwargs`.

    Raises `ValueError` naming the registered models for an unknown name.
    """
    return model_class(name)(**kwargs)
