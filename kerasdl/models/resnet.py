"""ResNet (v1): CIFAR-10 ResNet-20/56 and ImageNet ResNet-18/34/50, as chains of residual blocks.

Reference:
    He, Zhang, Ren, Sun. "Deep Residual Learning for Image Recognition." CVPR 2016
    (arXiv:1512.03385, 2015). Table 1 (ImageNet), sec. 4.2 (CIFAR-10).

Every model is a chain: stem layers, then one :class:`~kerasdl.layers.residual.BasicBlock` or
:class:`~kerasdl.layers.residual.BottleneckBlock` layer per residual block, then the head. So the
Sequential, functional and subclassed styles hold the same layers in the same order. Block layers
are named ``conv{stage}_block{i}`` as in ``keras.applications``, and their sublayers
``conv{stage}_block{i}_{1,2,3,0}_{conv,bn}``.

* ``resnet50`` reproduces ``keras.applications.ResNet50`` exactly: biases in the convolutions,
  BN epsilon 1.001e-5, the stride on the first 1x1 convolution of a bottleneck, projection
  shortcuts (option B) on the first block of each stage. 25,636,712 parameters, every layer with
  weights of the same name and weight shapes, so its ImageNet weights copy in by name
  (``tests/test_vision_deep.py`` copies a randomly initialised one and gets its outputs).
* ``resnet18``/``resnet34`` follow Table 1 with basic blocks, no convolution biases (BN follows
  every convolution) and option B: 11,689,512 and 21,797,672 trainable parameters, the counts of
  torchvision's ``resnet18``/``resnet34`` (whose padding they also follow).
* ``resnet20``/``resnet56`` are the CIFAR networks of sec. 4.2: a 3x3 convolution with 16 filters,
  three stages of n = 3 or 9 basic blocks with 16, 32 and 64 filters (feature maps 32, 16, 8),
  global average pooling and a 10-way softmax: 6n + 2 weighted layers. The shortcuts are option A
  as in the paper ("we use identity shortcuts in all cases"), i.e. parameter-free: the input is
  subsampled and zero-padded where a stage doubles the filters. ``shortcut="B"`` gives 1x1
  projections there instead. 269,722 and 853,018 trainable parameters: the paper's 0.27M and
  0.85M (Table 6).

Parameter counts are ``model.count_params()``, which includes BN's moving mean and variance
(non-trainable); the trainable counts are given beside them. BN momentum is 0.9 (Torch's 0.1) in
the models trained from scratch here; ``resnet50``'s is Keras's 0.99, as keras.applications'.
"""
from __future__ import annotations

from typing import Optional, Sequence

import keras
from keras import layers

from kerasdl.layers.residual import BasicBlock, BottleneckBlock
from kerasdl.models.base import ChainModel, head_layers
from kerasdl.models.registry import register

#: CIFAR shortcut option (paper, sec. 3.3) -> BasicBlock's ``shortcut`` argument
CIFAR_SHORTCUTS = {"A": "zero_pad", "B": "auto"}
#: ImageNet stage widths (Table 1: conv2_x .. conv5_x); bottleneck blocks output 4x as many
IMAGENET_FILTERS = (64, 128, 256, 512)
CIFAR_FILTERS = (16, 32, 64)


def _head(num_classes: int, include_top: bool, pooling: Optional[str],
          classifier_activation: Optional[str]) -> list[keras.layers.Layer]:
    """Global average pooling and the classifier, or the ``pooling`` of a backbone."""
    if include_top:
        return [layers.GlobalAveragePooling2D(name="avg_pool"),
                *head_layers(num_classes, True, None, classifier_activation)]
    return head_layers(num_classes, False, pooling)


def _stages(block: type, filters: Sequence[int], depths: Sequence[int], first_stride: int,
            **block_options) -> list[keras.layers.Layer]:
    """Residual stages conv2_x, conv3_x, ...; the first block of each stage but the first halves the maps."""
    chain = []
    for stage, (width, depth) in enumerate(zip(filters, depths), start=2):
        for index in range(1, depth + 1):
            stride = (first_stride if stage == 2 else 2) if index == 1 else 1
            chain.append(block(width, stride=stride, name=f"conv{stage}_block{index}",
                               **block_options))
    return chain


def imagenet_resnet_layers(block: type, depths: Sequence[int], num_classes: int = 1000,
                           include_top: bool = True, pooling: Optional[str] = None,
                           classifier_activation: Optional[str] = "softmax",
                           use_bias: bool = False, epsilon: float = 1e-5,
                           momentum: float = 0.9) -> list[keras.layers.Layer]:
    """Table 1 of the paper: 7x7/2 convolution, 3x3/2 max pooling, four stages, head.

    The stem pads explicitly (3 pixels, then 1 before the pooling), as keras.applications does.
    """
    stem = [
        layers.ZeroPadding2D(3, name="conv1_pad"),
        layers.Conv2D(64, 7, strides=2, use_bias=use_bias, kernel_initializer="he_normal",
                      name="conv1_conv"),
        layers.BatchNormalization(epsilon=epsilon, momentum=momentum, name="conv1_bn"),
        layers.Activation("relu", name="conv1_relu"),
        layers.ZeroPadding2D(1, name="pool1_pad"),
        layers.MaxPooling2D(3, strides=2, name="pool1_pool"),
    ]
    blocks = _stages(block, IMAGENET_FILTERS, depths, 1, shortcut="auto", use_bias=use_bias,
                     epsilon=epsilon, momentum=momentum)
    return stem + blocks + _head(num_classes, include_top, pooling, classifier_activation)


