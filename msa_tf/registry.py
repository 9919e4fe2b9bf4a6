"""A name-to-class registry: the zoo's models, the data sources and the tasks use one each."""

from msa_tf.validation import check_choice, did_you_mean


class Registry:
    """Classes registered under names, looked up with a clear error.

    Args:
        kind: what is registered, for messages (`"model"`, `"data source"`).
        argument: the argument that names an entry, for lookup errors (`"name"`).

    Example:
    >>> shapes = Registry("shape")
    >>> @shapes.register("square")
    ... class Square:
    ...     pass
    >>> shapes.names(), shapes.get_class("square").registry_name
    (['square'], 'square')
    >>> shapes.get_class("sqare")
    Traceback (most recent call last):
    ...
    ValueError: `name` must be one of 'square'; received name='sqare' (did you mean 'square'?)
    """

    def __init__(self, kind, argument="name"):
        self.kind = kind
        self.argument = argument
        self._classes = {}

    def register(self, name):
        """Class decorator: registers the class as `name` and sets its `registry_name`."""

        def decorator(cls):
            if name in self._classes and self._classes[name] is not cls:
                raise ValueError(f"A {self.kind} named {name!r} is registered already: "
                                 f"{self._classes[name]}")
            self._classes[name] = cls
            cls.registry_name = name
            return cls

        return decorator

    def names(self):
        """The registered names, sorted."""
        return sorted(self._classes)

    def get_class(self, name):
        """The class registered as `name`; `ValueError` naming the closest name otherwise."""
        check_choice(self.argument, name, tuple(self.names()))
        return self._classes[name]

    def check_arguments(self, name, arguments, accepted):
        """Raises `ValueError` for a key of `arguments` that is not in `accepted`.

        >>> Registry("data source").check_arguments("mmsa", {"paht": "a.pkl"}, ("path", "text"))
        Traceback (most recent call last):
        ...
        ValueError: data source 'mmsa' takes no argument 'paht' (did you mean 'path'?); \
accepted: path, text
        """
        for key in arguments:
            if key not in accepted:
                hint = did_you_mean(key, accepted)
                raise ValueError(f"{self.kind} {name!r} takes no argument {key!r}{hint}; "
                                 f"accepted: {', '.join(accepted)}")
