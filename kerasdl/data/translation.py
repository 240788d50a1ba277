"""TFDS translation pairs for seq2seq, with vocabularies adapted on the training split only.

Raw sentence pairs -> ((source ids, decoder input ids), target ids).

A faithful translation run on a user's machine (network needed once, for the download):

    python -m kerasdl run experiments/seq2seq.py --set data.name=ted_hrlr_translate/pt_to_en \\
        --set data.source=tfds --set data.test_split=validation --set data.batch_size=64 \\
        --set trainer.epochs=20

Each target sentence is wrapped in ``startseq ... endseq`` (plain words survive TextVectorization's
standardization); the decoder reads the wrapped sentence without its last token and predicts it
without its first (teacher forcing). Id 0 is padding, 1 out-of-vocabulary, in both vocabularies.

Reference: Sutskever, Vinyals, Le. "Sequence to sequence learning with neural networks." NeurIPS 2014.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from kerasdl.data.tfds_source import register_tfds_adapter
from kerasdl.errors import DataError

START, END = "startseq", "endseq"
#: what Keras's TextVectorization strips in its default "lower_and_strip_punctuation"
STRIP_PUNCTUATION = r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']'
OOV = "[UNK]"


@dataclass(frozen=True)
class Vocabularies:
    """The two vocabularies of a translation model, and how text becomes ids and ids become text.

    Both map id -> token, id 0 padding. How text becomes source ids and target ids become text is
    what ``kerasdl predict`` needs to translate lines with a reloaded seq2seq model. Saved in the
    run's manifest and the publish record.

    Source text is standardized as training standardized it (Keras's
    ``lower_and_strip_punctuation``, split on whitespace) and cut at ``source_length``; a word
    outside the source vocabulary becomes ``[UNK]`` where the vocabulary has it, else an error.
    """

    source: tuple[str, ...]
    target: tuple[str, ...]
    source_length: int              # source tokens the model was trained on (longer text is cut)
    target_length: int              # most target tokens to decode, the end token included
    start: str                      # the target token the decoder starts from
    end: str                        # the target token that ends a translation

    def to_dict(self) -> dict:
        return {"source": list(self.source), "target": list(self.target),
                "source_length": self.source_length, "target_length": self.target_length,
                "start": self.start, "end": self.end}

    @classmethod
    def from_dict(cls, record: dict) -> "Vocabularies":
        return cls(**{**record, "source": tuple(record["source"]),
                      "target": tuple(record["target"])})

    @property
    def start_id(self) -> int:
        return self.target.index(self.start)

    @property
    def end_id(self) -> int:
        return self.target.index(self.end)

    def encode(self, lines: Sequence[str], names: Optional[Sequence[str]] = None):
        """Source ids ``(len(lines), source_length)`` int32, 0-padded."""
        import numpy as np
        import tensorflow as tf

        ids = {token: i for i, token in enumerate(self.source) if i}
        unknown = ids.get(OOV)
        standardized = tf.strings.regex_replace(tf.strings.lower(tf.constant(list(lines))),
                                                STRIP_PUNCTUATION, "")
        rows = np.zeros((len(lines), self.source_length), np.int32)
        for row, (line, words) in enumerate(zip(lines, standardized.numpy())):
            words = words.decode("utf-8").split()[:self.source_length]
            where = f"predict input {names[row] if names else repr(line)}"
            if not words:
                raise DataError(f"{where}: no words to translate")
            for column, word in enumerate(words):
                if word not in ids and unknown is None:
                    raise DataError(
                        f"{where}: the word {word!r} is not in the model's source vocabulary "
                        f"({', '.join(self.source[1:][:12])}{', ...' if len(self.source) > 13 else ''})")
                rows[row, column] = ids.get(word, unknown)
        return rows

    def decode(self, ids) -> str:
        """Target ids -> the tokens before the end token, joined by spaces."""
        tokens = []
        for i in list(ids):
            if i == self.end_id or i == 0:
                break
            tokens.append(self.target[i] if i < len(self.target) else OOV)
        return " ".join(tokens)


@dataclass
class TfdsTranslation:
    """How to feed one TFDS translation pair (``source_key`` -> ``target_key``) to seq2seq."""

    source_key: str
    target_key: str
    max_tokens: int = 8000           # vocabulary size of each language, padding and OOV included
    length: int = 32                 # tokens per sentence (longer ones are cut)
    adapt_examples: int = 50_000     # training pairs the vocabularies are learned from
    vectorizers: dict[str, Any] = field(default_factory=dict, repr=False)

    def fit(self, train) -> "TfdsTranslation":
        """A copy with both vocabularies adapted on (the first ``adapt_examples`` of) ``train``."""
        import keras

        fitted = copy.copy(self)
        fitted.vectorizers = {}
        for key, length, wrap in ((self.source_key, self.length, False),
                                  (self.target_key, self.length + 1, True)):
            vectorizer = keras.layers.TextVectorization(
                max_tokens=self.max_tokens, output_sequence_length=length, name=f"{key}_vocabulary")
            texts = train.take(self.adapt_examples).map(
                lambda example, key=key, wrap=wrap: self._text(example[key], wrap))
            vectorizer.adapt(texts.batch(512))
            fitted.vectorizers[key] = vectorizer
        return fitted

    @staticmethod
    def _text(text, wrap: bool):
        import tensorflow as tf

        return tf.strings.join([START, text, END], separator=" ") if wrap else text

    def to_supervised(self, example):
        import tensorflow as tf

        source = tf.cast(self.vectorizers[self.source_key](example[self.source_key]), tf.int32)
        target = tf.cast(self.vectorizers[self.target_key](
            self._text(example[self.target_key], True)), tf.int32)
        return (source, target[:-1]), target[1:]

    def num_classes(self, info) -> Optional[int]:
        return self.vectorizers[self.target_key].vocabulary_size()

    def vocabularies(self) -> Vocabularies:
        """The learned vocabularies (id -> token).

        They turn text into ids and decoded ids back into words.
        """
        return Vocabularies(tuple(self.vectorizers[self.source_key].get_vocabulary()),
                            tuple(self.vectorizers[self.target_key].get_vocabulary()),
                            self.length, self.length, START, END)


#: TFDS translation pairs kerasdl can feed to seq2seq
TRANSLATION_PAIRS = {
    "ted_hrlr_translate/pt_to_en": TfdsTranslation("pt", "en"),
    "ted_hrlr_translate/ru_to_en": TfdsTranslation("ru", "en"),
}
for _name, _adapter in TRANSLATION_PAIRS.items():
    register_tfds_adapter(_name)(_adapter)
