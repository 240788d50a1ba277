"""Epoch backups: after every epoch, everything a run needs to continue exactly, written atomically.

Keras's ``BackupAndRestore`` restores only the epoch, writes in place, forgets EarlyStopping and
ModelCheckpoint state and, under ``TerminateOnNaN``, saves NaN weights. kerasdl instead writes,
after every completed epoch, one backup folder ``backup/epoch-NNNN/`` holding

* every model variable (weights, BatchNorm statistics, dropout seed states) and every optimizer
  variable (iterations, learning rate, slots), in ``state.npz``;
* the state of the stateful callbacks (EarlyStopping's best/wait/best weights, the best
  checkpoint's best value, ReduceLROnPlateau's best/wait/cooldown, the fit clock, whether and when
  the target was reached), the history so far, whether training was stopped, and the phase of a
  transfer run, in ``state.json`` with the checksum of ``state.npz``.

A folder is written under a temporary name and renamed into place, so a kill at any moment leaves
the previous backup intact; the last two are kept, and the folder of the epoch whose variables the
best checkpoint holds in memory (:class:`~kerasdl.callbacks.BestCheckpoint` with
``save_every_s``). :func:`read_backup` reads the newest readable one; :mod:`kerasdl.resume` puts
it back.

The variables are copied out at the epoch's end; the files are written on a background thread
while the next epoch trains (one write in flight: the next epoch's end, and the end of ``fit``,
wait for it). The thread is started when ``fit`` begins (starting one costs milliseconds of
scheduling on a busy machine) and is a daemon: a process that dies mid-write loses that backup
only, as a kill would. A kill during a write is a kill before that backup existed: the resumed run
replays the epoch, whose order is a function of (seed, epoch).

``KERASDL_KILL_AT=<point>:<epoch>`` (points: backup-write, backup-rename, checkpoint-write) makes
the process kill itself there (:func:`kerasdl.files.kill_point`).
"""
from __future__ import annotations

import hashlib
import json
import os
import queue
import shutil
import threading
from pathlib import Path
from typing import Any, Callable, Optional

import keras
import numpy as np

from kerasdl.callbacks.checkpoint import BestCheckpoint
from kerasdl.callbacks.guard import NaNGuard
from kerasdl.callbacks.saves import SavesModel
from kerasdl.callbacks.target import StopAtTarget
from kerasdl.callbacks.timing import FitClock
from kerasdl.errors import CorruptFileError, KerasdlError
from kerasdl.files import atomic_write_text, kill_point
from kerasdl.logs import Log, quiet


#: the folder of a run directory that holds its epoch backups
BACKUP_DIR = "backup"
#: backups kept (the newest and the one before it, in case the newest is unreadable)
KEEP = 2

#: the attributes of each stateful callback that a backup keeps
STATE_FIELDS = {
    keras.callbacks.EarlyStopping: ("wait", "best", "best_epoch", "stopped_epoch"),
    keras.callbacks.ReduceLROnPlateau: ("wait", "best", "cooldown_counter"),
    BestCheckpoint: ("best", "pending_epoch"),
    FitClock: ("epoch_end_s",),
    StopAtTarget: ("reached_epoch", "seconds"),
}


def _stateful(callbacks) -> dict[str, keras.callbacks.Callback]:
    return {type(cb).__name__: cb for cb in callbacks if type(cb) in STATE_FIELDS}


class EpochBackup(SavesModel):
    """Writes ``backup/epoch-NNNN/`` after every epoch: what continuing exactly needs.

    It takes the place of ``keras.callbacks.BackupAndRestore``; see this module for what a backup
    holds. Nothing is written once the NaN guard has tripped, so the last backup holds the last
    good epoch. The variables are those of :attr:`saved_model` (the whole model also when a part
    of it is being fit); whether training was stopped is read from the model being fit.

    Args:
        run_dir: the run directory; backups go to its ``backup/`` folder.
        callbacks: the run's callbacks, whose state (:data:`STATE_FIELDS`) is kept.
        guard: the run's :class:`~kerasdl.callbacks.NaNGuard`.
        history: the epochs already done ({key: values}); None or empty for a new run.
        phase: ``phase(epoch)`` names the phase of a transfer run that ``epoch`` (1-based) ends
            in, recorded as ``state["phase"]``; None for a run of one phase.
        background: write the files on a thread while the next epoch trains (False: before the
            epoch's end returns).

    Example::

        guard = NaNGuard()
        callbacks = [guard, keras.callbacks.EarlyStopping(patience=3)]
        callbacks.append(EpochBackup("runs/mine", list(callbacks), guard))
        model.fit(x, y, validation_split=0.1, epochs=20, callbacks=callbacks)
    """

    def __init__(self, run_dir: Path, callbacks, guard: NaNGuard,
                 history: Optional[dict[str, list[float]]] = None,
                 phase: Optional[Callable[[int], str]] = None, background: bool = True):
        super().__init__()
        if not isinstance(guard, NaNGuard):
            raise TypeError(f"EpochBackup(guard=...) takes the run's NaNGuard; got {guard!r}")
        self.directory = Path(run_dir) / BACKUP_DIR
        self.callbacks, self.guard, self.phase = callbacks, guard, phase
        self.history = {k: list(v) for k, v in (history or {}).items()}
        self._writer = _BackgroundWriter(self.directory) if background else None

    def on_train_begin(self, logs=None):
        if self._writer is not None:
            self._writer.start()           # a thread's start waits for the OS: not in an epoch

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        if self.guard.tripped:
            return
        backup = take_backup(epoch + 1, self.saved_model, self.callbacks, self.history,
                             stopped=bool(self.model.stop_training),
                             phase=self.phase(epoch + 1) if self.phase else None)
        if self._writer is None:
            backup.write(self.directory)
            return
        self._writer.wait()                # one backup in flight at a time
        self._writer.submit(backup)

    def on_train_end(self, logs=None):
        self.wait()

    def wait(self) -> None:
        """Wait for the backup being written; raise what made it fail, if anything did."""
        if self._writer is not None:
            self._writer.wait()


