"""The tf.data pipeline: load, carve validation, preprocess, batch.

Loading reads the user's files, TFDS, else an embedded copy.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional

from kerasdl.config import Data
from kerasdl.data.augment import augment_batch
# plain_graph, per_epoch and shuffled_batches are also imported from here (deploy, transfer)
from kerasdl.data.batching import (materialize, per_epoch, plain_graph, shuffled_batches,
                                   window_shuffle)
from kerasdl.data.embedded import embedded_datasets
from kerasdl.data.local import load_local, local_source
from kerasdl.data.splits import Splits
from kerasdl.data.tfds_source import DownloadUnavailable, default_data_dir, load_tfds
from kerasdl.errors import DataError, did_you_mean
from kerasdl.logs import Log, quiet



@dataclass
class DataBundle:
    """Batched train/validation/test datasets and what the run manifest records about them."""

    train: "object"                     # tf.data.Dataset of (features, labels), batched
    validation: Optional["object"]
    test: "object"
    num_classes: Optional[int]
    label_format: str                   # sparse (class ids), one_hot, or raw (as the dataset has it)
    source: str                         # "tfds", "embedded", or the local scheme ("folder", "npz")
    description: str                    # exactly what was loaded
    counts: dict[str, int] = field(default_factory=dict)
    epoch_variable: Optional["object"] = None   # tf.Variable: the epoch ``train`` yields
    class_names: Optional[tuple[str, ...]] = None   # None: a class id is its own name
    #: (mean, variance) of the training features where the model normalizes them (csv:)
    normalization: Optional[tuple] = None
    feature_columns: Optional[tuple[str, ...]] = None   # csv: the feature columns, in order
    vocabularies: Optional["object"] = None   # translation: kerasdl.data.translation.Vocabularies

    def class_name(self, class_id: int) -> str:
        """What class ``class_id`` is called.

        A TFDS label name, the digit of a relabelled MNIST subset, or the id itself.
        """
        names = self.class_names
        return names[class_id] if names and 0 <= class_id < len(names) else str(class_id)

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration of ``train`` yield epoch ``epoch``'s order and augmentation."""
        self.epoch_variable.assign(epoch)

    def inference_record(self) -> dict:
        """What a trained model needs beside it to be used on new inputs (``kerasdl predict``).

        Class names, a CSV's feature columns, a translation set's vocabularies; set ones only.
        """
        return {**({"class_names": list(self.class_names)} if self.class_names else {}),
                **({"feature_columns": list(self.feature_columns)} if self.feature_columns
                   else {}),
                **({"vocabularies": self.vocabularies.to_dict()} if self.vocabularies else {})}

    def manifest(self) -> dict:
        return {"source": self.source, "description": self.description, "counts": self.counts,
                "num_classes": self.num_classes, "label_format": self.label_format,
                **self.inference_record()}


