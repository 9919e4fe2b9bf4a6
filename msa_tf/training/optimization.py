"""The optimizer with its learning-rate schedule, and the losses.

Keras 3 evaluates a learning-rate schedule at the number of batches seen, not at the number
of updates: with `gradient_accumulation_steps=k` the optimizer updates once every `k`
batches (`optimizer.iterations` counts updates), but the schedule still reads every batch.
So a schedule over `steps_per_epoch * epochs` batches ends at the last epoch whatever `k` is.
Under `mixed_float16`, a batch that `LossScaleOptimizer` skips for non-finite gradients does
not count: the schedule then ends that many batches late.
"""

import math
import numbers

import keras

from msa_tf.validation import check_choice, check_positive_int

OPTIMIZERS = ("adam", "adamw")
SCHEDULES = ("constant", "cosine", "cosine_restarts", "reduce_on_plateau")
REGRESSION_LOSSES = {
    "l1": keras.losses.MeanAbsoluteError,
    "mse": keras.losses.MeanSquaredError,
    "huber": keras.losses.Huber,
}
ADAMW_WEIGHT_DECAY = 0.01


def build_optimizer(name="adam", learning_rate=1e-3, *, weight_decay=None, clipnorm=None,
                    gradient_accumulation_steps=1, schedule="constant", steps_per_epoch=None,
                    epochs=None, restart_epochs=1, min_learning_rate=0.0):
    """A Keras optimizer with a learning-rate schedule.

    Args:
        name: `"adam"` or `"adamw"`.
        learning_rate: the initial (peak) learning rate, a number > 0.
        weight_decay: decoupled weight decay; `None` is none for `adam` and
            `ADAMW_WEIGHT_DECAY` (0.01) for `adamw`.
        clipnorm: `None` or a number > 0: each gradient is clipped to this norm.
        gradient_accumulation_steps: update once every that many batches with their mean
            gradient; 1 updates every batch.
        schedule: `"constant"`; `"cosine"` (cosine decay from `learning_rate` to
            `min_learning_rate` over `epochs` epochs); `"cosine_restarts"` (cosine decay
            restarted after `restart_epochs` epochs, each period twice as long as the last);
            `"reduce_on_plateau"` (constant here; add `plateau_callback()` to `fit`).
        steps_per_epoch: batches per epoch, needed by the cosine schedules.
        epochs: epochs of the run, needed by `cosine`.
        restart_epochs: epochs in the first period of `cosine_restarts`.
        min_learning_rate: the learning rate the cosine schedules decay to, in
            `[0, learning_rate]`.

    Raises `ValueError` naming the argument for a bad value or a missing one.

    Example:
    >>> optimizer = build_optimizer("adamw", 1e-3, schedule="cosine", steps_per_epoch=10, epochs=4)
    >>> optimizer.weight_decay, round(float(optimizer.learning_rate), 6)
    (0.01, 0.001)
    >>> build_optimizer(schedule="cosine")
    Traceback (most recent call last):
    ...
    ValueError: `steps_per_epoch` must be a positive integer with schedule='cosine'; \
received steps_per_epoch=None
    """
    name = check_choice("optimizer", name, OPTIMIZERS)
    schedule = check_choice("schedule", schedule, SCHEDULES)
    learning_rate = _check_number("learning_rate", learning_rate, "a number > 0", low=0.0)
    if weight_decay is None and name == "adamw":
        weight_decay = ADAMW_WEIGHT_DECAY
    if weight_decay is not None:
        weight_decay = _check_number("weight_decay", weight_decay, "None or a number >= 0",
                                     low=0.0, low_open=False)
    if clipnorm is not None:
        clipnorm = _check_number("clipnorm", clipnorm, "None or a number > 0", low=0.0)
    accumulation = check_positive_int("gradient_accumulation_steps", gradient_accumulation_steps)
    min_learning_rate = _check_number(
        "min_learning_rate", min_learning_rate, f"a number in [0, learning_rate={learning_rate}]",
        low=0.0, low_open=False, high=learning_rate,
    )
    counts = {
        "steps_per_epoch": steps_per_epoch, "epochs": epochs, "restart_epochs": restart_epochs,
    }
    for argument, value in counts.items():
        if value is not None:
            check_positive_int(argument, value)
    if schedule == "cosine":
        _require(counts, ("steps_per_epoch", "epochs"), schedule)
        learning_rate = keras.optimizers.schedules.CosineDecay(
            learning_rate, decay_steps=steps_per_epoch * epochs,
            alpha=min_learning_rate / learning_rate,
        )
    elif schedule == "cosine_restarts":
        _require(counts, ("steps_per_epoch", "restart_epochs"), schedule)
        learning_rate = keras.optimizers.schedules.CosineDecayRestarts(
            learning_rate, first_decay_steps=steps_per_epoch * restart_epochs,
            alpha=min_learning_rate / learning_rate,
        )
    optimizer_class = keras.optimizers.AdamW if name == "adamw" else keras.optimizers.Adam
    return optimizer_class(
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        clipnorm=clipnorm,
        gradient_accumulation_steps=accumulation if accumulation > 1 else None,
    )


