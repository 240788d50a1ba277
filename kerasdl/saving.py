"""Writing results safely: atomic files, and publishing a run's model under saved_models/.

The publishing rule: ``saved_models/<experiment>.keras`` is replaced only by a model that scored
strictly better on the same test data (same dataset, source, split and limits) by the experiment's
selection metric (the monitored metric's test value, e.g. ``val_loss`` -> test ``loss``). A model
there with no record of its score is never replaced under the default policy. With
``output.publish='always'`` the previous file is kept as ``<experiment>.previous.keras``.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

from kerasdl.config import HIGHER_IS_BETTER, Experiment


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
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def atomic_copy(source: Path, target: Path) -> None:
    fd, tmp = _temporary_beside(target)
    os.close(fd)
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def kill_point(name: str, epoch: Optional[int] = None) -> None:
    """Test instrumentation: SIGKILL this process here if ``KERASDL_KILL_AT`` names this point:
    ``name:epoch`` for points inside training, ``name`` for the phases after it."""
    if os.environ.get("KERASDL_KILL_AT") == (name if epoch is None else f"{name}:{epoch}"):
        os.kill(os.getpid(), signal.SIGKILL)


def save_model_atomically(model, path: Path, kill_at: Optional[str] = None,
                          kill_epoch: Optional[int] = None) -> None:
    """``model.save(path)`` through a temporary ``.keras`` file renamed into place."""
    from kerasdl.compat import cached_saving_skipsets

    path = Path(path)
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


def load_model(path: str | os.PathLike, safe_mode: bool = True, compile: bool = True):
    """``keras.models.load_model`` with kerasdl's model classes registered first.

    Subclassed kerasdl models load only after their classes are registered, which importing
    ``kerasdl.models`` does; plain Keras code can do that itself: ``import kerasdl.models``.
    """
    import zipfile

    import keras

    from kerasdl.compat import cached_saving_skipsets
    from kerasdl.errors import CorruptFileError, KerasdlError
    from kerasdl.models.registry import list_models

    path = Path(path)
    if not path.is_file():
        raise KerasdlError(f"model file not found: {path}")
    list_models()                      # imports every family module, registering its classes
    import kerasdl.transfer            # noqa: F401  transfer models' layers and optimizer
    if path.suffix == ".keras" and not zipfile.is_zipfile(path):   # Keras would say "not found"
        raise CorruptFileError(f"model file {path} ({path.stat().st_size:,} bytes) is corrupt: "
                               "not a readable .keras (zip) archive; truncated or overwritten?")
    try:
        with cached_saving_skipsets():
            return keras.models.load_model(str(path), safe_mode=safe_mode, compile=compile)
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as error:
        raise CorruptFileError(f"model file {path} ({path.stat().st_size:,} bytes) is corrupt: "
                               f"{type(error).__name__}: {error}") from error
    except ValueError as error:
        if "safe_mode" in str(error):
            raise KerasdlError(f"{path} holds code (e.g. a Lambda layer) that safe mode will not "
                               "load; if you trust the file, load it with safe_mode=False "
                               f"(kerasdl.load_model(path, safe_mode=False))") from error
        raise


@dataclass(frozen=True)
class PublishResult:
    published: bool
    path: Path
    reason: str


def selection_metric(experiment: Experiment, test_metrics: dict[str, float]) -> tuple[str, str]:
    """(test metric name, "min"/"max") that ranks runs: the monitored metric's test value."""
    monitor = experiment.callbacks.monitor
    base = monitor[4:] if monitor.startswith("val_") else monitor
    if base not in test_metrics:
        base = "loss"
    return base, "max" if base in HIGHER_IS_BETTER else "min"


def publish_model(model_path: Path, experiment: Experiment, test_metrics: dict[str, float],
                  data_fingerprint: dict[str, Any], run_dir: Path,
                  inference: Optional[dict[str, Any]] = None) -> PublishResult:
    """Copy the run's model to saved_models/<experiment>.keras if the publishing rule allows it.

    ``inference`` (class names, feature columns, vocabularies: ``DataBundle.inference_record``)
    goes into the record with the config, so that ``kerasdl predict`` needs no run directory."""
    saved_dir = Path(experiment.output.saved_models_dir)
    target = saved_dir / f"{experiment.name}.keras"
    record_path = saved_dir / f"{experiment.name}.json"
    policy = experiment.output.publish
    metric, mode = selection_metric(experiment, test_metrics)
    new_score = float(test_metrics[metric])
    if policy == "never":
        return PublishResult(False, target, "output.publish='never'")
    with exclusive_lock(saved_dir / f".{experiment.name}.lock"):
        old = _read_record(record_path) if target.exists() else None
        if old is not None and old.get("run_dir") == str(run_dir):   # resumed, published already
            return PublishResult(True, target, "published by this run before it was interrupted")
        if target.exists() and policy == "if_better":
            if old is None:
                return PublishResult(False, target, f"kept {target}: it has no readable record "
                                     f"({record_path}) of its score; set output.publish='always' "
                                     "to replace it")
            if old.get("data") != data_fingerprint:
                return PublishResult(False, target, f"kept {target}: it was scored on other test "
                                     f"data ({old.get('data')}); set output.publish='always' to "
                                     "replace it")
            old_score = old.get("test_metrics", {}).get(metric)
            if not isinstance(old_score, (int, float)):
                return PublishResult(False, target, f"kept {target}: its record ({record_path}) "
                                     f"has no test {metric} to compare with; set "
                                     "output.publish='always' to replace it")
            better = new_score > old_score if mode == "max" else new_score < old_score
            if not better:
                return PublishResult(False, target, f"kept {target}: its test {metric} "
                                     f"{old_score:.4f} is as good or better than this run's "
                                     f"{new_score:.4f}")
            reason = f"test {metric} {new_score:.4f} beats the earlier {old_score}"
        elif target.exists():
            shutil.copyfile(target, target.with_name(f"{experiment.name}.previous.keras"))
            reason = (f"output.publish='always'; previous model kept as "
                      f"{experiment.name}.previous.keras")
        else:
            reason = "first model of this name"
        atomic_copy(model_path, target)
        atomic_write_json(record_path, {"experiment": experiment.name, "run_dir": str(run_dir),
                                        "selection_metric": metric, "mode": mode,
                                        "test_metrics": test_metrics, "data": data_fingerprint,
                                        # what kerasdl predict needs without the run directory
                                        "config": experiment.to_dict(), **(inference or {})})
        return PublishResult(True, target, reason)


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


def _read_record(path: Path) -> Optional[dict]:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
