"""Variants of the convolution: unshared (locally connected) and tiled.

A convolution shares one kernel over every output position. Two classic variants relax that:

* :class:`LocallyConnected2D` (unshared convolution): a separate kernel for every output position
  (Keras 2 had ``keras.layers.LocallyConnected2D``; Keras 3 no longer ships it).
* :class:`TiledConv2D` (tiled convolution): ``t x t`` kernels, rotated over the output positions;
  position ``(i, j)`` uses kernel ``(i mod t, j mod t)``. ``t = 1`` is an ordinary convolution, and
  ``t >= output size`` is a locally connected layer.

Both are computed with tensor operations: the ``kh * kw`` shifted (strided) slices of the input are
stacked into patches ``(batch, out_h, out_w, kh * kw * in_c)`` (a loop over the kernel's offsets,
never over output positions), then one ``einsum`` applies the kernels. The patch order is
``(kh, kw, in_c)``, the order of a ``Conv2D`` kernel reshaped to ``(kh * kw * in_c, filters)``, so
a Conv2D kernel can be copied into either layer.

Reference:
    Goodfellow, Bengio, Courville. "Deep Learning", MIT Press 2016, section 9.5 (unshared and
    tiled convolution).
    Le, Ngiam, Chen, Chia, Koh, Ng. "Tiled convolutional neural networks." NIPS 2010.
    Taigman, Yang, Ranzato, Wolf. "DeepFace: closing the gap to human-level performance in face
    verification." CVPR 2014 (locally connected layers).
"""
from __future__ import annotations

import math
from typing import Any, Optional, Sequence, Union

import keras
from keras import activations, constraints, initializers, ops, regularizers

IntOrPair = Union[int, Sequence[int]]


def _pair(value: IntOrPair, name: str) -> tuple[int, int]:
    if isinstance(value, int):
        pair = (value, value)
    else:
        pair = tuple(int(v) for v in value)
    if len(pair) != 2 or any(v < 1 for v in pair):
        raise ValueError(f"{name} must be a positive int or a pair of positive ints; "
                         f"received: {name}={value!r}")
    return pair


def conv_output_length(size: Optional[int], kernel: int, stride: int, padding: str
                       ) -> Optional[int]:
    """Output length of a convolution along one axis ("valid" or "same", as Conv2D computes it)."""
    if size is None:
        return None
    if padding == "same":
        return -(-size // stride)
    return (size - kernel) // stride + 1 if size >= kernel else 0


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's "same" padding: (before, after), the extra row/column after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def extract_patches(inputs, kernel_size: tuple[int, int], strides: tuple[int, int], padding: str):
    """``(batch, H, W, C)`` -> ``(batch, out_h, out_w, kh * kw * C)``, patch order (kh, kw, C).

    The input's spatial size must be known (static).
    """
    (kh, kw), (sh, sw) = kernel_size, strides
    height, width = inputs.shape[1], inputs.shape[2]
    if padding == "same":
        pads = [(0, 0), _same_padding(height, kh, sh), _same_padding(width, kw, sw), (0, 0)]
        if any(pads[1] + pads[2]):
            inputs = ops.pad(inputs, pads)
        height, width = height + sum(pads[1]), width + sum(pads[2])
    out_h, out_w = (height - kh) // sh + 1, (width - kw) // sw + 1
    slices = [inputs[:, di:di + (out_h - 1) * sh + 1:sh, dj:dj + (out_w - 1) * sw + 1:sw, :]
              for di in range(kh) for dj in range(kw)]
    patches = ops.stack(slices, axis=3)                     # (batch, out_h, out_w, kh*kw, C)
    return ops.reshape(patches, (-1, out_h, out_w, kh * kw * inputs.shape[-1]))


class _PatchConv2D(keras.layers.Layer):
    """What the two layers share: arguments, checks, output shape, config."""

    def __init__(self, filters: int, kernel_size: IntOrPair, strides: IntOrPair = 1,
                 padding: str = "valid", activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 kernel_constraint: Any = None, bias_constraint: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        if not isinstance(filters, int) or filters < 1:
            raise ValueError(f"filters must be a positive int; received: filters={filters!r}")
        padding = str(padding).lower()
        if padding not in ("valid", "same"):
            raise ValueError(f"padding must be 'valid' or 'same'; received: padding={padding!r}")
        self.filters = filters
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.padding = padding
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def _output_hw(self, input_shape) -> tuple[int, int]:
        height, width = input_shape[1], input_shape[2]
        if height is None or width is None:
            raise ValueError(f"{type(self).__name__} '{self.name}' needs a known input height "
                             f"and width (its weights depend on them); received: "
                             f"input_shape={tuple(input_shape)}")
        out = (conv_output_length(height, self.kernel_size[0], self.strides[0], self.padding),
               conv_output_length(width, self.kernel_size[1], self.strides[1], self.padding))
        if min(out) < 1:
            raise ValueError(f"{type(self).__name__} '{self.name}': kernel_size "
                             f"{self.kernel_size} is larger than the input {height}x{width} "
                             f"with padding='valid'")
        return out

    def compute_output_shape(self, input_shape):
        out_h, out_w = self._output_hw(input_shape)
        return (input_shape[0], out_h, out_w, self.filters)

    def _patches(self, inputs):
        return extract_patches(inputs, self.kernel_size, self.strides, self.padding)

    def _finish(self, outputs):
        if self.use_bias:
            outputs = outputs + self.bias
        return self.activation(outputs) if self.activation is not None else outputs

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        })
        return config


