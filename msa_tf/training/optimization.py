"""The optimizer with its learning-rate schedule (the losses belong to the tasks).

Keras 3 evaluates a learning-rate schedule at the number of batches seen, not at the number
of updates: with `gradient_accumulation_steps=k` the optimizer updates once every `k`
batches (`optimizer.iterations` counts updates), but the schedule still reads every batch.
So a schedule over `steps_per_epoch * epochs` batches ends at the last epoch whatever `k` is.
Under `mixed_float16`, a batch that `LossScaleOptimizer` skips for non-finite gradients does
not count: the schedule then ends that many batches late.
"""

import keras

from msa_tf.validation import check_choice, check_int, check_number, check_positive_int

OPTIMIZERS = ("adam", "adamw")
SCHEDULES = ("constant", "cosine", "cosine_restarts", "reduce_on_plateau")
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
    learning_rate = check_number("learning_rate", learning_rate, low=0, low_open=True)
    if weight_decay is None and name == "adamw":
        weight_decay = ADAMW_WEIGHT_DECAY
    if weight_decay is not None:
        weight_decay = check_number("weight_decay", weight_decay, low=0)
    if clipnorm is not None:
        clipnorm = check_number("clipnorm", clipnorm, low=0, low_open=True)
    accumulation = check_positive_int("gradient_accumulation_steps", gradient_accumulation_steps)
    min_learning_rate = check_number(
        "min_learning_rate", min_learning_rate, low=0, high=learning_rate,
        accepted=f"a number in [0, learning_rate={learning_rate}]",
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
    factor = check_number("factor", factor, low=0, high=1, low_open=True, high_open=True)
    patience = check_int("patience", patience, low=0)
    min_learning_rate = check_number("min_learning_rate", min_learning_rate, low=0)
    return keras.callbacks.ReduceLROnPlateau(
        monitor=monitor, mode="min", factor=factor, patience=int(patience), min_lr=min_learning_rate,
        verbose=1,
    )


def _require(arguments, names, schedule):
    """Raises `ValueError` for the first of `names` that is `None` in `arguments`."""
    for name in names:
        if arguments[name] is None:
            raise ValueError(f"`{name}` must be a positive integer with schedule={schedule!r}; "
                             f"received {name}=None")
