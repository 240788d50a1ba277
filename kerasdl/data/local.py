"""The user's own data: ``data.name`` with a scheme names local files instead of a TFDS dataset.

* ``folder:PATH``: images (jpg, png, bmp, gif) in one subfolder per class, the class names being
  the subfolder names (sorted, as ``keras.utils.image_dataset_from_directory`` orders them).
  If ``PATH`` holds ``train/`` (and optionally ``test/``, ``validation/``) subfolders, those are
  the splits; otherwise the test split is carved from ``PATH``: a seeded, stratified
  ``data.test_fraction`` (default 0.2) of each class, drawn with ``data.split_seed``.
* ``npz:PATH``: arrays under ``x_train, y_train, x_test, y_test``, or ``x, y`` (split as above);
  an optional ``class_names`` array names the classes (one name per class id). Integer labels
  are class ids 0..K-1, float labels a numeric target. Features are numbers (booleans become
  float32); a greyscale stack ``(N, H, W)`` of uint8 pixels, as ``keras.datasets`` gives MNIST,
  gets its channel axis, ``(N, H, W, 1)`` (so does a float stack where data.image_size,
  data.channels or data.augment asks for images), and the data line says so. Integer labels
  of shape ``(N, 1)``, as ``keras.datasets.cifar10`` gives them, are read as ``(N,)``. Files
  are read without unpickling: arrays of Python objects are refused.
* ``textfolder:PATH``: text files in one subfolder per class (read by
  ``keras.utils.text_dataset_from_directory``), split like ``folder:`` (a ``test/`` or
  ``validation/`` may lack classes of ``train/``, not add any); raw strings, for the text
  classifiers, whose vectorizer learns its vocabulary from the training split. Texts are UTF-8
  (a byte-order mark dropped); a file in another encoding is refused as a CSV is, below.
* ``csv:PATH``: one row per example with a header; ``data.label_column`` names the label, every
  other column is a numeric feature. The file is UTF-8 (with or without Excel's byte-order
  mark); a file in another encoding (latin-1, cp1252) is refused, naming the line, rather than
  guessed: save it as UTF-8. Blank lines are skipped. Labels that are text or whole numbers are
  classes (sorted; spellings of one number, ``1`` and ``1.0``, are one class); other numbers are
  a regression target. Features are normalized by a ``keras.layers.Normalization`` inside the
  model, with the mean and variance of the examples that train (validation and test rows left
  out), so the saved model takes raw rows.

``data.label_type`` overrides the automatic choice: ``'classes'`` makes numbers classes (CSV:
any numbers; npz: whole, non-negative ones), ``'numeric'`` makes them a numeric target (a
whole-number price, or integer npz labels); ``'auto'`` (the default) is the rule above.

Files are checked before any training and before a run folder is made: a missing path, an empty
class folder, a file with an image extension that is not an image, images of mixed sizes
without ``data.image_size``, an ``.npz`` with missing keys, mismatched lengths, empty arrays,
non-numeric, boolean or negative labels, class ids far beyond the number of classes, an
``x_test`` of another dtype than ``x_train``, or ``class_names`` too short or repeating a name, a
CSV cell that is empty or not a number, a missing label, and a NaN or infinity (or a float64
beyond float32's range) anywhere in the features (or labels) each fail with one line naming the
file (its key and index, or line and column) and the fix. Files without an image extension
(``.txt`` notes, ``Thumbs.db``) are skipped, and the run says how many.

The train and test splits of classes are put in :func:`~kerasdl.data.splits.stratified_order`,
so ``data.train_limit``, ``data.test_limit`` and ``--smoke``, which take the first examples,
keep every class even where the data comes sorted by class (a numeric target's are shuffled,
seeded by ``data.split_seed``).

Everything then goes through the pipeline TFDS data takes (:mod:`kerasdl.data.pipeline`): the
validation carve, the per-(seed, epoch) order, augmentation, cache and prefetch. Images are
decoded by TensorFlow (``tf.io.decode_image``) into uint8 ``(H, W, C)``, as TFDS gives them; C is
``data.channels`` where set, else 1 when every image is grey and 3 otherwise.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from kerasdl.data.decoding import utf8_text
from kerasdl.data.splits import (Splits, carved_test_split, class_folders, plain_split,
                                 refuse_unknown_classes, stratified_index, stratified_order)
from kerasdl.errors import DataError
from kerasdl.logs import Log, quiet

SCHEMES = ("folder", "npz", "csv", "textfolder")
NPZ_KEYS = (("x_train", "y_train", "x_test", "y_test"), ("x", "y"))
FLOAT32_MAX = float(np.finfo(np.float32).max)     # 3.4e38: beyond it, inf in the model


def local_source(name: str) -> Optional[tuple[str, Path]]:
    """``(scheme, path)`` if ``name`` names local data (``folder:PATH``...), else None."""
    scheme, separator, path = name.partition(":")
    if separator and scheme in SCHEMES:
        if not path:
            raise DataError(f"data.name='{name}' gives no path; write {scheme}:PATH")
        return scheme, Path(path).expanduser()
    return None


def load_local(scheme: str, path: Path, cfg, log: Optional[Log] = None) -> Splits:
    """Load ``path`` as the ``scheme`` source describes, checking it first.

    ``log`` gets the lines that say what was skipped or how images are read (default: none).
    """
    if not path.exists():
        raise DataError(f"data.name='{scheme}:{path}': no such {'folder' if scheme == 'folder' else 'file'}"
                        f" {path}; check the path (relative paths start at {Path.cwd()})")
    from kerasdl.data.folders import load_folder

    loaders = {"folder": load_folder, "npz": _load_npz, "csv": _load_csv,
               "textfolder": _load_textfolder}
    return loaders[scheme](path, cfg, log or quiet)


# --- arrays ----------------------------------------------------------------------------------

def _load_npz(path: Path, cfg, log) -> Splits:
    import tensorflow as tf

    arrays = _read_npz(path)
    keys = next((keys for keys in NPZ_KEYS if all(k in arrays for k in keys)), None)
    if keys is None:
        raise DataError(f"{path} holds arrays {sorted(arrays) or 'none'}; expected x_train, y_train, "
                        "x_test, y_test (or x, y, split with data.test_fraction)")
    pairs, column = list(zip(keys[::2], keys[1::2])), ""
    for x_key, y_key in pairs:
        if arrays[y_key].shape[1:] == (1,) and arrays[y_key].dtype.kind in "ui":
            arrays[y_key] = arrays[y_key][:, 0]      # class ids as keras.datasets.cifar10 has them
            column = ", labels (N, 1) read as (N,)"
        _check_pair(path, x_key, arrays[x_key], y_key, arrays[y_key])
    if len(pairs) == 2:
        for key in keys[::2], keys[1::2]:
            if arrays[key[0]].shape[1:] != arrays[key[1]].shape[1:]:
                raise DataError(f"{path}: {key[0]} holds examples of shape {arrays[key[0]].shape[1:]} "
                                f"but {key[1]} of shape {arrays[key[1]].shape[1:]}; both splits "
                                "need examples of one shape")
        train_type, test_type = arrays["x_train"].dtype, arrays["x_test"].dtype
        if train_type != test_type and (np.uint8 in (train_type, test_type)
                                        or train_type.kind != test_type.kind):
            raise DataError(f"{path}: x_train is {train_type} but x_test is {test_type}; uint8 "
                            "features are pixels, scaled by data.rescale, other types are taken as "
                            "they are, so both splits need one dtype: save "
                            "x_test.astype(x_train.dtype) (or the reverse)")
    classes = _npz_classes(path, pairs, arrays, cfg.label_type)
    names = _class_names(path, arrays, pairs) if classes else None
    for _, y_key in pairs:      # class ids, or (data.label_type='numeric') a float target
        if classes or cfg.label_type == "numeric":
            arrays[y_key] = arrays[y_key].astype(np.int64 if classes else np.float32)
    if keys == ("x", "y"):
        x, y = arrays["x"], arrays["y"]
        train, test = (stratified_index(y, cfg.test_fraction, cfg.split_seed, path, names) if classes
                       else plain_split(len(y), cfg))
        x_train, y_train, x_test, y_test = x[train], y[train], x[test], y[test]
        how = carved_test_split(cfg, stratified=classes)
    else:
        x_train, y_train, x_test, y_test = (arrays[k] for k in keys)
        how = "its own train/test arrays"
    if classes:     # data.train_limit, data.test_limit and --smoke keep every class
        train, test = stratified_order(y_train, cfg.split_seed), stratified_order(y_test, cfg.split_seed)
        x_train, y_train, x_test, y_test = x_train[train], y_train[train], x_test[test], y_test[test]
    elif keys != ("x", "y"):    # a numeric target, maybe sorted: the validation carve and the limits
        rng = np.random.default_rng(cfg.split_seed)       # take a seeded sample, not its top or bottom
        train, test = rng.permutation(len(y_train)), rng.permutation(len(y_test))
        x_train, y_train, x_test, y_test = x_train[train], y_train[train], x_test[test], y_test[test]
    x_train, x_test, reshaped = _features(x_train, x_test, cfg)
    num_classes = (len(names) if names else int(max(y_train.max(), y_test.max())) + 1
                   ) if classes else None
    if classes and num_classes < 2:
        raise DataError(f"{path}: every label is {int(y_train.max())}: one class; a classifier needs "
                        "at least 2 (or set data.label_type='numeric' for a numeric target)")
    kind = f"{num_classes} classes" if classes else "a numeric target"
    return Splits(
        tf.data.Dataset.from_tensor_slices((x_train, y_train)),
        tf.data.Dataset.from_tensor_slices((x_test, y_test)), num_classes,
        f"arrays {path}: x {x_train.shape[1:]} {x_train.dtype}{reshaped}, {kind}{column}, "
        f"{len(x_train)} train / {len(x_test)} test, {how}", "npz", names)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` file, read without unpickling anything."""
    import zipfile

    how = ("write it with numpy.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)")
    arrays, key = {}, None
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise DataError(f"{path} is a single array (.npy), not an .npz archive; {how}")
        with archive:
            for key in archive.files:
                arrays[key] = archive[key]
                if not isinstance(arrays[key], np.ndarray):     # a zip member that is not .npy
                    raise DataError(f"{path}: '{key}' is not a numpy array (.npy); {how}")
    except DataError:
        raise
    except ValueError as error:
        if "allow_pickle" in str(error) and key is None:     # a pickle, or not numpy's at all
            raise DataError(f"{path} is not an .npz archive (numpy would have to unpickle it, which "
                            f"kerasdl never does); {how}") from None
        if "allow_pickle" in str(error):        # object arrays: never unpickled
            raise DataError(f"{path}: array '{key}' holds Python objects, which are never loaded; "
                            "save numbers or text, e.g. numpy.asarray(values, dtype='float32')") from None
        raise DataError(f"{path} is not a readable .npz file ({error}); {how}") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as error:
        raise DataError(f"{path} is not a readable .npz file ({type(error).__name__}: {error}); "
                        f"{how}") from None
    return arrays


