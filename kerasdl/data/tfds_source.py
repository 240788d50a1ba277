"""Loading through tensorflow-datasets, with a fast offline check before any download."""
from __future__ import annotations

import socket
import threading
from typing import Optional

from kerasdl.data.splits import Splits
from kerasdl.errors import DataError

#: where TFDS downloads most datasets from; probed before a download so offline runs fail fast
DOWNLOAD_HOST = ("storage.googleapis.com", 443)
PROBE_TIMEOUT_S = 3.0


#: TFDS datasets fed through an adapter instead of ``as_supervised`` (they have no supervised keys,
#: e.g. tagging sets): name -> an object with ``to_supervised(example) -> (features, label)`` and
#: ``num_classes(info) -> Optional[int]``, and optionally ``fit(train) -> fitted adapter`` (e.g.
#: vocabularies adapted on the raw training split only). Modules of kerasdl.data register theirs with
#: :func:`register_tfds_adapter` (see kerasdl.data.sequences).
TFDS_ADAPTERS: dict[str, object] = {}


def register_tfds_adapter(name: str):
    """Decorator/registrar: feed the TFDS dataset ``name`` through ``adapter``."""
    def decorate(adapter):
        TFDS_ADAPTERS[name] = adapter
        return adapter
    return decorate


class DownloadUnavailable(DataError):
    """The dataset is not in the TFDS data dir and cannot be downloaded."""


def can_reach(host: tuple[str, int] = DOWNLOAD_HOST, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """True if a TCP connection to ``host`` opens within ``timeout`` seconds (DNS included)."""
    result = []

    def probe():
        try:
            socket.create_connection(host, timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def default_data_dir(data_dir: Optional[str]) -> str:
    """``data_dir`` if given, else TFDS's default data directory."""
    import tensorflow_datasets as tfds

    return data_dir or str(tfds.core.constants.DATA_DIR)


def load_tfds(name: str, train_split: str, test_split: str, data_dir: Optional[str]) -> Splits:
    """``tfds.load(name, split=[train, test], as_supervised=True)``, downloading when needed.

    Raises:
        DataError: the name is not a TFDS dataset.
        DownloadUnavailable: the data is not prepared in ``data_dir`` and the download host
            cannot be reached (checked in seconds, before TFDS's own minutes of retries).
    """
    import tensorflow as tf
    import tensorflow_datasets as tfds

    from kerasdl.data.embedded import embedded_datasets

    embedded_datasets()                              # imports the modules that register adapters
    adapter = TFDS_ADAPTERS.get(name)

    def load(download: bool):
        return tfds.load(name, split=[train_split, test_split], as_supervised=adapter is None,
                         data_dir=data_dir, download=download, shuffle_files=False, with_info=True)

    try:
        (train, test), info = load(download=False)
    except tfds.core.registered.DatasetNotFoundError as error:
        raise DataError(f"'{name}' is not a TFDS dataset (see https://www.tensorflow.org/datasets/"
                        "catalog); check data.name") from error
    except AssertionError:                           # not prepared in data_dir yet
        if not can_reach():
            raise DownloadUnavailable(
                f"TFDS dataset '{name}' is not in the data dir {default_data_dir(data_dir)} and "
                f"cannot be downloaded ({DOWNLOAD_HOST[0]} is unreachable)") from None
        (train, test), info = load(download=True)
    if adapter is not None:
        if hasattr(adapter, "fit"):                  # adapters that learn from the train split
            adapter = adapter.fit(train)
        train, test = (ds.map(adapter.to_supervised, num_parallel_calls=tf.data.AUTOTUNE)
                       for ds in (train, test))
        num_classes = adapter.num_classes(info)
        class_names = None
        vocabularies = adapter.vocabularies() if hasattr(adapter, "vocabularies") else None
    else:
        label = info.features[info.supervised_keys[1]] if info.supervised_keys else None
        num_classes = getattr(label, "num_classes", None)
        class_names = tuple(getattr(label, "names", None) or ()) or None
        vocabularies = None
    return Splits(train, test, num_classes,
                  f"tfds.load('{name}', split=['{train_split}', '{test_split}']) "
                  f"from {default_data_dir(data_dir)}", "tfds", class_names,
                  vocabularies=vocabularies)
