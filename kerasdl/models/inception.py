"""GoogLeNet (Inception v1), as a chain of Inception cells.

Reference:
    Szegedy, Liu, Jia, Sermanet, Reed, Anguelov, Erhan, Vanhoucke, Rabinovich. "Going deeper with
    convolutions." CVPR 2015 (arXiv:1409.4842, 2014). Table 1.

Table 1, row by row (every convolution with ReLU and "same" padding):

    conv1 7x7/2 64 -> pool1 3x3/2 -> conv2_3x3_reduce 1x1 64 -> conv2_3x3 3x3 192 -> pool2 3x3/2
    -> inception_3a, 3b -> pool3 3x3/2 -> inception_4a .. 4e -> pool4 3x3/2 -> inception_5a, 5b
    -> avg_pool -> dropout 40% -> predictions (linear + softmax)

Left out, as the paper allows: the two auxiliary classifiers (on 4a and 4d; training-time only,
discarded at inference) and the local response normalization after pool1 and conv2 (the paper's
later models dropped it; it has no parameters). The final 7x7 average pooling is global average
pooling (the same at 224x224, and it works at any input size). Keras's "same" padding stands in
for Caffe's explicit padding and ceil-mode pooling: at 224x224 the feature maps are Table 1's
(112, 56, 28, 14, 7) and the parameters are unchanged.

Parameters: 6,998,552 at 1000 classes (``count_params()``; all trainable), against "about 6.8M"
in the paper. The paper's figure is the sum of Table 1's "params" column, 6,797.7K, which counts
no biases, rounds every row and does not follow from the table's own filter columns in several
rows. This model's weights, row by row from those filter columns (Table 1's figure in brackets):
conv1 9,408 (2.7K), conv2 114,688 (112K), 3a 163,328 (159K), 3b 388,096 (380K), 4a 375,552
(364K), 4b 448,512 (437K), 4c 509,440 (463K), 4d 604,672 (580K), 4e 867,328 (840K), 5a 1,042,432
(1072K), 5b 1,442,816 (1388K), classifier 1,024 x 1,000 = 1,024,000 (1000K): 6,990,272 weights,
plus 8,280 biases (7,280 in the 57 convolutions, 1,000 in the classifier). Without the top
(``include_top=False``) 5,973,552 remain.
"""
from __future__ import annotations

from typing import Optional

import keras
from keras import layers

from kerasdl.layers.inception import InceptionCell
from kerasdl.models.base import ChainModel, head_layers
from kerasdl.models.registry import register

#: Table 1: name -> (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj)
CELLS: dict[str, tuple[int, int, int, int, int, int]] = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}


def _cells(*names: str, kernel_initializer: str) -> list[keras.layers.Layer]:
    return [InceptionCell(*CELLS[name], kernel_initializer=kernel_initializer,
                          name=f"inception_{name}") for name in names]


@register("googlenet")
class GoogLeNet(ChainModel):
    """GoogLeNet / Inception v1 (Szegedy et al. 2014), no aux heads or LRN; 6,998,552 params.

    Nine Inception cells (:class:`~kerasdl.layers.inception.InceptionCell`) between a
    convolutional stem and global average pooling, dropout 0.4 and the classifier; 224x224x3 by
    default. See the module docstring for what differs from the paper and why the count does.
    """

    default_input_shape = (224, 224, 3)
    test_kwargs = {"input_shape": (32, 32, 3), "num_classes": 10}

    @staticmethod
    def make_layers(num_classes: int = 1000, include_top: bool = True,
                    pooling: Optional[str] = None, dropout: float = 0.4,
                    classifier_activation: Optional[str] = "softmax",
                    kernel_initializer: str = "he_normal") -> list[keras.layers.Layer]:
        """GoogLeNet's layers: a convolutional stem, nine Inception cells, pooling, dropout, the classifier.

        Args:
            num_classes: classes of the classifier (include_top only).
            include_top: end with average pooling, dropout and the classifier; otherwise with
                inception_5b (+ ``pooling``).
            pooling: with include_top=False, None (the 4-D feature maps), "avg" or "max".
            dropout: rate before the classifier (0.4 in the paper; 0 for none).
            classifier_activation: of the output layer; None gives logits.
            kernel_initializer: of every convolution. The paper does not say; its Caffe model
                used Xavier ("glorot_uniform"). Without the auxiliary classifiers, which the paper
                added to keep gradients flowing, glorot_uniform left the 22 ReLU layers stuck at
                chance accuracy in our runs (Adam 1e-3 or 3e-4, MNIST at 32-64 px), so the
                default is He et al.'s "he_normal".
        """
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); received: dropout={dropout}")
        init = kernel_initializer
        chain = [
            layers.Conv2D(64, 7, strides=2, padding="same", activation="relu",
                          kernel_initializer=init, name="conv1"),
            layers.MaxPooling2D(3, strides=2, padding="same", name="pool1"),
            layers.Conv2D(64, 1, activation="relu", kernel_initializer=init,
                          name="conv2_3x3_reduce"),
            layers.Conv2D(192, 3, padding="same", activation="relu", kernel_initializer=init,
                          name="conv2_3x3"),
            layers.MaxPooling2D(3, strides=2, padding="same", name="pool2"),
            *_cells("3a", "3b", kernel_initializer=init),
            layers.MaxPooling2D(3, strides=2, padding="same", name="pool3"),
            *_cells("4a", "4b", "4c", "4d", "4e", kernel_initializer=init),
            layers.MaxPooling2D(3, strides=2, padding="same", name="pool4"),
            *_cells("5a", "5b", kernel_initializer=init),
        ]
        if not include_top:
            return chain + head_layers(num_classes, False, pooling)
        chain.append(layers.GlobalAveragePooling2D(name="avg_pool"))
        if dropout:
            chain.append(layers.Dropout(dropout, name="dropout"))
        return chain + head_layers(num_classes, True, None, classifier_activation)
