"""Stop at a target: training ends at the first epoch whose monitored value reaches it.

The time-to-accuracy measure of DAWNBench (Coleman et al., "DAWNBench: An End-to-End Deep
Learning Benchmark and Competition", NIPS ML Systems Workshop 2017): train until the model reaches
a target accuracy and report the time it took, not the accuracy after a fixed number of epochs.
"""
from __future__ import annotations

from numbers import Real
from typing import Optional

import keras

from kerasdl.callbacks.guard import is_finite
from kerasdl.callbacks.monitor import resolve_mode
from kerasdl.callbacks.timing import FitClock


class StopAtTarget(keras.callbacks.Callback):
    """Sets ``model.stop_training`` at the end of the first epoch whose ``monitor`` reaches ``target``.

    Reaching means ``>= target`` where a higher value is better and ``<= target`` otherwise.
    ``reached_epoch`` and ``seconds`` travel in the epoch backup (so a resumed run remembers that
    it was reached, and when) and the run stopped by it is resumed as stopped.

    Args:
        monitor: the logged metric to watch, e.g. ``"val_accuracy"``.
        target: the value to reach.
        mode: ``"auto"`` (from the metric's name: :func:`kerasdl.callbacks.monitor.resolve_mode`),
            ``"max"`` (reach from below) or ``"min"`` (reach from above).
        clock: the run's :class:`~kerasdl.callbacks.FitClock`, placed before this callback in the
            list (it counts the time of an interrupted run too); None: a clock of its own.

    Attributes:
        reached_epoch: the 1-based epoch that reached the target, or None.
        seconds: seconds from the start of training to the end of that epoch, or None.

    Example::

        target = StopAtTarget("val_accuracy", 0.97)
        model.fit(x, y, validation_split=0.1, epochs=50, callbacks=[target])
        if target.reached_epoch:
            print(f"97% in epoch {target.reached_epoch}, after {target.seconds:.1f} s")
    """

    def __init__(self, monitor: str, target: float, mode: str = "auto",
                 clock: Optional[FitClock] = None):
        super().__init__()
        self.mode = resolve_mode(monitor, mode, "StopAtTarget")
        if isinstance(target, bool) or not isinstance(target, Real) or not is_finite(target):
            raise ValueError(f"StopAtTarget(target=...) takes a finite number, the value of "
                             f"{monitor!r} to reach; got {target!r}")
        if clock is not None and not isinstance(clock, FitClock):
            raise TypeError(f"StopAtTarget(clock=...) takes the run's FitClock or None; got {clock!r}")
        self.monitor, self.target = monitor, float(target)
        self.clock, self._own_clock = clock or FitClock(), clock is None
        self.reached_epoch: Optional[int] = None
        self.seconds: Optional[float] = None

    def set_model(self, model):
        super().set_model(model)
        if self._own_clock:
            self.clock.set_model(model)

    def on_train_begin(self, logs=None):
        if self._own_clock:
            self.clock.on_train_begin(logs)

    def reaches(self, value: float) -> bool:
        """Whether ``value`` reaches the target in this callback's mode."""
        return value >= self.target if self.mode == "max" else value <= self.target

    def on_epoch_end(self, epoch, logs=None):
        if self._own_clock:
            self.clock.on_epoch_end(epoch, logs)
        value = (logs or {}).get(self.monitor)
        if self.reached_epoch is not None or value is None or not is_finite(value):
            return
        if self.reaches(float(value)):
            self.reached_epoch = epoch + 1
            self.seconds = self.clock.epoch_end_s[-1] if self.clock.epoch_end_s else None
            self.model.stop_training = True
