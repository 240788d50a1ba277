"""Clocks: when each epoch ended (time to accuracy) and how fast training ran (throughput)."""
from __future__ import annotations

import statistics
from numbers import Integral
import time
from typing import Optional

import keras


def _peak_memory_mb() -> float:
    """Peak memory of this process: the GPU's peak where one is used, else the host's max RSS."""
    import resource

    import tensorflow as tf

    if tf.config.list_logical_devices("GPU"):
        try:
            return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
        except (ValueError, RuntimeError):
            pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # KiB on Linux


class FitClock(keras.callbacks.Callback):
    """Records when each epoch ended, in seconds since training started.

    ``epoch_end_s`` has one entry per epoch (training and validation included); the manifest
    keeps it and ``kerasdl report --time-to`` reads it (the time to reach an accuracy, as
    DAWNBench measures). The clock runs across the phases of a transfer run (one ``fit`` each)
    and across a resume (the backup carries ``epoch_end_s``; the time the run was stopped is not
    counted).

    Example::

        clock = FitClock()
        history = model.fit(x, y, validation_split=0.1, epochs=10, callbacks=[clock])
        reached = [t for t, a in zip(clock.epoch_end_s, history.history["val_accuracy"])
                   if a >= 0.97]
        print(f"97% after {reached[0]:.1f} s" if reached else "97% not reached")
    """

    def __init__(self):
        super().__init__()
        self.epoch_end_s: list[float] = []
        self._start: Optional[float] = None
        self._offset: Optional[float] = None

    def on_train_begin(self, logs=None):
        self._start, self._offset = time.perf_counter(), None

    def on_epoch_end(self, epoch, logs=None):
        if self._offset is None:          # read here: a resume restores the list after train_begin
            self._offset = self.epoch_end_s[-1] if self.epoch_end_s else 0.0
        self.epoch_end_s.append(round(self._offset + time.perf_counter() - self._start, 3))


class ThroughputMonitor(keras.callbacks.Callback):
    """Times the training part of each epoch (validation excluded) at epoch granularity.

    No per-batch hooks, so it costs nothing per step. :meth:`summary` skips the first epoch
    (tracing and warm-up) when there are more; the runner writes it to the manifest and the report.

    Args:
        examples_per_epoch: training examples in one epoch (for samples/s).

    Example::

        monitor = ThroughputMonitor(len(x))
        model.fit(x, y, batch_size=64, epochs=3, callbacks=[monitor])
        print(monitor.summary()["samples_per_s"])
    """

    def __init__(self, examples_per_epoch: int):
        super().__init__()
        if isinstance(examples_per_epoch, bool) or not isinstance(examples_per_epoch, Integral) \
                or examples_per_epoch < 1:
            raise ValueError("ThroughputMonitor(examples_per_epoch=...) takes a number of "
                             f"examples >= 1; got {examples_per_epoch!r}")
        self.examples_per_epoch = examples_per_epoch
        self.train_times: list[float] = []
        self.steps: Optional[int] = None
        self._start: Optional[float] = None
        self._train_end: Optional[float] = None

    def on_epoch_begin(self, epoch, logs=None):
        self._train_end = None
        self._start = time.perf_counter()

    def on_test_begin(self, logs=None):
        if self._start is not None and self._train_end is None:
            self._train_end = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.train_times.append((self._train_end or time.perf_counter()) - self._start)
        self.steps = self.params.get("steps") if self.params else None

    @property
    def steady_times(self) -> list[float]:
        """Every epoch's time but the first (tracing and warm-up), or the only one."""
        return self.train_times[1:] or self.train_times

    def summary(self) -> dict[str, float]:
        """The throughput figures: samples/s, ms/step and s/epoch (steady state, training only).

        Also every epoch's training time and the peak memory in MB; empty before any epoch."""
        if not self.train_times:
            return {}
        epoch_time = statistics.median(self.steady_times)
        return {"samples_per_s": round(self.examples_per_epoch / epoch_time, 1),
                "step_time_ms": round(1000 * epoch_time / (self.steps or 1), 3),
                "epoch_time_s": round(epoch_time, 3),
                "first_epoch_s": round(self.train_times[0], 3),
                "epoch_times_s": [round(t, 4) for t in self.train_times],
                "peak_memory_mb": round(_peak_memory_mb(), 1)}
