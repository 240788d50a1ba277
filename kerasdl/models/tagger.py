"""Sequence tagger: token embedding, a (bi)LSTM over the sentence, a softmax per token.

The NER-style tagger of Huang et al. (2015) and Lample et al. (2016), without their CRF layer: each
token's tag is predicted from the BiLSTM state at that token, which has read the whole sentence in
both directions. Padding is masked end to end: ``Embedding(mask_zero=True)`` marks id 0 (or the
empty string, for raw tokens) as padding; the LSTMs carry their state over it; the loss and the
metrics that Keras computes from the masked output skip it. So padding a batch further changes
neither the loss nor the outputs at real tokens (tests/test_sequences.py).

Inputs:

* token ids ``(T,)`` int32, 0 = padding (``vocab_size`` set), or
* raw tokens ``(T,)`` strings, "" = padding (``vocabulary`` set): a ``StringLookup`` layer in the
  model maps them to ids (0 for "", 1 for out-of-vocabulary tokens), so the vocabulary is saved
  with the model and a reloaded model tags raw tokens. Given string features and no vocabulary,
  :meth:`Tagger.kwargs_from_data` builds one from the training split.

Outputs ``(T, num_classes)`` softmax rows; with tags as ``(T,)`` integer ids (tag 0 = padding),
the loss is ``sparse_categorical_crossentropy``.

Reference:
    Huang, Xu, Yu. "Bidirectional LSTM-CRF models for sequence tagging." arXiv:1508.01991, 2015.
    Lample, Ballesteros, Subramanian, Kawakami, Dyer. "Neural architectures for named entity
    recognition." NAACL 2016.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Optional, Sequence

import keras
import numpy as np
from keras import layers

from kerasdl.models.registry import register
from kerasdl.models.rnn import SequenceModel, recurrent_layers, token_batch

#: ids a StringLookup front reserves: 0 for the padding "" and 1 for out-of-vocabulary tokens
RESERVED_IDS = 2


def build_vocabulary(token_batches, max_tokens: Optional[int] = 20_000, min_count: int = 1
                     ) -> list[str]:
    """The tokens of ``token_batches`` (arrays of strings/bytes, "" = padding), most frequent first.

    Ties are broken alphabetically, so the vocabulary is the same on every run.
    """
    counts: Counter = Counter()
    for batch in token_batches:
        flat = np.asarray(batch).reshape(-1)
        counts.update(t.decode("utf-8") if isinstance(t, bytes) else str(t) for t in flat)
    counts.pop("", None)
    ranked = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
    return ranked[:max_tokens] if max_tokens else ranked


@register("tagger")
class Tagger(SequenceModel):
    """BiLSTM sequence tagger (Huang et al. 2015; Lample et al. 2016): per-token softmax, padding masked.

    Token ids (``vocab_size``, 0 = padding) or raw tokens (``vocabulary``, "" = padding) in;
    one tag distribution per token out.
    """

    default_input_shape = (None,)
    input_dtype = "int32"
    test_kwargs = {"input_shape": (7,), "vocab_size": 20, "embedding_dim": 8, "units": (6,),
                   "num_classes": 4}

    @staticmethod
    def make_layers(num_classes: int = 5, vocab_size: Optional[int] = None,
                    vocabulary: Optional[Sequence[str]] = None, embedding_dim: int = 64,
                    units: Sequence[int] = (64,), cell: str = "lstm", bidirectional: bool = True,
                    merge_mode: str = "concat", dropout: float = 0.0,
                    recurrent_dropout: float = 0.0) -> list[keras.layers.Layer]:
        """The tagger's layers: [StringLookup,] token embedding, recurrent layers, per-token tag softmax.

        Args:
            num_classes: tags, padding tag 0 included.
            vocab_size: token ids are in ``[0, vocab_size)``, 0 = padding.
            vocabulary: raw-token input instead: the known tokens (ids 2.. in this order);
                "" is padding and any other token is out-of-vocabulary (id 1).
            embedding_dim: size of the token embedding.
            units: units of each recurrent layer (per direction).
            cell: "lstm" (the papers'), "gru" or "simple".
            bidirectional: a BiLSTM (the papers'); False reads left to right only.
            merge_mode: how the two directions merge: concat, sum, ave or mul.
            dropout: dropout rate of each recurrent layer's inputs.
            recurrent_dropout: dropout rate of each recurrent layer's state.
        """
        if (vocab_size is None) == (vocabulary is None):
            raise ValueError("the tagger takes token ids (vocab_size) or raw tokens (vocabulary): "
                             f"give exactly one; received: vocab_size={vocab_size!r}, vocabulary="
                             f"{'None' if vocabulary is None else f'<{len(vocabulary)} tokens>'}")
        front: list[keras.layers.Layer] = []
        if vocabulary is not None:
            vocabulary = [str(t) for t in vocabulary]
            if "" in vocabulary:
                raise ValueError("vocabulary must not hold the padding token ''")
            front = [layers.StringLookup(vocabulary=vocabulary, mask_token="", num_oov_indices=1,
                                         name="lookup")]
            vocab_size = len(vocabulary) + RESERVED_IDS
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2 (padding tag 0 and at least one tag); "
                             f"received: num_classes={num_classes!r}")
        return recurrent_layers(
            cell=cell, units=units, bidirectional=bidirectional, merge_mode=merge_mode,
            return_sequences=True, num_classes=num_classes, task="classification",
            classifier_activation="softmax", vocab_size=vocab_size, embedding_dim=embedding_dim,
            mask_zero=True, dropout=dropout, recurrent_dropout=recurrent_dropout, front=front,
            head_name="tags")

    @classmethod
    def input_dtype_for(cls, options: dict[str, Any]) -> str:
        return "string" if options.get("vocabulary") is not None else "int32"

    @classmethod
    def kwargs_from_data(cls, kwargs: dict[str, Any], data) -> dict[str, Any]:
        """Complete the builder arguments from the data.

        input_shape and num_classes from the data; for raw-token data, a vocabulary built from the
        training split (most frequent first, at most ``max_tokens``=20,000).
        """
        kwargs = super().kwargs_from_data(kwargs, data)
        features = data.train.element_spec[0]
        if (getattr(features, "dtype", None) is not None and features.dtype.name == "string"
                and kwargs.get("vocabulary") is None and kwargs.get("vocab_size") is None):
            kwargs.pop("vocab_size", None)
            kwargs["vocabulary"] = build_vocabulary(x.numpy() for x, _ in data.train)
        return kwargs

    @classmethod
    def example_inputs(cls, batch_size: int = 2, input_shape: Optional[Sequence[int]] = None,
                       seed: int = 0) -> np.ndarray:
        """Token ids in ``[1, test vocab_size)`` with trailing padding 0 (at least 2 real tokens)."""
        (length,) = tuple(input_shape or cls.test_kwargs["input_shape"])
        return token_batch(batch_size, length, cls.test_kwargs["vocab_size"], seed, min_length=2)
