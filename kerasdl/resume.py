"""Continuing an interrupted run exactly where its last epoch backup left it.

A run killed at any moment keeps its run directory, and ``kerasdl run EXPERIMENT --resume DIR``
(or ``--resume latest``) continues it: :func:`check_resumable` makes sure the directory is an
unfinished run of the same experiment (before TensorFlow is imported), and the runner puts the
newest readable backup (:mod:`kerasdl.callbacks.backup`) back with :func:`restore_variables`:
the model's variables, the optimizer's (in the phase the run stopped in, for a transfer run:
:func:`restore_optimizer`), the stateful callbacks' state and the history. The training order of
every epoch is a function of (shuffle seed, epoch) (see kerasdl.data.pipeline), so a resumed run
replays nothing and ends as the run that never stopped would have; a run stopped by
EarlyStopping trains no further epoch and only finishes.

The moments after training have kill points of their own (``KERASDL_KILL_AT=<point>``, see
:func:`kerasdl.files.kill_point`); the crash tests (``tests/test_resume.py``) kill runs at each.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from kerasdl.config import Experiment
from kerasdl.errors import ConfigError, CorruptFileError
from kerasdl.rundir import (CONFIG, FINISHED, MODEL, OUTPUT_PATH_KEYS, RunDir, RunInUse, in_use_message,
                            lock_holder, with_absolute_paths)


def check_resumable(experiment: Experiment, run_dir: Path) -> Path:
    """Return ``run_dir`` if it is an unfinished run of exactly this experiment, else raise.

    Needs no TensorFlow, so the CLI calls it before importing it."""
    run = RunDir(run_dir)
    if not run.file(CONFIG).is_file():
        raise ConfigError(f"--resume {run_dir}: not a kerasdl run directory (no {CONFIG})")
    saved = run.config()              # a file cut off or edited is named, with what is wrong
    current = json.loads(json.dumps(experiment.to_dict(), default=str))
    for key in OUTPUT_PATH_KEYS:     # where it writes comes from the run's record (with_recorded_outputs)
        section, name = key.split(".")
        for config in (saved, current):
            if isinstance(config.get(section), dict):
                config[section].pop(name, None)
    changed = sorted(_differences(saved, current))
    if changed:
        raise ConfigError(f"--resume {run_dir}: the experiment differs from the interrupted run at "
                          f"{', '.join(changed)}; a resumed run must be the same experiment "
                          "(drop those --set overrides, or start a new run)")
    if (run_dir / FINISHED).exists():
        if not (run_dir / MODEL).is_file():       # the advice predict, evaluate and export give
            raise ConfigError(f"--resume {model_missing_message(run_dir)}")
        raise ConfigError(f"--resume {run_dir}: that run already finished "
                          f"(see {run_dir / FINISHED})")
    holder = lock_holder(run_dir)
    if holder is not None and holder.get("pid") != os.getpid():
        raise RunInUse(in_use_message(run_dir, holder))
    return run_dir


def model_missing_message(run_dir: Path) -> str:
    """What is true of a finished run whose model.keras is gone, and the one thing to do.

    The same words from ``--resume`` and from predict, evaluate and export: a finished run cannot
    be resumed, and nothing but the file itself brings its model back."""
    return (f"{run_dir}: the run finished but its {MODEL} is missing: it was deleted or moved; "
            "restore it, or start a new run")


def with_recorded_outputs(experiment: Experiment, run_dir: Path) -> Experiment:
    """``experiment`` writing where the interrupted run in ``run_dir`` wrote (its config.json).

    Runs record their output folders absolute (:func:`kerasdl.rundir.with_absolute_paths`), so a
    resume started from any working directory publishes into the same saved_models folder;
    a record written as typed (relative) by an earlier kerasdl is resolved against the cwd."""
    from kerasdl.config import with_overrides

    output = RunDir(run_dir).config().get("output")
    output = output if isinstance(output, dict) else {}
    recorded = {key: output.get(key.split(".")[1]) for key in OUTPUT_PATH_KEYS}
    experiment = with_overrides(experiment, {k: v for k, v in recorded.items() if isinstance(v, str)})
    return with_absolute_paths(experiment)


def _differences(a, b, prefix: str = ""):
    if isinstance(a, dict) and isinstance(b, dict):
        for key in set(a) | set(b):
            yield from _differences(a.get(key), b.get(key), f"{prefix}{key}.")
    elif a != b:
        yield prefix.rstrip(".")


def check_backup_phase(state: dict, expected: str, where: Path) -> None:
    """Raise a CorruptFileError unless the backup was written in the phase its epoch belongs to.

    ``state`` is a backup's state (:func:`kerasdl.callbacks.read_backup`), ``expected`` the phase
    this experiment's plan puts its epoch in (:func:`kerasdl.transfer.recipes.phase_at`); a
    backup that records no phase (a run without a recipe) passes."""
    recorded = state.get("phase")
    if recorded is not None and recorded != expected:
        raise CorruptFileError(
            f"the backup of epoch {state['epoch']} in {where} was written in phase {recorded}, but "
            f"this experiment's plan puts that epoch in phase {expected}; start a new run")


def restore_variables(model, arrays: dict, optimizer: bool = True) -> None:
    """Assign the backed-up model variables, and the optimizer's unless ``optimizer`` is False.

    A transfer run restores the optimizer's in the phase it stopped in (:func:`restore_optimizer`)."""
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
