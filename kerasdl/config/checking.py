"""The type checker of config sections: every field checked and normalised against its annotation.

:func:`section` makes a class a frozen, keyword-only dataclass that rejects unknown keys (naming
the full key path and the closest valid key) and runs :func:`check_value` on each field: ints become
floats where a float is expected, lists become tuples, dicts become sub-sections.
"""
from __future__ import annotations

import contextvars
import dataclasses
import functools
import math
import typing
from typing import Any, Callable, Literal, Mapping, Union

from kerasdl.errors import ConfigError, did_you_mean

#: set while several overrides are applied: the experiment's cross-field checks (the monitor
#: against the metrics, ...) wait for the last one, so their order does not matter
DEFER_CROSS_CHECKS: contextvars.ContextVar[bool] = contextvars.ContextVar("defer", default=False)


def section(path: str):
    """Make ``cls`` a frozen, keyword-only config section living at ``path`` in the experiment.

    The section rejects unknown keys (naming ``path.key`` and the closest valid key) and checks
    and normalises every field against its annotation (ints become floats where a float is
    expected, lists become tuples, dicts become sub-sections).
    """
    def decorate(cls):
        cls = dataclasses.dataclass(frozen=True, kw_only=True)(cls)
        cls._path = path
        dataclass_init = cls.__init__

        @functools.wraps(dataclass_init)
        def __init__(self, **kwargs):
            names = [f.name for f in dataclasses.fields(cls)]
            for key in kwargs:
                if key not in names:
                    raise unknown_key(path, key, names)
            dataclass_init(self, **kwargs)
            annotations = field_annotations(cls)
            for f in dataclasses.fields(cls):
                value = check_value(getattr(self, f.name), annotations[f.name], key_path(path, f.name))
                object.__setattr__(self, f.name, value)
            validate = getattr(self, "_validate", None)
            if validate and not DEFER_CROSS_CHECKS.get():
                validate()

        cls.__init__ = __init__
        return cls
    return decorate


def shown(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters with its full length said (error lines stay short)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def key_path(path: str, key: str) -> str:
    """The dotted key of ``key`` in the section at ``path``: ('trainer', 'epochs') -> 'trainer.epochs'."""
    return f"{path}.{key}" if path else key


def unknown_key(path: str, key: str, names: list[str]) -> ConfigError:
    """The error for ``key``, not a field of the section at ``path``: the closest and all valid keys."""
    return ConfigError(f"unknown config key '{key_path(path, key)}'{did_you_mean(key, names)}; "
                       f"valid keys of '{path or 'experiment'}': {', '.join(names)}")


@functools.lru_cache(maxsize=None)
def field_annotations(cls) -> dict[str, Any]:
    """The resolved annotation of each field of the section class ``cls`` (cached)."""
    return typing.get_type_hints(cls)


def _type_name(annotation) -> str:
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return " or ".join(repr(a) for a in typing.get_args(annotation))
    if origin is Union:
        return " or ".join(_type_name(a) for a in typing.get_args(annotation))
    if origin in (tuple, dict):
        return f"{origin.__name__} ({annotation})".replace("typing.", "")
    if annotation is type(None):
        return "None"
    return getattr(annotation, "__name__", str(annotation))


#: plain annotation -> whether a value has it (a bool is neither an int nor a float; an int is a float)
_PLAIN_TYPES: dict[Any, Callable[[Any], bool]] = {
    type(None): lambda value: value is None,
    bool: lambda value: isinstance(value, bool),
    int: lambda value: isinstance(value, int) and not isinstance(value, bool),
    float: lambda value: isinstance(value, (int, float)) and not isinstance(value, bool),
    str: lambda value: isinstance(value, str),
}


def _finite(value: float, path: str) -> float:
    """``value`` as a float; infinity or NaN is a ConfigError ('1e400' parses as inf)."""
    if not math.isfinite(value):         # no setting means infinity or NaN
        raise ConfigError(f"config key '{path}' must be a finite number; got {value!r}"
                          f"{' (1e400 and the like overflow to inf)' if value > 0 else ''}")
    return float(value)


def check_value(value: Any, annotation: Any, path: str) -> Any:
    """Return ``value`` normalised to ``annotation`` or raise a ConfigError naming ``path``."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    wrong = ConfigError(f"config key '{path}' must be {_type_name(annotation)}; "
                        f"got {value!r} ({type(value).__name__})")
    if annotation is Any:
        return value
    if isinstance(annotation, type) and hasattr(annotation, "_path"):      # a sub-section
        if isinstance(value, annotation):
            return value
        if isinstance(value, Mapping):
            return annotation(**value)
        raise wrong
    if origin is Literal:
        if value in args and all(type(value) is type(a) or value != a for a in args if a == value):
            return value
        raise ConfigError(f"config key '{path}' must be one of {', '.join(map(repr, args))}; "
                          f"got {value!r}{did_you_mean(value, [str(a) for a in args])}")
    if origin is Union:
        for option in args:
            try:
                return check_value(value, option, path)
            except ConfigError:
                pass
        raise wrong
    if annotation in _PLAIN_TYPES:
        if not _PLAIN_TYPES[annotation](value):
            raise wrong
        return _finite(value, path) if annotation is float else value
    if origin is tuple:
        if not isinstance(value, (tuple, list)):
            raise wrong
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(check_value(v, args[0], f"{path}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise wrong
        return tuple(check_value(v, a, f"{path}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if origin is dict:
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            raise wrong
        return dict(value)
    raise TypeError(f"kerasdl.config cannot check annotation {annotation!r} at {path}")
