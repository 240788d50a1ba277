"""ChainModel: one layer list, three Keras styles.

A family whose topology is a chain (of layers, or of block layers where the topology is not a chain)
writes one ``make_layers(**options)`` function. :class:`ChainModel` turns it into a
``keras.Sequential``, a functional ``keras.Model`` and a subclassed model (the class itself). The
three hold the same layers in the same order, so they have the same parameter count and, after
``set_weights(other.get_weights())``, the same outputs.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, Optional, Sequence

import keras
import numpy as np


class ChainModel(keras.Model):
    """A subclassed model whose ``call`` runs ``make_layers(**options)`` in order."""

    #: the input shape used when a builder is given none (without the batch axis)
    default_input_shape: tuple[int, ...] = ()
    #: the Keras styles this family can be built in (a two-input model has no Sequential form)
    styles: tuple[str, ...] = ("sequential", "functional", "subclassed")
    #: dtype of the model input ("string" for models that take raw text, "int32" for token ids)
    input_dtype: str = "float32"
    #: builder arguments of a small, fast configuration, used by the registry-driven tests
    test_kwargs: dict[str, Any] = {}
    registry_name: str = ""

    @classmethod
    def tensorflow_only(cls, options: dict[str, Any]) -> Optional[tuple[str, str]]:
        """Why a model built with ``options`` runs only on TensorFlow, or None (it runs on all).

        None where it runs on every Keras backend (TensorFlow, JAX, PyTorch); else ``(why it needs
        TensorFlow, what runs on the other backends instead, or "")``.
        :func:`kerasdl.models.registry.build` turns it into a ModelError under another backend.
        A family that uses TensorFlow's own ops (strings, ``tf.data``) overrides this."""
        return None

    # === Family hooks ===

    @staticmethod
    def make_layers(**options: Any) -> list[keras.layers.Layer]:
        """Return the model's layers, input to output, each with a stable name."""
        raise NotImplementedError

    @classmethod
    def kwargs_from_data(cls, kwargs: dict[str, Any], data) -> dict[str, Any]:
        """Builder arguments completed from the dataset (a :class:`kerasdl.data.DataBundle`).

        By default ``input_shape`` (single-input datasets) and ``num_classes`` (classification
        datasets) come from the data when not given. Families override this to derive more (a
        text model adapts its vocabulary to the training split).
        """
        kwargs = dict(kwargs)
        features = data.train.element_spec[0]
        if hasattr(features, "shape"):
            kwargs.setdefault("input_shape", tuple(features.shape[1:]))
        accepted = inspect.signature(cls.make_layers).parameters
        if "num_classes" in accepted and data.num_classes and "num_classes" not in kwargs:
            kwargs["num_classes"] = 1 if data.label_format == "raw" else data.num_classes
        return kwargs

    @classmethod
    def input_dtype_for(cls, options: dict[str, Any]) -> str:
        """The input dtype of a model built with ``options`` (default: the class's input_dtype).

        A family whose input depends on an option (token ids with ``vocab_size``) overrides it."""
        return cls.input_dtype

    @classmethod
    def input_shape_for(cls, input_shape: Optional[Sequence[int]],
                        options: dict[str, Any]) -> tuple:
        """The input shape (no batch axis) of a model built with ``input_shape`` and ``options``.

        The given one, else ``default_input_shape``. ``()`` is a shape (one string per example),
        not a missing one; a family whose default depends on an option overrides this."""
        return tuple(cls.default_input_shape if input_shape is None else input_shape)

    @classmethod
    def example_inputs(cls, batch_size: int = 2, input_shape: Optional[Sequence[int]] = None,
                       seed: int = 0) -> np.ndarray:
        """A batch the model accepts (uniform floats in [0, 1); token models override this)."""
        shape = cls.input_shape_for(input_shape, {})
        return np.random.default_rng(seed).random((batch_size, *shape)).astype("float32")

    # === Layers ===

    def __init__(self, input_shape: Optional[Sequence[int]] = None, name: Optional[str] = None,
                 **options: Any):
        super().__init__(name=name or self.registry_name)
        self.declared_input_shape = self.input_shape_for(input_shape, options)
        self.options = options
        self.chain = self._make_chain(self.declared_input_shape, options)

    @classmethod
    def _make_chain(cls, input_shape, options):
        """make_layers(**options), plus input_shape for families whose layers depend on it."""
        if "input_shape" in inspect.signature(cls.make_layers).parameters:
            return cls.make_layers(input_shape=tuple(input_shape), **options)
        return cls.make_layers(**options)

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.chain:
            shape = tuple(layer.compute_output_shape(shape))
        return shape

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.chain:
            if not layer.built:
                layer.build(shape)
            shape = tuple(layer.compute_output_shape(shape))
        self.built = True

    def call(self, inputs, training=None):
        # Keras's train_step passes training=True only to a call() that accepts it; BatchNorm and
        # Dropout need it (layers whose call() takes no training argument get none)
        x = inputs
        for layer in self.chain:
            x = layer(x, training=training)
        return x

    # === Config ===

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "input_shape": list(self.declared_input_shape), **self.options}

    # === The three styles ===

    @classmethod
    def build_subclassed(cls, input_shape: Optional[Sequence[int]] = None, **options: Any):
        model = cls(input_shape=input_shape, **options)
        model.build((None, *model.declared_input_shape))
        return model

    @classmethod
    def build_sequential(cls, input_shape: Optional[Sequence[int]] = None, **options: Any):
        shape = cls.input_shape_for(input_shape, options)
        return keras.Sequential([keras.Input(shape, dtype=cls.input_dtype_for(options), name="input"),
                                 *cls._make_chain(shape, options)],
                                name=cls.registry_name)

    @classmethod
    def build_functional(cls, input_shape: Optional[Sequence[int]] = None, **options: Any):
        shape = cls.input_shape_for(input_shape, options)
        inputs = keras.Input(shape, dtype=cls.input_dtype_for(options), name="input")
        x = inputs
        for layer in cls._make_chain(shape, options):
            x = layer(x)
        return keras.Model(inputs, x, name=cls.registry_name)


def largest_token_id(dataset, token_ids: Callable[[Any], Any] = lambda features: features) -> int:
    """The largest token id in a ``(features, labels)`` dataset (one pass over it).

    ``token_ids`` picks the ids out of a batch's features. A vocabulary that covers the data is
    this + 1."""
    import tensorflow as tf

    return int(dataset.reduce(tf.constant(0, tf.int64), lambda top, batch: tf.maximum(
        top, tf.reduce_max(tf.cast(token_ids(batch[0]), tf.int64)))))


def head_layers(num_classes: int, include_top: bool, pooling: Optional[str],
                classifier_activation: Optional[str] = "softmax",
                name: str = "predictions") -> list[keras.layers.Layer]:
    """The end of a convolutional model: global pooling and/or the classifier.

    With ``include_top`` the caller has already flattened or pooled, and this returns the
    classifier; without it, ``pooling`` ("avg", "max" or None) chooses how the feature maps are
    reduced, as in ``keras.applications``.
    """
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"pooling must be None, 'avg' or 'max'; received: pooling={pooling!r}")
    if include_top:
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1; received: num_classes={num_classes}")
        # float32 even under mixed precision: probabilities and logits keep their precision
        return [keras.layers.Dense(num_classes, activation=classifier_activation, name=name,
                                   dtype="float32")]
    if pooling == "avg":
        return [keras.layers.GlobalAveragePooling2D(name="avg_pool")]
    if pooling == "max":
        return [keras.layers.GlobalMaxPooling2D(name="max_pool")]
    return []
