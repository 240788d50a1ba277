"""User-facing errors.

Every error a user can cause is a subclass of :class:`KerasdlError`. Its message says what was wrong,
what was expected and how to fix it; the CLI prints it as one line (no traceback unless ``--debug``).
"""
from __future__ import annotations

import difflib
from typing import Iterable


class KerasdlError(Exception):
    """Base class of the errors kerasdl reports to users."""

    exit_code = 1


class ConfigError(KerasdlError, ValueError):
    """An experiment config (file, ``--set`` override or dict) is invalid."""

    exit_code = 2


class DataError(KerasdlError):
    """A dataset cannot be loaded, or it does not fit the model or the loss."""


class ModelError(KerasdlError, ValueError):
    """A model name, style or builder argument is invalid."""


class CorruptFileError(KerasdlError):
    """A checkpoint, backup or model file exists but cannot be read (not the same as missing)."""


class UnsafeModelFile(KerasdlError):
    """A model file holds code (e.g. a Lambda layer) that Keras's safe mode will not load."""


class TrainingDiverged(KerasdlError):
    """The loss became NaN or infinite; the run stopped and saved no NaN weights."""

    exit_code = 3


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ' (did you mean 'x'?)' for the closest choice, or '' when nothing is close."""
    close = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def unknown_name(kind: str, name: str, choices: Iterable[str], where: str = "") -> str:
    """Message for an unknown name: the bad value, the closest match and the valid names."""
    choices = sorted(choices)
    location = f" at '{where}'" if where else ""
    return (f"unknown {kind} '{name}'{location}{did_you_mean(name, choices)}; "
            f"valid {_plural(kind)}: {', '.join(choices)}")


def _plural(noun: str) -> str:
    """'losses', 'models', 'keras.applications models'."""
    return noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")
