"""The best checkpoint: the best model so far, written atomically, its best value kept on resume."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from kerasdl.callbacks.guard import NaNGuard, is_finite
from kerasdl.callbacks.monitor import improves, resolve_mode
from kerasdl.callbacks.saves import SavesModel
from kerasdl.files import save_model_atomically


class BestCheckpoint(SavesModel):
    """Saves the model as a ``.keras`` file at the end of every epoch that improves ``monitor``.

    It takes the place of ``keras.callbacks.ModelCheckpoint``: the file is written under a
    temporary name and renamed into place (a kill never leaves half a checkpoint), its ``best``
    travels in the epoch backup (so a worse epoch after a resume cannot replace it), and an epoch
    whose value is NaN, or that comes after the NaN guard tripped, is never saved. The model
    saved is :attr:`saved_model`: the whole model also when a part of it is being fit.

    Args:
        filepath: the ``.keras`` file (``checkpoints/best.keras`` in a run directory).
        monitor: the logged metric to watch (Keras's default ``"val_loss"``).
        mode: ``"auto"`` (from the metric's name, as Keras decides:
            :func:`kerasdl.callbacks.monitor.resolve_mode`), ``"min"`` or ``"max"``: whether a
            lower or a higher value is better.
        save_best_only: save only improving epochs (True) or every epoch (False).
        guard: the run's :class:`~kerasdl.callbacks.NaNGuard`; nothing is saved once it has
            tripped. None: only epochs whose monitored value is NaN are skipped.

    Example::

        guard = NaNGuard()
        best = BestCheckpoint("checkpoints/best.keras", monitor="val_accuracy", guard=guard)
        model.fit(x, y, validation_split=0.1, epochs=10, callbacks=[guard, best])
        print(best.mode, best.best)    # max, the best val_accuracy, saved in checkpoints/best.keras
    """

    def __init__(self, filepath: str | Path, *, monitor: str = "val_loss", mode: str = "auto",
                 save_best_only: bool = True, guard: Optional[NaNGuard] = None):
        super().__init__()
        if Path(filepath).suffix != ".keras":
            raise ValueError(f"BestCheckpoint saves a .keras file; got filepath={str(filepath)!r}; "
                             "name the file e.g. 'checkpoints/best.keras'")
        if guard is not None and not isinstance(guard, NaNGuard):
            raise TypeError(f"BestCheckpoint(guard=...) takes the run's NaNGuard or None; "
                            f"got {guard!r}")
        self.mode = resolve_mode(monitor, mode, "BestCheckpoint")
        self.filepath, self.monitor = Path(filepath), monitor
        self.save_best_only, self.guard = save_best_only, guard
        self.best: Optional[float] = None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if (self.guard is not None and self.guard.tripped) or value is None \
                or not is_finite(value):
            return
        better = improves(float(value), self.best, self.mode)
        if self.save_best_only and not better:
            return
        if better:
            self.best = float(value)
        save_model_atomically(self.saved_model, self.filepath, kill_at="checkpoint-write",
                              kill_epoch=epoch + 1)
