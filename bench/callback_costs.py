"""What each of kerasdl's callbacks costs, hook by hook (the detail behind bench/runner_overhead.py).

Run from the repository root:
    python bench/callback_costs.py [--epochs 8]

Fits the LeNet-5 experiment with validation and kerasdl's default callbacks, timing every call of
each callback's epoch and batch hooks; prints the median per call (the first epoch left out) and
the number of calls. The best checkpoint writes only in epochs that improve the monitored value.
"""
from __future__ import annotations

import argparse
import collections
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from kerasdl.callbacks import build_callbacks  # noqa: E402
from kerasdl.experiment import load_experiment  # noqa: E402
from kerasdl.runner import prepare  # noqa: E402

HOOKS = ("on_epoch_begin", "on_epoch_end", "on_train_batch_end", "on_test_end")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()
    experiment = load_experiment("experiments/lenet5.py", overrides={
        "data.source": "embedded", "trainer.verbose": 0, "callbacks.early_stopping.patience": 100})
    prepared = prepare(experiment, log=lambda line: None)
    callbacks = build_callbacks(experiment, Path(tempfile.mkdtemp(prefix="kerasdl-bench-")),
                                prepared.data).callbacks
    costs: dict[str, list[float]] = collections.defaultdict(list)
    for callback in callbacks:
        for hook in HOOKS:
            def timed(*args, _hook=getattr(callback, hook),
                      _name=f"{type(callback).__name__}.{hook}", **kwargs):
                start = time.perf_counter()
                result = _hook(*args, **kwargs)
                costs[_name].append(time.perf_counter() - start)
                return result
            setattr(callback, hook, timed)
    with prepared.devices.scope():
        prepared.model.fit(prepared.data.train, validation_data=prepared.data.validation,
                           epochs=args.epochs, callbacks=callbacks, verbose=0, shuffle=False)
    rows = sorted(((statistics.median(times[1:] or times), name, len(times))
                   for name, times in costs.items()), reverse=True)
    for median, name, calls in rows:
        if median >= 1e-4:
            print(f"{name:<40} {1000 * median:7.2f} ms per call   ({calls} calls)")


if __name__ == "__main__":
    main()
