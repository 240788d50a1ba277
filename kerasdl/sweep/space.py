"""The search space of ``kerasdl sweep``.

``--param KEY=SPEC`` parsed and checked without TensorFlow or Optuna.

SPEC is one of ``choice(a, b, ...)``, ``uniform(lo, hi)``, ``loguniform(lo, hi)`` and
``int(lo, hi)`` (bounds included). KEY is any key ``--set`` accepts; every value a SPEC can give
(each choice, both bounds) is put through the experiment's own config checks up front, so a sweep
never starts a trial that its config would refuse.
"""
from __future__ import annotations

import ast
import dataclasses
import math
import re
from typing import Any, Sequence

from kerasdl.config import Experiment, parse_value, with_overrides
from kerasdl.errors import ConfigError, did_you_mean

KINDS = ("choice", "uniform", "loguniform", "int")
_SPEC = re.compile(r"^\s*([A-Za-z_]\w*)\s*\((.*)\)\s*$", re.S)


@dataclasses.dataclass(frozen=True)
class Param:
    """One searched config key: ``kind`` with its ``values`` (choice) or bounds ``low``/``high``."""

    key: str
    kind: str
    values: tuple = ()
    low: float = 0.0
    high: float = 0.0

    def describe(self) -> str:
        """The SPEC as the user would write it: ``loguniform(0.0001, 0.1)``."""
        if self.kind == "choice":
            return f"choice({', '.join(map(repr, self.values))})"
        return f"{self.kind}({self.low!r}, {self.high!r})"

    def distribution(self):
        """The matching Optuna distribution (imports Optuna)."""
        import optuna.distributions as d

        if self.kind == "choice":
            return d.CategoricalDistribution([_label(v) for v in self.values])
        if self.kind == "int":
            return d.IntDistribution(int(self.low), int(self.high))
        return d.FloatDistribution(self.low, self.high, log=self.kind == "loguniform")

    def decode(self, sampled: Any) -> Any:
        """The config value of what Optuna sampled.

        A choice like ``('translate', 'rotate')`` is kept in the study as its text, since Optuna's
        choices are scalars.
        """
        if self.kind == "choice":
            return next(v for v in self.values if _label(v) == sampled)
        return sampled

    def extremes(self) -> tuple:
        """The values that stand for the whole range in config checks: every choice, both bounds."""
        return self.values if self.kind == "choice" else (self.low, self.high)


def parse_param(item: str) -> Param:
    """Parse one ``--param`` item into a :class:`Param`.

    ``"trainer.learning_rate=loguniform(1e-4, 1e-1)"`` -> a :class:`Param`; a malformed item is a
    one-line ConfigError saying what was expected.
    """
    key, sep, spec = item.partition("=")
    key = key.strip()
    if not sep or not key or not spec.strip():
        raise ConfigError(f"--param expects KEY=SPEC, e.g. trainer.learning_rate=loguniform(1e-4, "
                          f"1e-1); got {item!r}")
    where = f"--param {key}={spec.strip()}"
    match = _SPEC.match(spec)
    if not match:
        raise ConfigError(f"{where}: SPEC must be one of choice(a, b, ...), uniform(lo, hi), "
                          "loguniform(lo, hi), int(lo, hi)")
    kind, body = match.groups()
    if kind not in KINDS:
        raise ConfigError(f"{where}: unknown SPEC '{kind}'{did_you_mean(kind, KINDS)}; "
                          f"valid: {', '.join(f'{k}(...)' for k in KINDS)}")
    args = _arguments(body)
    if kind == "choice":
        if len(args) < 2:
            raise ConfigError(f"{where}: choice() needs at least two values (one value is a "
                              f"--set {key}=VALUE)")
        if len(set(map(repr, args))) != len(args):
            raise ConfigError(f"{where}: choice() lists a value twice")
        return Param(key, kind, values=tuple(args))
    if len(args) != 2 or not all(isinstance(a, (int, float)) and not isinstance(a, bool)
                                 for a in args):
        raise ConfigError(f"{where}: {kind}() takes two numbers, low and high")
    low, high = args
    if kind == "int":
        if low != int(low) or high != int(high):
            raise ConfigError(f"{where}: int() takes whole numbers; got {low!r}, {high!r}")
        low, high = int(low), int(high)
    if not (math.isfinite(low) and math.isfinite(high)) or not low < high:
        raise ConfigError(f"{where}: low must be below high; got {kind}({low!r}, {high!r})")
    if kind == "loguniform" and low <= 0:
        raise ConfigError(f"{where}: loguniform() needs 0 < low < high (a log scale has no 0); "
                          f"got low {low!r}")
    return Param(key, kind, low=low if kind == "int" else float(low),
                 high=high if kind == "int" else float(high))


def parse_space(items: Sequence[str], experiment: Experiment) -> dict[str, Param]:
    """Parse every ``--param`` and check each value it can take against ``experiment``'s config.

    An unknown key (with did-you-mean) or a value the config refuses fails here, before any trial.
    """
    if not items:
        raise ConfigError("kerasdl sweep needs at least one --param KEY=SPEC, e.g. "
                          "--param trainer.learning_rate=loguniform(1e-4, 1e-1)")
    space: dict[str, Param] = {}
    for item in items:
        param = parse_param(item)
        if param.key in space:
            raise ConfigError(f"--param {param.key} is given twice")
        for value in param.extremes():
            try:
                with_overrides(experiment, {param.key: value})
            except ConfigError as error:
                raise ConfigError(f"--param {param.key}={param.describe()}: the value {value!r} "
                                  f"fails the config check: {error}") from None
        space[param.key] = param
    return space


def set_item(key: str, value: Any) -> str:
    """The ``--set`` item that gives ``key`` the sampled ``value``.

    Strings are quoted, so that ``'None'`` stays a string.
    """
    return f"{key}={value!r}"


def _label(value: Any) -> Any:
    """A choice as Optuna can store it.

    Scalars as they are, anything else (tuples, lists) as its Python text.
    """
    return value if value is None or isinstance(value, (bool, int, float, str)) else repr(value)


def _arguments(body: str) -> list:
    """The comma-separated arguments of a SPEC as values.

    ``"1e-4, 0.1"`` -> ``[0.0001, 0.1]``; ``"adam, sgd"`` -> ``['adam', 'sgd']`` (bare words are
    strings, as in ``--set``).
    """
    if not body.strip():
        return []
    try:
        parsed = ast.literal_eval(f"[{body}]")
        return list(parsed)
    except (ValueError, SyntaxError):
        return [parse_value(part.strip()) for part in body.split(",")]