@keras.saving.register_keras_serializable(package="kerasdl")
class LocallyConnected2D(_PatchConv2D):
    """Unshared 2-D convolution: a separate ``kh x kw x in_c x filters`` kernel per output position.

    Weights: ``kernel`` of shape ``(out_h, out_w, kh, kw, in_c, filters)`` (``kernel[i, j]`` is the
    Conv2D-style kernel of output position ``(i, j)``) and, with ``use_bias``, ``bias`` of shape
    ``(out_h, out_w, filters)``: ``out_h*out_w*(kh*kw*in_c*filters) + out_h*out_w*filters``
    parameters. Channels-last inputs of known height and width.

    Args:
        filters: output channels.
        kernel_size: int or (kh, kw).
        strides: int or (sh, sw).
        padding: "valid" (Keras 2's LocallyConnected2D) or "same" (TensorFlow's padding rule).
        activation, use_bias, *_initializer, *_regularizer, *_constraint: as in ``Conv2D``.
    """

    def build(self, input_shape):
        out_h, out_w = self._output_hw(input_shape)
        kh, kw = self.kernel_size
        in_c = input_shape[-1]
        self.kernel = self.add_weight(
            name="kernel", shape=(out_h, out_w, kh, kw, in_c, self.filters),
            initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias", shape=(out_h, out_w, self.filters), initializer=self.bias_initializer,
                regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.input_spec = keras.layers.InputSpec(ndim=4, axes={1: input_shape[1],
                                                               2: input_shape[2], -1: in_c})

    def call(self, inputs):
        patches = self._patches(inputs)                        # (batch, out_h, out_w, K)
        out_h, out_w = patches.shape[1], patches.shape[2]
        kernel = ops.reshape(self.kernel, (out_h, out_w, -1, self.filters))
        return self._finish(ops.einsum("bhwk,hwkf->bhwf", patches, kernel))


@keras.saving.register_keras_serializable(package="kerasdl")
class TiledConv2D(_PatchConv2D):
    """Tiled 2-D convolution (Le et al. 2010): ``t x t`` kernels rotated over output positions.

    Output position ``(i, j)`` uses kernel ``(i mod t_h, j mod t_w)``; neighbouring positions use
    different kernels, positions ``t`` apart share one. Weights: ``kernel`` of shape
    ``(t_h, t_w, kh, kw, in_c, filters)`` and, with ``use_bias``, one ``bias`` per filter:
    ``t_h*t_w*(kh*kw*in_c*filters) + filters`` parameters. ``tile_size=1`` is ``Conv2D``.

    Args:
        filters, kernel_size, strides, padding, activation, use_bias, ...: as in
            :class:`LocallyConnected2D`.
        tile_size: t, an int or (t_h, t_w): how many distinct kernels along each axis.
    """

    def __init__(self, filters: int, kernel_size: IntOrPair, tile_size: IntOrPair = 2,
                 **kwargs: Any):
        super().__init__(filters, kernel_size, **kwargs)
        self.tile_size = _pair(tile_size, "tile_size")

    def build(self, input_shape):
        self._output_hw(input_shape)
        kh, kw = self.kernel_size
        in_c = input_shape[-1]
        self.kernel = self.add_weight(
            name="kernel", shape=(*self.tile_size, kh, kw, in_c, self.filters),
            initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias", shape=(self.filters,), initializer=self.bias_initializer,
                regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.input_spec = keras.layers.InputSpec(ndim=4, axes={-1: in_c})

    def call(self, inputs):
        patches = self._patches(inputs)                        # (batch, out_h, out_w, K)
        out_h, out_w, depth = patches.shape[1], patches.shape[2], patches.shape[3]
        th, tw = self.tile_size
        # Pad the positions to whole tiles, fold each axis into (tile index, offset in the tile),
        # and apply kernel (offset_i, offset_j) to every position with that offset.
        grid_h, grid_w = math.ceil(out_h / th), math.ceil(out_w / tw)
        extra_h, extra_w = grid_h * th - out_h, grid_w * tw - out_w
        if extra_h or extra_w:
            patches = ops.pad(patches, [(0, 0), (0, extra_h), (0, extra_w), (0, 0)])
        patches = ops.reshape(patches, (-1, grid_h, th, grid_w, tw, depth))
        kernel = ops.reshape(self.kernel, (th, tw, depth, self.filters))
        outputs = ops.einsum("bpiqjk,ijkf->bpiqjf", patches, kernel)
        outputs = ops.reshape(outputs, (-1, grid_h * th, grid_w * tw, self.filters))
        if extra_h or extra_w:
            outputs = outputs[:, :out_h, :out_w, :]
        return self._finish(outputs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "tile_size": self.tile_size}