def _check_pair(path: Path, x_key: str, x: np.ndarray, y_key: str, y: np.ndarray) -> None:
    """Refuse features or labels that cannot train: empty, misaligned, not numbers, not finite."""
    for key, array in ((x_key, x), (y_key, y)):
        if array.ndim == 0:
            raise DataError(f"{path}: {key} is a single value, not an array of examples")
    if len(x) != len(y):
        raise DataError(f"{path}: {x_key} has {len(x)} rows but {y_key} has {len(y)}; features and "
                        "labels must pair up one to one")
    if not len(x):
        raise DataError(f"{path}: {x_key} and {y_key} are empty (0 rows); give at least one "
                        "example per class in each split")
    if 0 in x.shape[1:]:
        raise DataError(f"{path}: {x_key} has shape {x.shape}: its examples hold no features; "
                        "save at least one number per example")
    if x.dtype.kind not in "buif":
        raise DataError(f"{path}: {x_key} holds {x.dtype} values; features must be numbers (e.g. "
                        "float32, or uint8 pixels)")
    if y.dtype.kind == "b":
        raise DataError(f"{path}: {y_key} is boolean; save class ids as integers "
                        f"({y_key}.astype('int64'): False is 0, True is 1)")
    if y.dtype.kind not in "uif":
        raise DataError(f"{path}: {y_key} holds {y.dtype} values; labels must be integer class ids "
                        "0..K-1 (names go in a class_names array) or numbers for a numeric target")
    for key, array in ((x_key, x), (y_key, y)):
        if array.dtype.kind == "f":
            bad = ~np.isfinite(array)
            if array.dtype.itemsize > 4:         # the model computes in float32: 1e300 is inf there
                bad |= np.abs(array) > FLOAT32_MAX
            if bad.any():
                first = np.unravel_index(int(np.argmax(bad)), array.shape)
                beyond = ", beyond float32's range (3.4e38)" if np.isfinite(array[first]) else ""
                raise DataError(f"{path}: {key}[{', '.join(map(str, first))}] is {array[first]}{beyond} "
                                f"({int(bad.sum())} non-finite value(s) in {key}); features and "
                                "labels must be finite numbers: fill in or drop the examples "
                                "with NaN or infinity")


