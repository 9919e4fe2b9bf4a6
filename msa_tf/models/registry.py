"""One registry for every model of the zoo: `get(name, **kwargs)` and `names()`."""

from msa_tf.validation import check_choice

_MODELS = {}


def register(name):
    """Class decorator: makes the model available as `msa_tf.models.get(name)`."""

    def decorator(cls):
        if name in _MODELS and _MODELS[name] is not cls:
            raise ValueError(f"A model named {name!r} is registered already: {_MODELS[name]}")
        _MODELS[name] = cls
        cls.registry_name = name
        return cls

    return decorator


def names():
    """The registered model names, sorted."""
    return sorted(_MODELS)


def model_class(name):
    """The class registered as `name`; raises `ValueError` naming the registered models."""
    check_choice("name", name, tuple(names()))
    return _MODELS[name]


def get(name, **kwargs):
    """A new model `name` built with `kwargs`.

    Raises `ValueError` naming the registered models for an unknown name.
    """
    return model_class(name)(**kwargs)
