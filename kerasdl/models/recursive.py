"""Recursive (tree-structured) neural network.

Reference:
    Socher, Lin, Ng, Manning. "Parsing natural scenes and natural language with recursive neural
    networks." ICML 2011.
    Goller, Kuechler. "Learning task-dependent distributed representations by backpropagation
    through structure." ICNN 1996.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import keras
import numpy as np
from keras import layers, ops

from kerasdl.errors import ModelError
from kerasdl.models.base import largest_token_id
from kerasdl.models.registry import register

STYLES = ("subclassed",)

_WHY_SUBCLASSED = (
    "model 'recursive' is subclassed only: a recursive network's computation follows each input "
    "tree (a loop over the nodes that reads the vectors of earlier nodes), which neither a "
    "keras.Sequential chain nor a static functional graph of layers can express; use "
    "style='subclassed'")


@register("recursive")
class RecursiveNet(keras.Model):
    """Recursive tree network (Socher et al. 2011): one shared composition makes every parent.

    A leaf's vector is the embedding of its token; an internal node's vector is
    ``p = tanh(W [c_left; c_right] + b)`` with the same ``W, b`` at every node of every tree, so the
    parameter count does not depend on the size of the trees. A softmax classifier reads the root
    (with ``per_node=True``: every node, through the same classifier).

    Subclassed by nature: the computation follows the structure of each input tree, so there is no
    Sequential or functional form (those builders raise ModelError).

    Input: a batch of trees as int arrays ``(batch, max_nodes, 3)``, one row ``[token, left,
    right]`` per node in post-order (children before parents), padded in front with
    ``[0, -1, -1]`` so that the root is the last row. Leaves have ``left = right = -1``; internal
    nodes have the row indices of their two children (see ``kerasdl.data.toy_text.encode_tree``).
    The loop over the nodes is a ``keras.ops.fori_loop`` (a ``tf.while_loop``), so the model runs
    compiled in graph mode and takes trees of any ``max_nodes``.
    """

    styles = STYLES
    default_input_shape = (29, 3)
    input_dtype = "int32"
    test_kwargs = {"vocab_size": 5, "embed_dim": 8, "num_classes": 2}
    registry_name = "recursive"

    @staticmethod
    def make_layers(vocab_size: int = 5, embed_dim: int = 32, num_classes: int = 2,
                    activation: str = "tanh", per_node: bool = False,
                    classifier_activation: Optional[str] = "softmax"
                    ) -> dict[str, keras.layers.Layer]:
        """The recursive net's shared layers: leaf embedding, composition and classifier.

        Args:
            vocab_size: number of leaf token ids (0 is padding).
            embed_dim: width of every node vector.
            num_classes: classes of the softmax classifier.
            activation: of the composition (Socher et al.: tanh).
            per_node: classify every node (batch, max_nodes, classes) instead of the root only.
            classifier_activation: of the classifier; None gives logits.

        Returns the layers by name (embedding, composition, classifier).
        """
        if vocab_size < 2 or embed_dim < 1 or num_classes < 1:
            raise ModelError(f"vocab_size must be >= 2, embed_dim and num_classes >= 1; received: "
                             f"vocab_size={vocab_size}, embed_dim={embed_dim}, "
                             f"num_classes={num_classes}")
        return {
            "leaf_embedding": layers.Embedding(vocab_size, embed_dim, name="leaf_embedding"),
            "composition": layers.Dense(embed_dim, activation=activation, name="composition"),
            "classifier": layers.Dense(num_classes, activation=classifier_activation,
                                       name="predictions", dtype="float32"),
        }

    # === Layers ===

    def __init__(self, input_shape: Optional[Sequence[int]] = None, name: Optional[str] = None,
                 **options: Any):
        super().__init__(name=name or self.registry_name)
        self.declared_input_shape = tuple(input_shape or self.default_input_shape)
        self.options = options
        built = self.make_layers(**options)
        self.leaf_embedding = built["leaf_embedding"]
        self.composition = built["composition"]
        self.classifier = built["classifier"]
        self.per_node = bool(options.get("per_node", False))

    def build(self, input_shape):
        width = self.leaf_embedding.output_dim
        self.leaf_embedding.build(tuple(input_shape[:-1]))
        self.composition.build((None, 2 * width))
        self.classifier.build((None, width))
        self.built = True

    def node_vectors(self, trees):
        """(batch, max_nodes, embed_dim): the vector of every node, children before parents."""
        trees = ops.cast(trees, "int32")
        tokens, left, right = trees[..., 0], trees[..., 1], trees[..., 2]
        leaves = self.leaf_embedding(tokens)                       # every node's token vector
        internal = ops.expand_dims(ops.greater_equal(left, 0), -1)
        max_nodes = ops.shape(trees)[1]
        left_index = ops.expand_dims(ops.maximum(left, 0), -1)     # padding/leaves: row 0, unused
        right_index = ops.expand_dims(ops.maximum(right, 0), -1)

        def visit(i, vectors):
            # children come before their parent in post-order, so their rows are final
            c_left = ops.take_along_axis(vectors, ops.expand_dims(left_index[:, i], 1), axis=1)
            c_right = ops.take_along_axis(vectors, ops.expand_dims(right_index[:, i], 1), axis=1)
            parent = self.composition(ops.concatenate([c_left[:, 0], c_right[:, 0]], axis=-1))
            node = ops.where(internal[:, i], parent, leaves[:, i])
            here = ops.reshape(ops.cast(ops.equal(ops.arange(max_nodes), i), node.dtype),
                               (1, -1, 1))
            return vectors * (1 - here) + ops.expand_dims(node, 1) * here

        return ops.fori_loop(0, max_nodes, visit, ops.zeros_like(leaves))

    def call(self, trees):
        vectors = self.node_vectors(trees)
        return self.classifier(vectors if self.per_node else vectors[:, -1])

    def compute_output_shape(self, input_shape):
        classes = self.classifier.units
        if self.per_node:
            return (input_shape[0], input_shape[1], classes)
        return (input_shape[0], classes)

    # === Config ===

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "input_shape": list(self.declared_input_shape), **self.options}

    # === The styles (subclassed only) ===

    @classmethod
    def build_subclassed(cls, input_shape: Optional[Sequence[int]] = None, **options: Any):
        model = cls(input_shape=input_shape, **options)
        model.build((None, *model.declared_input_shape))
        return model

    @classmethod
    def build_sequential(cls, input_shape=None, **options):
        raise ModelError(_WHY_SUBCLASSED)

    @classmethod
    def build_functional(cls, input_shape=None, **options):
        raise ModelError(_WHY_SUBCLASSED)

    # === Data ===

    @classmethod
    def kwargs_from_data(cls, kwargs: dict[str, Any], data) -> dict[str, Any]:
        """Complete the builder arguments from the training split, unless given.

        ``input_shape`` (max_nodes, 3), ``vocab_size`` (largest leaf token + 1) and
        ``num_classes``.
        """
        kwargs = dict(kwargs)
        features = data.train.element_spec[0]
        if not hasattr(features, "shape") or features.shape.rank != 3 or features.shape[-1] != 3:
            raise ModelError(f"model 'recursive' takes trees of shape (batch, max_nodes, 3); the "
                             f"dataset yields features {features}")
        kwargs.setdefault("input_shape", tuple(features.shape[1:]))
        if "vocab_size" not in kwargs:
            leaves = largest_token_id(data.train, lambda trees: trees[..., 0])
            kwargs["vocab_size"] = max(leaves + 1, 2)
        if data.num_classes and "num_classes" not in kwargs:
            kwargs["num_classes"] = data.num_classes
        return kwargs

    @classmethod
    def example_inputs(cls, batch_size: int = 2, input_shape: Optional[Sequence[int]] = None,
                       seed: int = 0) -> np.ndarray:
        """Random AND/OR expression trees, encoded as the model takes them."""
        from kerasdl.data.toy_text import encode_tree, random_expression

        max_nodes = (input_shape or cls.default_input_shape)[0]
        rng = np.random.default_rng(seed)
        trees = []
        while len(trees) < batch_size:
            try:
                trees.append(encode_tree(random_expression(rng, 3), max_nodes))
            except ValueError:                  # too big for max_nodes: draw another
                continue
        return np.stack(trees)