def _npz_classes(path: Path, pairs, arrays, label_type: str) -> bool:
    """Whether the labels are class ids (refusing ones that are not valid ids)."""
    labels = [(key, arrays[key]) for _, key in pairs]
    integer = all(y.dtype.kind in "ui" for _, y in labels)
    if label_type == "numeric" or all(y.ndim != 1 for _, y in labels):
        return False
    if label_type == "auto" and not integer:
        return False
    for key, y in labels:
        if y.ndim != 1:
            raise DataError(f"{path}: {key} has shape {y.shape}; class labels are one id per "
                            "example, shape (N,)")
        wrong = (y < 0) | (y != np.round(y))
        if wrong.any():
            first = int(np.argmax(wrong))
            raise DataError(f"{path}: {key}[{first}] is {y[first]} ({int(wrong.sum())} such "
                            f"label(s)); class ids must be whole numbers 0..K-1 (map labels to "
                            "ids with numpy.unique(y, return_inverse=True)"
                            + (", or set data.label_type='numeric' for a numeric target)"
                               if label_type != "numeric" else ")"))
    top = max(int(y.max()) for _, y in labels)
    distinct = len(set().union(*(np.unique(y).tolist() for _, y in labels)))
    if "class_names" not in arrays and top >= 1000 and top >= 10 * distinct:
        key = next(key for key, y in labels if int(y.max()) == top)
        raise DataError(f"{path}: {key} holds class id {top} but the labels hold only {distinct} "
                        f"distinct ids: a classifier would get {top + 1:,} outputs, most for classes "
                        "never seen; number the classes 0..K-1 (numpy.unique(y, return_inverse=True)"
                        "), give a class_names array, or set data.label_type='numeric' for a "
                        "numeric target")
    return True


