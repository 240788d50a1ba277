"""Transformer (BERT-style) text classifier.

Reference:
    Vaswani et al. "Attention is all you need." NeurIPS 2017.
    Devlin, Chang, Lee, Toutanova. "BERT: Pre-training of deep bidirectional transformers for
    language understanding." NAACL 2019 (arXiv:1810.04805, 2018).
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import keras
import numpy as np
from keras import layers

from kerasdl.errors import ModelError
from kerasdl.layers.transformer import (ClsPooling, MaskedMeanPooling, TokenAndPositionEmbedding,
                                        TransformerEncoderBlock)
from kerasdl.models.base import ChainModel, largest_token_id
from kerasdl.models.registry import register

#: preset name -> architecture; explicit builder arguments override a preset's values
PRESETS: dict[str, dict[str, Any]] = {
    # seconds on a CPU: the tests, CI and the offline experiment
    "tiny": dict(num_layers=2, embed_dim=32, num_heads=2, ff_dim=64, sequence_length=64,
                 dropout=0.1, activation="gelu", pooling="mean", pooler=False),
    # BERT-small sized (Turc et al. 2019, L=4, H=256): a real-data run on one GPU
    "small": dict(num_layers=4, embed_dim=256, num_heads=4, ff_dim=1024, sequence_length=256,
                  dropout=0.1, activation="gelu", pooling="cls", pooler=True),
    # BERT-base sized (Devlin et al.): L=12, H=768, A=12, FF=3072, 512 positions ([CLS] + 511)
    "bert_base": dict(num_layers=12, embed_dim=768, num_heads=12, ff_dim=3072, sequence_length=511,
                      dropout=0.1, activation="gelu", pooling="cls", pooler=True),
}

#: BERT-base's published size (bert-base-uncased: vocab 30,522, 512 positions), for comparison
BERT_BASE_PARAMS = 109_482_240
#: default cap on the vocabulary adapted from a text dataset (kwargs_from_data)
DEFAULT_MAX_TOKENS = 20_000

_TEST_VOCABULARY = ["the", "movie", "was", "not", "very", "good", "bad", "plot", "acting", "great",
                    "dull", "and", "but", "fun", "boring", "i", "liked", "it"]


def resolve(preset: Optional[str], **given: Any) -> dict[str, Any]:
    """The preset's architecture with every given (non-None) value taking precedence."""
    if preset not in PRESETS:
        raise ModelError(f"unknown transformer_classifier preset {preset!r}; presets: "
                         f"{', '.join(PRESETS)}")
    return {**PRESETS[preset], **{k: v for k, v in given.items() if v is not None}}


