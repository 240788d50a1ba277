"""Why one device runs under ``tf.device`` and not a ``tf.distribute.OneDeviceStrategy``.

Run from the repository root:
    python bench/strategy_overhead.py [--epochs 5] [--rounds 3]

Fits the LeNet-5 experiment's model and pipeline (kerasdl's defaults) three ways, alternating
round by round: under kerasdl's device scope (tf.device), under a OneDeviceStrategy on the same
device, and with no placement at all. Keras runs every step of a strategy through its distributed
code path (per-replica values, a distributed dataset), which costs a lot on small models.
"""
from __future__ import annotations

import argparse
import contextlib
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from kerasdl.experiment import load_experiment  # noqa: E402
from kerasdl.runner import build_model, compile_model, prepare  # noqa: E402

from lenet5_vs_seed import SAME_AS_SEED  # noqa: E402
from timing import EpochClock, alternate, print_sides, print_speedup  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    experiment = load_experiment("experiments/lenet5.py", overrides=SAME_AS_SEED)
    prepared = prepare(experiment, log=lambda line: None)
    device = prepared.devices.plan.devices[0]

    def fit(scope) -> list[float]:
        with scope:
            model = build_model(experiment, prepared.data)
            compile_model(experiment, model, prepared.data, prepared.devices)
            clock = EpochClock()
            model.fit(prepared.data.train, epochs=args.epochs, callbacks=[clock], verbose=0,
                      shuffle=False)
        return clock.steady_times

    times = alternate(args.rounds, {
        "tf.device (kerasdl)": lambda: fit(prepared.devices.scope()),
        "OneDeviceStrategy": lambda: fit(tf.distribute.OneDeviceStrategy(device).scope()),
        "no placement": lambda: fit(contextlib.nullcontext()),
    })
    print_sides(times)
    print_speedup("tf.device vs OneDeviceStrategy:", times, "OneDeviceStrategy",
                  "tf.device (kerasdl)")


if __name__ == "__main__":
    main()