def load_data(cfg: Data, label_kind: str, log: Optional[Log] = None) -> DataBundle:
    """Build the pipeline that ``cfg`` describes, with labels in the form the loss needs.

    Args:
        cfg: the experiment's data section.
        label_kind: what the loss expects: "sparse", "one_hot" or "same" (see config.LOSSES).
        log: where phase lines and the loud offline-fallback warning go (default: nowhere;
            the CLI passes ``print``).
    """
    import tensorflow as tf

    log = log or quiet
    splits = _load_splits(cfg, log)
    train, validation, test, counts = _limited_and_carved(splits, cfg, log)
    n_fit, num_classes = counts["train"], splits.num_classes

    label_format = ("raw" if cfg.target == "features" else
                    resolve_label_format(cfg.label_format, label_kind, num_classes))
    preprocess = make_preprocess(cfg, train.element_spec, label_format, label_kind, num_classes)

    def preprocessed(ds):
        return ds.map(plain_graph(preprocess), num_parallel_calls=tf.data.AUTOTUNE)

    def prepared(ds):
        return preprocessed(ds).cache() if cfg.cache else preprocessed(ds)

    def evaluation(ds):
        return prepared(ds).batch(cfg.batch_size).prefetch(tf.data.AUTOTUNE)

    epoch_variable = tf.Variable(0, dtype=tf.int64, trainable=False, name="data_epoch")
    steps = -(-n_fit // cfg.batch_size)
    # a cached training split small enough is held as tensors (no tf.data cache beside them)
    in_memory = materialize(preprocessed(train), n_fit) if cfg.cache else None
    train_examples = prepared(train) if in_memory is None else None

    def epoch(seed):
        """The batches of the epoch whose seed is ``seed``.

        Order and augmentation depend on (shuffle_seed, epoch) alone (:func:`per_epoch`).
        """
        if in_memory is not None:      # one gather of the permuted epoch, sliced into batches
            ds = shuffled_batches(in_memory, n_fit, cfg.batch_size, seed)
        else:                          # too big to hold: shuffle windows of shuffle_buffer examples
            ds = window_shuffle(train_examples, min(cfg.shuffle_buffer, n_fit), seed)
            ds = ds.batch(cfg.batch_size)
        if cfg.augment:
            ds = ds.enumerate().map(plain_graph(
                lambda index, batch: (augment_batch(batch[0], tf.stack([seed, index]), cfg.augment),
                                      batch[1])), num_parallel_calls=tf.data.AUTOTUNE)
        return ds

    train_epoch = per_epoch(epoch, epoch_variable, cfg.shuffle_seed, steps)

    return DataBundle(
        train=train_epoch,
        validation=evaluation(validation) if validation is not None else None,
        test=evaluation(test),
        num_classes=num_classes, label_format=label_format, source=splits.source,
        description=splits.description, counts=counts, epoch_variable=epoch_variable,
        class_names=splits.class_names,
        normalization=splits.normalization, feature_columns=splits.feature_columns,
        vocabularies=splits.vocabularies)


def _limited_and_carved(splits: Splits, cfg: Data, log: Log):
    """(train, validation, test, counts): the splits cut to data.train_limit and data.test_limit.

    Validation is the data's own split where it has one, else the last
    round(n * data.validation_fraction) training examples (None where that is 0); ``counts``
    gives each split's number of examples.
    """
    train, test, num_classes = splits.train, splits.test, splits.num_classes
    if cfg.train_limit:
        train = train.take(cfg.train_limit)
    if cfg.test_limit:                # local data comes in stratified_order: every class, if it fits
        test = test.take(cfg.test_limit)
        if num_classes and cfg.test_limit < num_classes:
            log(f"WARNING: data.test_limit={cfg.test_limit} keeps fewer test examples than the "
                f"{num_classes} classes: some go unscored; raise it to score every class")
    n_train, n_test = _count(train, "train", cfg), _count(test, "test", cfg)
    if splits.validation is not None:           # the data has its own (a validation/ folder)
        return (train, splits.validation, test,
                {"train": n_train, "validation": _count(splits.validation, "validation", cfg),
                 "test": n_test})
    n_validation = int(round(n_train * cfg.validation_fraction))
    if n_validation and n_train - n_validation < 1:
        raise DataError(f"data.validation_fraction={cfg.validation_fraction} leaves no "
                        f"training examples out of {n_train}; lower it or use more data")
    validation = train.skip(n_train - n_validation) if n_validation else None
    return (train.take(n_train - n_validation), validation, test,
            {"train": n_train - n_validation, "validation": n_validation, "test": n_test})


def _load_splits(cfg: Data, log: Log) -> Splits:
    """The unbatched splits of ``cfg.name``: local data, else TFDS, else the embedded copy."""
    local = local_source(cfg.name)
    if local is not None:
        return load_local(*local, cfg, log)
    tfds_error = None
    embedded = embedded_datasets()
    if cfg.source in ("auto", "tfds"):
        try:
            return load_tfds(cfg.name, cfg.train_split, cfg.test_split, cfg.data_dir)
        except DataError as error:
            tfds_error = error
            if cfg.source == "tfds" or cfg.name not in embedded:
                raise DataError(_unavailable_message(cfg, error, embedded)) from error
    if cfg.name not in embedded:
        raise DataError(f"no embedded copy of dataset '{cfg.name}'{did_you_mean(cfg.name, embedded)}; "
                        f"embedded datasets: {', '.join(sorted(embedded))}; set data.source='tfds' "
                        "or 'auto' to use TFDS")
    arrays = embedded[cfg.name](cfg.split_seed)
    train, test = (_sliced(arrays, split, cfg.name) for split in ("train", "test"))
    if isinstance(tfds_error, DownloadUnavailable):
        log(f"WARNING: {tfds_error}.\nWARNING: OFFLINE FALLBACK - using the embedded copy instead: "
            f"{arrays.description}. Results are NOT comparable with the full TFDS '{cfg.name}'.")
    else:
        log(f"data: embedded dataset '{cfg.name}': {arrays.description}")
    return replace(arrays, train=train, test=test)


def _sliced(arrays: Splits, split: str, name: str):
    """The dataset of an embedded dataset's ``split``, its features and labels paired one to one."""
    import tensorflow as tf

    x, y = arrays.arrays(split)
    n_x, n_y = len(tf.nest.flatten(x)[0]), len(tf.nest.flatten(y)[0])
    if n_x != n_y:
        raise DataError(f"embedded dataset '{name}': its {split} split has {n_x} examples but {n_y} "
                        "labels; features and labels must pair up one to one")
    return tf.data.Dataset.from_tensor_slices((x, y))


def _unavailable_message(cfg: Data, error: DataError, embedded) -> str:
    return (f"cannot load dataset '{cfg.name}': {error}. TFDS data dir: "
            f"{default_data_dir(cfg.data_dir)} (set data.data_dir, or download it there with "
            f"`tfds build {cfg.name}` on a machine with network). Embedded datasets that work "
            f"offline: {', '.join(sorted(embedded))}")


def _count(ds, split: str, cfg: Data) -> int:
    import tensorflow as tf

    n = int(ds.cardinality())
    if n == tf.data.UNKNOWN_CARDINALITY:
        n = int(ds.reduce(0, lambda count, _: count + 1))
    if n < 1:
        where = (f" (data.{split}_split={getattr(cfg, split + '_split')!r})"
                 if hasattr(cfg, split + "_split") else "")
        raise DataError(f"the {split} split of dataset '{cfg.name}' is empty{where}")
    return n


def resolve_label_format(requested: str, label_kind: str, num_classes: Optional[int]) -> str:
    """The label form to feed: what the user asked for, else what the loss expects.

    Losses that compare labels with outputs of the same shape (MSE, hinge, binary cross-entropy)
    get one-hot rows for multi-class datasets and raw labels otherwise.
    """
    if requested != "auto":
        return requested
    if label_kind in ("sparse", "one_hot"):
        return label_kind
    return "one_hot" if num_classes and num_classes > 2 else "raw"


def feature_transform(cfg: Data):
    """What the pipeline does to features, as a function of one example or a batch.

    It rescales pixels (uint8 only: token ids and floats pass as is), resizes and converts
    channels. ``kerasdl predict`` applies the same function, read from the run's config.
    """
    import tensorflow as tf

    def transform(x):
        if cfg.rescale is not None:
            x = tf.nest.map_structure(
                lambda t: tf.cast(t, tf.float32) * cfg.rescale if t.dtype == tf.uint8 else t, x)
        if cfg.image_size:
            height, width = cfg.image_size
            if cfg.resize_method == "pad":
                x = tf.image.resize_with_crop_or_pad(x, height, width)
            else:
                x = tf.image.resize(x, (height, width), method=cfg.resize_method)
        if cfg.channels == 3 and x.shape[-1] == 1:
            x = tf.repeat(x, 3, axis=-1)
        elif cfg.channels == 1 and x.shape[-1] == 3:
            x = tf.image.rgb_to_grayscale(x)
        return x

    return transform


def make_preprocess(cfg: Data, element_spec, label_format: str, label_kind: str,
                    num_classes: Optional[int]):
    """The per-example ``(x, y) -> (x, y)`` map of ``cfg``: image size, channels, scaling, labels.

    Raises:
        DataError: image options on features that are not ``(H, W, C)`` images, or one-hot
            labels for a dataset that does not say its number of classes.
    """
    import tensorflow as tf

    x_spec, _ = element_spec
    nested = not hasattr(x_spec, "shape")          # tuple/dict features (e.g. seq2seq inputs)
    if (cfg.image_size or cfg.augment or cfg.channels) and (nested or x_spec.shape.rank != 3):
        raise DataError(f"data.image_size, data.channels and data.augment need images of shape "
                        f"(H, W, C); dataset '{cfg.name}' has features {x_spec}; "
                        "set data.image_size=None, data.channels=None and data.augment=()")
    if label_format == "one_hot" and not num_classes:
        raise DataError(f"one-hot labels need the number of classes, and dataset '{cfg.name}' "
                        "does not say it; use a sparse loss or set data.label_format='sparse'")

    transform = feature_transform(cfg)

    def preprocess(x, y):
        x = transform(x)
        if cfg.target == "features":
            return x, x
        if label_format == "one_hot":
            y = tf.one_hot(tf.cast(y, tf.int32), num_classes)
        elif label_kind == "same":
            y = tf.cast(y, tf.float32)
        return x, y

    return preprocess
