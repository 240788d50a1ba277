"""Benchmark 3 of issue #8: kerasdl's input pipeline against in-memory tensors for the same model
(target: throughput ratio >= 0.95).

Run from the repository root:
    python bench/input_pipeline.py [--epochs 6] [--rounds 3]

kerasdl's side is the LeNet-5 experiment's training pipeline (embedded MNIST through the same
tf.data path as TFDS data: map, cache, a fresh seeded shuffle every epoch, batch, prefetch). It
runs against the same preprocessed images held as tensors in memory, fed two ways: as a user
would, ``model.fit(x, y, batch_size=...)`` (Keras shuffles them every epoch), which is the target's
baseline; and, for reference, ``from_tensor_slices((x, y)).batch(...)`` in a fixed order, the
cheapest feed there is. All fit the same compiled model; rounds alternate; the first epoch of each
fit (tracing) is left out.
"""
from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from kerasdl.experiment import load_experiment  # noqa: E402
from kerasdl.runner import prepare  # noqa: E402

from timing import EpochClock, alternate, print_sides, print_speedup  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    experiment = load_experiment("experiments/lenet5.py", overrides={
        "data.source": "embedded", "trainer.verbose": 0, "data.augment": ()})
    prepared = prepare(experiment, log=lambda line: None)
    x, y = map(np.concatenate, zip(*[(a.numpy(), b.numpy()) for a, b in prepared.data.train]))
    x, y = tf.constant(x), tf.constant(y)
    batch_size = experiment.data.batch_size
    fixed_order = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)

    def epoch_times(*data, **fit_kwargs) -> list[float]:
        clock = EpochClock()
        with prepared.devices.scope():
            prepared.model.fit(*data, epochs=args.epochs, callbacks=[clock], verbose=0,
                               **fit_kwargs)
        return clock.steady_times

    times = alternate(args.rounds, {
        "fit(x, y) tensors": lambda: epoch_times(x, y, batch_size=batch_size, shuffle=True),
        "kerasdl pipeline": lambda: epoch_times(prepared.data.train, shuffle=False),
        "fixed-order tensors": lambda: epoch_times(fixed_order, shuffle=False)})
    print_sides(times)
    for baseline, note in (("fit(x, y) tensors", "; target >= 0.95"),
                           ("fixed-order tensors", "; for reference: no shuffling at all")):
        print_speedup(f"pipeline / {baseline}:", times, baseline, "kerasdl pipeline", note=note,
                      digits=3)

if __name__ == "__main__":
    main()
