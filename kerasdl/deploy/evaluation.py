"""``kerasdl evaluate``: a trained model's test metrics on another dataset or split."""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from kerasdl.config import with_overrides
from kerasdl.deploy.reference import Trained
from kerasdl.errors import ConfigError, DataError
from kerasdl.logs import Log, quiet



def evaluate(trained: Trained, data_name: Optional[str], overrides: Sequence[str] = (),
             output: Optional[Path] = None, log: Optional[Log] = None) -> dict:
    """The test metrics of ``trained`` on another dataset or split.

    A labelled image folder (``folder:PATH``) other than the one the model trained on, without
    ``train/``, is scored whole: every image in it, labelled by the model's class names
    (:func:`_new_image_folder`); other data by its test split. Writes the metrics as JSON (and a
    confusion matrix PNG for classifiers) under ``output`` (default ``<run>/evaluations``), never
    over an earlier evaluation. Returns them with ``scored``, what was scored and how many.
    ``log`` gets the data's lines (default: none).
    """
    from kerasdl.files import atomic_write_json

    experiment = _with_data_changes(trained, data_name, overrides)
    whole = _new_image_folder(trained, experiment.data)
    data = _test_data(trained, experiment, whole, log or quiet)
    count = data.counts["test"]
    scored = (f"every image in it, {count}" if whole else
              f"its test split, {count} example{'s' if count != 1 else ''}")
    metrics = {k: float(v) for k, v in
               trained.model.evaluate(data.test, verbose=0, return_dict=True).items()}
    folder = Path(output) if output else trained.home / "evaluations"
    stem = _new_stem(folder, experiment.data.name)
    written = [folder / f"{stem}.json"]
    atomic_write_json(written[0], {"model": str(trained.model_path), "data": dataclasses.asdict(
        experiment.data), "scored": scored, "counts": data.counts, "test_metrics": metrics})
    if data.label_format in ("sparse", "one_hot") and data.num_classes:
        written.append(_confusion_plot(trained, data, folder / f"{stem}-confusion.png"))
    return {"test_metrics": metrics, "written": written, "experiment": experiment,
            "count": count, "scored": scored}


def _with_data_changes(trained: Trained, data_name: Optional[str], overrides: Sequence[str]):
    """The run's experiment with ``--data`` and the ``--set data.KEY=VALUE`` overrides applied."""
    from kerasdl.config import parse_overrides

    changes = {**({"data.name": data_name} if data_name else {}), **parse_overrides(overrides)}
    bad = [key for key in changes if not key.startswith("data.")]
    if bad:
        raise ConfigError(f"evaluate changes only data keys; got {', '.join(bad)}")
    return with_overrides(trained.experiment, changes)


def _test_data(trained: Trained, experiment, whole: Optional[Path], log: Log):
    """The DataBundle to score: ``whole`` folder as its test split, else the data's own test split.

    Its class names must be the model's, in the model's order."""
    from kerasdl.config import LOSSES
    from kerasdl.data import load_data

    label_kind = LOSSES[experiment.trainer.loss][1]
    data = (_whole_folder(trained, experiment.data, whole, label_kind, log) if whole
            else load_data(experiment.data, label_kind, log=log))
    if data.class_names and trained.class_names and data.class_names != trained.class_names:
        raise DataError(f"dataset '{experiment.data.name}' has classes {list(data.class_names)} "
                        f"but the model was trained on {list(trained.class_names)}; "
                        "the class names (and their order) must match")
    return data


def _new_stem(folder: Path, data_name: str) -> str:
    """A file stem in ``folder`` (made) no evaluation has used: the data's name and the time."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = (re.sub(r"[^A-Za-z0-9_.-]+", "_", data_name).strip("_")[-60:] + "-"
            + dt.datetime.now().strftime("%Y%m%d-%H%M%S"))
    while (folder / f"{stem}.json").exists():
        stem += "-1"
    return stem


def _confusion_plot(trained: Trained, data, path: Path) -> Path:
    """The confusion matrix of the model on ``data``'s test split, drawn to ``path``."""
    from kerasdl.plots import plot_confusion

    truth = np.concatenate([np.asarray(y).reshape(len(y), -1).argmax(-1) if
                            data.label_format == "one_hot" else np.asarray(y).reshape(-1)
                            for _, y in data.test])
    predicted = np.asarray(trained.model.predict(data.test, verbose=0)).argmax(-1).reshape(-1)
    return plot_confusion(truth, predicted, data.num_classes, path,
                          class_names=trained.class_names or data.class_names)


def _new_image_folder(trained: Trained, cfg) -> Optional[Path]:
    """The folder of ``cfg``'s ``folder:PATH`` where it is to be scored whole, else None.

    Whole: a folder without ``train/`` (so without a test split of its own) that is not the one
    the model trained on; the training folder is scored by its test split, as the run was.
    """
    from kerasdl.data.local import local_source

    new, old = local_source(cfg.name), local_source(trained.experiment.data.name)
    if new is None or new[0] != "folder" or not new[1].is_dir() or (new[1] / "train").is_dir():
        return None
    return None if old is not None and old[1].resolve() == new[1].resolve() else new[1]


def _whole_folder(trained: Trained, cfg, folder: Path, label_kind: str, log):
    """Every image of ``folder`` as the test split of a DataBundle, prepared as the run's data."""
    import tensorflow as tf

    from kerasdl.data import DataBundle
    from kerasdl.data.folders import folder_test_split
    from kerasdl.data.pipeline import make_preprocess, plain_graph, resolve_label_format

    shape = trained.model.inputs[0].shape
    images, count, names = folder_test_split(folder, cfg, trained.class_names, log,
                                             channels=int(shape[-1]) if len(shape) == 4 else None)
    label_format = resolve_label_format(cfg.label_format, label_kind, len(names))
    preprocess = make_preprocess(cfg, images.element_spec, label_format, label_kind, len(names))
    test = (images.map(plain_graph(preprocess), num_parallel_calls=tf.data.AUTOTUNE)
            .batch(cfg.batch_size).prefetch(tf.data.AUTOTUNE))
    trained.check_input_shape(test.element_spec[0].shape[1:])
    return DataBundle(train=None, validation=None, test=test, num_classes=len(names),
                      label_format=label_format, source="folder",
                      description=f"every image of {folder}", counts={"test": count},
                      class_names=names)