def _class_names(path: Path, arrays, pairs) -> Optional[tuple[str, ...]]:
    """The ``class_names`` array, checked to name every class id the labels hold."""
    if "class_names" not in arrays:
        return None
    names = arrays["class_names"]
    if names.ndim != 1 or not len(names):
        raise DataError(f"{path}: class_names has shape {names.shape}; give one name per class, "
                        "a 1-D array of strings")
    for _, key in pairs:
        top = int(arrays[key].max())
        if top >= len(names):
            raise DataError(f"{path}: {key} holds class id {top} but class_names names only "
                            f"{len(names)} classes (ids 0..{len(names) - 1}); give one name per "
                            "class id")
    text = [str(name) for name in names]
    repeated = next((name for name, count in Counter(text).items() if count > 1), None)
    if repeated is not None:
        raise DataError(f"{path}: class_names names {repeated!r} {text.count(repeated)} times; "
                        "give every class its own name")
    return tuple(text)


def _features(x_train: np.ndarray, x_test: np.ndarray, cfg):
    """The features as the pipeline takes them, and what was done to them (for the description).

    Booleans become float32; a greyscale stack ``(N, H, W)`` (as ``keras.datasets`` gives MNIST)
    gets its channel axis, ``(N, H, W, 1)``, where it is uint8 pixels or image options are set;
    one number per example becomes ``(N, 1)``."""
    note = ""
    if x_train.dtype.kind == "b":
        x_train, x_test, note = x_train.astype(np.float32), x_test.astype(np.float32), " (from bool)"
    images = x_train.dtype == np.uint8 or cfg.image_size or cfg.channels or cfg.augment
    if x_train.ndim == 1 or (x_train.ndim == 3 and images):
        note += (" (one number per example, given a feature axis)" if x_train.ndim == 1 else
                 f" (grey images {x_train.shape[1:]}, given a channel axis)")
        x_train, x_test = x_train[..., None], x_test[..., None]
    return x_train, x_test, note


