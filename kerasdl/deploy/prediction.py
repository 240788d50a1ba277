"""Predictions of a trained model: top classes per input, or translations (seq2seq).

``predict`` reads its inputs as the model was trained on them (:mod:`kerasdl.deploy.readers`),
applies the run's own preprocessing (:func:`kerasdl.data.pipeline.feature_transform`), never a
guess, and names classes by the run's class names.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from kerasdl.data.translation import Vocabularies
from kerasdl.deploy.messages import quote
from kerasdl.deploy.readers import (PREDICT_BATCH, Stdin, image_batches, read_image, read_inputs,
                                    read_lines)
from kerasdl.deploy.reference import Trained
from kerasdl.errors import ConfigError, DataError


@dataclass
class Prediction:
    """One input's most probable classes, as predict prints them."""

    input: str
    top: list[tuple[str, float]]            # (class name, probability), most probable first

    def to_json(self) -> str:
        return json.dumps({"input": self.input, "top": [{"class": name, "probability": round(p, 6)}
                                                        for name, p in self.top]})

    def to_line(self) -> str:
        return f"{self.input}: " + ", ".join(f"{name} {p:.3f}" for name, p in self.top)


@dataclass
class Translation:
    """One text line and the model's translation of it."""

    input: str
    translation: str

    def to_json(self) -> str:
        return json.dumps({"input": self.input, "translation": self.translation})

    def to_line(self) -> str:
        return f"{self.input}: {self.translation}"


def predict(trained: Trained, inputs: Sequence[str], top_k: int = 3,
            stdin: Stdin = None) -> list:
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
    names, features = read_inputs(trained, inputs, stdin)
    if isinstance(features, list):              # image files: streamed through tf.data
        outputs = _predict_images(trained, features)
    else:
        batch = feature_transform(trained.experiment.data)(tf.constant(features))
        trained.check_input_shape(batch.shape[1:])
        outputs = trained.model.predict(batch, verbose=0, batch_size=PREDICT_BATCH)
    probabilities = _as_probabilities(np.asarray(outputs, np.float64))
    k = min(top_k, probabilities.shape[1])
    top = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    return [Prediction(name, [(trained.class_name(int(i)), float(row[i])) for i in best])
            for name, row, best in zip(names, probabilities, top)]


def _predict_images(trained: Trained, paths: list[Path]) -> np.ndarray:
    """The model's outputs for the images at ``paths``.

    Decoding overlaps inference (:func:`image_batches`); a bad file is then found one by one for
    the error naming it.
    """
    import tensorflow as tf

    batches = image_batches(trained, paths)
    trained.check_input_shape(batches.element_spec.shape[1:])
    try:
        return trained.model.predict(batches, verbose=0)
    except tf.errors.InvalidArgumentError:
        for path in paths:
            read_image(trained, path)
        raise


def translate(trained: Trained, inputs: Sequence[str],
              stdin: Stdin = None) -> list[Translation]:
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
        found = read_lines(text, stdin)
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
