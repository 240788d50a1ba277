"""AlexNet, single-tower.

The network of Krizhevsky et al. (2012) as one tower (the paper split it over two GPUs, with
grouped convolutions in conv2, conv4 and conv5) and without local response normalisation (which
later work found to add little; the seed's table omits it too). The input is 227x227x3, the size
at which the 11x11 stride-4 convolution gives the paper's 55x55 maps without padding.

    conv1  96@11x11 /4, valid   227 -> 55      pool1  max 3x3 /2   55 -> 27
    conv2 256@5x5, same          27            pool2  max 3x3 /2   27 -> 13
    conv3 384@3x3, same          13
    conv4 384@3x3, same          13
    conv5 256@3x3, same          13            pool5  max 3x3 /2   13 -> 6
    flatten 9216 -> dropout 0.5 -> fc6 4096 -> dropout 0.5 -> fc7 4096 -> predictions 1000
                                                              = 62,378,344 parameters

Dropout is placed as in the seed's table: on the inputs of fc6 and fc7 (the paper's Caffe model
drops the outputs of fc6 and fc7 instead, i.e. the inputs of fc7 and fc8). Layer names follow the
paper's Caffe model (conv1 ... conv5, pool1, pool2, pool5, fc6, fc7); the classifier is
``predictions``, as in keras.applications.

Reference:
    Krizhevsky, Sutskever, Hinton. "ImageNet classification with deep convolutional neural
    networks." NeurIPS 2012.
"""
from __future__ import annotations

from typing import Optional

import keras
from keras import layers

from kerasdl.models.base import ChainModel, head_layers
from kerasdl.models.registry import register


def _check_options(pooling: Optional[str], dropout: float) -> None:
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"pooling must be None, 'avg' or 'max'; received: pooling={pooling!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1); received: dropout={dropout!r}")


@register("alexnet")
class AlexNet(ChainModel):
    """AlexNet (Krizhevsky et al. 2012), single tower, no LRN: 227x227x3, 62,378,344 parameters.

    Five ReLU convolutions (96@11x11/4, 256@5x5, 384, 384, 256 @3x3) with three 3x3/2 max pools,
    then fc6 and fc7 of 4096 units with dropout on their inputs, and a softmax classifier.
    Smallest input: 67x67 (pool5 is then 1x1); at other sizes than 227x227 fc6 has
    ``pool5 height x width x 256`` inputs, so the parameter count differs.
    """

    default_input_shape = (227, 227, 3)
    # conv stack only, at the smallest input (pool5 1x1): 3.7 M parameters, fast in three styles
    test_kwargs = {"input_shape": (67, 67, 3), "include_top": False, "pooling": "avg"}

    @staticmethod
    def make_layers(num_classes: int = 1000, include_top: bool = True,
                    pooling: Optional[str] = None, dropout: float = 0.5,
                    classifier_activation: Optional[str] = "softmax"
                    ) -> list[keras.layers.Layer]:
        """AlexNet's layers: five convolutions with three max pools, then fc6, fc7 and the classifier.

        Args:
            num_classes: classes of the classifier (include_top only).
            include_top: end with flatten, fc6, fc7 and the classifier; otherwise end after pool5
                (+ ``pooling``).
            pooling: with include_top=False, None (pool5's 4-D maps), "avg" or "max".
            dropout: rate of the dropout before fc6 and before fc7 (0 leaves the layers out).
            classifier_activation: of the output layer; None gives logits.

        Returns:
            the layers, input to output.
        """
        _check_options(pooling, dropout)
        features = [
            layers.Conv2D(96, 11, strides=4, activation="relu", name="conv1"),
            layers.MaxPooling2D(3, strides=2, name="pool1"),
            layers.Conv2D(256, 5, padding="same", activation="relu", name="conv2"),
            layers.MaxPooling2D(3, strides=2, name="pool2"),
            layers.Conv2D(384, 3, padding="same", activation="relu", name="conv3"),
            layers.Conv2D(384, 3, padding="same", activation="relu", name="conv4"),
            layers.Conv2D(256, 3, padding="same", activation="relu", name="conv5"),
            layers.MaxPooling2D(3, strides=2, name="pool5"),
        ]
        if not include_top:
            return features + head_layers(num_classes, False, pooling)
        classifier: list[keras.layers.Layer] = [layers.Flatten(name="flatten")]
        for name in ("fc6", "fc7"):
            if dropout:
                classifier.append(layers.Dropout(dropout, name=f"{name}_dropout"))
            classifier.append(layers.Dense(4096, activation="relu", name=name))
        return features + classifier + head_layers(num_classes, True, None, classifier_activation)