@register("transformer_classifier")
class TransformerClassifier(ChainModel):
    """Transformer encoder text classifier (Vaswani et al. 2017; BERT-style, Devlin et al. 2018).

    [TextVectorization ->] token + position embedding -> N encoder blocks (multi-head
    self-attention, feed-forward, residual + layer norm) -> masked mean or [CLS] pooling -> head.

    Two input modes:

    * raw text: give ``vocabulary`` (a list of words); the model starts with a
      ``TextVectorization`` layer holding it, takes a string tensor of shape ``(batch,)`` and,
      saved as ``.keras``, reloads taking raw strings. :meth:`kwargs_from_data` adapts the
      vocabulary on the training split of a text dataset (imdb_reviews, glue/sst2, toy_reviews).
    * token ids: give ``vocab_size``; the model takes int ids ``(batch, length)``, 0 = padding.

    Raw text needs the TensorFlow backend (TextVectorization's string ops; :meth:`tensorflow_only`);
    token ids run under ``KERAS_BACKEND=jax`` or ``torch`` too.

    Padding (id 0) is masked: attention never looks at it and the mean pooling skips it, so
    extending the padding does not change the output.
    """

    default_input_shape = (None,)
    input_dtype = "int32"
    test_kwargs = {"preset": "tiny", "vocabulary": _TEST_VOCABULARY, "sequence_length": 12,
                   "num_classes": 3}

    @staticmethod
    def make_layers(preset: str = "tiny", vocabulary: Optional[Sequence[str]] = None,
                    vocab_size: Optional[int] = None, sequence_length: Optional[int] = None,
                    num_layers: Optional[int] = None, embed_dim: Optional[int] = None,
                    num_heads: Optional[int] = None, ff_dim: Optional[int] = None,
                    dropout: Optional[float] = None, activation: Optional[str] = None,
                    pooling: Optional[str] = None, pooler: Optional[bool] = None,
                    num_classes: int = 2, include_top: bool = True,
                    classifier_activation: Optional[str] = "softmax",
                    standardize: Optional[str] = "lower_and_strip_punctuation"
                    ) -> list[keras.layers.Layer]:
        """The classifier's layers: [TextVectorization,] embeddings, encoder blocks, pooling, classifier.

        Args:
            preset: "tiny", "small" or "bert_base" (see ``PRESETS``); the arguments below that
                are given override it.
            vocabulary: words of a TextVectorization front (raw-string input); ids 0 and 1 are
                padding and out-of-vocabulary, so the embedding has ``len(vocabulary) + 2`` rows.
            vocab_size: number of token ids, for int-id input (without ``vocabulary``).
            sequence_length: tokens per text (the vectorizer pads/cuts to it; int ids may be
                shorter); positions embedded: this, plus one for [CLS].
            num_layers, embed_dim, num_heads, ff_dim: encoder depth, width, heads, FF width.
            dropout: rate in the embedding, the blocks and before the classifier.
            activation: of the feed-forward layers ("gelu" as BERT, "relu" as Vaswani et al.).
            pooling: "mean" (over real tokens) or "cls" (a learned [CLS] vector in front);
                "none" (with include_top=False) returns the sequence (batch, length, embed_dim).
            pooler: BERT's Dense(embed_dim, tanh) after pooling.
            num_classes: classes of the softmax head.
            include_top: end with the classifier; otherwise with the pooled (or sequence) output.
            classifier_activation: of the classifier; None gives logits.
            standardize: TextVectorization's standardization (raw-string input only).
        """
        cfg = resolve(preset, sequence_length=sequence_length, num_layers=num_layers,
                      embed_dim=embed_dim, num_heads=num_heads, ff_dim=ff_dim, dropout=dropout,
                      activation=activation, pooling=pooling, pooler=pooler)
        if cfg["pooling"] not in ("mean", "cls", "none"):
            raise ModelError(f"pooling must be 'mean', 'cls' or 'none'; received: "
                             f"pooling={cfg['pooling']!r}")
        if cfg["pooling"] == "none" and include_top:
            raise ModelError("pooling='none' (sequence output) needs include_top=False")
        if cfg["embed_dim"] % cfg["num_heads"]:
            raise ModelError(f"embed_dim ({cfg['embed_dim']}) must be a multiple of num_heads "
                             f"({cfg['num_heads']})")
        stack: list[keras.layers.Layer] = []
        if vocabulary is not None:
            vocabulary = [str(word) for word in vocabulary]
            if vocab_size is not None and vocab_size != len(vocabulary) + 2:
                raise ModelError(f"vocab_size={vocab_size} disagrees with the vocabulary of "
                                 f"{len(vocabulary)} words (+2: padding and [UNK]); give one")
            vocab_size = len(vocabulary) + 2
            stack.append(layers.TextVectorization(
                standardize=standardize, output_sequence_length=cfg["sequence_length"],
                vocabulary=vocabulary, name="vectorizer"))
        elif vocab_size is None:
            raise ModelError("transformer_classifier needs a vocabulary (raw-string input) or "
                             "vocab_size (int token ids); received neither")
        cls_token = cfg["pooling"] == "cls"
        stack += [
            TokenAndPositionEmbedding(vocab_size, cfg["sequence_length"] + cls_token,
                                      cfg["embed_dim"], cls_token=cls_token, name="embedding"),
            layers.LayerNormalization(epsilon=1e-12, name="embedding_norm"),
            layers.Dropout(cfg["dropout"], name="embedding_dropout"),
        ]
        for index in range(1, cfg["num_layers"] + 1):
            stack.append(TransformerEncoderBlock(cfg["num_heads"], cfg["ff_dim"], cfg["dropout"],
                                                 cfg["activation"], name=f"encoder{index}"))
        if cfg["pooling"] != "none":
            stack.append(ClsPooling(name="cls_pool") if cls_token
                         else MaskedMeanPooling(name="mean_pool"))
            if cfg["pooler"]:
                stack.append(layers.Dense(cfg["embed_dim"], activation="tanh", name="pooler"))
        if include_top:
            if num_classes < 1:
                raise ModelError(f"num_classes must be >= 1; received: num_classes={num_classes}")
            stack += [layers.Dropout(cfg["dropout"], name="head_dropout"),
                      # float32 even under mixed precision, as kerasdl's heads are
                      layers.Dense(num_classes, activation=classifier_activation,
                                   name="predictions", dtype="float32")]
        return stack

    # === Input mode: raw strings or int ids ===

    @classmethod
    def tensorflow_only(cls, options):
        """Raw-string input needs TensorFlow (TextVectorization's string ops); int ids do not."""
        if options.get("vocabulary") is None:
            return None
        return ("it uses TextVectorization on strings",
                "give vocab_size instead of vocabulary and feed int token ids (any backend)")

    @classmethod
    def input_shape_for(cls, input_shape, options):
        """One string per example with a vocabulary (shape ``()``), else int ids ``(length,)``."""
        if input_shape is None and options.get("vocabulary") is not None:
            return ()
        return super().input_shape_for(input_shape, options)

    @classmethod
    def input_dtype_for(cls, options):
        return "string" if options.get("vocabulary") is not None else cls.input_dtype

    # === Data ===

    @classmethod
    def kwargs_from_data(cls, kwargs: dict[str, Any], data) -> dict[str, Any]:
        """Complete the builder arguments from the dataset.

        Raw-text features (tf.string): a TextVectorization is adapted on the training split
        (never on validation or test) and its words become ``vocabulary``; ``max_tokens`` in the
        kwargs (default 20,000, padding and [UNK] included) caps it and is consumed here. Int
        features: ``vocab_size`` is the largest id in the training split + 1 and
        ``sequence_length`` the feature length, unless given. ``num_classes`` comes from the data.
        """
        import tensorflow as tf

        kwargs = dict(kwargs)
        max_tokens = kwargs.pop("max_tokens", DEFAULT_MAX_TOKENS)
        features = data.train.element_spec[0]
        if not hasattr(features, "dtype"):
            raise ModelError("transformer_classifier takes one input (text or token ids); the "
                             f"dataset yields nested features {features}")
        if features.dtype == tf.string:
            if kwargs.get("vocabulary") is None:
                cfg = resolve(kwargs.get("preset", "tiny"),
                              sequence_length=kwargs.get("sequence_length"))
                vectorizer = layers.TextVectorization(
                    max_tokens=max_tokens, output_sequence_length=cfg["sequence_length"],
                    standardize=kwargs.get("standardize", "lower_and_strip_punctuation"))
                vectorizer.adapt(data.train.map(lambda x, y: x))
                kwargs["vocabulary"] = [str(w) for w in vectorizer.get_vocabulary()[2:]]
        else:
            kwargs.setdefault("input_shape", tuple(features.shape[1:]))
            if kwargs.get("vocab_size") is None and kwargs.get("vocabulary") is None:
                kwargs["vocab_size"] = largest_token_id(data.train) + 1
            if kwargs.get("sequence_length") is None and features.shape[-1] is not None:
                kwargs["sequence_length"] = int(features.shape[-1])
        if data.num_classes and "num_classes" not in kwargs:
            kwargs["num_classes"] = data.num_classes
        return kwargs

    @classmethod
    def example_inputs(cls, batch_size: int = 2, input_shape: Optional[Sequence[int]] = None,
                       seed: int = 0) -> np.ndarray:
        """A batch the model accepts: raw strings, or int ids without a vocabulary.

        Raw strings of 3..10 words (one out of the vocabulary) as an object array, the form
        ``model.predict`` takes (test_kwargs give a vocabulary); int ids without a vocabulary.
        """
        rng = np.random.default_rng(seed)
        vocabulary = cls.test_kwargs.get("vocabulary")
        if vocabulary is None:
            length = (input_shape or (8,))[0] or 8
            ids = rng.integers(1, cls.test_kwargs["vocab_size"], (batch_size, length))
            return ids.astype("int32")
        texts = []
        for _ in range(batch_size):
            words = list(rng.choice(vocabulary, rng.integers(3, 11))) + ["zebra"]   # zebra: [UNK]
            rng.shuffle(words)
            texts.append(" ".join(words))
        return np.array(texts, dtype=object)