# --- CSV -------------------------------------------------------------------------------------

@dataclass
class CsvTable:
    """What :func:`read_csv_table` read: features, raw labels, and the file line of every row."""

    columns: tuple[str, ...]        # the feature columns, in order
    features: np.ndarray            # float32 (rows, columns), every value finite
    labels: list[str]               # the label cells, stripped ([] without a label column)
    lines: list[int]                # the line each row starts on (1 is the header)


def read_csv_features(path: Path, columns: Optional[Sequence[str]] = None, label: Optional[str] = None
                      ) -> tuple[tuple[str, ...], np.ndarray, list[str]]:
    """(feature columns, float32 features, raw label values) of a CSV file: see read_csv_table."""
    table = read_csv_table(path, columns, label)
    return table.columns, table.features, table.labels


def read_csv_table(path: Path, columns: Optional[Sequence[str]] = None,
                   label: Optional[str] = None) -> CsvTable:
    """The rows of a UTF-8 CSV file with a header (a byte-order mark is allowed).

    ``columns``: the feature columns to read, in this order (default: all but ``label``); every
    value must be a finite number, else a one-line error names the file, line and column."""
    header, header_line, body = _csv_rows(path)
    if label is not None and label not in header:
        from kerasdl.errors import did_you_mean

        separator = next((s for s in (";", "\t", "|") if len(header) == 1 and s in header[0]), None)
        raise DataError(f"{path} has no column '{label}' (data.label_column){did_you_mean(label, header)}"
                        f"; its columns: {', '.join(header)}" + (
                            f" (one column: kerasdl reads comma-separated files, and this one is "
                            f"separated by {separator!r}; save it with commas)" if separator else ""))
    wanted = tuple(columns) if columns is not None else tuple(c for c in header if c != label)
    missing = [c for c in wanted if c not in header]
    if missing:
        raise DataError(f"{path} lacks the column(s) {', '.join(missing)} that the model was "
                        f"trained on; its columns: {', '.join(header)}")
    if not wanted:
        raise DataError(f"{path} has no feature columns beside the label '{label}'; add the "
                        "columns the model should learn from")
    index = [header.index(c) for c in wanted]
    features = np.empty((len(body), len(wanted)), np.float64)     # float32 once checked
    for row_index, (line, row) in enumerate(body):
        if len(row) != len(header):
            raise DataError(f"{path} line {line} has {len(row)} values but the header (line "
                            f"{header_line}) has {len(header)} columns")
        for j, i in enumerate(index):
            try:
                features[row_index, j] = float(row[i])
            except ValueError:
                what = "is empty" if not row[i].strip() else f"{row[i]!r} is not a number"
                raise DataError(f"{path} line {line}, column '{wanted[j]}': {what}; features "
                                "must be numeric (fill in missing values, encode categories as "
                                "numbers, or drop the column)") from None
    bad = ~np.isfinite(features) | (np.abs(features) > FLOAT32_MAX)
    if bad.any():
        row_index, j = np.unravel_index(int(np.argmax(bad)), bad.shape)
        line, row = body[row_index]
        cell = row[index[j]].strip()
        why = ("is not a finite number" if not np.isfinite(float(cell)) else
               "is beyond the float32 range (about 3.4e38)")
        raise DataError(f"{path} line {line}, column '{wanted[j]}': {cell!r} {why} "
                        f"({int(bad.sum())} non-finite value(s) in the file); features must be "
                        "finite: fill in or drop missing values (NaN) and infinities")
    labels = [row[header.index(label)].strip() for _, row in body] if label is not None else []
    return CsvTable(wanted, features.astype(np.float32), labels, [line for line, _ in body])


