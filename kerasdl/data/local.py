"""The user's own data: ``data.name`` with a scheme names local files instead of a TFDS dataset.

* ``folder:PATH``: images (jpg, png, bmp, gif) in one subfolder per class, the class names being
  the subfolder names (sorted, as ``keras.utils.image_dataset_from_directory`` orders them).
  If ``PATH`` holds ``train/`` (and optionally ``test/``, ``validation/``) subfolders, those are
  the splits; otherwise the test split is carved from ``PATH``: a seeded, stratified
  ``data.test_fraction`` (default 0.2) of each class, drawn with ``data.split_seed``.
* ``npz:PATH``: arrays under ``x_train, y_train, x_test, y_test``, or ``x, y`` (split as above);
  an optional ``class_names`` array names the classes.
* ``textfolder:PATH``: text files in one subfolder per class (read by
  ``keras.utils.text_dataset_from_directory``), split like ``folder:``; raw strings, for the text
  classifiers, whose vectorizer learns its vocabulary from the training split.
* ``csv:PATH``: one row per example with a header; ``data.label_column`` names the label, every
  other column is a numeric feature. Labels that are text or whole numbers are classes (sorted);
  other numbers are a regression target. Features are normalized by a
  ``keras.layers.Normalization`` inside the model, with the mean and variance of the examples
  that train (validation and test rows left out), so the saved model takes raw rows.

Files are checked before any training: a missing path, an empty class folder, a file with an
image extension that is not an image, images of mixed sizes without ``data.image_size``, an
``.npz`` with missing keys or mismatched lengths each fail with one line naming the file and the
fix. Files without an image extension (``.txt`` notes, ``Thumbs.db``) are skipped, and the run
says how many.

Everything then goes through the pipeline TFDS data takes (:mod:`kerasdl.data.pipeline`): the
validation carve, the per-(seed, epoch) order, augmentation, cache and prefetch. Images are
decoded by TensorFlow (``tf.io.decode_image``) into uint8 ``(H, W, C)``, as TFDS gives them; C is
``data.channels`` where set, else 1 when every image is grey and 3 otherwise.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from kerasdl.data.splits import LocalSplits, carved_test_split, class_folders, plain_split, stratified_index
from kerasdl.errors import DataError

SCHEMES = ("folder", "npz", "csv", "textfolder")
NPZ_KEYS = (("x_train", "y_train", "x_test", "y_test"), ("x", "y"))


def local_source(name: str) -> Optional[tuple[str, Path]]:
    """``(scheme, path)`` if ``name`` names local data (``folder:PATH``...), else None."""
    scheme, separator, path = name.partition(":")
    if separator and scheme in SCHEMES:
        if not path:
            raise DataError(f"data.name='{name}' gives no path; write {scheme}:PATH")
        return scheme, Path(path).expanduser()
    return None


def load_local(scheme: str, path: Path, cfg, log: Callable[[str], None] = print) -> LocalSplits:
    """Load ``path`` as the ``scheme`` source describes, checking it first."""
    if not path.exists():
        raise DataError(f"data.name='{scheme}:{path}': no such {'folder' if scheme == 'folder' else 'file'}"
                        f" {path}; check the path (relative paths start at {Path.cwd()})")
    from kerasdl.data.folders import load_folder

    loaders = {"folder": load_folder, "npz": _load_npz, "csv": _load_csv,
               "textfolder": _load_textfolder}
    return loaders[scheme](path, cfg, log)


# --- arrays ----------------------------------------------------------------------------------

def _load_npz(path: Path, cfg, log) -> LocalSplits:
    import tensorflow as tf

    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError) as error:
        raise DataError(f"{path} is not a readable .npz file ({error}); write it with "
                        "numpy.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)") from None
    keys = next((keys for keys in NPZ_KEYS if all(k in arrays for k in keys)), None)
    if keys is None:
        raise DataError(f"{path} holds arrays {sorted(arrays) or 'none'}; expected x_train, y_train, "
                        "x_test, y_test (or x, y, split with data.test_fraction)")
    for x_key, y_key in zip(keys[::2], keys[1::2]):
        if len(arrays[x_key]) != len(arrays[y_key]):
            raise DataError(f"{path}: {x_key} has {len(arrays[x_key])} rows but {y_key} has "
                            f"{len(arrays[y_key])}; features and labels must pair up one to one")
    if keys == ("x", "y"):
        x, y = arrays["x"], arrays["y"]
        classes = np.issubdtype(y.dtype, np.integer)
        train, test = (stratified_index(y, cfg.test_fraction, cfg.split_seed, path) if classes
                       else plain_split(len(y), cfg))
        x_train, y_train, x_test, y_test = x[train], y[train], x[test], y[test]
        how = carved_test_split(cfg, stratified=classes)
    else:
        x_train, y_train, x_test, y_test = (arrays[k] for k in keys)
        how = "its own train/test arrays"
    names = tuple(str(n) for n in arrays["class_names"]) if "class_names" in arrays else None
    integer = np.issubdtype(y_train.dtype, np.integer) and y_train.ndim == 1
    num_classes = (len(names) if names else int(max(y_train.max(), y_test.max())) + 1
                   ) if integer else None
    return LocalSplits(
        tf.data.Dataset.from_tensor_slices((x_train, y_train.astype(np.int64) if integer else y_train)),
        tf.data.Dataset.from_tensor_slices((x_test, y_test.astype(np.int64) if integer else y_test)),
        None, num_classes, names,
        f"arrays {path}: x {x_train.shape[1:]} {x_train.dtype}, {len(x_train)} train / "
        f"{len(x_test)} test, {how}")


# --- CSV -------------------------------------------------------------------------------------

def read_csv_features(path: Path, columns: Optional[Sequence[str]] = None, label: Optional[str] = None
                      ) -> tuple[tuple[str, ...], np.ndarray, list[str]]:
    """(feature columns, float32 features, raw label values) of a CSV file with a header.

    ``columns``: the feature columns to read, in this order (default: all but ``label``); every
    value must be a number, else a one-line error names the file, line and column."""
    import csv

    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows or not rows[0]:
        raise DataError(f"{path} is empty; a CSV needs a header row naming its columns")
    header, body = [name.strip() for name in rows[0]], [row for row in rows[1:] if row]
    if label is not None and label not in header:
        from kerasdl.errors import did_you_mean

        raise DataError(f"{path} has no column '{label}' (data.label_column){did_you_mean(label, header)}"
                        f"; its columns: {', '.join(header)}")
    wanted = tuple(columns) if columns is not None else tuple(c for c in header if c != label)
    missing = [c for c in wanted if c not in header]
    if missing:
        raise DataError(f"{path} lacks the column(s) {', '.join(missing)} that the model was "
                        f"trained on; its columns: {', '.join(header)}")
    index = [header.index(c) for c in wanted]
    features = np.empty((len(body), len(wanted)), np.float32)
    for line, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise DataError(f"{path} line {line} has {len(row)} values but the header has "
                            f"{len(header)} columns")
        for j, i in enumerate(index):
            try:
                features[line - 2, j] = float(row[i])
            except ValueError:
                raise DataError(f"{path} line {line}, column '{wanted[j]}': {row[i]!r} is not a "
                                "number; features must be numeric (encode categories as numbers, "
                                "or drop the column)") from None
    labels = [row[header.index(label)].strip() for row in body] if label is not None else []
    return wanted, features, labels


def _load_csv(path: Path, cfg, log) -> LocalSplits:
    import tensorflow as tf

    if cfg.label_column is None:
        raise DataError(f"data.name='csv:{path}' needs data.label_column, the column holding the "
                        "label: --set data.label_column=NAME")
    columns, x, raw = read_csv_features(path, label=cfg.label_column)
    if not len(x):
        raise DataError(f"{path} has a header but no rows")
    try:
        numbers = np.asarray(raw, dtype=np.float64)
    except ValueError:
        numbers = None
    if numbers is not None and not np.all(numbers == np.round(numbers)):
        y, names, num_classes = numbers.astype(np.float32), None, None       # regression
        train, test = plain_split(len(y), cfg)
    else:
        values = sorted(set(raw), key=float) if numbers is not None else sorted(set(raw))
        names, num_classes = tuple(values), len(values)
        y = np.asarray([values.index(v) for v in raw], dtype=np.int64)
        train, test = stratified_index(y, cfg.test_fraction, cfg.split_seed, path)
    # the pipeline trains on the first n - round(n * validation_fraction) training rows
    n_fit = len(train) - int(round(len(train) * cfg.validation_fraction))
    fitted = x[train][:max(n_fit, 1)]
    normalization = (fitted.mean(axis=0), fitted.var(axis=0))
    kind = f"{num_classes} classes" if num_classes else "a numeric target"
    return LocalSplits(
        tf.data.Dataset.from_tensor_slices((x[train], y[train])),
        tf.data.Dataset.from_tensor_slices((x[test], y[test])), None, num_classes, names,
        f"CSV {path}: {len(columns)} numeric features, label '{cfg.label_column}' ({kind}), "
        f"{len(train)} train / {len(test)} test rows, "
        f"{carved_test_split(cfg, stratified=bool(num_classes))}",
        normalization=normalization, feature_columns=columns)


# --- text folders ----------------------------------------------------------------------------

def _read_texts(root: Path, class_names: Optional[tuple[str, ...]] = None):
    """(texts, labels, class names) of ``root/<class>/*.txt``, read by Keras's own loader."""
    import keras

    class_names = class_names or tuple(p.name for p in class_folders(root))
    for name in class_names:
        if (root / name).is_dir() and not any((root / name).glob("**/*.txt")):
            raise DataError(f"class folder {root / name} holds no .txt files; add text files or "
                            "remove the folder")
    dataset = keras.utils.text_dataset_from_directory(
        root, batch_size=None, shuffle=False, class_names=list(class_names), verbose=False)
    pairs = list(dataset.as_numpy_iterator())
    texts = np.array([text.decode("utf-8", errors="replace") for text, _ in pairs], dtype=object)
    return texts, np.array([label for _, label in pairs], dtype=np.int64), class_names


