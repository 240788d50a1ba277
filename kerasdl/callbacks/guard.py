"""The NaN guard: training stops at the first NaN or Inf loss, and nothing is saved after it."""
from __future__ import annotations

import math
from typing import Any, Optional

import keras


def is_finite(value) -> bool:
    """Whether ``value`` is a finite number (a value that is not a number counts as finite)."""
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return True


class NaNGuard(keras.callbacks.Callback):
    """Stops training at the first NaN/Inf ``loss`` or ``val_loss`` and remembers where.

    It takes the place of ``keras.callbacks.TerminateOnNaN``: the callbacks that write files
    (:class:`~kerasdl.callbacks.BestCheckpoint`, :class:`~kerasdl.callbacks.EpochBackup`) read
    ``tripped`` and save nothing once it is set, so no NaN weights reach a checkpoint or a backup.
    Checked at every batch hook (every ``steps_per_execution`` steps) and at each epoch's end.

    Args:
        stop: set ``model.stop_training`` when tripped (``callbacks.terminate_on_nan``); with
            False the guard only records where training diverged.

    Attributes:
        tripped: None, or ``{"epoch": 1-based epoch, "batch": 1-based batch or None (epoch end),
            "metric": "loss" or "val_loss", "value": the non-finite value}``.

    Example::

        guard = NaNGuard()
        model.fit(x, y, epochs=5, callbacks=[guard])
        if guard.tripped:
            print(f"diverged in epoch {guard.tripped['epoch']}")
    """

    def __init__(self, stop: bool = True):
        super().__init__()
        if not isinstance(stop, bool):
            raise TypeError(f"NaNGuard(stop=...) takes True or False; got {stop!r}")
        self.stop = stop
        self.tripped: Optional[dict[str, Any]] = None
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        # with steps_per_execution, Keras reports the last step of the execution group, which
        # may lie past the epoch's end (batch 32 of a 4-batch epoch): say the epoch's last batch
        steps = (self.params or {}).get("steps")
        self._check(logs, min(batch + 1, steps) if steps else batch + 1)

    def on_epoch_end(self, epoch, logs=None):
        self._check(logs, None)

    def _check(self, logs, batch):
        if self.tripped or not logs:
            return
        for key in ("loss", "val_loss"):
            if key in logs and not is_finite(logs[key]):
                self.tripped = {"epoch": self.epoch + 1, "batch": batch, "metric": key,
                                "value": float(logs[key])}
                self.model.stop_training = self.stop or self.model.stop_training
                return
