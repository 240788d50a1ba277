"""Atomic file I/O: every file kerasdl writes appears whole or not at all.

A file is written to a temporary name beside its target, flushed and renamed into place
(``os.replace`` is atomic on POSIX), so a reader or a killed process never sees half of it.
:func:`kill_point` is the test instrumentation that kills the process between two such writes
(``KERASDL_KILL_AT``; ``tests/test_resume.py`` kills runs at each point).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional


def _temporary_beside(path: Path) -> tuple[int, str]:
    """A new temporary file in ``path``'s folder, with the permissions a plain open() would give."""
    fd, tmp = tempfile.mkstemp(dir=Path(path).parent, prefix=f".{Path(path).name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    return fd, tmp


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, flush it, and rename it into place."""
    fd, tmp = _temporary_beside(path)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, data: Any) -> None:
    """:func:`atomic_write_text` of ``data`` as indented, key-sorted JSON."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def atomic_copy(source: Path, target: Path) -> None:
    """Copy ``source`` to a temporary file beside ``target`` and rename it into place."""
    fd, tmp = _temporary_beside(target)
    os.close(fd)
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def kill_point(name: str, epoch: Optional[int] = None) -> None:
    """Test instrumentation: SIGKILL this process here if ``KERASDL_KILL_AT`` names this point.

    ``KERASDL_KILL_AT`` is ``name:epoch`` for points inside training, ``name`` for the phases
    after it."""
    if os.environ.get("KERASDL_KILL_AT") == (name if epoch is None else f"{name}:{epoch}"):
        os.kill(os.getpid(), signal.SIGKILL)


def atomic_symlink(link: Path, target: str, kill_at: Optional[str] = None) -> None:
    """Make ``link`` a symbolic link to ``target`` (relative to ``link``'s folder) in one rename.

    Whatever ``link`` was (a file, another link) is replaced at once; a reader sees the old or
    the new one, never neither. ``kill_at`` names the moment the new link is made, not renamed."""
    link = Path(link)
    tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    try:
        if kill_at is not None:
            kill_point(kill_at)
        os.replace(tmp, link)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def non_finite_weight(model) -> Optional[str]:
    """The path of ``model``'s first floating-point weight holding NaN or inf, or None.

    Besides its variables, a Normalization layer's mean and variance (constants saved in its
    config, e.g. the variance of a CSV column whose values are huge overflowing float32)."""
    import keras
    import numpy as np

    weights = [(variable.path, variable) for variable in model.weights]
    weights += [(f"{layer.path}/{name}", getattr(layer, name))
                for layer in model._flatten_layers(include_self=False, recursive=True)
                if isinstance(layer, keras.layers.Normalization) for name in ("mean", "variance")
                if getattr(layer, name, None) is not None]
    for path, value in weights:
        if "float" in str(value.dtype) and not np.isfinite(np.asarray(value)).all():
            return path
    return None


def check_finite_weights(model, what: str) -> None:
    """Raise :class:`~kerasdl.errors.TrainingDiverged` if a weight of ``model`` is NaN or inf.

    ``what`` names the file that is therefore not written (or the model not published)."""
    name = non_finite_weight(model)
    if name is not None:
        from kerasdl.errors import TrainingDiverged

        raise TrainingDiverged(
            f"refusing to save {what}: the weight '{name}' holds non-finite values (NaN or inf), "
            "though the loss may look finite; no NaN weights were saved and nothing was "
            "published; lower trainer.learning_rate or set trainer.clipnorm, and check the data "
            "for huge values")


def save_model_atomically(model, path: Path, kill_at: Optional[str] = None,
                          kill_epoch: Optional[int] = None) -> None:
    """``model.save(path)`` through a temporary ``.keras`` file renamed into place.

    A model whose weights are not all finite is refused (:func:`check_finite_weights`)."""
    from kerasdl.compat import cached_saving_skipsets

    path = Path(path)
    check_finite_weights(model, str(path))
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    try:
        with cached_saving_skipsets():
            model.save(str(tmp))
        if kill_at is not None:
            kill_point(kill_at, kill_epoch)   # the temporary file is written, not yet renamed
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (``fcntl.flock``) between processes of this machine.

    Publishing holds one for each compare-and-replace (two runs publishing the same experiment
    at once take turns, so the better model wins and the model and its record come from the same
    run); a sweep holds one while it claims a trial. Released when the process dies, so a killed
    run never leaves it held. (No lock where ``fcntl`` is missing, i.e. on Windows.)"""
    try:
        import fcntl
    except ImportError:                      # pragma: no cover - Windows
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