class _BackgroundWriter:
    """A thread that writes the backups handed to it, in order; it ends after a minute idle."""

    IDLE_S = 60.0

    def __init__(self, directory: Path):
        self.directory = directory
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None
        self._failure: Optional[BaseException] = None

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="kerasdl-epoch-backup",
                                                daemon=True)
                self._thread.start()

    def submit(self, backup: "Backup") -> None:
        with self._lock:         # an idle thread that is ending sees it, or a new one starts
            self._queue.put(backup)
        self.start()

    def wait(self) -> None:
        self._queue.join()
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    def _run(self) -> None:
        while True:
            try:
                backup = self._queue.get(timeout=self.IDLE_S)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            try:
                backup.write(self.directory)
            except BaseException as failure:       # raised in the training thread by wait()
                self._failure = failure
            finally:
                self._queue.task_done()


class Backup:
    """One epoch's backup, copied out of the model and the callbacks: :meth:`write` writes it."""

    def __init__(self, epoch: int, arrays: dict[str, np.ndarray], state: dict[str, Any]):
        self.epoch, self.arrays, self.state = epoch, arrays, state

    def write(self, directory: Path) -> Path:
        """Write this backup into ``directory`` atomically; keep the last two and the checkpoint's.
        """
        epoch = self.epoch
        directory.mkdir(exist_ok=True)
        final = directory / f"epoch-{epoch:04d}"
        tmp = directory / f".tmp-epoch-{epoch:04d}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        with open(tmp / "state.npz", "wb") as handle:
            np.savez(handle, **self.arrays)
            handle.flush()
            os.fsync(handle.fileno())
        kill_point("backup-write", epoch)
        state = {**self.state, "sha256": hashlib.sha256((tmp / "state.npz").read_bytes()).hexdigest()}
        atomic_write_text(tmp / "state.json", json.dumps(state))
        kill_point("backup-rename", epoch)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        waiting = _checkpoint_epoch(state["callbacks"])
        for old in sorted(directory.glob("epoch-*"))[:-KEEP]:
            if old.name != f"epoch-{waiting or 0:04d}":
                shutil.rmtree(old, ignore_errors=True)
        return final


def take_backup(epoch: int, model, callbacks, history, stopped: bool = False,
                phase: Optional[str] = None) -> Backup:
    """The backup of ``epoch``: copies of every variable, and of the callbacks' state."""
    arrays = {f"model_{i}": v.numpy() for i, v in enumerate(model.variables)}
    arrays.update({f"optimizer_{i}": v.numpy() for i, v in enumerate(model.optimizer.variables)})
    state: dict[str, Any] = {"epoch": epoch, "history": {k: list(v) for k, v in history.items()},
                             "callbacks": {}, "stopped": stopped,
                             **({"phase": phase} if phase else {})}
    for name, callback in _stateful(callbacks).items():
        state["callbacks"][name] = {k: _plain(getattr(callback, k, None))
                                    for k in STATE_FIELDS[type(callback)]}
        if isinstance(callback, keras.callbacks.EarlyStopping) and callback.best_weights:
            arrays.update({f"best_{i}": np.asarray(w) for i, w in enumerate(callback.best_weights)})
    return Backup(epoch, arrays, state)


def write_backup(directory: Path, epoch: int, model, callbacks, history, stopped: bool = False,
                 phase: Optional[str] = None) -> Path:
    """Write the backup of ``epoch`` into ``directory`` atomically, now (see :class:`Backup`)."""
    return take_backup(epoch, model, callbacks, history, stopped, phase).write(directory)


def _checkpoint_epoch(callback_state: dict) -> Optional[int]:
    """The epoch whose variables the best checkpoint held unwritten (a backup's callback state)."""
    epoch = callback_state.get("BestCheckpoint", {}).get("pending_epoch")
    return epoch if isinstance(epoch, int) and not isinstance(epoch, bool) else None


