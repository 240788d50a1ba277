"""Residual blocks of ResNet (v1, post-activation): the basic and the bottleneck block.

Reference:
    He, Zhang, Ren, Sun. "Deep Residual Learning for Image Recognition." CVPR 2016
    (arXiv:1512.03385, 2015). Fig. 5: the basic block (left) and the bottleneck block (right).

Each block is one serializable layer, so a ResNet is a chain of blocks (and a ``keras.Sequential``
of them works). Sublayer names follow ``keras.applications.ResNet50``: a block named
``conv2_block1`` holds ``conv2_block1_1_conv``, ``conv2_block1_1_bn``, ... and, for a projection
shortcut, ``conv2_block1_0_conv`` and ``conv2_block1_0_bn``, so weights can be matched by name.

Shortcuts (the paper's options, sec. 3.3 "Identity vs. Projection Shortcuts"):

* ``"auto"``: identity where input and output shapes agree, otherwise a projection (1x1
  convolution with the block's stride, then BN). Used everywhere, this is option B.
* ``"zero_pad"``: identity where the shapes agree, otherwise parameter-free: the input is
  subsampled with the block's stride and its extra channels are zeros (split evenly before and
  after the input's channels). Option A, the paper's choice for CIFAR-10.
* ``"projection"``: always a projection (option C).
* ``"identity"``: always the input itself; an error where the shapes differ.

Data format: channels last.
"""
from __future__ import annotations

import math
from typing import Any, Optional

import keras
from keras import layers, ops

SHORTCUTS = ("auto", "zero_pad", "projection", "identity")


def _strided(size: Optional[int], stride: int) -> Optional[int]:
    """Spatial size after a stride-``stride`` convolution that keeps ceil(size / stride)."""
    return None if size is None else math.ceil(size / stride)


