"""Benchmark 1 of issue #8: the LeNet-5 experiment with kerasdl's defaults against a plain Keras
script written the way the seeds do it (numpy arrays in model.fit, batch 32, no pipeline tuning),
on the same data (the embedded MNIST split the experiment uses) for the same epochs.

Run from the repository root (a few minutes on 2 CPU cores):
    python bench/lenet5_vs_seed.py [--epochs 5] [--rounds 3] [--variants]

The two sides alternate round by round, round r with seed r on both. Prints every side's seconds
per training epoch (median and fastest of all epochs but each fit's first; validation excluded),
test accuracy, and the speed-up: the median of the rounds' ratios (target >= 1.3x at no lower
accuracy). `--set KEY=VALUE` changes kerasdl's side, to try other defaults. --variants adds sides
that change one knob each (batch size, steps_per_execution, jit_compile, cache), which is how the
defaults were chosen.
"""
from __future__ import annotations

import argparse
import itertools
import os
import statistics

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kerasdl  # noqa: E402
from kerasdl.experiment import load_experiment  # noqa: E402

from timing import EpochClock, alternate, describe, print_speedup  # noqa: E402

#: what the comparison leaves out of the experiment: the seed script has no augmentation, no
#: early stopping or LR schedule (same epochs for both), and a benchmark publishes nothing
SAME_AS_SEED = {"data.source": "embedded", "trainer.verbose": 0, "data.augment": (),
                "trainer.lr_schedule": "constant",
                "callbacks.early_stopping.enabled": False, "callbacks.reduce_lr.enabled": False,
                "output.publish": "never", "output.runs_dir": "/tmp/kerasdl-bench-runs"}


def seed_style(x_train, y_train, x_test, y_test, epochs: int, seed: int,
               accuracies: list) -> list[float]:
    """What a seed script does: a Sequential model, numpy arrays, fit(batch_size=32)."""
    model = seed_style_model(seed)
    clock = EpochClock()
    model.fit(x_train, y_train, batch_size=32, epochs=epochs, callbacks=[clock], verbose=0)
    accuracies.append(model.evaluate(x_test, y_test, verbose=0)[1])
    return clock.steady_times


def seed_style_model(seed: int):
    """The seed script's LeNet-5: a Sequential model, tanh, average pooling, SGD 0.05 with
    momentum, compiled; weights drawn from ``seed``."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((32, 32, 1)),
        keras.layers.Conv2D(6, 5, activation="tanh"), keras.layers.AveragePooling2D(2),
        keras.layers.Conv2D(16, 5, activation="tanh"), keras.layers.AveragePooling2D(2),
        keras.layers.Conv2D(120, 5, activation="tanh"), keras.layers.Flatten(),
        keras.layers.Dense(84, activation="tanh"), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def embedded_arrays(with_validation: bool = False):
    """The experiment's training examples (validation carved off) and test set, as numpy:
    ``(x_train, y_train, x_test, y_test)``, then ``x_val, y_val`` (the carved 10%) if
    ``with_validation``."""
    from kerasdl.data.embedded import load_mnist

    splits = load_mnist(0)
    pad = lambda x: np.pad(x.astype("float32") / 255, ((0, 0), (2, 2), (2, 2), (0, 0)))  # noqa
    n_train = len(splits.x_train) - round(0.1 * len(splits.x_train))
    arrays = (pad(splits.x_train[:n_train]), splits.y_train[:n_train], pad(splits.x_test),
              splits.y_test)
    if with_validation:
        arrays += (pad(splits.x_train[n_train:]), splits.y_train[n_train:])
    return arrays


def kerasdl_run(epochs: int, seed: int, accuracies: list, settings=()) -> list[float]:
    """The experiment through kerasdl.run, with every default callback (and ``settings``, such
    as ``["data.batch_size=64"]``, to try other defaults)."""
    from kerasdl.config import parse_overrides

    experiment = load_experiment("experiments/lenet5.py", overrides={
        **SAME_AS_SEED, "trainer.epochs": epochs, "trainer.seed": seed,
        **parse_overrides(settings)})
    result = kerasdl.run(experiment, log=lambda line: None)
    accuracies.append(result.test_metrics["accuracy"])
    return result.throughput["epoch_times_s"][1:]


#: one knob changed each, against kerasdl's defaults (batch 64 at learning rate 0.06)
VARIANTS = {
    "batch 32, lr 0.03": ["data.batch_size=32", "trainer.learning_rate=0.03"],
    "batch 128, lr 0.12": ["data.batch_size=128", "trainer.learning_rate=0.12"],
    "steps_per_execution=1": ["trainer.steps_per_execution=1"],
    "steps_per_execution=8": ["trainer.steps_per_execution=8"],
    "jit_compile=True": ["trainer.jit_compile=True"],
    "cache=False": ["data.cache=False"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", action="store_true")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting for kerasdl's side, as with `kerasdl run --set`")
    args = parser.parse_args()
    arrays = embedded_arrays()
    kerasdl_sides = {"kerasdl defaults": args.set, **(VARIANTS if args.variants else {})}
    accuracies = {name: [] for name in ["seed-style script", *kerasdl_sides]}
    seeds = {name: itertools.count() for name in accuracies}       # round r: seed r, every side

    def kerasdl_side(name):
        return lambda: kerasdl_run(args.epochs, next(seeds[name]), accuracies[name],
                                   kerasdl_sides[name])

    times = alternate(args.rounds, {
        "seed-style script": lambda: seed_style(*arrays, args.epochs,
                                                next(seeds["seed-style script"]),
                                                accuracies["seed-style script"]),
        **{name: kerasdl_side(name) for name in kerasdl_sides}})
    for name, side_times in times.items():
        print(f"{describe(name, side_times)}, test accuracy "
              f"{statistics.mean(accuracies[name]):.4f} (seeds 0-{args.rounds - 1}: "
              f"{', '.join(f'{a:.3f}' for a in accuracies[name])})")
    for name in kerasdl_sides:
        print_speedup(f"speed-up of {name}:", times, "seed-style script", name,
                      note="; target >= 1.3x" if name == "kerasdl defaults" else "")


if __name__ == "__main__":
    main()