def _csv_rows(path: Path) -> tuple[list[str], int, list[tuple[int, list[str]]]]:
    """(header, its line, [(line, row)...]) of a CSV file: UTF-8 (BOM or not); blank lines skipped."""
    import csv
    import io

    try:
        data = path.read_bytes()
    except OSError as error:
        raise DataError(f"{path} cannot be read as a CSV file ({error.strerror}); give the path of "
                        "a .csv file") from None
    text = utf8_text(data, path)
    reader, rows, line = csv.reader(io.StringIO(text, newline="")), [], 1
    try:
        for row in reader:
            if row and (len(row) > 1 or row[0].strip()):        # blank lines skipped
                rows.append((line, row))
            line = reader.line_num + 1
    except csv.Error as error:
        raise DataError(f"{path} line {reader.line_num}: not readable as CSV ({error}); "
                        "fix or remove the line") from None
    if not rows:
        raise DataError(f"{path} is empty; a CSV needs a header row naming its columns")
    (header_line, header), body = rows[0], rows[1:]
    header = [name.strip() for name in header]
    for position, name in enumerate(header, start=1):
        if not name:
            raise DataError(f"{path} line {header_line}: column {position} of the header has no "
                            "name; name every column (or remove the empty one)")
        if header.index(name) < position - 1:
            raise DataError(f"{path} line {header_line}: the header names column '{name}' twice; "
                            "give every column its own name")
    return header, header_line, body


