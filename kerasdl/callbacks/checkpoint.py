"""The best checkpoint: the best model so far, written atomically, its best value kept on resume."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

from kerasdl.callbacks.guard import NaNGuard, is_finite
from kerasdl.callbacks.monitor import improves, resolve_mode
from kerasdl.callbacks.saves import SavesModel
from kerasdl.files import save_model_atomically


class BestCheckpoint(SavesModel):
    """Saves the model as a ``.keras`` file whenever ``monitor`` improves.

    It takes the place of ``keras.callbacks.ModelCheckpoint``: the file is written under a
    temporary name and renamed into place (a kill never leaves half a checkpoint), its ``best``
    travels in the epoch backup (so a worse epoch after a resume cannot replace it), and an epoch
    whose value is NaN, or that comes after the NaN guard tripped, is never saved. The model
    saved is :attr:`saved_model`: the whole model also when a part of it is being fit.

    By default (``save_every_s=None``) the file is written at the end of every improving epoch,
    as Keras's callback does. With ``save_every_s`` the best epoch's variables wait in memory
    (:attr:`pending_epoch`) and the file is written at the end of the ``fit`` (a phase of a
    run), or sooner where ``save_every_s`` seconds have passed since the last write: a .keras
    file costs 15-50 ms, a copy of the variables well under one. The runner does this when it
    writes epoch backups, which keep the folder of the waiting epoch
    (:meth:`kerasdl.callbacks.backup.Backup.write`), so a killed run's resume writes it
    (:meth:`write_variables`).

    Args:
        filepath: the ``.keras`` file (``checkpoints/best.keras`` in a run directory).
        monitor: the logged metric to watch (Keras's default ``"val_loss"``).
        mode: ``"auto"`` (from the metric's name, as Keras decides:
            :func:`kerasdl.callbacks.monitor.resolve_mode`), ``"min"`` or ``"max"``: whether a
            lower or a higher value is better.
        save_best_only: save only improving epochs (True) or every epoch (False).
        guard: the run's :class:`~kerasdl.callbacks.NaNGuard`; nothing is saved once it has
            tripped. None: only epochs whose monitored value is NaN are skipped.
        save_every_s: None: write at every improving epoch; a number of seconds: keep the best
            in memory, write it when the fit ends or when that long has passed since the last
            write.

    Example::

        guard = NaNGuard()
        best = BestCheckpoint("checkpoints/best.keras", monitor="val_accuracy", guard=guard)
        model.fit(x, y, validation_split=0.1, epochs=10, callbacks=[guard, best])
        print(best.mode, best.best)    # max, the best val_accuracy, saved in checkpoints/best.keras
    """

    def __init__(self, filepath: str | Path, *, monitor: str = "val_loss", mode: str = "auto",
                 save_best_only: bool = True, guard: Optional[NaNGuard] = None,
                 save_every_s: Optional[float] = None):
        super().__init__()
        if Path(filepath).suffix != ".keras":
            raise ValueError(f"BestCheckpoint saves a .keras file; got filepath={str(filepath)!r}; "
                             "name the file e.g. 'checkpoints/best.keras'")
        if guard is not None and not isinstance(guard, NaNGuard):
            raise TypeError(f"BestCheckpoint(guard=...) takes the run's NaNGuard or None; "
                            f"got {guard!r}")
        if save_every_s is not None and not (isinstance(save_every_s, (int, float))
                                             and save_every_s >= 0):
            raise ValueError(f"BestCheckpoint(save_every_s=...) takes None or a number of seconds "
                             f">= 0; got {save_every_s!r}")
        self.mode = resolve_mode(monitor, mode, "BestCheckpoint")
        self.filepath, self.monitor = Path(filepath), monitor
        self.save_best_only, self.guard, self.save_every_s = save_best_only, guard, save_every_s
        self.best: Optional[float] = None
        self.pending_epoch: Optional[int] = None    # the 1-based epoch whose variables wait
        self._pending: Optional[list] = None
        self._epoch, self._written_at = 0, time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        self._epoch = epoch + 1
        value = (logs or {}).get(self.monitor)
        if (self.guard is not None and self.guard.tripped) or value is None \
                or not is_finite(value):
            return
        better = improves(float(value), self.best, self.mode)
        if self.save_best_only and not better:
            return
        if better:
            self.best = float(value)
        if self.save_every_s is None:
            self._save(self.saved_model)
            return
        self._pending = [variable.numpy() for variable in self.saved_model.variables]
        self.pending_epoch = epoch + 1
        if time.monotonic() - self._written_at >= self.save_every_s:
            self.write_variables(self._pending)

    def on_train_end(self, logs=None):
        if self._pending is not None:
            self.write_variables(self._pending)

    def write_variables(self, values: list) -> None:
        """Write ``values`` (the saved model's variables, in order) as the checkpoint now.

        The model's own variables are put back afterwards; nothing is left waiting."""
        model = self.saved_model
        current = [variable.numpy() for variable in model.variables]
        if len(values) != len(current):
            raise ValueError(f"BestCheckpoint.write_variables: {len(values)} values for a model "
                             f"of {len(current)} variables")
        try:
            for variable, value in zip(model.variables, values):
                variable.assign(value)
            self._save(model)
        finally:
            for variable, value in zip(model.variables, current):
                variable.assign(value)
        self._pending = self.pending_epoch = None

    def _save(self, model) -> None:
        save_model_atomically(model, self.filepath, kill_at="checkpoint-write",
                              kill_epoch=self._epoch)
        self._written_at = time.monotonic()
