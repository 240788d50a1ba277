"""Putting a trained model to work: ``kerasdl predict``, ``evaluate`` and ``export``.

A trained model is a run directory (``runs/<experiment>-<stamp>/``), a ``.keras`` file inside one
(``model.keras``, ``checkpoints/best.keras``), or a published ``saved_models/<name>.keras``
with its record ``<name>.json`` (:mod:`kerasdl.publishing`). Each carries the experiment's
config, whose ``data`` section is the preprocessing the model was trained behind (rescale,
resize, channels: :func:`kerasdl.data.pipeline.feature_transform`), and the class names;
``predict`` applies exactly that, never a guess, and a bare ``.keras`` file without either is refused.

Exports go through Keras 3's ``model.export`` (TF SavedModel, ONNX via tf2onnx, LiteRT via the
TensorFlow Lite converter); ``pip install "kerasdl[export]"`` brings what ONNX needs. No export is
kept that has not been loaded back in its own runtime and given Keras's outputs on one example,
its inputs fed by name (:func:`check_export`); a LiteRT file that needs TensorFlow's Flex ops
(the recurrent models') is refused, since the plain interpreter cannot run it.

Run folders and publish records are read through :class:`kerasdl.rundir.RunDir` and
:func:`kerasdl.rundir.read_run_json`: a damaged file is a one-line error naming it.

Reference: Keras 3 ``Model.export`` (https://keras.io/api/models/model_saving_apis/export/).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import shutil
import sys
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

import numpy as np

from kerasdl.config import Experiment, with_overrides
from kerasdl.data.folders import IMAGE_EXTENSIONS
from kerasdl.data.translation import Vocabularies
from kerasdl.errors import ConfigError, DataError, KerasdlError
from kerasdl.resume import model_missing_message
from kerasdl.rundir import CONFIG, FINISHED, MANIFEST, MODEL, RunDir, RunFileError, read_run_json

#: kerasdl's format names -> (Keras's ``export`` format, the file or folder it writes)
EXPORT_FORMATS = {"saved_model": ("tf_saved_model", "saved_model"),
                  "onnx": ("onnx", "model.onnx"),
                  "litert": ("litert", "model.tflite")}
#: inputs per model.predict step
PREDICT_BATCH = 64


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
        names = self.class_names
        return names[class_id] if names and class_id < len(names) else str(class_id)


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
                           f"read ({clip(_first_line(error), 120)}); the file was edited or "
                           "written by another kerasdl: restore it, or start a new run") from None
    if vocabularies is not None:
        try:
            vocabularies = Vocabularies.from_dict(vocabularies)
            vocabularies.start_id, vocabularies.end_id        # noqa: B018 - both are in target
        except (TypeError, ValueError, KeyError, AttributeError) as error:
            raise RunFileError(f"{where}: 'vocabularies' is not the translation vocabularies "
                               f"kerasdl wrote ({clip(_first_line(error), 120)}); restore it, or "
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


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def clip(text: str, limit: int = 80) -> str:
    """``text`` as it may stand in a one-line message, cut to ``limit`` characters.

    Longer text is its first ``limit`` characters, an ellipsis and its length: user text can be a
    100,000-character word."""
    text = str(text)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def quote(text: str, limit: int = 80) -> str:
    """``repr(text)`` for a message, cut as :func:`clip` cuts."""
    text = str(text)
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text):,} characters)"


# --- predict ---------------------------------------------------------------------------------

@dataclass
class Prediction:
    input: str
    top: list[tuple[str, float]]            # (class name, probability), most probable first

    def to_json(self) -> str:
        return json.dumps({"input": self.input, "top": [{"class": name, "probability": round(p, 6)}
                                                        for name, p in self.top]})

    def to_line(self) -> str:
        return f"{self.input}: " + ", ".join(f"{name} {p:.3f}" for name, p in self.top)


@dataclass
class Translation:
    input: str
    translation: str

    def to_json(self) -> str:
        return json.dumps({"input": self.input, "translation": self.translation})

    def to_line(self) -> str:
        return f"{self.input}: {self.translation}"


def predict(trained: Trained, inputs: Sequence[str], top_k: int = 3,
            stdin: Optional[Callable[[], str]] = None) -> list:
    """Top-``top_k`` class names and probabilities for every input.

    Inputs are image files, folders of images, ``.npy``/``.npz`` arrays (one input per row), text
    files (one input per line) or ``-`` (lines from stdin). A translation model (seq2seq)
    translates text lines instead (:func:`translate`).
    """
    import tensorflow as tf

    from kerasdl.data.pipeline import feature_transform

    if top_k < 1:
        raise ConfigError(f"--top-k must be >= 1; got {top_k}")
    if trained.vocabularies is not None:
        return translate(trained, inputs, stdin)
    names, features = _read_inputs(trained, inputs, stdin)
    if isinstance(features, list):              # image files: streamed through tf.data
        outputs = _predict_images(trained, features)
    else:
        batch = feature_transform(trained.experiment.data)(tf.constant(features))
        _check_shape(trained, batch.shape[1:])
        outputs = trained.model.predict(batch, verbose=0, batch_size=PREDICT_BATCH)
    probabilities = _as_probabilities(np.asarray(outputs, np.float64))
    k = min(top_k, probabilities.shape[1])
    top = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    return [Prediction(name, [(trained.class_name(int(i)), float(row[i])) for i in best])
            for name, row, best in zip(names, probabilities, top)]


def _check_shape(trained: Trained, shape) -> None:
    expected = tuple(trained.model.inputs[0].shape[1:])
    if tuple(shape) != expected:
        raise DataError(f"the inputs become {tuple(shape)} after the run's "
                        f"preprocessing, but the model takes {expected}; give inputs like the "
                        f"training data of '{trained.experiment.data.name}'")


def image_batches(trained: Trained, paths: Sequence[Path]):
    """A tf.data pipeline of the images at ``paths`` as the model takes them, in order and batched.

    Each is read, decoded (the model's channels) and put through the run's preprocessing in
    parallel. A file that cannot be decoded, or is not the model's size where the run did not
    resize, stops its iteration with ``tf.errors.InvalidArgumentError``.
    """
    import tensorflow as tf

    from kerasdl.data.pipeline import feature_transform, plain_graph

    shape = trained.model.inputs[0].shape
    if len(shape) != 4:
        raise DataError(f"predict: images given, but the model takes inputs of shape "
                        f"{tuple(shape[1:])}, not images; give inputs like the training data of "
                        f"'{trained.experiment.data.name}'")
    transform = feature_transform(trained.experiment.data)
    # a known decoded size (checked) spares the resize its per-image shape arithmetic: about
    # 1.5x the images/s of decoding (bench/README.md)
    size = (tuple(shape[1:3]) if trained.experiment.data.image_size is None
            else _png_size(paths))

    def load(path):
        image = tf.io.decode_image(tf.io.read_file(path), channels=int(shape[-1]),
                                   expand_animations=False)
        if size is not None:
            image = tf.ensure_shape(image, (*size, shape[-1]))
        return transform(image)

    return (tf.data.Dataset.from_tensor_slices([str(p) for p in paths])
            .map(plain_graph(load), num_parallel_calls=tf.data.AUTOTUNE)
            .batch(PREDICT_BATCH).prefetch(tf.data.AUTOTUNE))


def _png_size(paths: Sequence[Path]) -> Optional[tuple[int, int]]:
    """(height, width) where every file is a PNG of that size by its header, else None."""
    from kerasdl.data.folders import png_header

    sizes = set()
    for path in paths:
        header = png_header(path)
        sizes.add(header and header[0])
        if len(sizes) > 1 or None in sizes:
            return None
    width, height = sizes.pop()
    return height, width


def _predict_images(trained: Trained, paths: list[Path]) -> np.ndarray:
    """The model's outputs for the images at ``paths``.

    Decoding overlaps inference (:func:`image_batches`); a bad file is then found one by one for
    the error naming it.
    """
    import tensorflow as tf

    batches = image_batches(trained, paths)
    _check_shape(trained, batches.element_spec.shape[1:])
    try:
        return trained.model.predict(batches, verbose=0)
    except tf.errors.InvalidArgumentError:
        for path in paths:
            _read_image(trained, path)
        raise


def translate(trained: Trained, inputs: Sequence[str],
              stdin: Optional[Callable[[], str]] = None) -> list[Translation]:
    """Every text line (of text files, or ``-`` for stdin) translated by greedy decoding.

    Decoding uses the vocabularies the model was trained with (Sutskever et al. 2014, beam
    width 1).
    """
    from kerasdl.models.seq2seq import greedy_decode

    names, lines = [], []
    for text in inputs:
        if text != "-" and not Path(text).is_file():
            raise DataError(f"predict input {text}: no such file (a translation model takes text "
                            "files, one sentence per line, or - for stdin)")
        found = _read_lines(text, stdin)
        names += [name for name, _ in found]
        lines += [line for _, line in found]
    if not lines:
        raise DataError("predict: no sentences to translate (give text files or - for stdin)")
    vocabularies = trained.vocabularies
    _check_sentences(vocabularies, lines, names)
    decoded = greedy_decode(trained.model, vocabularies.encode(lines, names),
                            vocabularies.start_id, vocabularies.end_id,
                            vocabularies.target_length)
    return [Translation(name, vocabularies.decode(row)) for name, row in zip(names, decoded)]


def _read_lines(text: str, stdin) -> list[tuple[str, str]]:
    """(name, line) of every non-blank line of the text file ``text`` or, for ``-``, of stdin."""
    lines = ((stdin or read_stdin)() if text == "-" else _read_text_file(Path(text))).splitlines()
    prefix = "stdin" if text == "-" else text
    return [(f"{prefix}:{i + 1}", line) for i, line in enumerate(lines) if line.strip()]


def read_stdin() -> str:
    """Standard input's text; a one-line DataError where it is closed or not UTF-8."""
    if sys.stdin is None or sys.stdin.closed:
        raise DataError("predict input -: stdin is closed, so there are no lines to read; pipe "
                        "them in (echo 'some text' | kerasdl predict RUN -) or give files")
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        return sys.stdin.read()
    return _decode(stream.read(), "stdin")


def _read_text_file(path: Path) -> str:
    """A predict input's UTF-8 text; a one-line DataError naming it where it cannot be read."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DataError(f"predict input {path}: cannot read it ({error.strerror or error})") from None
    return _decode(data, str(path))


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise DataError(f"predict input {name} is not UTF-8 text (byte {error.start:,}, line "
                        f"{line}); give text files in UTF-8, or images or arrays by their "
                        "extension (.png, .jpg, .npy, .npz, .csv)") from None


def _check_sentences(vocabularies: Vocabularies, lines: Sequence[str], names: Sequence[str]
                     ) -> None:
    """Refuse, in one line naming the input, a sentence the model cannot read whole.

    One longer than the model's source length (it would be cut, and its translation would be
    of another sentence), or with a word outside the source vocabulary where the vocabulary has
    no ``[UNK]``. Words are standardized as :meth:`Vocabularies.encode` standardizes them."""
    import tensorflow as tf

    from kerasdl.data.translation import OOV, STRIP_PUNCTUATION

    known = set(vocabularies.source[1:])
    standardized = tf.strings.regex_replace(tf.strings.lower(tf.constant(list(lines))),
                                            STRIP_PUNCTUATION, "").numpy()
    for name, words in zip(names, standardized):
        words = words.decode("utf-8").split()
        if len(words) > vocabularies.source_length:
            raise DataError(f"predict input {name}: {len(words)} words, but the model reads at "
                            f"most {vocabularies.source_length} (its source length), so the rest "
                            "would be cut and another sentence translated; split it into shorter "
                            "lines")
        if OOV not in known:
            unknown = next((word for word in words if word not in known), None)
            if unknown is not None:
                shown = ", ".join(vocabularies.source[1:][:12])
                more = ", ..." if len(vocabularies.source) > 13 else ""
                raise DataError(f"predict input {name}: the word {quote(unknown)} is not in the "
                                f"model's source vocabulary ({shown}{more})")


def _as_probabilities(outputs: np.ndarray) -> np.ndarray:
    """Rows of class probabilities from the model's outputs.

    Softmax outputs as they are, logits through a softmax, a single sigmoid unit as (1 - p, p).
    """
    outputs = outputs.reshape(len(outputs), -1)
    if outputs.shape[1] == 1:
        p = outputs[:, 0] if ((outputs >= 0) & (outputs <= 1)).all() else 1 / (1 + np.exp(-outputs[:, 0]))
        return np.stack([1 - p, p], axis=1)
    if (outputs >= 0).all() and np.allclose(outputs.sum(1), 1, atol=1e-3):
        return outputs
    shifted = np.exp(outputs - outputs.max(1, keepdims=True))
    return shifted / shifted.sum(1, keepdims=True)


def _read_inputs(trained: Trained, inputs: Sequence[str], stdin
                 ) -> tuple[list[str], np.ndarray | list[Path]]:
    """(a name per input, the stacked raw features), or the image paths.

    The image paths where every input is an image file (folders sorted).
    """
    names, rows = [], []
    for text in inputs:
        path = Path(text)
        if text == "-":
            found = _read_lines(text, stdin)
            names += [name for name, _ in found]
            rows += [line for _, line in found]
        elif not path.exists():
            raise DataError(f"predict input {path}: no such file or folder")
        elif path.is_dir():
            images = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
            if not images:
                raise DataError(f"predict input {path}: a folder with no images "
                                f"({', '.join(IMAGE_EXTENSIONS)})")
            names += map(str, images)
            rows += images
        elif path.suffix.lower() in IMAGE_EXTENSIONS:
            names.append(str(path))
            rows.append(path)
        elif path.suffix.lower() == ".csv":
            if not trained.feature_columns:
                raise DataError(f"predict input {path}: a CSV, but this model was not trained on "
                                "CSV rows (give images, arrays or text as it was trained on)")
            from kerasdl.data.local import read_csv_features

            _, features, _ = read_csv_features(path, columns=trained.feature_columns)
            names += [f"{path}:{line}" for line in range(2, len(features) + 2)]
            rows += list(features)
        elif path.suffix in (".npy", ".npz"):
            array = _read_array(path)
            names += [f"{path}[{i}]" for i in range(len(array))]
            rows += list(array)
        else:
            found = _read_lines(text, stdin)
            names += [name for name, _ in found]
            rows += [line for _, line in found]
    if not rows:
        raise DataError("predict: no inputs (give image files, folders, .npy/.npz arrays, text "
                        "files or - for stdin)")
    if all(isinstance(row, Path) for row in rows):
        return names, rows
    rows = [_read_image(trained, row) if isinstance(row, Path) else row for row in rows]
    kinds = {type(row) for row in rows}
    if str in kinds and len(kinds) > 1:
        raise DataError("predict: text lines and arrays/images cannot be mixed in one call")
    if str in kinds:
        if trained.model.inputs[0].dtype != "string":
            raise DataError(f"predict: text lines given, but the model takes "
                            f"{trained.model.inputs[0].dtype} inputs of shape "
                            f"{tuple(trained.model.inputs[0].shape[1:])}; give arrays or images")
        return names, np.asarray(rows, dtype=object)
    shapes = {row.shape for row in rows}
    if len(shapes) > 1:
        raise DataError(f"predict: the inputs have different shapes {sorted(shapes)}; the run had "
                        "no data.image_size to resize them, so give inputs of one size")
    return names, np.stack(rows)


def _read_image(trained: Trained, path: Path) -> np.ndarray:
    """One image decoded as the model takes it; a one-line error naming it if it cannot be."""
    import tensorflow as tf

    cfg = trained.experiment.data
    channels = int(trained.model.inputs[0].shape[-1])       # decoded as the model takes them
    try:
        image = tf.io.decode_image(tf.io.read_file(str(path)), channels=channels,
                                   expand_animations=False).numpy()
    except tf.errors.InvalidArgumentError:
        raise DataError(f"predict input {path} is not a readable image") from None
    if cfg.image_size is None:
        expected = tuple(trained.model.inputs[0].shape[1:3])
        if image.shape[:2] != expected:
            raise DataError(f"predict input {path} is {image.shape[1]}x{image.shape[0]} but the "
                            f"model takes {expected[1]}x{expected[0]} images (the run did not "
                            "resize: data.image_size was None); resize it to that size")
    return image


def _read_array(path: Path) -> np.ndarray:
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False)
    with np.load(path, allow_pickle=False) as archive:
        for key in ("x", "x_test") + tuple(archive.files[:1] if len(archive.files) == 1 else ()):
            if key in archive.files:
                return archive[key]
        raise DataError(f"predict input {path} holds {clip(str(sorted(archive.files)))}; put "
                        "the inputs under the key x")


# --- evaluate --------------------------------------------------------------------------------

def evaluate(trained: Trained, data_name: Optional[str], overrides: Sequence[str] = (),
             output: Optional[Path] = None, log: Callable[[str], None] = print) -> dict:
    """The test metrics of ``trained`` on another dataset or split.

    A labelled image folder (``folder:PATH``) other than the one the model trained on, without
    ``train/``, is scored whole: every image in it, labelled by the model's class names
    (:func:`_new_image_folder`); other data by its test split. Writes the metrics as JSON (and a
    confusion matrix PNG for classifiers) under ``output`` (default ``<run>/evaluations``), never
    over an earlier evaluation. Returns them with ``scored``, what was scored and how many.
    """
    from kerasdl.config import LOSSES, parse_overrides
    from kerasdl.data import load_data
    from kerasdl.plots import plot_confusion

    changes = {**({"data.name": data_name} if data_name else {}), **parse_overrides(overrides)}
    bad = [key for key in changes if not key.startswith("data.")]
    if bad:
        raise ConfigError(f"evaluate changes only data keys; got {', '.join(bad)}")
    experiment = with_overrides(trained.experiment, changes)
    label_kind = LOSSES[experiment.trainer.loss][1]
    whole = _new_image_folder(trained, experiment.data)
    data = (_whole_folder(trained, experiment.data, whole, label_kind, log) if whole
            else load_data(experiment.data, label_kind, log=log))
    if data.class_names and trained.class_names and data.class_names != trained.class_names:
        raise DataError(f"dataset '{experiment.data.name}' has classes {list(data.class_names)} "
                        f"but the model was trained on {list(trained.class_names)}; "
                        "the class names (and their order) must match")
    count = data.counts["test"]
    scored = (f"every image in it, {count}" if whole else
              f"its test split, {count} example{'s' if count != 1 else ''}")
    metrics = {k: float(v) for k, v in
               trained.model.evaluate(data.test, verbose=0, return_dict=True).items()}
    folder = Path(output) if output else trained.home / "evaluations"
    folder.mkdir(parents=True, exist_ok=True)
    stem = (re.sub(r"[^A-Za-z0-9_.-]+", "_", experiment.data.name).strip("_")[-60:] + "-"
            + dt.datetime.now().strftime("%Y%m%d-%H%M%S"))
    while (folder / f"{stem}.json").exists():
        stem += "-1"
    written = [folder / f"{stem}.json"]
    from kerasdl.files import atomic_write_json

    atomic_write_json(written[0], {"model": str(trained.model_path), "data": dataclasses.asdict(
        experiment.data), "scored": scored, "counts": data.counts, "test_metrics": metrics})
    if data.label_format in ("sparse", "one_hot") and data.num_classes:
        truth = np.concatenate([np.asarray(y).reshape(len(y), -1).argmax(-1) if
                                data.label_format == "one_hot" else np.asarray(y).reshape(-1)
                                for _, y in data.test])
        predicted = np.asarray(trained.model.predict(data.test, verbose=0)).argmax(-1).reshape(-1)
        written.append(plot_confusion(truth, predicted, data.num_classes,
                                      folder / f"{stem}-confusion.png",
                                      class_names=trained.class_names or data.class_names))
    return {"test_metrics": metrics, "written": written, "experiment": experiment,
            "count": count, "scored": scored}


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
    _check_shape(trained, test.element_spec[0].shape[1:])
    return DataBundle(train=None, validation=None, test=test, num_classes=len(names),
                      label_format=label_format, source="folder",
                      description=f"every image of {folder}", counts={"test": count},
                      class_names=names)


# --- export ----------------------------------------------------------------------------------

def export_target(model_path: Path, home: Path, fmt: str, output: Optional[Path] = None) -> Path:
    """Where ``export`` writes, checked: a new path, never a link; imports no TensorFlow.

    The default is each model's own: ``<run>/export/<file>`` for a run directory (its
    ``model.keras``), ``<folder>/<stem>.export/<file>`` for any other model file (a published
    ``saved_models/<name>.keras``: ``saved_models/<name>.export/``; ``checkpoints/best.keras``).
    """
    if fmt not in EXPORT_FORMATS:
        raise ConfigError(f"unknown export format '{fmt}'; formats: {', '.join(EXPORT_FORMATS)}")
    file_name = EXPORT_FORMATS[fmt][1]
    if output is not None:
        target = Path(output)
    elif Path(model_path) == Path(home) / "model.keras":
        target = Path(home) / "export" / file_name
    else:
        target = Path(model_path).with_name(f"{Path(model_path).stem}.export") / file_name
    if target.is_symlink():
        raise KerasdlError(f"{target} is a symbolic link (to {os.readlink(target)}); give --output "
                           "a new path: an export is never written through a link")
    if target.exists():
        raise KerasdlError(f"{target} exists; give --output a new path (nothing is overwritten)")
    return target


#: an export passes its check where every output is within this of Keras's, times the largest
#: Keras output where that is above 1 (float32 kernels that differ in summation order: LeNet-5's
#: and ResNet-20's exports differ from Keras by 1e-7 to 1e-6)
EXPORT_TOLERANCE = 1e-4
#: the runtime each format's check loads the export back in
RUNTIMES = {"saved_model": "tf.saved_model.load (its serving_default signature)",
            "onnx": "onnxruntime", "litert": "the plain LiteRT interpreter (tf.lite.Interpreter)"}


def export(trained: Trained, fmt: str, output: Optional[Path] = None,
           log: Callable[[str], None] = lambda line: None) -> Path:
    """``model.export`` in ``fmt`` (saved_model, onnx, litert) to ``output``, checked.

    ``output`` defaults to the model's own folder (:func:`export_target`); refuses to overwrite,
    and says which formats a model can take. The export is written beside its target under a
    temporary name, loaded back in its own runtime (:data:`RUNTIMES`) and run on one example,
    its outputs compared with Keras's (:func:`check_export`), and only then renamed into place:
    an export that fails its check, or is killed, leaves nothing at the target. ``log`` gets one
    line saying what was checked.
    """
    from kerasdl.files import kill_point

    target = export_target(trained.model_path, trained.home, fmt, output)
    keras_format, default_name = EXPORT_FORMATS[fmt]
    if fmt != "saved_model" and any(t.dtype == "string" for t in trained.model.inputs):
        raise DataError(f"format '{fmt}' cannot carry this model: it takes string inputs "
                        "(text vectorization inside the model); export it as saved_model")
    if fmt == "onnx":
        for module in ("tf2onnx", "onnx"):
            try:
                __import__(module)
            except ImportError:
                raise KerasdlError(f"export to onnx needs {module}: pip install "
                                   "\"kerasdl[export]\"") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_exports(target)
    # litert wants a .tflite name; the temporary one keeps the format's suffix
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}{Path(default_name).suffix}")
    try:
        with _converter_chatter_hidden():
            if fmt == "onnx":
                _export_onnx(trained.model, partial)
            else:
                trained.model.export(str(partial), format=keras_format, verbose=False)
            checked = check_export(trained.model, fmt, partial, target)
        log(checked)                          # (stderr is kerasdl's again)
        kill_point("export-written")          # written whole under the temporary name, checked
        if target.exists() or target.is_symlink():
            raise KerasdlError(f"{target} appeared while exporting; give --output a new path "
                               "(nothing is overwritten)")
        os.rename(partial, target)
    finally:
        _remove(partial)
    return target


@contextmanager
def _converter_chatter_hidden():
    """The converters' own lines on stderr (C++ included) dropped, unless debugging.

    TensorFlow's, tf2onnx's and the LiteRT converter's: what an export says is kerasdl's check
    line or its one-line error."""
    from kerasdl.quiet import debug_enabled, filtered_stderr

    if debug_enabled():
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # tf.lite.Interpreter's deprecation notice, ...
        with filtered_stderr(re.compile(".")):
            yield


def example_inputs(model) -> list[np.ndarray]:
    """One example batch (2 rows) for ``model``'s inputs, in their order.

    Seeded uniform [0, 1) floats, token id 1 for integer inputs (in every vocabulary: 0 is
    padding), a short sentence for string inputs; a dimension the model leaves open is 4."""
    rng = np.random.default_rng(0)
    examples = []
    for tensor in model.inputs:
        shape = (2, *(4 if d is None else int(d) for d in tensor.shape[1:]))
        dtype = str(tensor.dtype)
        if dtype == "string":
            examples.append(np.full(shape, "a short example sentence", dtype=object))
        elif "int" in dtype or dtype == "bool":
            examples.append(np.ones(shape, dtype))
        else:
            examples.append(rng.random(shape).astype(dtype))
    return examples


def check_export(model, fmt: str, path: Path, target: Path) -> str:
    """Load the export at ``path`` in its own runtime, run it on one example, compare with Keras.

    Inputs are found and fed by the names of the model's inputs (a LiteRT file lists them in
    another order than Keras: the seq2seq's ``decoder_input`` before ``source``); each output must
    be within :data:`EXPORT_TOLERANCE` of Keras's. A LiteRT file that needs TensorFlow's Flex
    delegate (``FlexTensorListReserve``: the loops of LSTM/GRU layers) is refused: the plain
    interpreter, and LiteRT on a device without the select-ops library, cannot run it.
    Returns the line saying what was checked; raises a one-line DataError naming ``target``.
    """
    import time

    names = [tensor.name for tensor in model.inputs]
    examples = example_inputs(model)
    started = time.perf_counter()
    try:
        found = _RUNNERS[fmt](path, dict(zip(names, examples)), target)
    except KerasdlError:
        raise
    except Exception as error:      # the runtime's own failure, whatever its class
        raise DataError(f"the {fmt} export of this model does not run in {RUNTIMES[fmt]} "
                        f"({clip(_first_line(error), 160)}); nothing was written to {target}; "
                        "export it in another format") from None
    import keras
    import tensorflow as tf

    tensors = [tf.constant(example) for example in examples]      # one eager call: no predict loop
    expected = [np.asarray(keras.ops.convert_to_numpy(value)) for value in keras.tree.flatten(
        model(tensors if len(tensors) > 1 else tensors[0], training=False))]
    seconds = time.perf_counter() - started        # the check's whole cost: runtime and Keras
    if len(found) != len(expected):
        raise DataError(f"the {fmt} export gives {len(found)} outputs where the model gives "
                        f"{len(expected)}; nothing was written to {target}")
    worst = 0.0
    for index, (ours, theirs) in enumerate(zip(found, expected)):
        ours = np.asarray(ours)
        if ours.shape != theirs.shape:
            raise DataError(f"the {fmt} export's output {index} has shape {ours.shape} where "
                            f"Keras's has {theirs.shape}; nothing was written to {target}")
        difference = float(np.abs(ours.astype(np.float64) - theirs.astype(np.float64)).max()
                           ) if theirs.size else 0.0
        tolerance = EXPORT_TOLERANCE * max(1.0, float(np.abs(theirs).max()) if theirs.size else 1)
        if not difference <= tolerance:
            raise DataError(f"the {fmt} export does not give Keras's outputs: in {RUNTIMES[fmt]}, "
                            f"output {index} differs by {difference:.3g} on one example (tolerance "
                            f"{tolerance:.0e}); nothing was written to {target}; export it in "
                            "another format")
        worst = max(worst, difference)
    return (f"checked {target.name} in {RUNTIMES[fmt]}: fed by name ({', '.join(names)}), Keras's "
            f"outputs within {worst:.1e} on one example (tolerance {EXPORT_TOLERANCE:.0e}; "
            f"{seconds:.2f} s)")


def _by_output_index(outputs: dict) -> list:
    """A signature's outputs (``output_0``, ``output_1``, ... ``output_10``) in Keras's order."""
    def index(name):
        tail = name.rsplit("_", 1)[-1]
        return (0, int(tail), name) if tail.isdigit() else (1, 0, name)
    return [outputs[name] for name in sorted(outputs, key=index)]


def _same_names(fmt: str, found: Sequence[str], inputs: dict, target: Path) -> None:
    if sorted(found) != sorted(inputs):
        raise DataError(f"the {fmt} export takes inputs named {', '.join(found)} where the model "
                        f"takes {', '.join(inputs)}: they cannot be fed by name; nothing was "
                        f"written to {target}")


def _run_saved_model(path: Path, inputs: dict, target: Path) -> list:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    serve = loaded.signatures["serving_default"]
    _same_names("saved_model", list(serve.structured_input_signature[1]), inputs, target)
    outputs = serve(**{name: tf.constant(value) for name, value in inputs.items()})
    return [value.numpy() for value in _by_output_index(outputs)]


def _run_onnx(path: Path, inputs: dict, target: Path) -> list:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    _same_names("onnx", [feed.name for feed in session.get_inputs()], inputs, target)
    return session.run(None, inputs)


def _run_litert(path: Path, inputs: dict, target: Path) -> list:
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_path=str(path))
    flex = sorted({op["op_name"] for op in interpreter._get_ops_details()
                   if op["op_name"].startswith("Flex")})
    if flex:
        raise DataError(
            f"format 'litert' cannot carry this model: its LiteRT file needs TensorFlow's Flex "
            f"delegate for {', '.join(flex[:4])}{', ...' if len(flex) > 4 else ''} (ops outside "
            "LiteRT's builtin set), which the plain LiteRT interpreter does not have; export it "
            f"as saved_model or onnx (nothing was written to {target})")
    signatures = interpreter.get_signature_list()
    key = "serving_default" if "serving_default" in signatures else next(iter(signatures))
    _same_names("litert", signatures[key]["inputs"], inputs, target)
    outputs = interpreter.get_signature_runner(key)(**inputs)
    return _by_output_index(outputs)


_RUNNERS = {"saved_model": _run_saved_model, "onnx": _run_onnx, "litert": _run_litert}


def _export_onnx(model, path: Path) -> None:
    """``model.export(path, format="onnx")`` whose graph takes the model's inputs only.

    A Normalization layer built from given statistics (the csv: models) holds its mean and
    variance as eager tensors, which tf2onnx turns into extra graph inputs; as variables they are
    frozen into the graph as constants."""
    import keras
    import tensorflow as tf

    inputs = model.inputs                  # Keras's ONNX export needs a model that has been called
    examples = example_inputs(model)       # (an open dimension, seq2seq's lengths, is given one)
    model(examples if len(examples) > 1 else examples[0])
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.Normalization) and layer.mean is not None:
            for name in ("mean", "variance"):
                value = getattr(layer, name)
                if not isinstance(value, tf.Variable):
                    setattr(layer, name, tf.Variable(value, trainable=False, name=name))
    model.export(str(path), format="onnx", verbose=False)
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    initializers = {tensor.name for tensor in graph.initializer}
    found = [tensor.name for tensor in graph.input if tensor.name not in initializers]
    if len(found) != len(inputs):
        raise KerasdlError(f"the ONNX graph takes {len(found)} inputs ({', '.join(found)}) where "
                           f"the model takes {len(inputs)}: a constant of the model became an "
                           "input; export it as saved_model or litert")


def _remove_abandoned_exports(target: Path) -> None:
    """Remove the temporary exports to ``target`` of processes that are gone (killed ones)."""
    for partial in target.parent.glob(f".{target.name}.partial-*"):
        pid = partial.name.rsplit("partial-", 1)[1].split(".")[0]
        if pid.isdigit() and not _alive(int(pid)):
            _remove(partial)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def describe(trained: Trained) -> str:
    """One line: what the model is and what it takes."""
    shape = tuple(trained.model.inputs[0].shape[1:])
    classes = (f", classes {', '.join(trained.class_names[:8])}"
               f"{', ...' if len(trained.class_names) > 8 else ''}" if trained.class_names else "")
    return (f"{trained.model_path} ({trained.experiment.model_description()}; inputs {shape} "
            f"{trained.model.inputs[0].dtype}{classes})")


def iter_lines(predictions: Iterable[Prediction], as_json: bool) -> Iterable[str]:
    """Each prediction as an output line: JSON if ``as_json``, else plain text."""
    return (p.to_json() if as_json else p.to_line() for p in predictions)
