"""The best checkpoint: the best model so far, written atomically, its best value kept on resume."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from kerasdl.callbacks.guard import NaNGuard, is_finite
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
        path: the ``.keras`` file (``checkpoints/best.keras`` in a run directory).
        monitor: the logged metric to watch, e.g. ``"val_loss"``.
        mode: ``"min"`` or ``"max"``: whether a lower or a higher value is better.
        save_best_only: save only improving epochs (True) or every epoch (False).
        guard: the run's :class:`~kerasdl.callbacks.NaNGuard`.

    Example::

        guard = NaNGuard()
        best = BestCheckpoint("checkpoints/best.keras", "val_loss", "min", True, guard)
        model.fit(x, y, validation_split=0.1, epochs=10, callbacks=[guard, best])
        print(best.best)           # the best val_loss, saved in checkpoints/best.keras
    """

    def __init__(self, path: Path, monitor: str, mode: str, save_best_only: bool, guard: NaNGuard):
        super().__init__()
        if mode not in ("min", "max"):
            raise ValueError(f"BestCheckpoint(mode=...) takes 'min' or 'max'; got {mode!r}")
        if Path(path).suffix != ".keras":
            raise ValueError(f"BestCheckpoint saves a .keras file; got path={str(path)!r}")
        self.path, self.monitor, self.mode = Path(path), monitor, mode
        self.save_best_only, self.guard = save_best_only, guard
        self.best: Optional[float] = None

    def _better(self, value: float) -> bool:
        if self.best is None:
            return True
        return value > self.best if self.mode == "max" else value < self.best

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if self.guard.tripped or value is None or not is_finite(value):
            return
        if self.save_best_only and not self._better(float(value)):
            return
        if self._better(float(value)):
            self.best = float(value)
        save_model_atomically(self.saved_model, self.path, kill_at="checkpoint-write",
                              kill_epoch=epoch + 1)
