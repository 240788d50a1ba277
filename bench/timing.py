"""Epoch and step timing shared by the benchmark scripts.

Machine noise on a shared 2-core box is larger than most effects measured here, so every
comparison alternates its sides round by round (A, B, A, B, ...), leaves out each fit's first
epoch (tracing), and reports the median of the rounds' ratios with every round's ratio.
"""
from __future__ import annotations

import statistics
import time
from typing import Callable

from kerasdl.callbacks import ThroughputMonitor


class EpochClock(ThroughputMonitor):
    """The runs' own epoch clock (the training part of each epoch, validation left out); with
    ``whole_epoch``, everything in an epoch, validation and every callback's epoch-end work
    included (place the clock last: it measures from one epoch end to the next).
    ``steady_times`` leaves out the first epoch."""

    def __init__(self, whole_epoch: bool = False):
        super().__init__(examples_per_epoch=1)    # samples/s is not what it measures
        self.whole_epoch = whole_epoch

    def on_train_begin(self, logs=None):
        self._last_end = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if not self.whole_epoch:
            return super().on_epoch_end(epoch, logs)
        now = time.perf_counter()
        self.train_times.append(now - self._last_end)
        self._last_end = now


def alternate(rounds: int, sides: dict[str, Callable[[], list[float]]],
              log: Callable[[str], None] = print) -> dict[str, list[list[float]]]:
    """Run each side's ``() -> steady epoch times`` once per round, sides alternating; return
    every side's epoch times, round by round."""
    times: dict[str, list[list[float]]] = {name: [] for name in sides}
    for round_index in range(rounds):
        for name, run in sides.items():
            times[name].append(run())
            log(f"  round {round_index + 1}/{rounds} {name:<22} "
                f"{statistics.median(times[name][-1]):.3f} s/epoch")
    return times


def describe(name: str, rounds: list[list[float]]) -> str:
    epochs = [t for round_times in rounds for t in round_times]
    return (f"{name:<22} median {statistics.median(epochs):.3f} s/epoch, "
            f"fastest {min(epochs):.3f} ({len(epochs)} epochs)")


def speedup(baseline: list[list[float]], candidate: list[list[float]]) -> tuple[float, list[float]]:
    """How much faster ``candidate`` runs than ``baseline`` (> 1: faster): the median over rounds
    of each round's ratio of median epochs, and the per-round ratios. Pairing the sides round by
    round cancels the machine's slow drifts, which pooled medians do not."""
    per_round = [statistics.median(b) / statistics.median(c) for b, c in zip(baseline, candidate)]
    return statistics.median(per_round), per_round


def quartiles(values: list[float], digits: int = 2, unit: str = "") -> str:
    """``"1.02x (IQR 0.99-1.05 over 9 rounds: 1.01, ...)"``: the median with the interquartile
    range, the spread a claimed margin has to beat, and every value."""
    listed = ", ".join(f"{v:.{digits}f}" for v in values)
    if len(values) < 2:
        return f"{values[0]:.{digits}f}{unit} (1 round)"
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return (f"{median:.{digits}f}{unit} (IQR {q1:.{digits}f}-{q3:.{digits}f} over {len(values)} "
            f"rounds: {listed})")


def print_speedup(label: str, times: dict[str, list[list[float]]], baseline: str, candidate: str,
                  note: str = "", digits: int = 2) -> float:
    """Print ``candidate``'s speed-up over ``baseline`` (see :func:`speedup`): the median of the
    rounds' ratios with their interquartile range and every round's ratio; return the median."""
    factor, per_round = speedup(times[baseline], times[candidate])
    print(f"{label:<30} {quartiles(per_round, digits, unit='x')}{note}")
    return factor


def print_sides(times: dict[str, list[list[float]]]) -> None:
    for name, side_times in times.items():
        print(describe(name, side_times))


def step_times(model, x, y, steps: int) -> list[float]:
    """Seconds of each of ``steps`` calls of ``model.train_on_batch(x, y)``."""
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        model.train_on_batch(x, y)
        times.append(time.perf_counter() - started)
    return times


def alternate_steps(models: dict, x, y, rounds: int, steps: int, warmup: int,
                    log: Callable[[str], None] = lambda line: None) -> dict[str, list[float]]:
    """Training step times of several compiled ``models`` on the same batch: after ``warmup``
    steps each (tracing), per round each model's median of ``steps`` steps, the models taking
    turns and swapping who goes first every round; ``{name: [median per round]}``."""
    for model in models.values():
        step_times(model, x, y, warmup)
    medians: dict[str, list[float]] = {name: [] for name in models}
    for index in range(rounds):
        for name in (list(models) if index % 2 == 0 else list(models)[::-1]):
            medians[name].append(statistics.median(step_times(models[name], x, y, steps)))
        log(f"round {index + 1}/{rounds}: " + ", ".join(
            f"{name} {medians[name][-1]:.3f} s/step" for name in models))
    return medians