def _load_csv(path: Path, cfg, log) -> Splits:
    import tensorflow as tf

    if cfg.label_column is None:
        raise DataError(f"data.name='csv:{path}' needs data.label_column, the column holding the "
                        "label: --set data.label_column=NAME")
    table = read_csv_table(path, label=cfg.label_column)
    columns, x = table.columns, table.features
    if not len(x):
        raise DataError(f"{path} has a header but no rows")
    y, names, hint = _csv_labels(path, cfg.label_column, table, cfg.label_type)
    num_classes = len(names) if names is not None else None
    if num_classes:
        try:
            train, test = stratified_index(y, cfg.test_fraction, cfg.split_seed, path, names)
        except DataError as error:
            raise DataError(f"{error}{hint}") from None
        # data.train_limit, data.test_limit and --smoke keep every class
        train, test = (part[stratified_order(y[part], cfg.split_seed)] for part in (train, test))
    else:
        train, test = plain_split(len(y), cfg)
    # the pipeline trains on the first n - round(n * validation_fraction) of the first
    # data.train_limit (--smoke) training rows
    n = min(len(train), cfg.train_limit or len(train))
    n_fit = n - int(round(n * cfg.validation_fraction))
    fitted = x[train][:max(n_fit, 1)].astype(np.float64)
    mean, variance = fitted.mean(axis=0), fitted.var(axis=0)
    wide = np.flatnonzero(variance > FLOAT32_MAX)      # inf in the model's float32
    if len(wide):
        spread = float(np.sqrt(variance[wide[0]]))
        raise DataError(f"{path}, column '{columns[wide[0]]}': its values spread too widely for the "
                        f"model's float32 (standard deviation {spread:.3g}, at most 1.8e19 fits); "
                        f"rescale the column, e.g. divide it by 1e{int(np.log10(spread))}")
    normalization = (mean.astype(np.float32), variance.astype(np.float32))
    many = hint and num_classes > 10        # a whole-number target (a price) taken for classes?
    kind = (f"{num_classes} classes" + (" from whole numbers; data.label_type='numeric' makes them "
                                        "a numeric target" if many else "")
            if num_classes else "a numeric target")
    return Splits(
        tf.data.Dataset.from_tensor_slices((x[train], y[train])),
        tf.data.Dataset.from_tensor_slices((x[test], y[test])), num_classes,
        f"CSV {path}: {len(columns)} numeric features, label '{cfg.label_column}' ({kind}), "
        f"{len(train)} train / {len(test)} test rows, "
        f"{carved_test_split(cfg, stratified=bool(num_classes))}", "csv", names,
        normalization=normalization, feature_columns=columns)


def _csv_labels(path: Path, column: str, table: CsvTable, label_type: str):
    """(labels, class names or None for a numeric target, a hint for messages) of a CSV's labels.

    Spellings of one number (``1``, ``1.0``, `` 1e0``) are one class, named by its shortest
    spelling; an empty label, ``nan`` or ``inf`` is refused, naming its line."""
    numbers = []
    for text, line in zip(table.labels, table.lines):
        where = f"{path} line {line}, column '{column}' (data.label_column)"
        if not text:
            raise DataError(f"{where}: the label is empty; fill it in or drop the row")
        try:
            number = float(text)
        except ValueError:
            if label_type == "numeric":
                raise DataError(f"{where}: {text!r} is not a number, and data.label_type='numeric' "
                                "needs a numeric target (set data.label_type='classes' or 'auto' "
                                "for class labels)") from None
            number = None
        if number is not None and not abs(number) <= FLOAT32_MAX:   # NaN too
            what = ("is beyond the float32 range (about 3.4e38)" if np.isfinite(number) else
                    "is not a finite number (a missing label?)")
            raise DataError(f"{where}: {text!r} {what}; fill it in or drop the row")
        numbers.append(number)
    numeric = all(number is not None for number in numbers)
    whole = numeric and all(float(number).is_integer() for number in numbers)
    if label_type == "numeric" or (label_type == "auto" and numeric and not whole):
        return np.asarray(numbers, np.float32), None, ""
    # classes: a number is its value, named by its shortest spelling; text is itself
    keys = [(0, number, "") if number is not None else (1, 0.0, text)
            for number, text in zip(numbers, table.labels)]
    ordered = sorted(set(keys))
    ids = {key: index for index, key in enumerate(ordered)}
    names = tuple(_number_name(number) if kind == 0 else text for kind, number, text in ordered)
    if len(names) < 2:
        raise DataError(f"{path}: every label in column '{column}' is {names[0]!r}: one class; a "
                        "classifier needs at least 2")
    hint = (f"; if '{column}' is a numeric target, not classes, set data.label_type='numeric'"
            if label_type == "auto" and numeric else "")
    return np.asarray([ids[key] for key in keys], np.int64), names, hint


def _number_name(number: float) -> str:
    """A number's shortest spelling: ``1`` for 1.0, ``0.5``, ``1e+20``."""
    return str(int(number)) if number.is_integer() and abs(number) < 1e16 else repr(number)


