"""Benchmark 3 of issue #8: kerasdl's input pipeline against in-memory tensors for the same model
(target: throughput ratio >= 0.95).

Run from the repository root:
    python bench/input_pipeline.py [--epochs 6] [--rounds 3]

kerasdl's side is the LeNet-5 experiment's training pipeline (embedded MNIST through the same
tf.data path as TFDS data: map, cache, per-epoch seeded shuffle, batch, prefetch). The other side
feeds the same preprocessed images as tensors already in memory (from_tensor_slices + batch). Both
fit the same compiled model; rounds alternate; the first epoch (tracing) is left out.
"""
from __future__ import annotations

import argparse
import os
import statistics

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from kerasdl.experiment import load_experiment  # noqa: E402
from kerasdl.runner import prepare  # noqa: E402

from runner_overhead import EpochClock  # noqa: E402


def seconds_per_epoch(model, dataset, epochs: int) -> float:
    clock = EpochClock()
    model.fit(dataset, epochs=epochs, callbacks=[clock], verbose=0, shuffle=False)
    return statistics.median(clock.times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    experiment = load_experiment("experiments/lenet5.py", overrides={
        "data.source": "embedded", "trainer.verbose": 0, "data.augment": ()})
    prepared = prepare(experiment, log=lambda line: None)
    x, y = map(np.concatenate, zip(*[(a.numpy(), b.numpy()) for a, b in prepared.data.train]))
    in_memory = tf.data.Dataset.from_tensor_slices((x, y)).batch(experiment.data.batch_size)
    pipeline, memory = [], []
    for _ in range(args.rounds):
        memory.append(seconds_per_epoch(prepared.model, in_memory, args.epochs))
        pipeline.append(seconds_per_epoch(prepared.model, prepared.data.train, args.epochs))
    m, p = statistics.median(memory), statistics.median(pipeline)
    print(f"in-memory tensors     {m:.3f} s/epoch")
    print(f"kerasdl pipeline      {p:.3f} s/epoch")
    print(f"throughput ratio      {m / p:.3f} (pipeline / in-memory; target >= 0.95)")


if __name__ == "__main__":
    main()