def plateau_callback(monitor="val_loss", factor=0.5, patience=2, min_learning_rate=0.0):
    """The `ReduceLROnPlateau` callback of `schedule="reduce_on_plateau"`.

    Multiplies the learning rate by `factor` (in (0, 1)) after `patience` epochs without
    improvement of `monitor`, down to `min_learning_rate`.

    Example:
    >>> callback = plateau_callback("val_mae", patience=3)
    >>> callback.monitor, callback.factor, callback.patience
    ('val_mae', 0.5, 3)
    """
    if not isinstance(monitor, str) or not monitor:
        raise ValueError(f"`monitor` must be a metric name such as 'val_loss'; received "
                         f"monitor={monitor!r}")
    factor = _check_number("factor", factor, "a number in (0, 1)", low=0.0, high=1.0,
                           high_open=True)
    if isinstance(patience, bool) or not isinstance(patience, numbers.Integral) or patience < 0:
        raise ValueError(f"`patience` must be an integer >= 0; received patience={patience!r}")
    min_learning_rate = _check_number("min_learning_rate", min_learning_rate, "a number >= 0",
                                      low=0.0, low_open=False)
    return keras.callbacks.ReduceLROnPlateau(
        monitor=monitor, factor=factor, patience=int(patience), min_lr=min_learning_rate, verbose=1
    )


def regression_loss(name):
    """The regression loss `name`: `"l1"` (mean absolute error), `"mse"` or `"huber"`.

    Example:
    >>> float(regression_loss("l1")(np.array([[0.0], [1.0]]), np.array([[1.0], [3.0]])))
    1.5
    """
    return REGRESSION_LOSSES[check_choice("loss", name, tuple(REGRESSION_LOSSES))]()


def classification_loss():
    """Sparse categorical cross-entropy on logits: targets are class ids.

    Example:
    >>> round(float(classification_loss()(np.array([1]), np.array([[0.0, 0.0]]))), 4)
    0.6931
    """
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _check_number(name, value, accepted, *, low=None, high=None, low_open=True, high_open=False):
    """Returns `value` as a float if it is a finite number within the bounds, else raises."""
    inside = (
        not isinstance(value, bool)
        and isinstance(value, numbers.Real)
        and math.isfinite(value)
        and (low is None or (value > low if low_open else value >= low))
        and (high is None or (value < high if high_open else value <= high))
    )
    if not inside:
        raise ValueError(f"`{name}` must be {accepted}; received {name}={value!r}")
    return float(value)


def _require(arguments, names, schedule):
    """Raises `ValueError` for the first of `names` that is `None` in `arguments`."""
    for name in names:
        if arguments[name] is None:
            raise ValueError(f"`{name}` must be a positive integer with schedule={schedule!r}; "
                             f"received {name}=None")