class _ResidualBlock(layers.Layer):
    """What the basic and the bottleneck block share: shortcut, config, output shape."""

    def __init__(self, filters: int, stride: int = 1, shortcut: str = "auto",
                 use_bias: bool = False, epsilon: float = 1e-5, momentum: float = 0.9,
                 kernel_initializer: Any = "he_normal", expansion: int = 1, **kwargs):
        super().__init__(**kwargs)
        if int(expansion) < 1:
            raise ValueError(f"expansion must be >= 1; received: expansion={expansion}")
        if int(filters) < 1:
            raise ValueError(f"filters must be >= 1; received: filters={filters}")
        if int(stride) < 1:
            raise ValueError(f"stride must be >= 1; received: stride={stride}")
        if shortcut not in SHORTCUTS:
            raise ValueError(f"shortcut must be one of {', '.join(SHORTCUTS)}; "
                             f"received: shortcut={shortcut!r}")
        self.filters = int(filters)
        self.stride = int(stride)
        self.shortcut = shortcut
        self.use_bias = bool(use_bias)
        self.epsilon = float(epsilon)
        self.momentum = float(momentum)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        #: output channels = filters * expansion
        self.expansion = int(expansion)
        self.out_channels = self.filters * self.expansion
        #: "identity", "zero_pad" or "projection" once built (``shortcut`` resolved by the input)
        self.shortcut_kind: Optional[str] = None
        self.shortcut_conv = None
        self.shortcut_bn = None

    # === Layers ===

    def _conv(self, filters: int, kernel_size: int, index: int, strides: int = 1,
              padding: str = "valid") -> layers.Conv2D:
        return layers.Conv2D(filters, kernel_size, strides=strides, padding=padding,
                             use_bias=self.use_bias, kernel_initializer=self.kernel_initializer,
                             name=f"{self.name}_{index}_conv", dtype=self.dtype_policy)

    def _bn(self, index: int) -> layers.BatchNormalization:
        return layers.BatchNormalization(axis=-1, epsilon=self.epsilon, momentum=self.momentum,
                                         name=f"{self.name}_{index}_bn", dtype=self.dtype_policy)

    def _build_shortcut(self, input_shape) -> None:
        in_channels = input_shape[-1]
        same_shape = self.stride == 1 and in_channels == self.out_channels
        if self.shortcut == "identity" and not same_shape:
            raise ValueError(
                f"{self.name}: an identity shortcut needs the output shape of the input, but the "
                f"block maps {in_channels} channels to {self.out_channels} with stride "
                f"{self.stride}; use shortcut='auto', 'zero_pad' or 'projection'")
        if self.shortcut == "zero_pad" and in_channels > self.out_channels:
            raise ValueError(f"{self.name}: a zero_pad shortcut cannot reduce {in_channels} "
                             f"channels to {self.out_channels}; use shortcut='projection'")
        if self.shortcut == "projection" or (self.shortcut == "auto" and not same_shape):
            self.shortcut_kind = "projection"
            self.shortcut_conv = self._conv(self.out_channels, 1, 0, strides=self.stride)
            self.shortcut_bn = self._bn(0)
            self.shortcut_conv.build(input_shape)
            self.shortcut_bn.build(self.compute_output_shape(input_shape))
        else:
            self.shortcut_kind = "identity" if same_shape else "zero_pad"

    def _shortcut(self, inputs, training=None):
        if self.shortcut_kind == "projection":
            return self.shortcut_bn(self.shortcut_conv(inputs), training=training)
        x = inputs
        if self.shortcut_kind == "zero_pad":
            if self.stride > 1:
                x = x[:, ::self.stride, ::self.stride, :]
            extra = self.out_channels - inputs.shape[-1]
            if extra:
                x = ops.pad(x, [[0, 0], [0, 0], [0, 0], [extra // 2, extra - extra // 2]])
        return x

    # === Shapes and config ===

    def compute_output_shape(self, input_shape):
        batch, height, width = input_shape[0], input_shape[1], input_shape[2]
        return (batch, _strided(height, self.stride), _strided(width, self.stride),
                self.out_channels)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "filters": self.filters, "stride": self.stride,
                "shortcut": self.shortcut, "use_bias": self.use_bias, "epsilon": self.epsilon,
                "momentum": self.momentum,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}


@keras.saving.register_keras_serializable(package="kerasdl")
class BasicBlock(_ResidualBlock):
    """Two 3x3 convolution-BN layers plus a shortcut, then ReLU (He et al. 2015, Fig. 5 left).

    ``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``; the stride is on the first 3x3
    convolution, whose input is zero-padded by one pixel on every side (as in the Torch and
    PyTorch references; Keras's ``"same"`` pads strided convolutions asymmetrically).

    Args:
        filters: channels of both convolutions and of the output.
        stride: of the first convolution (and of the shortcut): 2 halves the feature maps.
        shortcut: "auto" (option B), "zero_pad" (option A), "projection" (option C) or
            "identity"; see the module docstring.
        use_bias: biases in the convolutions (BN follows each, so the paper has none).
        epsilon, momentum: of the BatchNormalization layers.
        kernel_initializer: of the convolutions; the paper uses He et al.'s initialisation.
    """

    def __init__(self, filters: int, stride: int = 1, shortcut: str = "auto",
                 use_bias: bool = False, epsilon: float = 1e-5, momentum: float = 0.9,
                 kernel_initializer: Any = "he_normal", **kwargs):
        super().__init__(filters, stride, shortcut, use_bias, epsilon, momentum,
                         kernel_initializer, expansion=1, **kwargs)
        self.pad1 = (layers.ZeroPadding2D(1, name=f"{self.name}_1_pad", dtype=self.dtype_policy)
                     if self.stride > 1 else None)
        self.conv1 = self._conv(self.filters, 3, 1, strides=self.stride,
                                padding="valid" if self.stride > 1 else "same")
        self.bn1 = self._bn(1)
        self.conv2 = self._conv(self.filters, 3, 2, padding="same")
        self.bn2 = self._bn(2)

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        shape = input_shape
        if self.pad1 is not None:
            self.pad1.build(shape)
            shape = self.pad1.compute_output_shape(shape)
        self.conv1.build(shape)
        shape = self.conv1.compute_output_shape(shape)
        self.bn1.build(shape)
        self.conv2.build(shape)
        shape = self.conv2.compute_output_shape(shape)
        self.bn2.build(shape)
        self._build_shortcut(input_shape)

    def call(self, inputs, training=None):
        x = self.pad1(inputs) if self.pad1 is not None else inputs
        x = ops.relu(self.bn1(self.conv1(x), training=training))
        x = self.bn2(self.conv2(x), training=training)
        return ops.relu(x + self._shortcut(inputs, training=training))

    @property
    def last_bn(self) -> layers.BatchNormalization:
        """The BN that ends the residual branch (zero its gamma and the block is its shortcut)."""
        return self.bn2


@keras.saving.register_keras_serializable(package="kerasdl")
class BottleneckBlock(_ResidualBlock):
    """1x1, 3x3, 1x1 convolution-BN layers (x4 expansion) plus a shortcut, then ReLU (Fig. 5 right).

    ``relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))) + shortcut(x))`` with ``conv1``
    1x1 to ``filters`` channels, ``conv2`` 3x3 ``"same"`` and ``conv3`` 1x1 to
    ``expansion * filters`` channels. As in the paper's Caffe models and
    ``keras.applications.ResNet50``, the stride is on the first 1x1 convolution (ResNet v1; the
    "v1.5" of torchvision moves it to the 3x3).

    Args:
        filters: channels of the 1x1 and 3x3 bottleneck convolutions; the output has
            ``expansion * filters``.
        stride: of the first 1x1 convolution and of the shortcut.
        shortcut: "auto" (option B, the paper's choice for ResNet-50), "zero_pad", "projection"
            or "identity"; see the module docstring.
        expansion: output channels per bottleneck channel (4 in the paper).
        use_bias, epsilon, momentum, kernel_initializer: as in :class:`BasicBlock`.
    """

    def __init__(self, filters: int, stride: int = 1, shortcut: str = "auto", expansion: int = 4,
                 use_bias: bool = False, epsilon: float = 1e-5, momentum: float = 0.9,
                 kernel_initializer: Any = "he_normal", **kwargs):
        super().__init__(filters, stride, shortcut, use_bias, epsilon, momentum,
                         kernel_initializer, expansion=expansion, **kwargs)
        self.conv1 = self._conv(self.filters, 1, 1, strides=self.stride)
        self.bn1 = self._bn(1)
        self.conv2 = self._conv(self.filters, 3, 2, padding="same")
        self.bn2 = self._bn(2)
        self.conv3 = self._conv(self.out_channels, 1, 3)
        self.bn3 = self._bn(3)

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        shape = input_shape
        for conv, bn in ((self.conv1, self.bn1), (self.conv2, self.bn2), (self.conv3, self.bn3)):
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
            bn.build(shape)
        self._build_shortcut(input_shape)

    def call(self, inputs, training=None):
        x = ops.relu(self.bn1(self.conv1(inputs), training=training))
        x = ops.relu(self.bn2(self.conv2(x), training=training))
        x = self.bn3(self.conv3(x), training=training)
        return ops.relu(x + self._shortcut(inputs, training=training))

    @property
    def last_bn(self) -> layers.BatchNormalization:
        """The BN that ends the residual branch (zero its gamma and the block is its shortcut)."""
        return self.bn3

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "expansion": self.expansion}
