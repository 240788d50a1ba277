"""Experiment files: a Python file under experiments/ whose ``get_config()`` returns an Experiment.

An experiment file imports only :mod:`kerasdl.config` (no TensorFlow), so loading it, showing it
and reporting its mistakes is fast. Its docstring holds the exact command that runs it.
"""
from __future__ import annotations

import ast
import importlib.util
import traceback
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from kerasdl.config import Experiment, with_overrides
from kerasdl.errors import ConfigError, did_you_mean

EXPERIMENTS_DIR = Path("experiments")
#: the experiment files that come with kerasdl: package data in an installed wheel
#: (``kerasdl/experiments`` links to the repository's ``experiments/``, see setup.cfg), the
#: repository's ``experiments/`` in a checkout where the link is not followed
BUILTIN_DIRS = (Path(__file__).resolve().parent / "experiments",
                Path(__file__).resolve().parent.parent / "experiments")


def builtin_experiments_dir() -> Optional[Path]:
    """The folder of the experiment files that come with kerasdl (None where there is none)."""
    return next((d for d in BUILTIN_DIRS if d.is_dir() and any(d.glob("*.py"))), None)


def load_experiment(path: str | Path, overrides: Optional[Mapping[str, Any] | Sequence[str]] = None,
                    smoke: bool = False) -> Experiment:
    """Load an experiment file, apply its smoke variant (if ``smoke``) and then ``overrides``.

    Args:
        path: the experiment file (``experiments/lenet5.py``), or a bare name (``lenet5``) looked up
            in ``./experiments``.
        overrides: ``{"trainer.epochs": 3}`` or ``["trainer.epochs=3"]``; applied last.
        smoke: shrink the run as the file's ``smoke`` overrides say (tiny data, one epoch).

    Returns:
        The validated, frozen :class:`~kerasdl.config.Experiment`.
    """
    from kerasdl.config import parse_overrides

    path = resolve_experiment_path(path)
    module = _import_file(path)
    get_config = getattr(module, "get_config", None)
    if not callable(get_config):
        raise ConfigError(f"experiment file {path} defines no get_config(); it must define "
                          "get_config() returning a kerasdl.config.Experiment")
    experiment = _call_user_code(path, get_config)
    if not isinstance(experiment, Experiment):
        raise ConfigError(f"get_config() in {path} returned {type(experiment).__name__}; "
                          "expected a kerasdl.config.Experiment")
    if smoke:
        experiment = with_overrides(experiment, experiment.smoke)
    if overrides:
        if not isinstance(overrides, Mapping):
            overrides = parse_overrides(overrides)
        experiment = with_overrides(experiment, overrides)
    return experiment


def resolve_experiment_path(path: str | Path) -> Path:
    """The experiment file at ``path``, or named ``path``; a clear error if none.

    A name (``lenet5``) is looked up in ./experiments, then among the experiment files that come
    with kerasdl (:func:`builtin_experiments_dir`), so it works from any folder.
    """
    candidate = Path(path)
    if candidate.is_file():
        return candidate
    builtin = builtin_experiments_dir()
    if candidate.suffix != ".py" and candidate.name == str(path):      # a bare name
        for folder in (EXPERIMENTS_DIR, builtin):
            if folder is not None and (folder / f"{path}.py").is_file():
                return folder / f"{path}.py"
    known = list(dict.fromkeys(p.stem for folder in (EXPERIMENTS_DIR, builtin) if folder
                               for p in list_experiment_files(folder)))
    hint = did_you_mean(candidate.stem, known)
    listing = f"; experiment names: {', '.join(known)}" if known else ""
    raise ConfigError(f"experiment file not found: {path}{hint}{listing}")


def _import_file(path: Path):
    """Import ``path`` as a module; an error inside it is shown with its own traceback."""
    name = f"kerasdl_experiment_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    _call_user_code(path, spec.loader.exec_module, module)
    return module


def _call_user_code(path: Path, function, *args):
    """Run code of the experiment file; its errors name the file, with its own traceback lines."""
    try:
        return function(*args)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from error
    except Exception as error:
        frames = [f for f in traceback.extract_tb(error.__traceback__)
                  if Path(f.filename).resolve() == Path(path).resolve()]
        where = "".join(traceback.format_list(frames)).rstrip()
        raise ConfigError(f"experiment file {path} raised {type(error).__name__}: {error}\n{where}") \
            from error


def list_experiment_files(directory: Path = EXPERIMENTS_DIR) -> list[Path]:
    """The experiment files in ``directory``, sorted; names starting with ``_`` are left out."""
    return sorted(p for p in Path(directory).glob("*.py") if not p.name.startswith("_"))


def describe_experiment(path: Path) -> str:
    """First docstring line of an experiment file, read without importing it."""
    try:
        doc = ast.get_docstring(ast.parse(Path(path).read_text()))
    except SyntaxError:
        return "(syntax error)"
    return doc.strip().splitlines()[0] if doc else ""
