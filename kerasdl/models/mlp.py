"""Multilayer perceptron.

Reference:
    Rumelhart, Hinton, Williams. "Learning representations by back-propagating errors."
    Nature 323, 1986.
"""
from __future__ import annotations

from typing import Optional, Sequence

import keras
from keras import layers

from kerasdl.models.base import ChainModel, head_layers
from kerasdl.models.registry import register


@register("mlp")
class MLP(ChainModel):
    """Multilayer perceptron (Rumelhart et al. 1986); the default is the seed's 8-12-8-1 network.

    Inputs of any shape are flattened first. With one output unit the output is a sigmoid (binary
    classification); with more, a softmax.
    """

    default_input_shape = (8,)

    @staticmethod
    def make_layers(hidden: Sequence[int] = (12, 8), num_classes: int = 1, activation: str = "relu",
                    dropout: float = 0.0, include_top: bool = True,
                    classifier_activation: Optional[str] = "auto") -> list[keras.layers.Layer]:
        """The MLP's layers: flatten, the hidden Dense layers (with dropout if any), the output layer.

        Args:
            hidden: units of each hidden Dense layer.
            num_classes: output units; 1 means one sigmoid unit.
            activation: of the hidden layers.
            dropout: rate after each hidden layer (0 for none).
            include_top: end with the output layer; otherwise with the last hidden layer.
            classifier_activation: "auto" (sigmoid for 1 unit, softmax for more), a name, or None.
        """
        if classifier_activation == "auto":
            classifier_activation = "sigmoid" if num_classes == 1 else "softmax"
        stack: list[keras.layers.Layer] = [layers.Flatten(name="flatten")]
        for index, units in enumerate(hidden, start=1):
            stack.append(layers.Dense(units, activation=activation, name=f"hidden{index}"))
            if dropout:
                stack.append(layers.Dropout(dropout, name=f"dropout{index}"))
        if include_top:
            stack.extend(head_layers(num_classes, True, None, classifier_activation))
        return stack
