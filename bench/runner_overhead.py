"""Benchmark 2 of issue #8 and 3 of issue 28: kerasdl's default callbacks against a bare
``model.fit`` of the same compiled model and pipeline (target: throughput ratio >= 0.98).

Run from the repository root:
    python bench/runner_overhead.py [--epochs 6] [--rounds 3]

Both sides fit the LeNet-5 experiment with validation for the same epochs, timed from one epoch's
end to the next (validation and every callback's epoch-end writes included); rounds alternate
(bare, kerasdl, bare, ...) so that machine noise hits both alike. A second ratio times each
fit from its first epoch's end to its return, so that what a run writes once per fit (the best
checkpoint, the last backup's wait) counts too.
kerasdl's side carries everything a run does per epoch: history.csv, TensorBoard scalars, the
best checkpoint, early stopping, the epoch backup and the NaN guard.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from kerasdl.callbacks import build_callbacks  # noqa: E402
from kerasdl.experiment import load_experiment  # noqa: E402
from kerasdl.runner import prepare  # noqa: E402

from timing import EpochClock, alternate, print_sides, print_speedup  # noqa: E402


#: per side and round, the seconds from the first epoch's end to the fit's return (the writes
#: made as the fit ends, e.g. best.keras, included)
WHOLE_FITS: dict[str, list[list[float]]] = {"bare model.fit": [], "kerasdl callbacks": []}


def epoch_times(experiment, with_kerasdl_callbacks: bool, epochs: int) -> list[float]:
    prepared = prepare(experiment, log=lambda line: None)
    clock = EpochClock(whole_epoch=True)
    callbacks = [clock]
    if with_kerasdl_callbacks:
        run_dir = Path(tempfile.mkdtemp(prefix="kerasdl-bench-"))
        callbacks = build_callbacks(experiment, run_dir, prepared.data).callbacks + [clock]
    with prepared.devices.scope():
        prepared.model.fit(prepared.data.train, validation_data=prepared.data.validation,
                           epochs=epochs, callbacks=callbacks, verbose=0, shuffle=False)
    train_end = time.perf_counter() - clock._last_end     # the fit's end: last writes, waits
    WHOLE_FITS["kerasdl callbacks" if with_kerasdl_callbacks else "bare model.fit"].append(
        [sum(clock.steady_times) + train_end])
    return clock.steady_times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    experiment = load_experiment("experiments/lenet5.py", overrides={
        "data.source": "embedded", "trainer.verbose": 0, "callbacks.early_stopping.patience": 100})
    times = alternate(args.rounds, {
        "bare model.fit": lambda: epoch_times(experiment, False, args.epochs),
        "kerasdl callbacks": lambda: epoch_times(experiment, True, args.epochs)})
    print_sides(times)
    print_speedup("throughput ratio (kerasdl/bare)", times, "bare model.fit", "kerasdl callbacks",
                  note="; target >= 0.98", digits=3)
    print_speedup("whole-fit ratio, train end in", WHOLE_FITS, "bare model.fit",
                  "kerasdl callbacks", note=" (epochs 2 to the end, the fit's last writes included)",
                  digits=3)


if __name__ == "__main__":
    main()
