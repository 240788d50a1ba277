"""Runs that survive a crash: epoch backups, a NaN guard, and the callbacks whose state they keep.

Keras's ``BackupAndRestore`` restores only the epoch, writes in place, forgets EarlyStopping and
ModelCheckpoint state and, under ``TerminateOnNaN``, saves NaN weights. kerasdl instead writes,
after every completed epoch, one backup folder ``backup/epoch-NNNN/`` holding

* every model variable (weights, BatchNorm statistics, dropout seed states) and every optimizer
  variable (iterations, learning rate, slots), in ``state.npz``;
* the state of the stateful callbacks (EarlyStopping's best/wait/best weights, the best
  checkpoint's best value, ReduceLROnPlateau's best/wait/cooldown) and the history so far, in
  ``state.json`` with the checksum of ``state.npz``.

A folder is written under a temporary name and renamed into place, so a kill at any moment leaves
the previous backup intact; the last two are kept. Backups are taken only at epoch ends, and the
training order of every epoch is a function of (shuffle seed, epoch) (see kerasdl.data.pipeline),
so a resumed run replays nothing and continues exactly as if it had never stopped.

The backup also records whether a callback stopped training (EarlyStopping): a resumed run then
trains no further epoch, and only finishes (restoring the best weights, evaluating, saving).

``KERASDL_KILL_AT=<point>:<epoch>`` (points: backup-write, backup-rename, checkpoint-write) makes
the process kill itself there; the phases after training have points of their own
(``KERASDL_KILL_AT=<point>``, see :func:`kerasdl.saving.kill_point`). The crash tests use them to
hit the middle of a write and every moment between two.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from pathlib import Path
from typing import Any, Callable, Optional

import keras
import numpy as np

from kerasdl.callbacks import FitClock
from kerasdl.errors import CorruptFileError, KerasdlError
from kerasdl.saving import atomic_write_text, kill_point, save_model_atomically

BACKUP_DIR = "backup"
KEEP = 2


def _finite(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return True


class NaNGuard(keras.callbacks.Callback):
    """Stops training at the first NaN/Inf loss and remembers where; other callbacks then save
    nothing. Checked at every batch hook (every ``steps_per_execution`` steps) and epoch end."""

    def __init__(self, stop: bool = True):
        super().__init__()
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
            if key in logs and not _finite(logs[key]):
                self.tripped = {"epoch": self.epoch + 1, "batch": batch, "metric": key,
                                "value": float(logs[key])}
                self.model.stop_training = self.stop or self.model.stop_training
                return


class BestCheckpoint(keras.callbacks.Callback):
    """The best model by ``monitor`` as a .keras file, written atomically; its ``best`` survives
    a resume (so a worse epoch after a restart cannot replace it), and NaN epochs are skipped."""

    def __init__(self, path: Path, monitor: str, mode: str, save_best_only: bool, guard: NaNGuard):
        super().__init__()
        self.path, self.monitor, self.mode = Path(path), monitor, mode
        self.save_best_only, self.guard = save_best_only, guard
        self.best: Optional[float] = None

    def _better(self, value: float) -> bool:
        if self.best is None:
            return True
        return value > self.best if self.mode == "max" else value < self.best

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if self.guard.tripped or value is None or not _finite(value):
            return
        if self.save_best_only and not self._better(float(value)):
            return
        if self._better(float(value)):
            self.best = float(value)
        save_model_atomically(self.model, self.path, kill_at="checkpoint-write",
                              kill_epoch=epoch + 1)


class HistoryWriter(keras.callbacks.Callback):
    """history.csv, rewritten atomically at every epoch end (earlier epochs of a resumed run
    included): a reader never sees a half line."""

    def __init__(self, path: Path, history: dict[str, list[float]]):
        super().__init__()
        self.path, self.history = Path(path), {k: list(v) for k, v in history.items()}

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


# === Callback state ===

_STATE_FIELDS = {
    keras.callbacks.EarlyStopping: ("wait", "best", "best_epoch", "stopped_epoch"),
    keras.callbacks.ReduceLROnPlateau: ("wait", "best", "cooldown_counter"),
    BestCheckpoint: ("best",),
    FitClock: ("epoch_end_s",),
}


def _stateful(callbacks) -> dict[str, keras.callbacks.Callback]:
    return {type(cb).__name__: cb for cb in callbacks if type(cb) in _STATE_FIELDS}


class RestoreCallbackState(keras.callbacks.Callback):
    """Put saved callback state back after the callbacks' own ``on_train_begin`` reset it."""

    def __init__(self, callbacks, state: dict[str, dict], best_weights: Optional[list]):
        super().__init__()
        self.callbacks, self.state, self.best_weights = _stateful(callbacks), state, best_weights

    def on_train_begin(self, logs=None):
        for name, values in self.state.items():
            callback = self.callbacks.get(name)
            if callback is None:
                continue
            for key, value in values.items():
                setattr(callback, key, value)
            if isinstance(callback, keras.callbacks.EarlyStopping) and self.best_weights:
                callback.best_weights = self.best_weights


# === Backups ===

