"""Epoch timing shared by the benchmark scripts.

Machine noise on a shared 2-core box is larger than most effects measured here, so every
comparison alternates its sides round by round (A, B, A, B, ...) and reports the median and the
fastest of all steady-state epochs (the first epoch of each fit, which traces, is left out).
"""
from __future__ import annotations

import statistics
import time
from typing import Callable

import keras


class EpochClock(keras.callbacks.Callback):
    """Wall time of each epoch's training part (validation, when there is any, left out); with
    ``whole_epoch``, of everything in an epoch, validation and every callback's epoch-end work
    included (place the clock last: it measures from one epoch end to the next)."""

    def __init__(self, whole_epoch: bool = False):
        super().__init__()
        self.whole_epoch = whole_epoch
        self.times: list[float] = []
        self._start = self._train_end = None

    def on_train_begin(self, logs=None):
        self._last_end = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._train_end = None
        self._start = time.perf_counter()

    def on_test_begin(self, logs=None):
        if self._train_end is None:
            self._train_end = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        if self.whole_epoch:
            self.times.append(now - self._last_end)
            self._last_end = now
        else:
            self.times.append((self._train_end or now) - self._start)

    @property
    def steady(self) -> list[float]:
        """Every epoch but the first (tracing and warm-up), or the only one."""
        return self.times[1:] or self.times


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


def print_speedup(label: str, times: dict[str, list[list[float]]], baseline: str, candidate: str,
                  note: str = "", digits: int = 2) -> float:
    """Print ``candidate``'s speed-up over ``baseline`` (see :func:`speedup`) with every round's
    ratio, and return it."""
    factor, per_round = speedup(times[baseline], times[candidate])
    rounds = ", ".join(f"{r:.{digits}f}" for r in per_round)
    print(f"{label:<30} {factor:.{digits}f}x (median of the rounds' ratios {rounds}){note}")
    return factor


def print_sides(times: dict[str, list[list[float]]]) -> None:
    for name, side_times in times.items():
        print(describe(name, side_times))
