"""The fast MNIST trainers' two-convolution network (issue 28, 1: MNIST's accuracy in little time).

``fast_cnn``: conv 5x5 -> max pool -> conv 3x3 -> max pool -> dense -> classifier, the net with
which the fast MNIST recipes (tuomaso/train_mnist_fast; Adam with betas (0.7, 0.9) on a one-cycle
rate) reach 99% test accuracy in one epoch. On 28x28x1 it has 215,194 parameters and about 1.2M
multiply-adds an image, half those of keras.io's "Simple MNIST convnet" (2.4M), three times
LeNet-5's at 32x32 (0.4M); ``experiments/mnist_fast.py`` trains it.

Reference:
    Smith, Topin. "Super-Convergence: Very Fast Training of Neural Networks Using Large Learning
    Rates." 2018 (the one-cycle rate the fast recipes use).
    https://github.com/tuomaso/train_mnist_fast (the network and its recipe).
"""
from __future__ import annotations

from typing import Optional, Sequence

import keras
from keras import layers

from kerasdl.models.base import ChainModel, head_layers
from kerasdl.models.registry import register


@register("fast_cnn")
class FastCNN(ChainModel):
    """Fast MNIST CNN: conv24 5x5, max pool, conv32 3x3, max pool, dense 256; 215,194 params.

    28x28x1 -> conv1 24@5x5 valid ReLU (24x24) -> max pool 2 (12x12) -> conv2 32@3x3 valid ReLU
    (10x10) -> max pool 2 (5x5x32) -> flatten (800) -> fc1 256 ReLU -> 10 softmax.
    """

    default_input_shape = (28, 28, 1)
    test_kwargs = {"input_shape": (12, 12, 1), "filters": (4, 4), "units": 8, "num_classes": 3}

    @staticmethod
    def make_layers(num_classes: int = 10, filters: Sequence[int] = (24, 32), units: int = 256,
                    include_top: bool = True, pooling: Optional[str] = None,
                    classifier_activation: Optional[str] = "softmax"
                    ) -> list[keras.layers.Layer]:
        """The layers: conv1, pool1, conv2, pool2, then fc1 and the classifier.

        Args:
            num_classes: classes of the classifier (include_top only).
            filters: channels of conv1 (5x5) and conv2 (3x3).
            units: of the hidden dense layer fc1 (include_top only).
            include_top: end with fc1 and the classifier; otherwise after pool2 (+ ``pooling``).
            pooling: with include_top=False, None (pool2's maps), "avg" or "max".
            classifier_activation: of the output layer; None gives logits.
        """
        first, second = filters
        features = [
            layers.Conv2D(first, 5, activation="relu", name="conv1"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Conv2D(second, 3, activation="relu", name="conv2"),
            layers.MaxPooling2D(2, name="pool2"),
        ]
        if not include_top:
            return features + head_layers(num_classes, False, pooling)
        return features + [
            layers.Flatten(name="flatten"),
            layers.Dense(units, activation="relu", name="fc1"),
            *head_layers(num_classes, True, None, classifier_activation),
        ]
