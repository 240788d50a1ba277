"""kerasdl's folder: source against keras.utils.image_dataset_from_directory (issue #13).

A folder of N generated PNGs (default 10,000, 32x32 RGB, 10 classes) is read by both, batch 64:

* first epoch: from nothing to the last batch, the loader's set-up included (kerasdl checks every
  file's header, splits, decodes and caches; Keras lists the files and decodes);
* second epoch: from the cache (``.cache()`` on Keras's dataset, as its docs advise).

kerasdl reshuffles every epoch (the order is a function of (seed, epoch)); Keras's batched,
cached dataset replays one order. So a third loader is Keras's decoding with the per-epoch
shuffle a user adds for that: ``image_dataset_from_directory(batch_size=None).cache()
.shuffle(N).batch(64)`` ("keras+shuffle").

Images/s per epoch, median over ``--rounds`` rounds (fresh loaders each round; the operating
system's file cache is warm after the first), and the ratio kerasdl / Keras with its range.

    python bench/folder_source.py [--images 10000] [--rounds 5]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def make_folder(root: Path, images: int, classes: int = 10, size: int = 32) -> Path:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for index in range(images):
        folder = root / f"class{index % classes}"
        folder.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{index:05d}.png")
    return root


def time_epochs(make_dataset) -> tuple[float, float]:
    """Seconds for (set-up + first epoch, second epoch)."""
    started = time.perf_counter()
    dataset = make_dataset()
    for _ in dataset:
        pass
    first = time.perf_counter() - started
    started = time.perf_counter()
    for _ in dataset:
        pass
    return first, time.perf_counter() - started


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    from kerasdl.quiet import import_tensorflow

    import_tensorflow()
    import keras

    from kerasdl.config import Data
    from kerasdl.data import load_data

    with tempfile.TemporaryDirectory() as scratch:
        root = make_folder(Path(scratch) / "images", args.images)
        # every image is training data for both: a split carved off would differ in size
        cfg = Data(name=f"folder:{root}", batch_size=64, validation_fraction=0.0,
                   test_fraction=0.01, rescale=None)
        train_count = None

        def ours():
            nonlocal train_count
            bundle = load_data(cfg, "sparse", log=lambda line: None)
            train_count = bundle.counts["train"]
            return bundle.train

        def keras_loader():
            return keras.utils.image_dataset_from_directory(
                root, batch_size=64, image_size=(32, 32), shuffle=True, seed=0,
                verbose=False).cache()

        def keras_reshuffled():
            return keras.utils.image_dataset_from_directory(
                root, batch_size=None, image_size=(32, 32), shuffle=False, verbose=False
            ).cache().shuffle(args.images, seed=0).batch(64)

        loaders = [("kerasdl", ours), ("keras", keras_loader), ("keras+shuffle", keras_reshuffled)]
        results = {name: [] for name, _ in loaders}
        for round_index in range(args.rounds):
            for name, make in loaders[round_index % 3:] + loaders[:round_index % 3]:
                results[name].append(time_epochs(make))
    for epoch in (0, 1):
        rates = {name: [(train_count if name == "kerasdl" else args.images) / r[epoch]
                        for r in rounds] for name, rounds in results.items()}
        line = [f"epoch {epoch + 1}{' (set-up included)' if epoch == 0 else ' (cached)'}: "
                f"kerasdl {statistics.median(rates['kerasdl']):,.0f} images/s"]
        for other in ("keras", "keras+shuffle"):
            ratios = sorted(a / b for a, b in zip(rates["kerasdl"], rates[other]))
            line.append(f"{other} {statistics.median(rates[other]):,.0f} images/s (kerasdl/"
                        f"{other} median {statistics.median(ratios):.2f}, range "
                        f"{ratios[0]:.2f}-{ratios[-1]:.2f})")
        print(", ".join(line) + f" [{args.rounds} rounds, {args.images:,} images, batch 64, "
              f"{os.cpu_count()} CPUs]")


if __name__ == "__main__":
    main(sys.argv[1:])
