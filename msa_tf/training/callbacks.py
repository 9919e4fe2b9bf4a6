"""The callbacks of a run: best checkpoint, early stopping, backup, logs and a NaN stop.

`run_callbacks` gives the list the runner passes to `model.fit`. A run killed at any
point resumes from `<run>/backup` when started again (`keras.callbacks.BackupAndRestore`
restores the weights, the optimizer and the epoch counter); the history and the best
checkpoint's score carry over too (`resume_state`). A non-finite loss stops the run
(`NaNGuard`) and leaves the backup and the best checkpoint as they were after the last
good epoch.
"""

import csv
import json
import math
import os

import keras

BACKUP = "backup"
CHECKPOINT = "checkpoint.keras"
HISTORY = "history.csv"


class NaNGuard(keras.callbacks.TerminateOnNaN):
    """`TerminateOnNaN` that remembers where the loss stopped being finite.

    After `fit`, `stopped_at` is `None` or `(epoch, batch, loss)` (epoch and batch
    counted from 0).
    """

    def __init__(self):
        super().__init__()
        self.stopped_at = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.stopped_at = (self._epoch, batch, float(loss))
            self.model.stop_training = True


class GuardedBackup(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` that neither saves nor deletes its backup once `guard` fired."""

    def __init__(self, backup_dir, guard):
        super().__init__(backup_dir)
        self.guard = guard

    def on_epoch_end(self, epoch, logs=None):
        if self.guard.stopped_at is None:
            super().on_epoch_end(epoch, logs)

    def on_train_end(self, logs=None):
        if self.guard.stopped_at is None:
            super().on_train_end(logs)


def resume_state(run_dir, monitor):
    """`(initial_epoch, best_score)` of an interrupted run in `run_dir`.

    `initial_epoch` is the number of epochs in the backup (0 without one). The
    history is cut to those epochs (a kill between the backup and the log could leave
    an extra row), and `best_score` is the lowest `monitor` among them (`None` if
    none is finite), so the best checkpoint is only replaced by a better one.
    """
    metadata = os.path.join(run_dir, BACKUP, "training_metadata.json")
    epochs = 0
    if os.path.exists(metadata):
        with open(metadata) as handle:
            epochs = int(json.load(handle)["epoch"])
    history = os.path.join(run_dir, HISTORY)
    if not os.path.exists(history):
        return epochs, None
    with open(history, newline="") as handle:
        rows = list(csv.DictReader(handle))
    kept = [row for row in rows if int(row["epoch"]) < epochs]
    with open(history, "w", newline="") as handle:
        if kept:
            writer = csv.DictWriter(handle, fieldnames=list(kept[0]))
            writer.writeheader()
            writer.writerows(kept)
    scores = [float(row[monitor]) for row in kept if row.get(monitor) not in (None, "")]
    scores = [score for score in scores if math.isfinite(score)]
    return epochs, min(scores) if scores else None


def run_callbacks(run_dir, guard, *, monitor="val_loss", patience=None, best_score=None,
                  tensorboard=True):
    """The callbacks of a run writing to `run_dir`, in the order they must run.

    `monitor` is minimised (a loss, or an error such as the EER), whatever its name.
    The guard runs first so that the backup sees a stopped run; the backup runs before
    the CSV log, so a logged epoch is always a backed-up one. `patience=None` never
    stops early; the best weights are restored at the end either way.
    """
    callbacks = [
        guard,
        GuardedBackup(os.path.join(run_dir, BACKUP), guard),
        keras.callbacks.ModelCheckpoint(
            os.path.join(run_dir, CHECKPOINT), monitor=monitor, mode="min", save_best_only=True,
            initial_value_threshold=best_score,
        ),
        keras.callbacks.EarlyStopping(
            monitor=monitor, mode="min", patience=patience if patience is not None else 2**31,
            restore_best_weights=True,
        ),
        keras.callbacks.CSVLogger(os.path.join(run_dir, HISTORY), append=True),
    ]
    if tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(os.path.join(run_dir, "tensorboard")))
    return callbacks
