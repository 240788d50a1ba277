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

#: the experiment as run (``Experiment.to_dict()``), written before training
CONFIG = "config.json"
#: what the run did: data source, epochs run, wall time, throughput, epoch end times, ...
MANIFEST = "manifest.json"
#: one row per epoch: ``epoch`` and every logged key (rewritten whole after each epoch)
HISTORY = "history.csv"
#: the test metrics, by name
METRICS = "metrics.json"
#: the trained model
MODEL = "model.keras"
#: written last: a run directory holding it is finished (and cannot be resumed)
FINISHED = "report.txt"
#: files every finished run directory holds (besides tensorboard/, checkpoints/ and the figures)
RUN_FILES = (CONFIG, MANIFEST, HISTORY, METRICS, MODEL, "summary.txt", "curves.png", FINISHED)
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

    It is made if missing and checked writable; returned absolute and resolved, so the run
    directory (and the publish record naming it) means the same from any working directory."""
    parent = Path(workdir) if workdir is not None else Path(experiment.output.runs_dir)
    parent = parent.expanduser().resolve()
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
                         if (d / CONFIG).is_file() and not (d / FINISHED).exists()),
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


class RunFileError(CorruptFileError, ValueError):
    """A run's file (config, manifest, metrics, history, closing report) is there but unusable.

    Also a ValueError, as the parse errors it replaces were: a poller that reads a running run's
    files and tries again on ValueError (the sweep's) keeps working."""


#: what ends every message about a damaged run file
_RESTORE = "restore it, or start a new run"


def read_run_json(path: Path) -> dict:
    """The JSON object in a run's file (config.json, manifest.json, metrics.json, ...).

    A file that is not UTF-8 JSON holding an object is a one-line CorruptFileError naming the file,
    where it breaks and what to do, instead of a bare ``JSONDecodeError``/``KeyError``."""
    text = _read_text(Path(path))
    try:
        data = json.loads(text)
    except ValueError as error:
        what = "empty" if not text.strip() else f"not valid JSON ({error})"
        raise RunFileError(f"{path} is {what}; the run's file was cut off or edited: {_RESTORE}") \
            from None
    if not isinstance(data, dict):
        raise RunFileError(f"{path} holds a JSON {type(data).__name__}, not the object kerasdl "
                           f"wrote; {_RESTORE}")
    return data


def _read_text(path: Path) -> str:
    """``path``'s UTF-8 text; a one-line error naming it where it cannot be read or decoded."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise KerasdlError(f"{path} is missing") from None
    except OSError as error:
        raise KerasdlError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise RunFileError(f"{path} is not UTF-8 text (byte {error.start}, line {line}); the run's "
                           f"file was damaged or replaced: {_RESTORE}") from None


class RunDir:
    """A run directory and the files it holds, each read with care.

    Every reader names the file and what is wrong with it (cut off, not UTF-8, not JSON, a value
    of the wrong type) in a one-line :class:`RunFileError`, so a report of fifty runs says which
    one is damaged. The file names are :data:`RUN_FILES`'; imports no TensorFlow.

    Example::

        run = RunDir("runs/lenet5-20261205-220000").require(CONFIG, MANIFEST, METRICS)
        run.metrics()["accuracy"], run.history().get("val_loss", [])
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def file(self, name: str) -> Path:
        """The path of the run's file ``name`` (one of :data:`RUN_FILES`, or ``per_class.json``)."""
        return self.path / name

    @property
    def finished(self) -> bool:
        """Whether the run finished (its closing report, :data:`FINISHED`, is written)."""
        return (self.path / FINISHED).exists()

    def require(self, *names: str) -> "RunDir":
        """This run directory, or a one-line error naming those of ``names`` it lacks."""
        missing = [name for name in names if not (self.path / name).is_file()]
        if missing:
            raise KerasdlError(f"{self.path} is not a finished kerasdl run directory "
                               f"(missing {', '.join(missing)})")
        return self

    def config(self) -> dict:
        """config.json: the experiment as run (``data.name`` and ``model.name`` checked)."""
        path = self.file(CONFIG)
        config = read_run_json(path)
        for section in ("data", "model"):
            _expect(path, config, section, dict, "an object")
            _expect(path, config[section], "name", str, "a name", where=f"{section}.name")
        return config

    def manifest(self) -> dict:
        """manifest.json: what the run did; the values reports use are checked for their type."""
        path = self.file(MANIFEST)
        manifest = read_run_json(path)
        _expect(path, manifest, "data", dict, "an object")
        _expect(path, manifest["data"], "source", str, "a data source", where="data.source")
        for key, kind, what in (("epochs_run", int, "a whole number"),
                                ("best_epoch", (int, type(None)), "an epoch number or null"),
                                ("wall_time_s", _NUMBER, "a number of seconds"),
                                ("throughput", (dict, type(None)), "an object or null"),
                                ("epoch_end_s", list, "a list of seconds"),
                                ("phases", list, "a list of phases")):
            if key in manifest:
                _expect(path, manifest, key, kind, what)
        if manifest.get("throughput"):
            _expect(path, manifest["throughput"], "samples_per_s", _NUMBER, "a number",
                    where="throughput.samples_per_s")
        for index, seconds in enumerate(manifest.get("epoch_end_s") or ()):
            _check(path, seconds, _NUMBER, "a number of seconds", f"epoch_end_s[{index}]")
        for index, phase in enumerate(manifest.get("phases") or ()):
            _check(path, phase, dict, "an object", f"phases[{index}]")
            _expect(path, phase, "name", str, "a name", where=f"phases[{index}].name")
            _expect(path, phase, "first_epoch", int, "an epoch number",
                    where=f"phases[{index}].first_epoch")
        return manifest

    def metrics(self) -> dict[str, float]:
        """metrics.json: the test metrics, each checked to be a number."""
        path = self.file(METRICS)
        metrics = read_run_json(path)
        for name, value in metrics.items():
            _check(path, value, _NUMBER, "a number", repr(name))
        return metrics

    def history(self) -> dict[str, list[float]]:
        """history.csv as ``{key: [value per epoch]}``; ``{}`` where the run has none (yet).

        The run rewrites it whole after every epoch, ending each line, so a running run can be
        read too; a line cut off, a row of the wrong length or a value that is not a number is a
        :class:`RunFileError` naming the file, the line and the column."""
        path = self.file(HISTORY)
        try:
            text = _read_text(path)
        except KerasdlError:
            if not path.is_file():           # none yet (a run before its first epoch ends)
                return {}
            raise
        if not text.strip():
            raise RunFileError(f"{path} is empty; the run's file was cut off: {_RESTORE}")
        lines = text.splitlines()
        if not text.endswith(("\n", "\r")):
            raise RunFileError(f"{path} is cut off: line {len(lines)} has no end (a run writes "
                               f"the file whole); {_RESTORE}")
        import csv

        rows = csv.reader(lines)
        header = next(rows)
        if not header or "" in header or len(set(header)) < len(header):
            raise RunFileError(f"{path} line 1 is not a header of distinct column names "
                               f"({lines[0][:80]!r}); {_RESTORE}")
        history: dict[str, list[float]] = {}
        for number, row in enumerate(rows, start=2):
            if not row:
                continue
            if len(row) != len(header):
                raise RunFileError(f"{path} line {number} has {len(row)} values for the "
                                   f"{len(header)} columns of its header (cut off or edited); "
                                   f"{_RESTORE}")
            for key, value in zip(header, row):
                if key == "epoch" or value == "":
                    continue
                try:
                    history.setdefault(key, []).append(float(value))
                except ValueError:
                    raise RunFileError(f"{path} line {number}, column {key!r}: {value[:40]!r} is "
                                       f"not a number; {_RESTORE}") from None
        return history

    def per_class(self) -> Optional[dict[str, dict]]:
        """per_class.json (class name -> test results), or None.

        None where the run has none (not a classifier, or a run of a kerasdl older than the file)
        or it cannot be read: it only adds a table to a report."""
        from kerasdl.figures import PER_CLASS

        try:
            results = read_run_json(self.file(PER_CLASS))
        except KerasdlError:
            return None
        if not results or not all(isinstance(value, dict) for value in results.values()):
            return None
        return results

    def closing_report(self) -> Optional[str]:
        """The run's closing report (:data:`FINISHED`), or None before the run finished."""
        path = self.file(FINISHED)
        return _read_text(path) if path.is_file() else None


#: a JSON number (``True`` is an int to Python, not a number to a reader)
_NUMBER = (int, float)


def _expect(path: Path, data: dict, key: str, kind, what: str, where: str = "") -> None:
    """Raise a RunFileError naming ``path`` unless ``data[key]`` is there and of type ``kind``."""
    if key not in data:
        raise RunFileError(f"{path} has no {where or key!r} ({what}); the run's file was edited or "
                           f"written by another program: {_RESTORE}")
    _check(path, data[key], kind, what, repr(where or key))


def _check(path: Path, value, kind, what: str, where: str) -> None:
    if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
        shown = json.dumps(value)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise RunFileError(f"{path}: {where} is {shown}, not {what}; the run's file was edited or "
                           f"damaged: {_RESTORE}")


def describe_holder(holder: dict) -> str:
    """'pid 123 on host h since 2026-12-05 21:40:00 (kerasdl run ...)' from a lock's record."""
    command = f" ({holder['command']})" if holder.get("command") else ""
    return (f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')} since "
            f"{holder.get('started', '?')}{command}")


def in_use_message(run_dir: Path, holder: Optional[dict]) -> str:
    """The one-line refusal of a second writer of ``run_dir``, naming the holder."""
    return (f"run {run_dir} is being written by another process "
            f"({describe_holder(holder) if holder else 'holder unknown'}); wait for it to finish, "
            "or stop it first (a run stopped at any moment continues with --resume)")


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
            raise RunInUse(in_use_message(run_dir, _read_holder(path))) from None
        record = {"pid": os.getpid(), "host": socket.gethostname(),
                  "started": dt.datetime.now().isoformat(sep=" ", timespec="seconds"),
                  "command": " ".join(["kerasdl", *sys.argv[1:]])[:160]}
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
