"""LeNet-5.

Reference:
    LeCun, Bottou, Bengio, Haffner. "Gradient-based learning applied to document recognition."
    Proc. IEEE 86(11), 1998.
"""
from __future__ import annotations

from typing import Optional

import keras
from keras import layers

from kerasdl.models.base import ChainModel, head_layers
from kerasdl.models.registry import register


@register("lenet5")
class LeNet5(ChainModel):
    """LeNet-5 (LeCun et al. 1998): 32x32x1, tanh convolutions, average pooling; 61,706 parameters.

    C1 6@5x5 -> S2 avg 2x2 -> C3 16@5x5 -> S4 avg 2x2 -> C5 120@5x5 -> F6 84 -> 10 softmax.

    61,706 is the count of this common modern form, not the paper's: here C3 is fully connected
    to S2's six maps (16 x (6 x 25 + 1) = 2,416), S2 and S4 are plain average pooling, and the
    output is a 10-way Dense softmax (850). The 1998 paper reports about 60,000 trainable
    parameters: its C3 sees only some of S2's maps (a connection table: 1,516), S2 and S4 have a
    trainable coefficient and bias per map (12 + 32), and its output is a layer of RBF units with
    fixed weights (156 + 12 + 1,516 + 32 + 48,120 + 10,164 = 60,000).
    """

    default_input_shape = (32, 32, 1)

    @staticmethod
    def make_layers(num_classes: int = 10, include_top: bool = True, pooling: Optional[str] = None,
                    activation: str = "tanh", classifier_activation: Optional[str] = "softmax"
                    ) -> list[keras.layers.Layer]:
        """LeNet-5's layers: C1, S2, C3, S4, C5, then F6 and the classifier.

        Args:
            num_classes: classes of the classifier (include_top only).
            include_top: end with F6 and the classifier; otherwise end after C5 (+ ``pooling``).
            pooling: with include_top=False, None (C5's 4-D maps), "avg" or "max".
            activation: of C1, C3, C5 and F6 (the paper used a scaled tanh).
            classifier_activation: of the output layer; None gives logits.
        """
        features = [
            layers.Conv2D(6, 5, activation=activation, name="c1"),
            layers.AveragePooling2D(2, name="s2"),
            layers.Conv2D(16, 5, activation=activation, name="c3"),
            layers.AveragePooling2D(2, name="s4"),
            layers.Conv2D(120, 5, activation=activation, name="c5"),
        ]
        if not include_top:
            return features + head_layers(num_classes, False, pooling)
        return features + [
            layers.Flatten(name="flatten"),
            layers.Dense(84, activation=activation, name="f6"),
            *head_layers(num_classes, True, None, classifier_activation),
        ]
