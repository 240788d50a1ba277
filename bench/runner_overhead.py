"""Benchmark 2 of issue #8: kerasdl's default callbacks against a bare ``model.fit`` of the same
compiled model and pipeline (target: throughput ratio >= 0.97).

Run from the repository root:
    python bench/runner_overhead.py [--epochs 6] [--rounds 3]

Both sides fit the LeNet-5 experiment (validation included) for the same epochs; rounds alternate
(bare, kerasdl, bare, ...) so that machine noise hits both alike. The time per epoch leaves out the
first epoch (tracing). kerasdl's side carries everything a run does per epoch: history.csv,
TensorBoard scalars, the best checkpoint, early stopping, the epoch backup and the NaN guard.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from kerasdl.callbacks import build_callbacks  # noqa: E402
from kerasdl.experiment import load_experiment  # noqa: E402
from kerasdl.runner import prepare  # noqa: E402


class EpochClock(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self.start)


def seconds_per_epoch(experiment, with_kerasdl_callbacks: bool, epochs: int) -> float:
    prepared = prepare(experiment, log=lambda line: None)
    clock = EpochClock()
    callbacks = [clock]
    if with_kerasdl_callbacks:
        run_dir = Path(tempfile.mkdtemp(prefix="kerasdl-bench-"))
        callbacks = build_callbacks(experiment, run_dir, prepared.data).callbacks + [clock]
    prepared.model.fit(prepared.data.train, validation_data=prepared.data.validation,
                       epochs=epochs, callbacks=callbacks, verbose=0, shuffle=False)
    return statistics.median(clock.times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    experiment = load_experiment("experiments/lenet5.py", overrides={
        "data.source": "embedded", "trainer.verbose": 0, "callbacks.early_stopping.patience": 100})
    bare, ours = [], []
    for _ in range(args.rounds):
        bare.append(seconds_per_epoch(experiment, False, args.epochs))
        ours.append(seconds_per_epoch(experiment, True, args.epochs))
    b, o = statistics.median(bare), statistics.median(ours)
    print(f"bare model.fit        {b:.3f} s/epoch   (rounds: {', '.join(f'{t:.3f}' for t in bare)})")
    print(f"kerasdl callbacks     {o:.3f} s/epoch   (rounds: {', '.join(f'{t:.3f}' for t in ours)})")
    print(f"throughput ratio      {b / o:.3f} (kerasdl / bare; target >= 0.97)")


if __name__ == "__main__":
    main()
