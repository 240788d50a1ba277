"""Small convolutional networks: the seed's CIFAR-10 and MNIST CNNs, and the convolution variants.

``seed_cnn_cifar`` and ``seed_cnn_mnist`` are the two example CNNs of the seed chapter, with
their parameter counts pinned in the tests (4,210,090 and 421,642). ``locally_connected_cnn``
and ``tiled_cnn`` show the variants of the convolution of Goodfellow et al. section 9.5 in a
model: a strided convolution, then an unshared (locally connected) or a tiled convolution.

Reference:
    Goodfellow, Bengio, Courville. "Deep Learning", MIT Press 2016, chapter 9 (convolutional
    networks; 9.5: strided, unshared and tiled convolution).
    LeCun, Bottou, Bengio, Haffner. "Gradient-based learning applied to document recognition."
    Proc. IEEE 86(11), 1998.
    Le, Ngiam, Chen, Chia, Koh, Ng. "Tiled convolutional neural networks." NIPS 2010.
"""
from __future__ import annotations

from typing import Optional, Sequence

import keras
from keras import layers

from kerasdl.layers.local import LocallyConnected2D, TiledConv2D
from kerasdl.models.base import ChainModel, head_layers
from kerasdl.models.registry import register


def _top(num_classes: int, include_top: bool, pooling: Optional[str],
         classifier_activation: Optional[str], hidden: Sequence[tuple[int, float]] = ()
         ) -> list[keras.layers.Layer]:
    """Flatten, hidden Dense layers ``(units, dropout after)``, the classifier; or pooling."""
    if not include_top:
        return head_layers(num_classes, False, pooling)
    stack: list[keras.layers.Layer] = [layers.Flatten(name="flatten")]
    for index, (units, dropout) in enumerate(hidden, start=1):
        stack.append(layers.Dense(units, activation="relu", name=f"fc{index}"))
        if dropout:
            stack.append(layers.Dropout(dropout, name=f"fc{index}_dropout"))
    return stack + head_layers(num_classes, True, None, classifier_activation)


@register("seed_cnn_cifar")
class SeedCNNCifar(ChainModel):
    """Seed CIFAR-10 CNN: two conv32 3x3, max pool, dense 512, dropouts 0.3/0.5; 4,210,090 params.

    32x32x3 -> conv1 32@3x3 same ReLU -> dropout 0.3 -> conv2 32@3x3 same ReLU -> max pool 2
    (16x16x32) -> flatten (8,192) -> fc1 512 ReLU -> dropout 0.5 -> 10 softmax.
    """

    default_input_shape = (32, 32, 3)
    test_kwargs = {"input_shape": (4, 4, 3), "num_classes": 3}

    @staticmethod
    def make_layers(num_classes: int = 10, include_top: bool = True, pooling: Optional[str] = None,
                    classifier_activation: Optional[str] = "softmax"
                    ) -> list[keras.layers.Layer]:
        """The seed CIFAR-10 CNN's layers: conv1, dropout, conv2, max pool, then fc1 and the classifier.

        Args:
            num_classes: classes of the classifier (include_top only).
            include_top: end with fc1 and the classifier; otherwise after the max pooling.
            pooling: with include_top=False, None (16x16x32 maps), "avg" or "max".
            classifier_activation: of the output layer; None gives logits.
        """
        return [
            layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1"),
            layers.Dropout(0.3, name="conv1_dropout"),
            layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
            layers.MaxPooling2D(2, name="pool2"),
            *_top(num_classes, include_top, pooling, classifier_activation, hidden=[(512, 0.5)]),
        ]


