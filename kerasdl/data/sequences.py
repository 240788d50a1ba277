"""Sequence datasets: generated ones that work offline, and the glue for TFDS tagging sets.

Generated datasets (embedded; ``data.source="embedded"``), each a pure function of ``split_seed``
(``numpy.random.default_rng(split_seed)`` draws every example; the first 80% are the train split,
the rest the test split; the examples are independent, so no shuffle is needed). Set
``data.rescale=None`` for all of them (they are not images):

* ``sine_sequences``: the seed's 1,000 synthetic sequences of 10 values: noisy sine waves
  ``x_t = sin(w t + p) + e_t``, ``w ~ U(0.2, 0.6)`` rad/step (periods of 10 to 31 steps),
  ``p ~ U(0, 2 pi)``, ``e_t ~ N(0, 0.1^2)``, ``t = 0..10``. Features ``x_0..x_9`` of shape
  ``(10, 1)``; target the next value ``x_10``, shape ``(1,)``. The noise makes an MSE of 0.01 the
  floor; predicting the mean (0) scores about 0.51.
* ``adding_task``: the adding problem of Hochreiter & Schmidhuber (1997, experiment 4), in the form
  of Le, Jaitly & Hinton (2015): 10,000 sequences of 50 steps with two channels, a value
  ``~ U(0, 1)`` and a marker (0 or 1). Exactly two steps are marked, one in each half of the
  sequence; the target is the sum of the two marked values, shape ``(1,)``. The first marked value
  must be remembered for up to 49 steps while 48 distractors go by. Predicting the mean (1.0)
  scores an MSE of 1/6 = 0.167; a network that solves the task scores near 0.
* ``synthetic_tags``: 4,000 token sentences of 5 to 20 tokens, right-padded with 0 to 20, for a
  tagger. Token ids 1..5 are markers (each token is one with probability 0.2), 6..49 words. A
  token's tag needs its neighbours on both sides: 1 a marker; 3 a word right after a marker; 4 a
  word right before a marker (and not after one); 2 any other word; 0 padding. Labels are
  ``(20,)`` int32 tag ids; 5 classes, padding tag 0 included. A left-to-right reader cannot
  know tag 4 before it sees the next token, so a bidirectional tagger can reach 100% and a
  unidirectional one cannot.

TFDS tagging sets on a user's machine (``CONLL2003`` below and :class:`TfdsTagging`): CoNLL-2003
(``tfds.load("conll2003")``: 14,041 / 3,250 / 3,453 sentences in train / dev / test, features
``tokens`` (strings), ``pos``, ``chunks``, ``ner`` (9 IOB2 tags)) has no supervised keys, so
``as_supervised=True`` fails on it. :meth:`TfdsTagging.to_supervised` maps each example to
``(tokens, tags)``: tokens padded with "" (the tagger's padding) and tags shifted by one so that 0
is the padding tag, both cut or padded to a fixed length so the pipeline's plain ``batch`` works.
The tagger then takes raw tokens: with string features and no vocabulary it builds one from the
training split and keeps it in the model (a ``StringLookup``), so a reloaded model tags raw text.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from kerasdl.data.embedded import register_dataset
from kerasdl.data.splits import Splits
from kerasdl.data.tfds_source import register_tfds_adapter

TRAIN_FRACTION = 0.8

SINE_EXAMPLES, SINE_LENGTH, SINE_NOISE = 1_000, 10, 0.1
ADDING_EXAMPLES, ADDING_LENGTH = 10_000, 50
TAGS_EXAMPLES, TAGS_MAX_LENGTH, TAGS_MIN_LENGTH = 4_000, 20, 5
TAGS_VOCAB_SIZE, TAGS_MARKERS, TAGS_MARKER_RATE = 50, 5, 0.2
#: the synthetic tag set, in id order
TAG_NAMES = ("PAD", "MARKER", "WORD", "AFTER_MARKER", "BEFORE_MARKER")


def _split(x: np.ndarray, y: np.ndarray, num_classes: Optional[int], description: str,
           split_seed: int) -> Splits:
    n_train = int(round(len(x) * TRAIN_FRACTION))
    return Splits.from_arrays(x[:n_train], y[:n_train], x[n_train:], y[n_train:], num_classes,
                              f"{description}; first {n_train} train, last {len(x) - n_train} test "
                              f"(generated with split_seed={split_seed})")


# === Generators (pure functions of their arguments; the registered loaders fix the sizes) ===

def make_sine_sequences(n: int = SINE_EXAMPLES, length: int = SINE_LENGTH,
                        noise: float = SINE_NOISE, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)``: ``x`` (n, length, 1) noisy sine values, ``y`` (n, 1) the next value."""
    rng = np.random.default_rng(seed)
    omega = rng.uniform(0.2, 0.6, size=(n, 1))
    phase = rng.uniform(0.0, 2 * np.pi, size=(n, 1))
    t = np.arange(length + 1)[None, :]
    values = np.sin(omega * t + phase) + rng.normal(0.0, noise, size=(n, length + 1))
    values = values.astype(np.float32)
    return values[:, :length, None], values[:, length:]