class EpochBackup(keras.callbacks.Callback):
    """After each epoch: everything needed to continue exactly, atomically, in backup/."""

    def __init__(self, run_dir: Path, callbacks, guard: NaNGuard, history: dict[str, list[float]]):
        super().__init__()
        self.directory = Path(run_dir) / BACKUP_DIR
        self.callbacks, self.guard = callbacks, guard
        self.history = {k: list(v) for k, v in history.items()}

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        if self.guard.tripped:
            return
        write_backup(self.directory, epoch + 1, self.model, self.callbacks, self.history)


def write_backup(directory: Path, epoch: int, model, callbacks, history) -> Path:
    directory.mkdir(exist_ok=True)
    final = directory / f"epoch-{epoch:04d}"
    tmp = directory / f".tmp-epoch-{epoch:04d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    arrays = {f"model_{i}": np.asarray(v) for i, v in enumerate(model.variables)}
    arrays.update({f"optimizer_{i}": np.asarray(v) for i, v in enumerate(model.optimizer.variables)})
    state: dict[str, Any] = {"epoch": epoch, "history": history, "callbacks": {},
                             "stopped": bool(model.stop_training)}
    for name, callback in _stateful(callbacks).items():
        state["callbacks"][name] = {k: _plain(getattr(callback, k, None))
                                    for k in _STATE_FIELDS[type(callback)]}
        if isinstance(callback, keras.callbacks.EarlyStopping) and callback.best_weights:
            arrays.update({f"best_{i}": np.asarray(w) for i, w in enumerate(callback.best_weights)})
    with open(tmp / "state.npz", "wb") as handle:
        np.savez(handle, **arrays)
        handle.flush()
        os.fsync(handle.fileno())
    kill_point("backup-write", epoch)
    state["sha256"] = hashlib.sha256((tmp / "state.npz").read_bytes()).hexdigest()
    atomic_write_text(tmp / "state.json", json.dumps(state))
    kill_point("backup-rename", epoch)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    for old in sorted(directory.glob("epoch-*"))[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _plain(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if hasattr(value, "numpy"):
        return np.asarray(value).item()
    return value


def has_backup(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds an epoch backup (a run killed in its first epoch has none)."""
    return any((Path(run_dir) / BACKUP_DIR).glob("epoch-*"))


def read_backup(run_dir: Path, log: Callable[[str], None] = print) -> tuple[dict, dict]:
    """The newest readable backup of ``run_dir`` as (state, arrays); corrupt ones are reported
    and skipped in favour of the previous one."""
    directory = Path(run_dir) / BACKUP_DIR
    candidates = sorted(directory.glob("epoch-*"), reverse=True)
    if not candidates:
        raise KerasdlError(f"{run_dir} has no backup to resume from ({directory} is empty or "
                           "missing); start a new run instead")
    problems = []
    for candidate in candidates:
        try:
            state = json.loads((candidate / "state.json").read_text())
            blob = (candidate / "state.npz").read_bytes()
            if hashlib.sha256(blob).hexdigest() != state["sha256"]:
                raise ValueError("checksum mismatch: state.npz is not the file state.json describes")
            with np.load(candidate / "state.npz") as data:
                arrays = {k: data[k] for k in data.files}
            if problems:
                log(f"WARNING: {problems[-1]}; resuming from the previous backup {candidate}")
            return state, arrays
        except (OSError, ValueError, KeyError) as error:
            size = sum(p.stat().st_size for p in candidate.glob("*") if p.is_file())
            problems.append(f"backup {candidate} ({size:,} bytes) is corrupt: "
                            f"{type(error).__name__}: {error}")
    raise CorruptFileError("; ".join(problems) + "; no readable backup is left")


def restore_variables(model, arrays: dict, optimizer: bool = True) -> None:
    """Assign the backed-up model variables, and the optimizer's unless ``optimizer`` is False
    (a transfer run restores those in the phase it stopped in: :func:`restore_optimizer`)."""
    _assign("model", model.variables, arrays)
    if optimizer:
        restore_optimizer(model, arrays)


def restore_optimizer(model, arrays: dict) -> None:
    """Assign the backed-up optimizer variables to ``model``'s optimizer (built if needed)."""
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    _assign("optimizer", model.optimizer.variables, arrays)


def _assign(prefix: str, variables, arrays: dict) -> None:
    """``variables`` from the backup's ``<prefix>_<i>`` arrays, after checking every shape."""
    saved = [arrays[f"{prefix}_{i}"] for i in range(len(variables)) if f"{prefix}_{i}" in arrays]
    shapes = [tuple(v.shape) for v in variables]
    if len(saved) != len(variables):
        raise CorruptFileError(
            f"the backup has {len(saved)} {prefix} variables, this {prefix} has "
            f"{len(variables)}; was the experiment changed since the run started?")
    wrong = [(i, a.shape, shape) for i, (a, shape) in enumerate(zip(saved, shapes))
             if a.shape != shape]
    if wrong:
        index, found, expected = wrong[0]
        raise CorruptFileError(
            f"the backup's {prefix} variable {index} has shape {found}, this {prefix}'s "
            f"{expected} ({len(wrong)} of {len(variables)} differ); was the experiment changed "
            "since the run started?")
    for variable, value in zip(variables, saved):
        variable.assign(value)


def best_weights(arrays: dict) -> Optional[list]:
    keys = sorted((k for k in arrays if k.startswith("best_")), key=lambda k: int(k[5:]))
    return [arrays[k] for k in keys] or None
