"""The Splits that every source returns; class folders; seeded test splits for data without one."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from kerasdl.errors import DataError


@dataclass
class Splits:
    """The unbatched splits that a source gives the pipeline, and what the run records about them.

    Every source returns one: local data (:mod:`kerasdl.data.local`), TFDS
    (:mod:`kerasdl.data.tfds_source`) and the embedded datasets (:mod:`kerasdl.data.embedded`).
    ``train``, ``test`` and ``validation`` are tf.data Datasets of ``(features, label)``, except an
    embedded dataset's, which are ``(features, labels)`` pairs of arrays (:meth:`from_arrays`,
    read as ``x_train`` ... ``y_test``), sliced into Datasets by the pipeline.
    """

    train: "object"
    test: "object"
    num_classes: Optional[int]              # None for a numeric target
    description: str                        # exactly what was loaded
    source: str = ""                        # "tfds", "embedded", or a local scheme ("folder", ...)
    class_names: Optional[tuple[str, ...]] = None   # None: a class id is its own name
    validation: Optional["object"] = None   # given by the data (a validation/ folder), else carved
    #: csv: (mean, variance) of the training features, for a Normalization layer in the model
    normalization: Optional[tuple[np.ndarray, np.ndarray]] = None
    feature_columns: Optional[tuple[str, ...]] = None     # csv: the features, in model order
    vocabularies: Optional[object] = None   # translation: kerasdl.data.translation.Vocabularies

    @classmethod
    def from_arrays(cls, x_train, y_train, x_test, y_test, num_classes: Optional[int],
                    description: str, class_names: Optional[tuple[str, ...]] = None,
                    vocabularies: Optional[object] = None) -> "Splits":
        """An embedded dataset's splits, held as arrays (features may be a tuple of arrays)."""
        return cls((x_train, y_train), (x_test, y_test), num_classes, description, "embedded",
                   class_names, vocabularies=vocabularies)

    def arrays(self, split: str) -> tuple:
        """``(features, labels)`` of ``split`` ("train" or "test") of splits made by from_arrays."""
        pair = getattr(self, split)
        if not isinstance(pair, tuple):
            raise TypeError(f"the {split} split of {self.description!r} is a tf.data Dataset, not "
                            "arrays (only Splits.from_arrays holds arrays); iterate "
                            f"splits.{split} instead")
        return pair

    x_train = property(lambda self: self.arrays("train")[0], doc="embedded: training features")
    y_train = property(lambda self: self.arrays("train")[1], doc="embedded: training labels")
    x_test = property(lambda self: self.arrays("test")[0], doc="embedded: test features")
    y_test = property(lambda self: self.arrays("test")[1], doc="embedded: test labels")


def class_folders(root: Path) -> list[Path]:
    """The class subfolders of ``root``, sorted (hidden ones skipped); refuses a root with none."""
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise DataError(f"{root} holds no class folders; put each class's images in a subfolder "
                        f"named after the class ({root}/cat/001.jpg, {root}/dog/001.jpg, ...)")
    return folders


def refuse_unknown_classes(root: Path, class_names: Sequence[str], who: str, fix: str) -> None:
    """Refuse class folders under ``root`` that are not among ``class_names``.

    ``who`` completes "class folders that ..." (e.g. "the model does not know"); ``fix`` says what
    to do instead. Used for a test/ or validation/ folder beside train/, and by ``evaluate``.
    """
    extra = sorted({p.name for p in class_folders(root)} - set(class_names))
    if extra:
        raise DataError(f"{root} has class folders that {who}: {', '.join(extra)}; {fix}")


def stratified_index(labels: np.ndarray, fraction: float, seed: int, where: Path,
                     names: Optional[Sequence[str]] = None):
    """(train, test) indices: ``fraction`` of each class to test, seeded; both shuffled.

    ``names``: the class names, for the messages (default: the class ids). Raises a DataError
    where a stratified split cannot be made: a class with fewer than 2 examples, or more classes
    than the test (or train) split has examples.
    """
    from sklearn.model_selection import train_test_split

    counts = np.bincount(labels) if len(labels) else np.zeros(0, int)
    present = np.where(counts > 0, counts, np.iinfo(np.int64).max)     # absent classes aside
    if len(counts) and present.min() < 2:
        rare = int(present.argmin())
        name = f"'{names[rare]}'" if names is not None and rare < len(names) else str(rare)
        raise DataError(f"{where}: class {name} has {int(counts[rare])} example(s);"
                        " a stratified test split needs at least 2 per class (add examples, or "
                        "give a test split: a test/ folder, or x_test/y_test arrays)")
    classes, count = int(np.count_nonzero(counts)), len(labels)
    n_test = math.ceil(fraction * count)            # as train_test_split rounds
    if n_test < classes or count - n_test < classes:
        # the smallest (largest) fraction that leaves one example of each class to test (train)
        bound = (f"raise data.test_fraction to at least {math.ceil(100 * classes / count) / 100}"
                 if n_test < classes else
                 f"lower data.test_fraction to at most {math.floor(100 * (1 - classes / count)) / 100}")
        raise DataError(f"{where}: {classes} classes but a {fraction:.0%} test split of {count} "
                        f"examples holds {n_test} (train {count - n_test}); a stratified split "
                        f"needs one example of each class on each side: {bound}, add examples, or "
                        "give a test split (a test/ folder, or x_test/y_test arrays)")
    return train_test_split(np.arange(len(labels)), test_size=fraction, stratify=labels,
                            random_state=seed)


def carved_test_split(cfg, stratified: bool = True) -> str:
    """How the test split was cut from data without one, for the data's description."""
    return (f"{'a stratified ' if stratified else 'a '}{cfg.test_fraction:.0%} test split "
            f"(data.test_fraction, data.split_seed={cfg.split_seed})")


def plain_split(count: int, cfg):
    """(train, test) indices of a seeded, unstratified ``data.test_fraction`` split."""
    if count < 2:
        raise DataError(f"data.name='{cfg.name}' holds {count} example; a test split cut from it "
                        "needs at least 2 (add examples, or give a test split)")
    order = np.random.default_rng(cfg.split_seed).permutation(count)
    n_test = max(1, int(round(count * cfg.test_fraction)))
    return order[n_test:], order[:n_test]


def stratified_order(labels: np.ndarray, seed: int) -> np.ndarray:
    """A seeded order of ``labels``' indices in which every prefix holds each class in proportion.

    ``data.test_limit`` and ``--smoke`` take the first N examples of a split: in this order they
    keep every class (as long as N is at least the number of classes) instead of the first
    classes of a class-sorted folder. One example of each class comes first; after them each
    example's key is (its rank within its class, shuffled, plus a random offset) divided by its
    class's size, so sorting by it interleaves the classes in proportion.
    """
    labels = np.asarray(labels).reshape(-1)
    rng = np.random.default_rng(seed)
    keys = np.empty(len(labels), np.float64)
    for value in np.unique(labels):
        members = np.flatnonzero(labels == value)
        ranks = rng.permutation(len(members))
        keys[members] = (ranks + rng.random(len(members))) / len(members)
        keys[members[ranks == 0]] -= 1.0           # one of each class before all the others
    return np.argsort(keys, kind="stable")
