"""The task interface, its registry and the metrics table every task reports with."""

import abc
import math

from msa_tf.registry import Registry
from msa_tf.validation import constructor_arguments

_TASKS = Registry("task")

register_task = _TASKS.register  # class decorator: makes a task available as `get_task(name)`
task_names = _TASKS.names  # the registered task names, sorted
task_class = _TASKS.get_class  # the class registered as `name`, or `ValueError`


def get_task(name, source, /, **arguments):
    """A new task `name` for the data `source`, with its `arguments`.

    Raises `ValueError` for an unknown task or argument (suggesting the closest one)
    and for a bad value.
    """
    cls = task_class(name)
    _TASKS.check_arguments(name, arguments, cls.arguments())
    return cls(source, **arguments)


class Task(abc.ABC):
    """What the runner needs to train, evaluate and report one kind of problem.

    A task is made for a data source (`source`, a `msa_tf.data.DataSource`) and its
    keyword options (its constructor arguments after `source`, e.g. a loss name).
    Predictions are a dict of NumPy arrays whose structure the task decides; they
    pass from `predict` to `metrics`, `baseline` and `plot`.

    Attributes:
        targets: the target names the task trains on, most important first; a model
            trains on those of its outputs that are among them.
        baseline_name: the column of the baseline in the report.
        unit: what one entry of the predictions' arrays is (`"examples"`, `"tokens"`).
    """

    targets = ()
    baseline_name = "baseline"
    unit = "examples"

    def __init__(self, source):
        self.source = source

    @classmethod
    def arguments(cls):
        """The task's options: its constructor arguments after `source`."""
        return tuple(name for name in constructor_arguments(cls) if name != "source")

    def select_outputs(self, model_outputs):
        """The model outputs to train, in the order of `targets`; `ValueError` if none."""
        outputs = [name for name in self.targets if name in model_outputs]
        if not outputs:
            raise ValueError(f"the model's outputs {sorted(model_outputs)} include none of the "
                             f"targets of task {self.registry_name!r}: {list(self.targets)}")
        return outputs

    def model_arguments(self, accepted):
        """Model arguments that the targets decide, for a model whose constructor takes
        `accepted` (`{name: default}`); none by default."""
        return {}

    def check_outputs(self, outputs):
        """Checks the output tensors of a built model against the data; `ValueError`.
        Every output is accepted by default."""
        return None

    @abc.abstractmethod
    def losses(self, outputs):
        """`(losses, loss_weights)` for `model.compile`, keyed by `outputs`."""

    @abc.abstractmethod
    def compile_metrics(self, outputs):
        """Fresh Keras metrics for `model.compile(metrics=...)`, keyed by `outputs`."""

    @abc.abstractmethod
    def predict(self, model, batches):
        """The predictions of `model` on the `(inputs, targets)` `batches`, next to the
        targets; with `model=None`, the targets only."""

    def example_info(self, split, count):
        """Arrays that describe the `count` examples of `split` in dataset order (names,
        ids), merged into the predictions before `metrics`; none by default."""
        return {}

    @abc.abstractmethod
    def metrics(self, predictions):
        """`{metric: float}` of `predictions`; an undefined metric is NaN."""

    def baseline(self, train_batches, predictions):
        """The metrics of the task's baseline on the data of `predictions`, fitted on
        `train_batches`; `None` when the task has no baseline."""
        return None

    def report(self, results, title):
        """A text table of `results` (`{column: metrics}`)."""
        return format_table(results, title)

    def plot(self, predictions, run_dir, title):
        """Writes the task's PNG plots of `predictions` into `run_dir`; returns their paths."""
        return []

    def write_predictions(self, predictions, path):
        """Writes one CSV row per example of `predictions` at `path` and returns `path`;
        `None` (nothing written) for a task without a per-example table."""
        return None


def format_table(results, title):
    """A text table: one row per metric, one column per entry of `results`.

    A value that is `None` or not finite (an undefined metric) shows as a dash.

    >>> print(format_table({"model": {"mae": 0.25, "corr": float("nan")}}, "Test"))
    Test
    metric           model
    mae             0.2500
    corr                 -
    """
    names = list(next(iter(results.values())))
    columns = list(results)
    width = max(len(name) for name in [*names, "metric"])
    lines = [title, f"{'metric':<{width}}  " + "  ".join(f"{c:>14}" for c in columns)]
    for name in names:
        cells = []
        for column in columns:
            value = results[column].get(name)
            defined = value is not None and math.isfinite(value)
            cells.append(f"{value:>14.4f}" if defined else f"{'-':>14}")
        lines.append(f"{name:<{width}}  " + "  ".join(cells))
    return "\n".join(lines)
