"""Run directories: where a run's files go, what a finished one holds, and the folder checks.

A run directory ``<runs_dir>/<experiment>-<YYYYmmdd-HHMMSS>`` is made only once a run's
preparation has succeeded. ``report.txt`` (:data:`FINISHED`) is written last: a directory holding
it is finished; one without it can be continued with ``--resume`` (:mod:`kerasdl.resume`).
Imports no TensorFlow.
"""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Optional

from kerasdl.config import Experiment
from kerasdl.errors import ConfigError

#: files every finished run directory holds (besides tensorboard/, checkpoints/ and the figures)
RUN_FILES = ("config.json", "manifest.json", "history.csv", "metrics.json", "model.keras",
             "summary.txt", "curves.png", "report.txt")
#: written last: a run directory holding it is finished (and cannot be resumed)
FINISHED = "report.txt"


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


def latest_run_dir(experiment: Experiment, workdir: Optional[str | os.PathLike] = None) -> Path:
    """The newest unfinished run directory of ``experiment`` (for ``--resume latest``)."""
    parent = Path(workdir) if workdir is not None else Path(experiment.output.runs_dir)
    candidates = sorted((d for d in parent.glob(f"{experiment.name}-*")
                         if (d / "config.json").is_file() and not (d / FINISHED).exists()),
                        key=lambda d: d.stat().st_mtime)
    if not candidates:
        raise ConfigError(f"--resume latest: no unfinished run of '{experiment.name}' under "
                          f"{parent}")
    return candidates[-1]
