"""The Inception cell of GoogLeNet (Inception v1), with dimension reductions.

Reference:
    Szegedy, Liu, Jia, Sermanet, Reed, Anguelov, Erhan, Vanhoucke, Rabinovich. "Going deeper with
    convolutions." CVPR 2015 (arXiv:1409.4842, 2014). Fig. 2(b) and Table 1.

Four parallel branches over the same input, concatenated along the channels (channels last):

* 1x1 convolution (``filters_1x1``)
* 1x1 reduction (``filters_3x3_reduce``) -> 3x3 convolution (``filters_3x3``)
* 1x1 reduction (``filters_5x5_reduce``) -> 5x5 convolution (``filters_5x5``)
* 3x3 max pooling, stride 1 -> 1x1 projection (``filters_pool_proj``)

Every convolution is followed by ReLU ("All the convolutions, including those inside the Inception
modules, use rectified linear activation"); the paper has no batch normalization. The output has
``filters_1x1 + filters_3x3 + filters_5x5 + filters_pool_proj`` channels and the input's height and
width. The arguments are named and ordered as Table 1's columns.
"""
from __future__ import annotations

from typing import Any

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="kerasdl")
class InceptionCell(layers.Layer):
    """Parallel 1x1, 1x1->3x3, 1x1->5x5 and maxpool->1x1 branches, concatenated (Szegedy 2014).

    Args:
        filters_1x1: "#1x1" of Table 1.
        filters_3x3_reduce: "#3x3 reduce", the 1x1 convolution before the 3x3.
        filters_3x3: "#3x3".
        filters_5x5_reduce: "#5x5 reduce".
        filters_5x5: "#5x5".
        filters_pool_proj: "pool proj", the 1x1 convolution after the 3x3 max pooling.
        activation: of every convolution.
        use_bias: biases in the convolutions (the paper's have them).
        kernel_initializer: of the convolutions.

    Sublayers are named ``{name}_1x1``, ``{name}_3x3_reduce``, ``{name}_3x3``,
    ``{name}_5x5_reduce``, ``{name}_5x5``, ``{name}_pool`` and ``{name}_pool_proj``.
    """

    BRANCH_FILTERS = ("filters_1x1", "filters_3x3_reduce", "filters_3x3", "filters_5x5_reduce",
                      "filters_5x5", "filters_pool_proj")

    def __init__(self, filters_1x1: int, filters_3x3_reduce: int, filters_3x3: int,
                 filters_5x5_reduce: int, filters_5x5: int, filters_pool_proj: int,
                 activation: Any = "relu", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        values = dict(zip(self.BRANCH_FILTERS,
                          (filters_1x1, filters_3x3_reduce, filters_3x3, filters_5x5_reduce,
                           filters_5x5, filters_pool_proj)))
        for key, value in values.items():
            if int(value) < 1:
                raise ValueError(f"{key} must be >= 1; received: {key}={value}")
            setattr(self, key, int(value))
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.out_channels = (self.filters_1x1 + self.filters_3x3 + self.filters_5x5
                             + self.filters_pool_proj)

        # === Layers: the four branches ===
        self.branch_1x1 = self._conv(self.filters_1x1, 1, "1x1")
        self.branch_3x3_reduce = self._conv(self.filters_3x3_reduce, 1, "3x3_reduce")
        self.branch_3x3 = self._conv(self.filters_3x3, 3, "3x3")
        self.branch_5x5_reduce = self._conv(self.filters_5x5_reduce, 1, "5x5_reduce")
        self.branch_5x5 = self._conv(self.filters_5x5, 5, "5x5")
        self.branch_pool = layers.MaxPooling2D(3, strides=1, padding="same",
                                               name=f"{self.name}_pool", dtype=self.dtype_policy)
        self.branch_pool_proj = self._conv(self.filters_pool_proj, 1, "pool_proj")

    def _conv(self, filters: int, kernel_size: int, suffix: str) -> layers.Conv2D:
        return layers.Conv2D(filters, kernel_size, padding="same", activation=self.activation,
                             use_bias=self.use_bias, kernel_initializer=self.kernel_initializer,
                             name=f"{self.name}_{suffix}", dtype=self.dtype_policy)

    def build(self, input_shape):
        shape = tuple(input_shape)
        self.branch_1x1.build(shape)
        self.branch_3x3_reduce.build(shape)
        self.branch_3x3.build(self.branch_3x3_reduce.compute_output_shape(shape))
        self.branch_5x5_reduce.build(shape)
        self.branch_5x5.build(self.branch_5x5_reduce.compute_output_shape(shape))
        self.branch_pool.build(shape)
        self.branch_pool_proj.build(shape)

    def call(self, inputs):
        return ops.concatenate([
            self.branch_1x1(inputs),
            self.branch_3x3(self.branch_3x3_reduce(inputs)),
            self.branch_5x5(self.branch_5x5_reduce(inputs)),
            self.branch_pool_proj(self.branch_pool(inputs)),
        ], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], self.out_channels)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(),
                **{key: getattr(self, key) for key in self.BRANCH_FILTERS},
                "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}