def _load_textfolder(path: Path, cfg, log) -> LocalSplits:
    import tensorflow as tf

    if not path.is_dir():
        raise DataError(f"data.name='textfolder:{path}': {path} is not a folder of class "
                        "subfolders holding .txt files")
    presplit = (path / "train").is_dir()
    texts, labels, names = _read_texts(path / "train" if presplit else path)
    if presplit and (path / "test").is_dir():
        test_texts, test_labels, _ = _read_texts(path / "test", names)
        order = np.random.default_rng(cfg.split_seed).permutation(len(texts))
        train_texts, train_labels = texts[order], labels[order]
        how = "its train/ and test/ folders"
    else:
        train, test = stratified_index(labels, cfg.test_fraction, cfg.split_seed, path)
        train_texts, train_labels, test_texts, test_labels = (
            texts[train], labels[train], texts[test], labels[test])
        how = carved_test_split(cfg)
    strings = lambda values: tf.constant([str(v) for v in values], dtype=tf.string)  # noqa: E731
    return LocalSplits(
        tf.data.Dataset.from_tensor_slices((strings(train_texts), train_labels)),
        tf.data.Dataset.from_tensor_slices((strings(test_texts), test_labels)), None, len(names),
        names, f"text folder {path}: {len(names)} classes ({', '.join(names[:6])}), "
               f"{len(train_texts)} train / {len(test_texts)} test texts, {how}")
