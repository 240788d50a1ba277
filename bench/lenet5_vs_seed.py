"""Benchmark 1 of issue #8: the LeNet-5 experiment with kerasdl's defaults against a plain Keras
script written the way the seeds do it (numpy arrays in model.fit, batch 32, no pipeline tuning),
on the same data (the embedded MNIST split the experiment uses) for the same epochs.

Run from the repository root (a few minutes on 2 CPU cores):
    python bench/lenet5_vs_seed.py [--epochs 5] [--variants]

Prints seconds per training epoch (median of epochs 2..N, validation excluded) and test accuracy
of each, and the speed ratio. --variants also times kerasdl's knobs one at a time
(steps_per_execution, jit_compile, cache), which is how the defaults were chosen.
"""
from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kerasdl  # noqa: E402
from kerasdl.bench import measure_throughput  # noqa: E402
from kerasdl.experiment import load_experiment  # noqa: E402

from runner_overhead import EpochClock  # noqa: E402


def seed_style(x_train, y_train, x_test, y_test, epochs: int) -> tuple[float, float]:
    """What a seed script does: a Sequential model, numpy arrays, fit(batch_size=32)."""
    keras.utils.set_random_seed(42)
    model = keras.Sequential([
        keras.Input((32, 32, 1)),
        keras.layers.Conv2D(6, 5, activation="tanh"), keras.layers.AveragePooling2D(2),
        keras.layers.Conv2D(16, 5, activation="tanh"), keras.layers.AveragePooling2D(2),
        keras.layers.Conv2D(120, 5, activation="tanh"), keras.layers.Flatten(),
        keras.layers.Dense(84, activation="tanh"), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    timer = EpochClock()
    model.fit(x_train, y_train, batch_size=32, epochs=epochs, callbacks=[timer], verbose=0)
    accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
    return float(np.median(timer.times[1:])), float(accuracy)


def embedded_arrays():
    """The experiment's training examples (validation carved off) and test set, as numpy."""
    from kerasdl.data.embedded import load_mnist

    splits = load_mnist(0)
    pad = lambda x: np.pad(x.astype("float32") / 255, ((0, 0), (2, 2), (2, 2), (0, 0)))  # noqa
    n_train = len(splits.x_train) - round(0.1 * len(splits.x_train))
    return (pad(splits.x_train[:n_train]), splits.y_train[:n_train], pad(splits.x_test),
            splits.y_test)


def kerasdl_run(epochs: int, overrides: dict) -> tuple[float, float]:
    """The experiment through kerasdl.run (all default callbacks), no augmentation (the seed
    script has none), no early stopping (same epochs)."""
    experiment = load_experiment("experiments/lenet5.py", overrides={
        "data.source": "embedded", "trainer.epochs": epochs, "trainer.verbose": 0,
        "data.augment": (), "callbacks.early_stopping.enabled": False,
        "callbacks.reduce_lr.enabled": False, "output.publish": "never",
        "output.runs_dir": "/tmp/kerasdl-bench-runs", **overrides})
    result = kerasdl.run(experiment, log=lambda line: None)
    return result.throughput["epoch_time_s"], result.test_metrics["accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--variants", action="store_true")
    args = parser.parse_args()
    arrays = embedded_arrays()
    seed_time, seed_accuracy = seed_style(*arrays, epochs=args.epochs)
    print(f"seed-style script   {seed_time:.3f} s/epoch   test accuracy {seed_accuracy:.4f}")
    ours_time, ours_accuracy = kerasdl_run(args.epochs, {})
    print(f"kerasdl defaults    {ours_time:.3f} s/epoch   test accuracy {ours_accuracy:.4f}")
    print(f"speed-up            {seed_time / ours_time:.2f}x per epoch (target >= 1.3x)")
    if args.variants:
        for label, overrides in [
            ("steps_per_execution=1", {"trainer.steps_per_execution": 1}),
            ("steps_per_execution=8", {"trainer.steps_per_execution": 8}),
            ("steps_per_execution=32", {"trainer.steps_per_execution": 32}),
            ("jit_compile=False", {"trainer.jit_compile": False}),
            ("jit_compile=True", {"trainer.jit_compile": True}),
            ("cache=False", {"data.cache": False}),
        ]:
            experiment = load_experiment("experiments/lenet5.py", overrides={
                "data.source": "embedded", "trainer.verbose": 0, "data.augment": (), **overrides})
            summary = measure_throughput(experiment, epochs=args.epochs, log=lambda line: None)
            print(f"  {label:<24} {summary['epoch_time_s']:.3f} s/epoch "
                  f"({seed_time / summary['epoch_time_s']:.2f}x the seed script)")


if __name__ == "__main__":
    main()