def _plain(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if hasattr(value, "numpy"):
        return np.asarray(value).item()
    return value


class RestoreCallbackState(keras.callbacks.Callback):
    """Puts a backup's callback state back after the callbacks' own ``on_train_begin`` reset it.

    Args:
        callbacks: the resumed run's callbacks.
        state: ``state["callbacks"]`` of :func:`read_backup`.
        best_weights: EarlyStopping's best weights from the backup (:func:`best_weights`).
        checkpoint_variables: the variables the best checkpoint held unwritten
            (:func:`checkpoint_variables`); written to its file as the resumed run starts.
    """

    def __init__(self, callbacks, state: dict[str, dict], best_weights: Optional[list],
                 checkpoint_variables: Optional[list] = None):
        super().__init__()
        if not isinstance(state, dict):
            raise TypeError(f"RestoreCallbackState(state=...) takes a backup's callback state "
                            f"(a dict); got {state!r}")
        self.callbacks, self.state, self.best_weights = _stateful(callbacks), state, best_weights
        self.checkpoint_variables = checkpoint_variables

    def on_train_begin(self, logs=None):
        """Put the state back once, in the first ``fit`` after the resume.

        A later phase's ``fit`` starts the callbacks as the uninterrupted run's did."""
        for name, values in self.state.items():
            callback = self.callbacks.get(name)
            if callback is None:
                continue
            for key, value in values.items():
                setattr(callback, key, value)
            if isinstance(callback, keras.callbacks.EarlyStopping) and self.best_weights:
                callback.best_weights = self.best_weights
            if isinstance(callback, BestCheckpoint) and self.checkpoint_variables is not None:
                callback.write_variables(self.checkpoint_variables)
        self.state, self.best_weights, self.checkpoint_variables = {}, None, None


def has_backup(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds an epoch backup (a run killed in its first epoch has none)."""
    return any((Path(run_dir) / BACKUP_DIR).glob("epoch-*"))


def read_backup(run_dir: Path, log: Optional[Log] = None) -> tuple[dict, dict]:
    """The newest readable backup of ``run_dir`` as (state, arrays).

    Corrupt backups are skipped in favour of the previous one, and reported to ``log`` (quiet by
    default; the runner passes its own)."""
    log = log or quiet
    directory = Path(run_dir) / BACKUP_DIR
    candidates = sorted(directory.glob("epoch-*"), reverse=True)
    if not candidates:
        raise KerasdlError(f"{run_dir} has no backup to resume from ({directory} is empty or "
                           "missing); start a new run instead")
    problems = []
    for candidate in candidates:
        try:
            state, arrays = _read_folder(candidate)
            if problems:
                log(f"WARNING: {problems[-1]}; resuming from the previous backup {candidate}")
            return state, arrays
        except (OSError, ValueError, KeyError) as error:
            size = sum(p.stat().st_size for p in candidate.glob("*") if p.is_file())
            problems.append(f"backup {candidate} ({size:,} bytes) is corrupt: "
                            f"{type(error).__name__}: {error}")
    raise CorruptFileError("; ".join(problems) + "; no readable backup is left")


def _read_folder(folder: Path) -> tuple[dict, dict]:
    """A backup folder's (state, arrays), after checking the arrays' checksum."""
    state = json.loads((folder / "state.json").read_text())
    blob = (folder / "state.npz").read_bytes()
    if hashlib.sha256(blob).hexdigest() != state["sha256"]:
        raise ValueError("checksum mismatch: state.npz is not the file state.json describes")
    with np.load(folder / "state.npz") as data:
        return state, {k: data[k] for k in data.files}


def checkpoint_variables(run_dir: Path, callback_state: dict) -> Optional[list]:
    """The variables the best checkpoint held unwritten when a backup was taken, or None.

    ``callback_state`` is ``state["callbacks"]`` of :func:`read_backup`; the variables are the
    model's in the backup of that epoch, which :class:`Backup` keeps for this."""
    epoch = _checkpoint_epoch(callback_state)
    if epoch is None:
        return None
    folder = Path(run_dir) / BACKUP_DIR / f"epoch-{epoch:04d}"
    try:
        _, arrays = _read_folder(folder)
    except (OSError, ValueError, KeyError) as error:
        raise CorruptFileError(
            f"the best checkpoint of this run (epoch {epoch}) waits in {folder}, which cannot be "
            f"read ({type(error).__name__}: {error}); its checkpoints/best.keras would be "
            "stale, so start a new run") from None
    keys = sorted((k for k in arrays if k.startswith("model_")), key=lambda k: int(k[6:]))
    return [arrays[k] for k in keys]


def best_weights(arrays: dict) -> Optional[list]:
    """EarlyStopping's best weights in a backup's arrays, or None where it kept none."""
    keys = sorted((k for k in arrays if k.startswith("best_")), key=lambda k: int(k[5:]))
    return [arrays[k] for k in keys] or None