def cifar_resnet_layers(blocks_per_stage: int, num_classes: int = 10, include_top: bool = True,
                        pooling: Optional[str] = None, shortcut: str = "A",
                        classifier_activation: Optional[str] = "softmax"
                        ) -> list[keras.layers.Layer]:
    """Sec. 4.2 of the paper: 3x3 convolution (16), 3 stages of n basic blocks, head."""
    if shortcut not in CIFAR_SHORTCUTS:
        raise ValueError(f"shortcut must be 'A' (zero-padding identity) or 'B' (projection where "
                         f"the shape changes); received: shortcut={shortcut!r}")
    if blocks_per_stage < 1:
        raise ValueError(f"blocks_per_stage must be >= 1; received: {blocks_per_stage}")
    stem = [
        layers.Conv2D(CIFAR_FILTERS[0], 3, padding="same", use_bias=False,
                      kernel_initializer="he_normal", name="conv1_conv"),
        layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name="conv1_bn"),
        layers.Activation("relu", name="conv1_relu"),
    ]
    blocks = _stages(BasicBlock, CIFAR_FILTERS, [blocks_per_stage] * 3, 1,
                     shortcut=CIFAR_SHORTCUTS[shortcut], use_bias=False)
    return stem + blocks + _head(num_classes, include_top, pooling, classifier_activation)


class CifarResNet(ChainModel):
    """The CIFAR-10 ResNets of sec. 4.2 (6n + 2 layers); subclasses set ``blocks_per_stage``."""

    default_input_shape = (32, 32, 3)
    test_kwargs = {"input_shape": (32, 32, 3), "num_classes": 10}
    blocks_per_stage = 3

    @classmethod
    def make_layers(cls, num_classes: int = 10, include_top: bool = True,
                    pooling: Optional[str] = None, shortcut: str = "A",
                    classifier_activation: Optional[str] = "softmax") -> list[keras.layers.Layer]:
        """The CIFAR ResNet's layers: a 3x3 stem, three stages of basic blocks, the head.

        Args:
            num_classes: classes of the classifier (include_top only).
            include_top: end with global average pooling and the classifier; otherwise with
                the last block (+ ``pooling``).
            pooling: with include_top=False, None (the 4-D feature maps), "avg" or "max".
            shortcut: "A" (the paper's: parameter-free zero-padding shortcuts) or "B" (1x1
                projections where the shape changes).
            classifier_activation: of the output layer; None gives logits.
        """
        return cifar_resnet_layers(cls.blocks_per_stage, num_classes, include_top, pooling,
                                   shortcut, classifier_activation)


class ImageNetResNet(ChainModel):
    """The ImageNet ResNets of Table 1; subclasses set ``block`` and ``depths``."""

    default_input_shape = (224, 224, 3)
    test_kwargs = {"input_shape": (32, 32, 3), "num_classes": 10}
    block: type = BasicBlock
    depths: tuple[int, ...] = (2, 2, 2, 2)
    #: extra arguments of imagenet_resnet_layers (ResNet-50 follows keras.applications)
    layer_options: dict = {}

    @classmethod
    def make_layers(cls, num_classes: int = 1000, include_top: bool = True,
                    pooling: Optional[str] = None,
                    classifier_activation: Optional[str] = "softmax") -> list[keras.layers.Layer]:
        """The ImageNet ResNet's layers: the 7x7 stem and pooling, stages conv2_x-conv5_x, the head.

        Args:
            num_classes: classes of the classifier (include_top only).
            include_top: end with global average pooling and the classifier; otherwise with
                conv5_x (+ ``pooling``).
            pooling: with include_top=False, None (the 4-D feature maps), "avg" or "max".
            classifier_activation: of the output layer; None gives logits.
        """
        return imagenet_resnet_layers(cls.block, cls.depths, num_classes, include_top, pooling,
                                      classifier_activation, **cls.layer_options)


@register("resnet20")
class ResNet20(CifarResNet):
    """ResNet-20 for CIFAR-10 (He et al. 2015, sec. 4.2): 3 stages x 3 basic blocks; 271,098 params.

    16/32/64 filters, option A (parameter-free) shortcuts; 269,722 trainable (the paper's 0.27M).
    Option B (``shortcut="B"``) adds two 1x1 projections: 274,042 (272,474 trainable).
    """

    blocks_per_stage = 3


@register("resnet56")
class ResNet56(CifarResNet):
    """ResNet-56 for CIFAR-10 (He et al. 2015, sec. 4.2): 3 stages x 9 basic blocks; 857,082 params.

    16/32/64 filters, option A (parameter-free) shortcuts; 853,018 trainable (the paper's 0.85M).
    """

    blocks_per_stage = 9


@register("resnet18")
class ResNet18(ImageNetResNet):
    """ResNet-18 (He et al. 2015, Table 1): basic blocks [2, 2, 2, 2], option B; 11,699,112 params.

    11,689,512 trainable: torchvision's resnet18 count.
    """

    block = BasicBlock
    depths = (2, 2, 2, 2)


@register("resnet34")
class ResNet34(ImageNetResNet):
    """ResNet-34 (He et al. 2015, Table 1): basic blocks [3, 4, 6, 3], option B; 21,814,696 params.

    21,797,672 trainable: torchvision's resnet34 count.
    """

    block = BasicBlock
    depths = (3, 4, 6, 3)


@register("resnet50")
class ResNet50(ImageNetResNet):
    """ResNet-50 (He et al. 2015, Table 1): bottleneck blocks [3, 4, 6, 3]; 25,636,712 params.

    Built as ``keras.applications.ResNet50`` (convolution biases, BN epsilon 1.001e-5 and momentum
    0.99, stride on the first 1x1): same parameter count, same layer names and weight shapes.
    """

    block = BottleneckBlock
    depths = (3, 4, 6, 3)
    layer_options = {"use_bias": True, "epsilon": 1.001e-5, "momentum": 0.99}
