"""The single-layer perceptron.

Reference:
    Rosenblatt. "The perceptron: a probabilistic model for information storage and organization in
    the brain." Psychological Review 65(6), 1958.
    Minsky, Papert. "Perceptrons." MIT Press, 1969 (a single layer cannot compute XOR).
"""
from __future__ import annotations

from typing import Optional

import keras
from keras import layers

from kerasdl.models.base import ChainModel
from kerasdl.models.registry import register


@register("perceptron")
class Perceptron(ChainModel):
    """Single-layer perceptron (Rosenblatt 1958): one Dense unit, sigmoid; 3 parameters at (2,).

    The output is ``activation(w . x + b)``: a linear decision boundary, so it learns OR and AND
    but not XOR. Inputs of any shape are flattened first. Rosenblatt's unit was a hard threshold;
    a sigmoid keeps it trainable by gradient descent (a step function has zero gradient).
    """

    default_input_shape = (2,)
    test_kwargs = {"input_shape": (2,)}

    @staticmethod
    def make_layers(num_classes: int = 1, activation: Optional[str] = "sigmoid"
                    ) -> list[keras.layers.Layer]:
        """The perceptron's layers: flatten and one Dense output layer.

        Args:
            num_classes: output units (1: one binary decision; more: independent perceptrons).
            activation: of the output ("sigmoid"; "linear"/None for a raw score, "tanh" ...).
        """
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1; received: num_classes={num_classes}")
        return [layers.Flatten(name="flatten"),
                # float32 even under mixed precision, as every kerasdl model's output
                layers.Dense(num_classes, activation=activation, name="predictions",
                             dtype="float32")]