# --- text folders ----------------------------------------------------------------------------

def _read_texts(root: Path):
    """(texts, labels, class names) of ``root/<class>/*.txt``, read by Keras's own loader."""
    import keras

    class_names = tuple(p.name for p in class_folders(root))
    for name in class_names:
        if (root / name).is_dir() and not any((root / name).glob("**/*.txt")):
            raise DataError(f"class folder {root / name} holds no .txt files; add text files or "
                            "remove the folder")
    dataset = keras.utils.text_dataset_from_directory(
        root, batch_size=None, shuffle=False, class_names=list(class_names), verbose=False)
    pairs = list(dataset.as_numpy_iterator())
    texts = np.array([_text(data, root / class_names[label]) for data, label in pairs], dtype=object)
    return texts, np.array([label for _, label in pairs], dtype=np.int64), class_names


def _text(data: bytes, folder: Path) -> str:
    """The UTF-8 text of a file of ``folder``; else an error naming the file (found by its bytes)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        path = next((file for file in sorted(folder.glob("**/*.txt")) if file.read_bytes() == data),
                    folder / "*.txt")
        return utf8_text(data, path)        # raises, naming the file and the line


def _load_textfolder(path: Path, cfg, log) -> Splits:
    import tensorflow as tf

    if not path.is_dir():
        raise DataError(f"data.name='textfolder:{path}': {path} is not a folder of class "
                        "subfolders holding .txt files")
    presplit = (path / "train").is_dir()
    texts, labels, names = _read_texts(path / "train" if presplit else path)
    if len(names) < 2:
        raise DataError(f"{path / 'train' if presplit else path} holds one class folder, "
                        f"'{names[0]}'; a classifier needs at least 2: one subfolder per class")
    validation = (_read_split(path / "validation", names, path / "train")
                  if presplit and (path / "validation").is_dir() else None)
    if presplit and (path / "test").is_dir():
        test_texts, test_labels = _read_split(path / "test", names, path / "train")
        train_texts, train_labels = texts, labels
        how = f"its train/{', validation/' if validation else ''} and test/ folders"
    else:
        train, test = stratified_index(labels, cfg.test_fraction, cfg.split_seed, path, names)
        train_texts, train_labels, test_texts, test_labels = (
            texts[train], labels[train], texts[test], labels[test])
        how = carved_test_split(cfg)
    # folders come class by class: data.train_limit, data.test_limit and --smoke keep every class
    train, test = (stratified_order(labels, cfg.split_seed) for labels in (train_labels, test_labels))
    train_texts, train_labels, test_texts, test_labels = (
        train_texts[train], train_labels[train], test_texts[test], test_labels[test])
    strings = lambda values: tf.constant([str(v) for v in values], dtype=tf.string)  # noqa: E731
    dataset = lambda texts, labels: tf.data.Dataset.from_tensor_slices((strings(texts), labels))  # noqa: E731
    return Splits(
        dataset(train_texts, train_labels), dataset(test_texts, test_labels), len(names),
        f"text folder {path}: {len(names)} classes ({', '.join(names[:6])}), "
        f"{len(train_texts)} train / "
        + (f"{len(validation[0])} validation / " if validation else "")
        + f"{len(test_texts)} test texts, {how}", "textfolder", names,
        validation=dataset(*validation) if validation else None)


def _read_split(root: Path, names: tuple[str, ...], train_root: Path):
    """(texts, labels) of a test/ or validation/ folder beside ``train_root``, in train's class ids.

    It may lack some of train's classes; a class that train lacks is refused (its texts could
    only be left out)."""
    refuse_unknown_classes(root, names, f"{train_root} lacks", "every class needs training texts")
    texts, labels, found = _read_texts(root)
    return texts, np.array([names.index(found[label]) for label in labels], np.int64)
