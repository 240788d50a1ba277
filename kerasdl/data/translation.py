"""TFDS translation pairs for seq2seq: raw sentence pairs -> ((source ids, decoder input ids),
target ids), with vocabularies adapted on the training split only.

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
from typing import Any, Optional

from kerasdl.data.tfds_source import register_tfds_adapter

START, END = "startseq", "endseq"


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

    def vocabularies(self) -> dict[str, list[str]]:
        """The learned vocabularies (id -> token), to turn decoded ids back into words."""
        return {key: vectorizer.get_vocabulary() for key, vectorizer in self.vectorizers.items()}


#: TFDS translation pairs kerasdl can feed to seq2seq
TRANSLATION_PAIRS = {
    "ted_hrlr_translate/pt_to_en": TfdsTranslation("pt", "en"),
    "ted_hrlr_translate/ru_to_en": TfdsTranslation("ru", "en"),
}
for _name, _adapter in TRANSLATION_PAIRS.items():
    register_tfds_adapter(_name)(_adapter)