def make_adding_task(n: int = ADDING_EXAMPLES, length: int = ADDING_LENGTH, seed: int = 0
                     ) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)``: ``x`` (n, length, 2) = (value, marker) per step, ``y`` (n, 1) = the marked sum."""
    if length < 2:
        raise ValueError(f"the adding task needs length >= 2; received: length={length}")
    rng = np.random.default_rng(seed)
    values = rng.uniform(0.0, 1.0, size=(n, length))
    half = length // 2
    first = rng.integers(0, half, size=n)
    second = rng.integers(half, length, size=n)
    markers = np.zeros((n, length))
    rows = np.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=-1).astype(np.float32)
    y = (values[rows, first] + values[rows, second])[:, None].astype(np.float32)
    return x, y


def tag_tokens(tokens: np.ndarray, markers: int = TAGS_MARKERS) -> np.ndarray:
    """The synthetic tags of token rows (0 = padding), by the rule in the module docstring."""
    tokens = np.asarray(tokens)
    is_marker = (tokens >= 1) & (tokens <= markers)
    is_word = tokens > markers
    after = np.zeros_like(is_marker)
    after[:, 1:] = is_marker[:, :-1]
    before = np.zeros_like(is_marker)
    before[:, :-1] = is_marker[:, 1:]
    tags = np.zeros(tokens.shape, dtype=np.int32)
    tags[is_word] = 2
    tags[is_word & before] = 4
    tags[is_word & after] = 3
    tags[is_marker] = 1
    return tags


def make_synthetic_tags(n: int = TAGS_EXAMPLES, max_length: int = TAGS_MAX_LENGTH,
                        min_length: int = TAGS_MIN_LENGTH, vocab_size: int = TAGS_VOCAB_SIZE,
                        markers: int = TAGS_MARKERS, marker_rate: float = TAGS_MARKER_RATE,
                        seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(tokens, tags)``, both (n, max_length) int32, right-padded with 0."""
    rng = np.random.default_rng(seed)
    words = rng.integers(markers + 1, vocab_size, size=(n, max_length))
    marks = rng.integers(1, markers + 1, size=(n, max_length))
    tokens = np.where(rng.random((n, max_length)) < marker_rate, marks, words)
    lengths = rng.integers(min_length, max_length + 1, size=n)
    tokens[np.arange(max_length)[None, :] >= lengths[:, None]] = 0
    tokens = tokens.astype(np.int32)
    return tokens, tag_tokens(tokens, markers)


# === Registered embedded datasets ===

@register_dataset("sine_sequences")
def load_sine_sequences(split_seed: int) -> Splits:
    """The generated noisy sine sequences (target: the next value), split 80/20 train/test."""
    x, y = make_sine_sequences(seed=split_seed)
    return _split(x, y, None, f"{SINE_EXAMPLES:,} generated noisy sine sequences of "
                  f"{SINE_LENGTH} values (noise sd {SINE_NOISE}), target the next value",
                  split_seed)


@register_dataset("adding_task")
def load_adding_task(split_seed: int) -> Splits:
    """The generated adding-problem sequences (target: the marked sum), split 80/20 train/test."""
    x, y = make_adding_task(seed=split_seed)
    return _split(x, y, None, f"{ADDING_EXAMPLES:,} generated adding-problem sequences of "
                  f"{ADDING_LENGTH} steps (value, marker), target the sum of the 2 marked values",
                  split_seed)


@register_dataset("synthetic_tags")
def load_synthetic_tags(split_seed: int) -> Splits:
    """The generated token sentences and their synthetic tags, split 80/20 train/test."""
    x, y = make_synthetic_tags(seed=split_seed)
    return _split(x, y, len(TAG_NAMES),
                  f"{TAGS_EXAMPLES:,} generated token sentences of {TAGS_MIN_LENGTH}-"
                  f"{TAGS_MAX_LENGTH} tokens (vocab {TAGS_VOCAB_SIZE}, padding 0), tags by "
                  "neighbouring markers (padding tag 0)", split_seed)


# === TFDS tagging sets (no supervised keys): examples -> (tokens, tags) ===

@dataclass(frozen=True)
class TfdsTagging:
    """How to feed a TFDS tagging set: which features hold the tokens and tags, and the length.

    ``to_supervised`` maps one example (a dict) to ``(tokens, tags)``: ``tokens`` a ``(max_length,)``
    string tensor padded with "", ``tags`` a ``(max_length,)`` int32 tensor of the dataset's tag
    ids plus one, padded with 0. Sentences longer than ``max_length`` are cut.
    """

    tokens_key: str = "tokens"
    tags_key: str = "ner"
    max_length: int = 128

    def to_supervised(self, example):
        import tensorflow as tf

        tokens, tags = example[self.tokens_key], example[self.tags_key]
        n = tf.minimum(tf.minimum(tf.shape(tokens)[0], tf.shape(tags)[0]), self.max_length)
        pad = [[0, self.max_length - n]]
        tokens = tf.pad(tokens[:n], pad, constant_values="")
        tags = tf.pad(tf.cast(tags[:n], tf.int32) + 1, pad, constant_values=0)
        return tf.ensure_shape(tokens, (self.max_length,)), tf.ensure_shape(tags, (self.max_length,))

    def num_classes(self, info) -> int:
        """The dataset's tags plus the padding tag 0."""
        return info.features[self.tags_key].feature.num_classes + 1

    def tag_names(self, info) -> list[str]:
        return ["PAD", *info.features[self.tags_key].feature.names]


#: CoNLL-2003 NER: 9 IOB2 tags (O, B-PER, I-PER, B-ORG, I-ORG, B-LOC, I-LOC, B-MISC, I-MISC) -> 10
#: classes with padding; 128 tokens is longer than any of its sentences.
CONLL2003 = TfdsTagging(tokens_key="tokens", tags_key="ner", max_length=128)

#: TFDS name -> how to feed it; registered with the TFDS path (kerasdl.data.tfds_source)
TFDS_TAGGING: dict[str, TfdsTagging] = {"conll2003": CONLL2003}
for _name, _adapter in TFDS_TAGGING.items():
    register_tfds_adapter(_name)(_adapter)