@register("seed_cnn_mnist")
class SeedCNNMnist(ChainModel):
    """Seed MNIST CNN: conv32, max pool, conv64, max pool (3x3, pad 1), dense 128; 421,642 params.

    28x28x1 -> conv1 32@3x3 pad 1 ("same") ReLU -> max pool 2 (14x14) -> conv2 64@3x3 pad 1 ReLU
    -> max pool 2 (7x7x64) -> flatten (3,136) -> fc1 128 ReLU -> 10 softmax.
    """

    default_input_shape = (28, 28, 1)
    test_kwargs = {"input_shape": (8, 8, 1), "num_classes": 3}

    @staticmethod
    def make_layers(num_classes: int = 10, include_top: bool = True, pooling: Optional[str] = None,
                    classifier_activation: Optional[str] = "softmax"
                    ) -> list[keras.layers.Layer]:
        """The seed MNIST CNN's layers: conv1, pool1, conv2, pool2, then fc1 and the classifier.

        Args:
            num_classes: classes of the classifier (include_top only).
            include_top: end with fc1 and the classifier; otherwise after the second pooling.
            pooling: with include_top=False, None (7x7x64 maps), "avg" or "max".
            classifier_activation: of the output layer; None gives logits.
        """
        return [
            layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Conv2D(64, 3, padding="same", activation="relu", name="conv2"),
            layers.MaxPooling2D(2, name="pool2"),
            *_top(num_classes, include_top, pooling, classifier_activation, hidden=[(128, 0.0)]),
        ]


@register("locally_connected_cnn")
class LocallyConnectedCNN(ChainModel):
    """Strided conv + locally connected (unshared) layer + classifier; 248,426 params at 28x28x1.

    28x28x1 -> conv1 16@5x5 stride 2 ReLU (12x12) -> local2 16@3x3 unshared ReLU (10x10; a
    separate kernel per position, as in DeepFace) -> flatten -> softmax.
    """

    default_input_shape = (28, 28, 1)
    test_kwargs = {"input_shape": (12, 12, 1), "filters": (4, 4), "num_classes": 3}

    @staticmethod
    def make_layers(num_classes: int = 10, filters: Sequence[int] = (16, 16), strides: int = 2,
                    include_top: bool = True, pooling: Optional[str] = None,
                    classifier_activation: Optional[str] = "softmax"
                    ) -> list[keras.layers.Layer]:
        """The layers: strided conv1, locally connected local2, then the classifier.

        Args:
            num_classes: classes of the classifier (include_top only).
            filters: channels of conv1 and of the locally connected local2.
            strides: of conv1 (the strided convolution).
            include_top: end with the classifier; otherwise after local2 (+ ``pooling``).
            pooling: with include_top=False, None (local2's maps), "avg" or "max".
            classifier_activation: of the output layer; None gives logits.
        """
        conv_filters, local_filters = filters
        return [
            layers.Conv2D(conv_filters, 5, strides=strides, activation="relu", name="conv1"),
            LocallyConnected2D(local_filters, 3, activation="relu", name="local2"),
            *_top(num_classes, include_top, pooling, classifier_activation),
        ]


@register("tiled_cnn")
class TiledCNN(ChainModel):
    """Strided conv + tiled convolution (Le et al. 2010) + max pool + classifier; 26,890 params.

    28x28x1 -> conv1 16@5x5 stride 2 ReLU (12x12) -> tiled2 32@3x3, 2x2 tiles of kernels, ReLU
    (10x10) -> max pool 2 (5x5x32) -> flatten -> softmax.
    """

    default_input_shape = (28, 28, 1)
    test_kwargs = {"input_shape": (16, 16, 1), "filters": (4, 4), "tile_size": 3,
                   "num_classes": 3}

    @staticmethod
    def make_layers(num_classes: int = 10, filters: Sequence[int] = (16, 32), strides: int = 2,
                    tile_size: int = 2, include_top: bool = True, pooling: Optional[str] = None,
                    classifier_activation: Optional[str] = "softmax"
                    ) -> list[keras.layers.Layer]:
        """The layers: strided conv1, tiled convolution tiled2, max pool pool2, then the classifier.

        Args:
            num_classes: classes of the classifier (include_top only).
            filters: channels of conv1 and of the tiled convolution tiled2.
            strides: of conv1 (the strided convolution).
            tile_size: t: tiled2 rotates t x t kernels over its output positions.
            include_top: end with the classifier; otherwise after pool2 (+ ``pooling``).
            pooling: with include_top=False, None (pool2's maps), "avg" or "max".
            classifier_activation: of the output layer; None gives logits.
        """
        conv_filters, tiled_filters = filters
        return [
            layers.Conv2D(conv_filters, 5, strides=strides, activation="relu", name="conv1"),
            TiledConv2D(tiled_filters, 3, tile_size=tile_size, activation="relu", name="tiled2"),
            layers.MaxPooling2D(2, name="pool2"),
            *_top(num_classes, include_top, pooling, classifier_activation),
        ]
