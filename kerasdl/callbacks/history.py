"""The history of a run: history.csv, the learning rate per epoch, and the data pipeline's epoch."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import keras
import numpy as np

from kerasdl.files import atomic_write_text


class HistoryWriter(keras.callbacks.Callback):
    """Rewrites ``history.csv`` whole, atomically, at the end of every epoch.

    It takes the place of ``keras.callbacks.CSVLogger``: a reader never sees half a line, and a
    resumed run's file holds the epochs before the interruption too (``history``), so it stays
    one file across a resume and across the phases of a transfer run.

    Args:
        filename: the CSV file (Keras's CSVLogger's name for it); columns ``epoch`` (0-based) and
            every logged key, sorted.
        history: the epochs already done ({key: values}); None or empty for a new run.

    Example::

        model.fit(x, y, epochs=3, callbacks=[HistoryWriter("training_log.csv")])
    """

    def __init__(self, filename: str | Path, history: Optional[dict[str, list[float]]] = None):
        super().__init__()
        history = {} if history is None else history
        if not isinstance(history, dict):
            raise TypeError(f"HistoryWriter(history=...) takes the epochs already done as a dict "
                            f"of lists ({{'loss': [0.9, 0.7]}}) or None; got {history!r}")
        self.path, self.history = Path(filename), {k: list(v) for k, v in history.items()}

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        keys = sorted(self.history)
        rows = [",".join(["epoch", *keys])]
        for index in range(len(next(iter(self.history.values()), []))):
            rows.append(",".join([str(index), *(repr(self.history[k][index])
                                                if index < len(self.history[k]) else ""
                                                for k in keys)]))
        atomic_write_text(self.path, "\n".join(rows) + "\n")


class LearningRateLogger(keras.callbacks.Callback):
    """Adds the optimizer's current learning rate to each epoch's logs as ``learning_rate``.

    Placed before the callbacks that write the logs, it puts the rate in ``history.csv``, the
    history and the curves (schedules, ReduceLROnPlateau and each phase of a transfer run).
    A rate already in the logs is left as it is.
    """

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self.model is not None and getattr(self.model, "optimizer", None):
            logs.setdefault("learning_rate", float(np.asarray(self.model.optimizer.learning_rate)))


class DataEpoch(keras.callbacks.Callback):
    """Tells the data pipeline which epoch starts (``data.set_epoch``).

    The pipeline's order and augmentation follow from (seed, epoch) alone, so an epoch looks the
    same in a resumed run as in an uninterrupted one.

    Args:
        data: a :class:`kerasdl.data.DataBundle` (anything with ``set_epoch(epoch)``).
    """

    def __init__(self, data):
        super().__init__()
        if not callable(getattr(data, "set_epoch", None)):
            raise TypeError(f"DataEpoch needs data with a set_epoch(epoch) method; got {data!r}")
        self.data = data

    def on_epoch_begin(self, epoch, logs=None):
        self.data.set_epoch(epoch)
