"""Overrides: ``--set trainer.epochs=3`` parsed, applied to a config and checked again.

Also :func:`flat_config`, the config as dotted keys (the same key paths overrides use).
"""
from __future__ import annotations

import ast
import dataclasses
import json
import typing
from typing import Any, Mapping, Sequence

from kerasdl.config.checking import (DEFER_CROSS_CHECKS, check_value, field_annotations, key_path, shown,
                                     unknown_key)
from kerasdl.errors import ConfigError


def parse_value(text: str) -> Any:
    """Parse a ``--set`` value.

    A Python literal (3, 1e-3, (32, 32), None, 'x'), true/false/null, or else the text itself.
    """
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``["a.b=1", ...]`` (or ``[("a.b", 1), ...]``) -> ``{"a.b": 1}``; a malformed item is a ConfigError."""
    if isinstance(items, (str, bytes)):
        items = [items]
    overrides = {}
    for item in items:
        if isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], str):
            overrides[item[0].strip()] = item[1]
            continue
        if not isinstance(item, str):
            raise ConfigError(f"overrides are 'KEY=VALUE' strings, (KEY, VALUE) pairs or a {{KEY: VALUE}} "
                              f"mapping (e.g. 'trainer.epochs=3'); got {shown(item)} "
                              f"({type(item).__name__})")
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects KEY=VALUE (e.g. trainer.epochs=3); got {shown(item)}")
        overrides[key.strip()] = text
    return overrides


def flat_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Flatten an experiment's config to dotted keys with scalar values.

    ``Experiment.to_dict()`` -> ``{"trainer.learning_rate": 0.001, "model.kwargs.dropout": 0.2,
    ...}``: every key but ``smoke``, as scalars (bool, int, float, str; others as JSON text), for
    TensorBoard's HParams and for tables of what differs between runs.
    """
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping) and value:
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), item)
        elif isinstance(value, (bool, int, float, str)):
            flat[prefix] = value
        else:                                           # None, tuples, {}
            flat[prefix] = json.dumps(value, default=str)

    walk("", {key: value for key, value in config.items() if key != "smoke"})
    return flat


def with_overrides(config, overrides: Mapping[str, Any]):
    """Return ``config`` with dotted-key ``overrides`` applied and re-validated.

    Values given as strings (from the command line) are parsed with :func:`parse_value`, except
    where the key expects a string. Keys inside dict fields (``model.kwargs.dropout``) are allowed.
    """
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"overrides must be a {{KEY: VALUE}} mapping (e.g. {{'trainer.epochs': 3}}); "
                          f"got {type(overrides).__name__}")
    bad = [key for key in overrides if not isinstance(key, str)]
    if bad:
        raise ConfigError(f"override keys are dotted config keys as text (e.g. 'trainer.epochs'); got "
                          f"{shown(bad[0])} ({type(bad[0]).__name__})")
    token = DEFER_CROSS_CHECKS.set(True)     # keys that go together may come in any order
    try:
        for key, value in overrides.items():
            config = _override(config, key.split("."), value, key)
    finally:
        DEFER_CROSS_CHECKS.reset(token)
    _validate_sections(config)
    return dataclasses.replace(config)        # every check again, cross-field ones included


def _validate_sections(config) -> None:
    """Run the cross-field checks of every section below ``config`` (deferred by overrides)."""
    for f in dataclasses.fields(config):
        section = getattr(config, f.name)
        if dataclasses.is_dataclass(section):
            _validate_sections(section)
            if hasattr(section, "_validate"):
                section._validate()


def _unquoted(text: str) -> str:
    """Strip the quotes of a quoted Python string; return any other text as it is.

    ``'mnist'`` or ``"mnist"`` (a quoted Python string, as shells pass ``"data.name='mnist'"``)
    -> ``mnist``.
    """
    stripped = text.strip()
    if len(stripped) >= 2 and stripped[0] == stripped[-1] and stripped[0] in "'\"":
        try:
            literal = ast.literal_eval(stripped)
        except (ValueError, SyntaxError):
            return text
        if isinstance(literal, str):
            return literal
    return text


def _override(node, parts: list[str], value: Any, full_key: str):
    """``node`` (a section or a dict field) with the key ``parts`` set to ``value``, checked."""
    head, rest = parts[0], parts[1:]
    prefix = full_key[: len(full_key) - len(".".join(parts))].rstrip(".")
    if isinstance(node, dict):
        if not rest:
            return {**node, head: parse_value(value) if isinstance(value, str) else value}
        return {**node, head: _override(node.get(head, {}), rest, value, full_key)}
    names = [f.name for f in dataclasses.fields(node)]
    if head not in names:
        raise unknown_key(prefix, head, names)
    current = getattr(node, head)
    if rest:
        if not (dataclasses.is_dataclass(current) or isinstance(current, dict)):
            raise ConfigError(f"config key '{key_path(prefix, head)}' is a value, not a section; "
                              f"cannot set '{full_key}'")
        return dataclasses.replace(node, **{head: _override(current, rest, value, full_key)})
    if isinstance(value, str):
        value = _unquoted(value)
        annotation = field_annotations(type(node))[head]
        if value.strip().lower() in ("none", "null") and type(None) in typing.get_args(annotation):
            value = None            # finetune.recipe=None: None, not the recipe named 'None'
        else:
            try:
                check_value(value, annotation, full_key)    # a string is what the key wants: keep it
            except ConfigError:
                value = parse_value(value)
    return dataclasses.replace(node, **{head: value})
