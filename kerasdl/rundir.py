"""Run directories: where a run's files go, what a finished one holds, and the folder checks.

A run directory ``<runs_dir>/<experiment>-<YYYYmmdd-HHMMSS>`` is made only once a run's
preparation has succeeded. ``report.txt`` (:data:`FINISHED`) is written last: a directory holding
it is finished; one without it can be continued with ``--resume`` (:mod:`kerasdl.resume`).

One process writes a run directory at a time: the run (new or resumed) holds :func:`run_lock` on
``.lock`` for its whole life. The lock is an ``flock`` the kernel drops when its holder dies (kill
-9 included), so a lock is never taken over while its holder lives and never outlives it; the file
records the holder (pid, host, start time, command) for the message that refuses a second writer.
Imports no TensorFlow.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import socket
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Optional

from kerasdl.config import Experiment
from kerasdl.errors import ConfigError, CorruptFileError, KerasdlError

#: files every finished run directory holds (besides tensorboard/, checkpoints/ and the figures)
RUN_FILES = ("config.json", "manifest.json", "history.csv", "metrics.json", "model.keras",
             "summary.txt", "curves.png", "report.txt")
#: written last: a run directory holding it is finished (and cannot be resumed)
FINISHED = "report.txt"
#: held (flock) by the one process that writes the run directory; records who holds it
LOCK = ".lock"


class RunInUse(KerasdlError):
    """Another live process is writing this run directory (it holds the run's lock)."""


#: the config keys that name folders a run writes into; recorded absolute (:func:`with_absolute_paths`)
OUTPUT_PATH_KEYS = ("output.runs_dir", "output.saved_models_dir")


def with_absolute_paths(experiment: Experiment, base: Optional[Path] = None) -> Experiment:
    """``experiment`` with its output folders made absolute and resolved against ``base`` (cwd).

    A run records these in its config.json, so a ``--resume`` started from another working
    directory writes where the interrupted run would have, and the publishing rule recognises
    the run's own earlier publish."""
    from kerasdl.config import with_overrides

    base = Path.cwd() if base is None else Path(base)
    changes = {}
    for key in OUTPUT_PATH_KEYS:
        value = getattr(experiment.output, key.split(".")[1])
        absolute = str((base / Path(value).expanduser()).resolve())
        if absolute != value:
            changes[key] = absolute
    return with_overrides(experiment, changes) if changes else experiment


def runs_parent(experiment: Experiment, workdir: Optional[str | os.PathLike] = None) -> Path:
    """The folder that receives run directories (``workdir`` or ``output.runs_dir``).

    It is made if missing and checked writable."""
    parent = Path(workdir) if workdir is not None else Path(experiment.output.runs_dir)
    check_writable(parent, "--workdir" if workdir is not None else "output.runs_dir", create=True)
    return parent


def make_run_dir(experiment: Experiment, parent: Path) -> Path:
    """A new, empty run directory ``<parent>/<experiment>-<timestamp>[-N]``."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = parent / f"{experiment.name}-{stamp}"
    suffix = 1
    while True:
        try:
            run_dir.mkdir()
            return run_dir
        except FileExistsError:
            suffix += 1
            run_dir = parent / f"{experiment.name}-{stamp}-{suffix}"


def check_writable(directory: Path, key: str, create: bool) -> None:
    """Raise a ConfigError naming ``key`` unless ``directory`` is writable.

    With ``create`` the directory is made first (with its parents)."""
    try:
        if create:
            directory.mkdir(parents=True, exist_ok=True)
        if directory.exists() and not os.access(directory, os.W_OK | os.X_OK):
            raise PermissionError(f"no write permission on {directory}")
    except OSError as error:
        raise ConfigError(f"cannot write to {key} = {directory}: {error}; choose a writable folder")


def latest_run_dir(experiment: Experiment, workdir: Optional[str | os.PathLike] = None,
                   log: Callable[[str], None] = print) -> Path:
    """The newest unfinished run directory of ``experiment`` that no process holds.

    For ``--resume latest``: runs still being written (their lock held) are skipped, and the
    choice is logged with its reason."""
    parent = Path(workdir) if workdir is not None else Path(experiment.output.runs_dir)
    candidates = sorted((d for d in parent.glob(f"{experiment.name}-*")
                         if (d / "config.json").is_file() and not (d / FINISHED).exists()),
                        key=lambda d: d.stat().st_mtime, reverse=True)
    held = [(d, holder) for d in candidates if (holder := lock_holder(d)) is not None]
    free = [d for d in candidates if d not in {d for d, _ in held}]
    if not free:
        busy = f" ({len(held)} still running: {describe_holder(held[0][1])})" if held else ""
        raise ConfigError(f"--resume latest: no unfinished run of '{experiment.name}' under "
                          f"{parent} that is not still running{busy}")
    skipped = f"; skipped {len(held)} still running ({', '.join(d.name for d, _ in held)})" if held else ""
    log(f"[kerasdl] --resume latest: {free[0]}, the newest unfinished run of '{experiment.name}' "
        f"under {parent}{skipped}")
    return free[0]


def read_run_json(path: Path) -> dict:
    """The JSON object in a run's file (config.json, manifest.json, metrics.json, ...).

    A file that is not UTF-8 JSON holding an object is a one-line CorruptFileError naming the file,
    where it breaks and what to do, instead of a bare ``JSONDecodeError``/``KeyError``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise CorruptFileError(f"{path} is not UTF-8 text (byte {error.start}); the run's file was "
                               "damaged or replaced: restore it, or start a new run") from None
    try:
        data = json.loads(text)
    except ValueError as error:
        what = "empty" if not text.strip() else f"not valid JSON ({error})"
        raise CorruptFileError(f"{path} is {what}; the run's file was cut off or edited: restore it, "
                               "or start a new run") from None
    if not isinstance(data, dict):
        raise CorruptFileError(f"{path} holds a JSON {type(data).__name__}, not the object kerasdl "
                               "wrote; restore it, or start a new run")
    return data


def describe_holder(holder: dict) -> str:
    """'pid 123 on host h since 2026-12-05 21:40:00 (kerasdl run ...)' from a lock's record."""
    command = f" ({holder['command']})" if holder.get("command") else ""
    return (f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')} since "
            f"{holder.get('started', '?')}{command}")


def lock_holder(run_dir: Path) -> Optional[dict]:
    """The record of the process holding ``run_dir``'s lock, or None when no process holds it."""
    path = Path(run_dir) / LOCK
    if not path.exists():
        return None
    try:
        import fcntl
    except ImportError:                      # pragma: no cover - Windows: no locking
        return None
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(path)
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


@contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold ``run_dir``'s lock for the block, or raise :class:`RunInUse` naming its holder.

    The lock is taken without waiting: a second ``--resume`` of a run that another process is
    training is refused at once. The kernel releases it when the holder exits or is killed."""
    try:
        import fcntl
    except ImportError:                      # pragma: no cover - Windows: no locking
        yield
        return
    path = Path(run_dir) / LOCK
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(path)
            raise RunInUse(f"run {run_dir} is being written by another process "
                           f"({describe_holder(holder) if holder else 'holder unknown'}); wait for it "
                           "to finish, or stop it first (a run stopped at any moment continues "
                           "with --resume)") from None
        record = {"pid": os.getpid(), "host": socket.gethostname(),
                  "started": dt.datetime.now().isoformat(sep=" ", timespec="seconds"),
                  "command": " ".join(["kerasdl", *sys.argv[1:]])[:300]}
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, json.dumps(record).encode(), 0)
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


def _read_holder(path: Path) -> Optional[dict]:
    """The lock file's record; None when it is empty or unreadable (being written)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None
