"""A trained model and its record: found from a path (no TensorFlow), then loaded.

A trained model is a run directory (``runs/<experiment>-<stamp>/``), a ``.keras`` file inside one
(``model.keras``, ``checkpoints/best.keras``), or a published ``saved_models/<name>.keras``
with its record ``<name>.json`` (:mod:`kerasdl.publishing`). Each carries the experiment's
config, whose ``data`` section is the preprocessing the model was trained behind, and the class
names; a bare ``.keras`` file without either is refused. Run folders and publish records are read
through :class:`kerasdl.rundir.RunDir` and :func:`kerasdl.rundir.read_run_json`: a damaged file is
a one-line error naming it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from kerasdl.config import Experiment
from kerasdl.data.translation import Vocabularies
from kerasdl.deploy.messages import clip, first_line
from kerasdl.errors import DataError, KerasdlError
from kerasdl.resume import model_missing_message
from kerasdl.rundir import CONFIG, FINISHED, MANIFEST, MODEL, RunDir, RunFileError, read_run_json


@dataclass
class Trained:
    """A trained model with what it needs to be used: its experiment and class names."""

    model: object
    model_path: Path
    experiment: Experiment
    class_names: Optional[tuple[str, ...]]
    home: Path                              # the run directory, or the folder of the model file
    feature_columns: Optional[tuple[str, ...]] = None   # a CSV-trained model's columns, in order
    vocabularies: Optional[Vocabularies] = None         # a translation model's (seq2seq)

    def class_name(self, class_id: int) -> str:
        """The name of class ``class_id``, or the id itself where the record names no classes."""
        names = self.class_names
        return names[class_id] if names and class_id < len(names) else str(class_id)

    def check_input_shape(self, shape) -> None:
        """Refuse inputs of ``shape`` (one example's, after the run's preprocessing) not the model's.

        The one-line error says what the model takes and what data it trained on."""
        expected = tuple(self.model.inputs[0].shape[1:])
        if tuple(shape) != expected:
            raise DataError(f"the inputs become {tuple(shape)} after the run's "
                            f"preprocessing, but the model takes {expected}; give inputs like the "
                            f"training data of '{self.experiment.data.name}'")


@dataclass
class Located:
    """A trained model's files, found and read without TensorFlow (:func:`locate_trained`)."""

    model_path: Path           # as given: a published model keeps its name
    model_file: Path           # the file to load: a published link resolved, its record beside it
    config: dict
    record: dict               # what DataBundle.inference_record wrote (class names, ...)
    home: Path                 # the run directory, or the folder of the model file
    config_file: Optional[Path] = None   # where config came from (config.json, a publish record)
    record_file: Optional[Path] = None   # where record came from (manifest.json, a publish record)


def model_and_home(path: str | Path) -> tuple[Path, Path]:
    """(the model file, its home) for ``path``, from the file names alone: reads no file.

    Home is the run directory (a run directory given, or the run holding the ``.keras`` file
    given), else the model file's folder. A run directory without model.keras is a one-line
    error saying why and what to do, the same advice ``--resume`` gives
    (:func:`kerasdl.resume.model_missing_message`)."""
    path = Path(path)
    if not path.exists():
        raise KerasdlError(f"{path}: no such run directory or model file")
    if path.is_dir():
        model_path = path / MODEL
        if not model_path.is_file():
            if (path / FINISHED).exists():
                raise KerasdlError(model_missing_message(path))
            if not (path / CONFIG).is_file():
                raise KerasdlError(f"{path} holds no model.keras: not a kerasdl run directory (no "
                                   f"{CONFIG}); give a run directory, its .keras files or a "
                                   "published model")
            raise KerasdlError(f"{path} holds no model.keras: not a finished run directory (the "
                               f"run was interrupted: continue it with kerasdl run EXPERIMENT "
                               f"--resume {path})")
        return model_path, path
    run_dir = next((d for d in (path.parent, path.parent.parent) if (d / CONFIG).is_file()), None)
    return path, run_dir if run_dir is not None else path.parent


def locate_trained(path: str | Path) -> Located:
    """The model file at ``path`` with its config and record; imports no TensorFlow.

    ``path`` is a run directory, its ``.keras`` files, or a published model. A published
    ``saved_models/<name>.keras`` is a link into its publish's folder (:mod:`kerasdl.publishing`),
    resolved once here, so the model and the record read belong to the same publish. The run's
    files are read through :class:`kerasdl.rundir.RunDir`: a file cut off, not JSON or of the
    wrong shape is a one-line error naming it.
    """
    model_path, home = model_and_home(path)
    if (home / CONFIG).is_file():
        run = RunDir(home)
        config = run.config()
        manifest_path = run.file(MANIFEST)
        record = run.manifest()["data"] if manifest_path.is_file() else {}
        return Located(model_path, model_path, config, record, home, run.file(CONFIG),
                       manifest_path if manifest_path.is_file() else None)
    model_file = model_path.resolve()       # a published model: its record beside it
    record_path = model_file.with_suffix(".json")
    record = read_run_json(record_path) if record_path.is_file() else {}
    if "config" not in record:
        raise KerasdlError(
            f"{model_path}: no run directory or publish record ({model_path.with_suffix('.json')}) "
            "says how its inputs were prepared; pass the run directory that trained it instead")
    if not isinstance(record["config"], dict):
        raise RunFileError(f"{record_path}: 'config' is a JSON {type(record['config']).__name__}, "
                           "not the experiment object kerasdl wrote; the record was edited or "
                           "damaged: publish the model again, or pass its run directory")
    return Located(model_path, model_file, record["config"], record, home, record_path,
                   record_path)


def load_trained(path: str | Path | Located, compile: bool = False) -> Trained:
    """The model at ``path`` with the config and class names it was trained with.

    ``path`` is a run directory, its ``.keras`` files, or a published model (or what
    :func:`locate_trained` found for one). A config or record that does not make an experiment,
    class names or vocabularies is a one-line error naming its file.
    """
    from kerasdl.loading import load_model

    found = path if isinstance(path, Located) else locate_trained(path)
    record = found.record
    where = found.record_file or found.config_file
    names = _strings(record.get("class_names"), "class_names", where)
    columns = _strings(record.get("feature_columns"), "feature_columns", where)
    vocabularies = record.get("vocabularies")
    try:
        experiment = Experiment(**found.config)
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        raise RunFileError(f"{found.config_file}: its config is not an experiment kerasdl can "
                           f"read ({clip(first_line(error), 120)}); the file was edited or "
                           "written by another kerasdl: restore it, or start a new run") from None
    if vocabularies is not None:
        try:
            vocabularies = Vocabularies.from_dict(vocabularies)
            vocabularies.start_id, vocabularies.end_id        # noqa: B018 - both are in target
        except (TypeError, ValueError, KeyError, AttributeError) as error:
            raise RunFileError(f"{where}: 'vocabularies' is not the translation vocabularies "
                               f"kerasdl wrote ({clip(first_line(error), 120)}); restore it, or "
                               "start a new run") from None
    model = load_model(found.model_file, compile=compile)
    return Trained(model, found.model_path, experiment, names, found.home, columns, vocabularies)


def _strings(value, key: str, where: Optional[Path]) -> Optional[tuple[str, ...]]:
    """``value`` (a record's list of names) as a tuple of strings, None where absent or empty."""
    if not value:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        shown = json.dumps(value)
        raise RunFileError(f"{where}: {key!r} is {clip(shown, 40)}, not a list of names; the file "
                           "was edited or damaged: restore it, or start a new run")
    return tuple(value)
