"""Encoder-decoder (sequence to sequence) with teacher forcing, optional attention, greedy decoding.

Reference:
    Sutskever, Vinyals, Le. "Sequence to sequence learning with neural networks." NeurIPS 2014.
    Cho et al. "Learning phrase representations using RNN encoder-decoder for statistical machine
    translation." EMNLP 2014 (the GRU).
    Bahdanau, Cho, Bengio. "Neural machine translation by jointly learning to align and
    translate." ICLR 2015 (additive attention).
    Luong, Pham, Manning. "Effective approaches to attention-based neural machine translation."
    EMNLP 2015 (global attention, the "general" score, the attentional hidden state).
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import keras
import numpy as np
from keras import layers, ops

from kerasdl.errors import ModelError
from kerasdl.models.base import largest_token_id
from kerasdl.models.registry import register

STYLES = ("functional", "subclassed")
CELLS = {"lstm": layers.LSTM, "gru": layers.GRU}
ATTENTIONS = (None, "luong", "bahdanau")

_WHY_NO_SEQUENTIAL = (
    "model 'seq2seq' has no sequential style: it takes two inputs (source ids and the shifted "
    "target ids that teacher forcing feeds the decoder) and passes the encoder's final state, and "
    "with attention all its outputs, to the decoder; keras.Sequential is a single-input chain. "
    "Use style='functional' or 'subclassed'")


def _forward(parts: dict[str, keras.layers.Layer], source, decoder_input, training=None):
    """The one computation of both styles (symbolic in the functional one, eager/graph otherwise).

    Padding (id 0) is masked explicitly: the encoder skips padded source steps (its final state is
    that of the last real word), attention never looks at them, and the decoder's padded steps
    carry a Keras mask to the output, so the loss and metrics ignore them.
    """
    source_mask = ops.not_equal(source, 0)
    target_mask = ops.not_equal(decoder_input, 0)
    encoded = parts["encoder"](parts["source_embedding"](source), mask=source_mask,
                               training=training)
    encoder_outputs, states = encoded[0], list(encoded[1:])
    decoded = parts["decoder"](parts["target_embedding"](decoder_input), initial_state=states,
                               mask=target_mask, training=training)
    x = decoded[0]
    if "attention" in parts:
        keys = parts["attention_keys"](encoder_outputs)
        query = parts["attention_query"](x) if "attention_query" in parts else x
        context = parts["attention"]([query, encoder_outputs, keys],
                                     mask=[target_mask, source_mask])
        x = parts["attention_combine"](parts["attention_concat"]([context, x]))
    return parts["predictions"](x)


@register("seq2seq")
class Seq2Seq(keras.Model):
    """RNN encoder-decoder (Sutskever et al. 2014), LSTM or GRU, optional Luong/Bahdanau attention.

    Inputs ``(source_ids, decoder_input_ids)``: the decoder input is the target shifted right
    behind a start token (teacher forcing); the output is a softmax over the target vocabulary
    at every decoder step, (batch, target_length, target_vocab_size). Id 0 is padding in both.

    The encoder's final state starts the decoder. With attention, the decoder output ``h_t``
    queries all encoder outputs ``h_s`` (Luong et al. 2015's global attention) with the score
    ``h_t^T W_a h_s`` ("luong": Luong's "general" score) or ``v^T tanh(W_1 h_t + W_2 h_s)``
    ("bahdanau": Bahdanau et al. 2015's additive score; used here on the current decoder output,
    as in Luong's architecture, not inside the recurrence as in Bahdanau's input-fed decoder), and
    the attentional state ``tanh(W_c [c_t; h_t])`` feeds the softmax.

    Styles: functional and subclassed (the same layers and outputs). There is no Sequential form:
    the model has two inputs and a non-chain graph. :func:`greedy_decode` translates with any
    style, also a reloaded model.
    """

    styles = STYLES
    default_input_shape = ((None,), (None,))
    input_dtype = "int32"
    test_kwargs = {"source_vocab_size": 12, "target_vocab_size": 9, "embed_dim": 8, "units": 16,
                   "attention": "luong"}
    registry_name = "seq2seq"

    @staticmethod
    def make_layers(source_vocab_size: int = 31, target_vocab_size: int = 13, embed_dim: int = 32,
                    units: int = 128, cell: str = "lstm", attention: Optional[str] = "luong",
                    dropout: float = 0.0) -> dict[str, keras.layers.Layer]:
        """The encoder-decoder's layers: embeddings, encoder, decoder, attention (if any), softmax.

        Args:
            source_vocab_size: source token ids (0 is padding); from the data when run.
            target_vocab_size: target token ids (padding, start, end, ...); the data's classes.
            embed_dim: width of the source and target embeddings.
            units: width of the encoder and decoder states.
            cell: "lstm" or "gru".
            attention: None, "luong" or "bahdanau".
            dropout: input dropout of the encoder and decoder RNNs.

        Returns the layers by name, in the order the functional graph holds them.
        """
        if cell not in CELLS:
            raise ModelError(f"cell must be one of {', '.join(CELLS)}; received: cell={cell!r}")
        if attention not in ATTENTIONS:
            raise ModelError(f"attention must be None, 'luong' or 'bahdanau'; received: "
                             f"attention={attention!r}")
        for key, value in (("source_vocab_size", source_vocab_size),
                           ("target_vocab_size", target_vocab_size), ("embed_dim", embed_dim),
                           ("units", units)):
            if value < 2 - (key in ("embed_dim", "units")):
                raise ModelError(f"{key} is too small; received: {key}={value}")
        rnn = CELLS[cell]
        parts: dict[str, keras.layers.Layer] = {
            "source_embedding": layers.Embedding(source_vocab_size, embed_dim,
                                                 name="source_embedding"),
            "target_embedding": layers.Embedding(target_vocab_size, embed_dim,
                                                 name="target_embedding"),
            "encoder": rnn(units, return_sequences=True, return_state=True, dropout=dropout,
                           name="encoder"),
            "decoder": rnn(units, return_sequences=True, return_state=True, dropout=dropout,
                           name="decoder"),
        }
        if attention == "luong":           # score(h_t, h_s) = h_t . (W_a h_s)
            parts["attention_keys"] = layers.Dense(units, use_bias=False, name="attention_keys")
            parts["attention"] = layers.Attention(name="attention")
        elif attention == "bahdanau":      # score(h_t, h_s) = v . tanh(W_1 h_t + W_2 h_s)
            parts["attention_query"] = layers.Dense(units, use_bias=False, name="attention_query")
            parts["attention_keys"] = layers.Dense(units, use_bias=False, name="attention_keys")
            parts["attention"] = layers.AdditiveAttention(name="attention")
        if attention:
            parts["attention_concat"] = layers.Concatenate(name="attention_concat")
            parts["attention_combine"] = layers.Dense(units, activation="tanh",
                                                      name="attention_combine")
        parts["predictions"] = layers.Dense(target_vocab_size, activation="softmax",
                                            name="predictions", dtype="float32")
        return parts

    # === Layers ===

    def __init__(self, name: Optional[str] = None, **options: Any):
        super().__init__(name=name or self.registry_name)
        options.pop("input_shape", None)
        self.options = options
        self.parts = self.make_layers(**options)
        for key, layer in self.parts.items():      # tracked in graph order: weights line up
            setattr(self, key, layer)

    def call(self, inputs, training=None):
        source, decoder_input = inputs
        return _forward(self.parts, source, decoder_input, training=training)

    # === Config ===

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, **self.options}

    # === The styles ===

    @classmethod
    def build_functional(cls, input_shape: Optional[Sequence] = None, **options: Any):
        """Build the functional model, whose two inputs are the source and decoder input ids.

        ``input_shape``: ((source_length,), (target_length,)); lengths default to None (any
        length).
        """
        source_shape, target_shape = input_shape or cls.default_input_shape
        source = keras.Input(tuple(source_shape), dtype="int32", name="source")
        decoder_input = keras.Input(tuple(target_shape), dtype="int32", name="decoder_input")
        outputs = _forward(cls.make_layers(**options), source, decoder_input)
        return keras.Model([source, decoder_input], outputs, name=cls.registry_name)

    @classmethod
    def build_subclassed(cls, input_shape: Optional[Sequence] = None, **options: Any):
        model = cls(**options)
        model((np.ones((1, 2), "int32"), np.ones((1, 2), "int32")))     # creates the weights
        return model

    @classmethod
    def build_sequential(cls, input_shape=None, **options):
        raise ModelError(_WHY_NO_SEQUENTIAL)

    # === Data ===

    @classmethod
    def kwargs_from_data(cls, kwargs: dict[str, Any], data) -> dict[str, Any]:
        """Complete the vocabulary sizes from the data, unless given.

        ``source_vocab_size`` (largest source id in the training split + 1) and
        ``target_vocab_size`` (the dataset's classes).
        """
        kwargs = dict(kwargs)
        features = data.train.element_spec[0]
        if not isinstance(features, (tuple, list)) or len(features) != 2:
            raise ModelError("model 'seq2seq' takes (source_ids, decoder_input_ids) features; the "
                             f"dataset yields {features}")
        if "source_vocab_size" not in kwargs:
            kwargs["source_vocab_size"] = largest_token_id(
                data.train, lambda features: features[0]) + 1
        if "target_vocab_size" not in kwargs:
            if not data.num_classes:
                raise ModelError("give model.kwargs.target_vocab_size: the dataset does not say "
                                 "its number of target tokens")
            kwargs["target_vocab_size"] = data.num_classes
        return kwargs

    @classmethod
    def example_inputs(cls, batch_size: int = 2, input_shape=None, seed: int = 0):
        """(source ids (batch, 7), decoder input ids (batch, 5)) with some source padding."""
        rng = np.random.default_rng(seed)
        source = rng.integers(1, cls.test_kwargs["source_vocab_size"], (batch_size, 7))
        source[0, 5:] = 0
        decoder_input = rng.integers(1, cls.test_kwargs["target_vocab_size"], (batch_size, 5))
        return source.astype("int32"), decoder_input.astype("int32")


def greedy_decode(model, source_ids, start_id: int, end_id: int, max_len: int,
                  batch_size: int = 1024) -> np.ndarray:
    """Translate by feeding back the most likely token (Sutskever et al. 2014, beam width 1).

    Runs the teacher-forcing model on the decoded prefix, ``max_len`` times; the decoder is causal
    (an RNN, and attention looks at the source only), so the last step's output is exactly the
    next-token distribution. Works with either style and with a reloaded model.

    Args:
        model: a seq2seq model taking ``(source_ids, decoder_input_ids)``.
        source_ids: int array (batch, source_length), 0 = padding.
        start_id, end_id: the target vocabulary's start and end tokens.
        max_len: most tokens to emit (the end token included).
        batch_size: sources decoded at once.

    Returns:
        int32 array (batch, max_len): the emitted tokens up to and including ``end_id``, then 0.
    """
    source_ids = np.asarray(source_ids, dtype="int32")
    results = []
    for first in range(0, len(source_ids), batch_size):
        source = source_ids[first:first + batch_size]
        decoded = np.full((len(source), 1), start_id, dtype="int32")
        done = np.zeros(len(source), dtype=bool)
        for _ in range(max_len):
            probabilities = ops.convert_to_numpy(model((source, decoded), training=False))
            step = probabilities[:, -1].argmax(-1).astype("int32")
            step[done] = 0
            decoded = np.concatenate([decoded, step[:, None]], axis=1)
            done |= step == end_id
            if done.all():
                break
        emitted = np.zeros((len(source), max_len), dtype="int32")
        emitted[:, :decoded.shape[1] - 1] = decoded[:, 1:]
        results.append(emitted)
    return np.concatenate(results) if results else np.zeros((0, max_len), "int32")


def exact_match(predicted, targets, end_id: int) -> float:
    """Fraction of rows whose tokens up to and including ``end_id`` equal the target's."""
    def sequence(row):
        row = list(np.asarray(row).tolist())
        return tuple(row[:row.index(end_id) + 1]) if end_id in row else tuple(row)
    pairs = list(zip(predicted, targets))
    return float(np.mean([sequence(p) == sequence(t) for p, t in pairs])) if pairs else 0.0
