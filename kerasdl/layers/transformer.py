"""Transformer encoder blocks: token + position embedding, the encoder block, [CLS] pooling.

Reference:
    Vaswani et al. "Attention is all you need." NeurIPS 2017.
    Devlin, Chang, Lee, Toutanova. "BERT: Pre-training of deep bidirectional transformers for
    language understanding." NAACL 2019 (arXiv:1810.04805, 2018).

Padding is token id 0. :class:`TokenAndPositionEmbedding` emits a Keras mask (``ids != 0``), which
Keras hands to the next layers (Sequential, functional and subclassed alike);
:class:`TransformerEncoderBlock` turns it into the attention mask, so no position attends to a
padded key, and padded positions never change the outputs at real ones.

All layers are registered Keras-serializable (package "kerasdl").
"""
from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasdl")
class TokenAndPositionEmbedding(keras.layers.Layer):
    """Learned token embedding + learned absolute position embedding (BERT), masking id 0.

    With ``cls_token`` a learned [CLS] vector is put in front of the sequence (at position 0,
    always unmasked), so a sequence of L ids becomes L + 1 vectors; ``max_length`` counts it.

    Args:
        vocab_size: number of token ids (id 0 is padding).
        max_length: most positions the layer embeds (sequence length, plus one with cls_token).
        embed_dim: width of the embeddings.
        cls_token: prepend a learned [CLS] vector.
        mask_zero: emit a mask that is False where the id is 0.
    """

    def __init__(self, vocab_size: int, max_length: int, embed_dim: int, cls_token: bool = False,
                 mask_zero: bool = True, embeddings_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        for key, value in (("vocab_size", vocab_size), ("max_length", max_length),
                           ("embed_dim", embed_dim)):
            if int(value) < 1:
                raise ValueError(f"{key} must be >= 1; received: {key}={value}")
        self.vocab_size = int(vocab_size)
        self.max_length = int(max_length)
        self.embed_dim = int(embed_dim)
        self.cls_token = bool(cls_token)
        self.mask_zero = bool(mask_zero)
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.supports_masking = True
        self.token_embedding = keras.layers.Embedding(
            self.vocab_size, self.embed_dim, embeddings_initializer=self.embeddings_initializer,
            name="token_embedding")
        self.position_embedding = keras.layers.Embedding(
            self.max_length, self.embed_dim, embeddings_initializer=self.embeddings_initializer,
            name="position_embedding")

    def build(self, input_shape):
        length = input_shape[1] if len(input_shape) > 1 else None
        if length is not None and length + self.cls_token > self.max_length:
            raise ValueError(f"sequences of {length} tokens{' + [CLS]' if self.cls_token else ''} "
                             f"exceed max_length={self.max_length} positions; build the model "
                             "with a longer sequence_length")
        self.token_embedding.build(input_shape)
        self.position_embedding.build((None,))
        if self.cls_token:
            self.cls_embedding = self.add_weight(
                shape=(self.embed_dim,), initializer=self.embeddings_initializer,
                name="cls_embedding")
        self.built = True

    def call(self, inputs):
        ids = ops.cast(inputs, "int32")
        length = ops.shape(ids)[1]
        offset = 1 if self.cls_token else 0
        positions = ops.arange(offset, length + offset, dtype="int32")
        x = self.token_embedding(ids) + ops.expand_dims(self.position_embedding(positions), 0)
        if self.cls_token:
            cls = self.cls_embedding + self.position_embedding(ops.zeros((1,), "int32"))[0]
            cls = ops.broadcast_to(ops.reshape(cls, (1, 1, self.embed_dim)),
                                   (ops.shape(ids)[0], 1, self.embed_dim))
            x = ops.concatenate([ops.cast(cls, x.dtype), x], axis=1)
        return x

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        mask = ops.not_equal(inputs, 0)
        if self.cls_token:
            mask = ops.concatenate([ops.ones_like(mask[:, :1]), mask], axis=1)
        return mask

    def compute_output_shape(self, input_shape):
        length = input_shape[1]
        if self.cls_token and length is not None:
            length += 1
        return (input_shape[0], length, self.embed_dim)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size,
                "max_length": self.max_length, "embed_dim": self.embed_dim,
                "cls_token": self.cls_token, "mask_zero": self.mask_zero,
                "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer)}


@keras.saving.register_keras_serializable(package="kerasdl")
class TransformerEncoderBlock(keras.layers.Layer):
    """One post-norm Transformer encoder block (Vaswani et al. 2017; BERT's layer).

    ``x = LayerNorm(x + Dropout(MultiHeadSelfAttention(x)))``, then
    ``x = LayerNorm(x + Dropout(Dense(Dense_ff(x, activation))))``. The Keras mask of the input
    (False at padding) becomes the attention mask: no query attends to a padded key.

    Args:
        num_heads: attention heads; the model width must divide by it (head size = width/heads).
        ff_dim: width of the feed-forward layer (4x the model width in BERT).
        dropout: rate on the attention probabilities and after each sub-layer.
        activation: of the feed-forward layer ("gelu" in BERT, "relu" in Vaswani et al.).
        norm_epsilon: of the layer norms (BERT: 1e-12).
    """

    def __init__(self, num_heads: int, ff_dim: int, dropout: float = 0.1,
                 activation: str = "gelu", norm_epsilon: float = 1e-12, **kwargs):
        super().__init__(**kwargs)
        if int(num_heads) < 1 or int(ff_dim) < 1:
            raise ValueError(f"num_heads and ff_dim must be >= 1; received: num_heads={num_heads}, "
                             f"ff_dim={ff_dim}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1); received: dropout={dropout}")
        self.num_heads = int(num_heads)
        self.ff_dim = int(ff_dim)
        self.dropout = float(dropout)
        self.activation = activation
        self.norm_epsilon = float(norm_epsilon)
        self.supports_masking = True

    def build(self, input_shape):
        width = input_shape[-1]
        if width is None or width % self.num_heads:
            raise ValueError(f"the model width ({width}) must be a multiple of num_heads "
                             f"({self.num_heads})")
        # === Layers === (created here, where the width is known)
        self.attention = keras.layers.MultiHeadAttention(
            self.num_heads, key_dim=width // self.num_heads, dropout=self.dropout,
            name="self_attention")
        self.attention_dropout = keras.layers.Dropout(self.dropout, name="attention_dropout")
        self.attention_norm = keras.layers.LayerNormalization(epsilon=self.norm_epsilon,
                                                              name="attention_norm")
        self.ff_intermediate = keras.layers.Dense(self.ff_dim, activation=self.activation,
                                                  name="ff_intermediate")
        self.ff_output = keras.layers.Dense(width, name="ff_output")
        self.ff_dropout = keras.layers.Dropout(self.dropout, name="ff_dropout")
        self.ff_norm = keras.layers.LayerNormalization(epsilon=self.norm_epsilon, name="ff_norm")
        shape = tuple(input_shape)
        self.attention.build(shape, shape)
        self.attention_norm.build(shape)
        self.ff_intermediate.build(shape)
        self.ff_output.build((*shape[:-1], self.ff_dim))
        self.ff_norm.build(shape)
        self.built = True

    def call(self, x, mask=None, training=None):
        attention_mask = None
        if mask is not None:
            mask = ops.cast(mask, "bool")
            # [B, T, S]: query t may attend to key s only if both are real tokens (a padded
            # query row is all False: Keras' masked softmax makes it uniform, and nothing reads it)
            attention_mask = ops.logical_and(ops.expand_dims(mask, 2), ops.expand_dims(mask, 1))
        attended = self.attention(x, x, attention_mask=attention_mask, training=training)
        x = self.attention_norm(x + self.attention_dropout(attended, training=training))
        ff = self.ff_output(self.ff_intermediate(x))
        return self.ff_norm(x + self.ff_dropout(ff, training=training))

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "ff_dim": self.ff_dim,
                "dropout": self.dropout, "activation": self.activation,
                "norm_epsilon": self.norm_epsilon}


@keras.saving.register_keras_serializable(package="kerasdl")
class ClsPooling(keras.layers.Layer):
    """The vector at position 0 ([CLS]) of a sequence: (B, T, D) -> (B, D); drops the mask."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, x, mask=None):
        return x[:, 0]

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


@keras.saving.register_keras_serializable(package="kerasdl")
class MaskedMeanPooling(keras.layers.Layer):
    """Mean over the unmasked positions: (B, T, D) -> (B, D); drops the mask.

    Unlike ``GlobalAveragePooling1D``, an all-padding sequence (an empty text) gives zeros, not NaN.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, x, mask=None):
        if mask is None:
            return ops.mean(x, axis=1)
        weights = ops.cast(ops.expand_dims(mask, -1), x.dtype)
        return ops.sum(x * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1.0)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])
