"""Autoencoders: a dense (deep) autoencoder and a convolutional one.

An autoencoder maps its input through a narrow code back to the input; trained with a
reconstruction loss (MSE) on ``x -> x`` targets, its encoder (``include_top=False``) is a learned
representation.

Reference:
    Hinton, Salakhutdinov. "Reducing the dimensionality of data with neural networks."
    Science 313(5786), 2006 (the 784-1000-500-250-30 MNIST autoencoder).
    Masci, Meier, Ciresan, Schmidhuber. "Stacked convolutional auto-encoders for hierarchical
    feature extraction." ICANN 2011.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import keras
from keras import layers

from kerasdl.models.base import ChainModel, head_layers
from kerasdl.models.registry import register

INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos3", "lanczos5", "area")


@register("autoencoder")
class Autoencoder(ChainModel):
    """Dense autoencoder (Hinton & Salakhutdinov 2006): 784-1000-500-250-30 and back, 2.84M params.

    Encoder: flatten, Dense layers ``hidden``, a linear ``code_size`` code. Decoder: the mirror
    image, then a sigmoid layer of ``prod(input_shape)`` units reshaped to the input's shape.
    """

    default_input_shape = (28, 28, 1)
    test_kwargs = {"input_shape": (8, 8, 1), "hidden": (16,), "code_size": 4}

    @staticmethod
    def make_layers(input_shape: Sequence[int] = (28, 28, 1),
                    hidden: Sequence[int] = (1000, 500, 250), code_size: int = 30,
                    activation: str = "relu", code_activation: Optional[str] = None,
                    output_activation: Optional[str] = "sigmoid", include_top: bool = True
                    ) -> list[keras.layers.Layer]:
        """The dense autoencoder's layers: encoder, code and the mirrored decoder (or the encoder alone).

        Args:
            input_shape: the shape of an example; the reconstruction has the same shape.
            hidden: units of the encoder's hidden layers (the decoder mirrors them).
            code_size: units of the code layer.
            activation: of the hidden layers. The paper used logistic units, trainable only after
                its RBM pre-training; ReLU trains end to end.
            code_activation: of the code layer (None: linear, as in the paper).
            output_activation: of the reconstruction ("sigmoid" for inputs in [0, 1]).
            include_top: the whole autoencoder; False gives the encoder alone (output: the code).
        """
        if code_size < 1 or any(units < 1 for units in hidden):
            raise ValueError(f"code_size and hidden units must be >= 1; received: "
                             f"code_size={code_size}, hidden={tuple(hidden)}")
        stack: list[keras.layers.Layer] = [layers.Flatten(name="flatten")]
        for index, units in enumerate(hidden, start=1):
            stack.append(layers.Dense(units, activation=activation, name=f"encoder{index}"))
        stack.append(layers.Dense(code_size, activation=code_activation, name="code"))
        if not include_top:
            return stack
        for index, units in enumerate(reversed(tuple(hidden)), start=1):
            stack.append(layers.Dense(units, activation=activation, name=f"decoder{index}"))
        shape = tuple(input_shape)
        return stack + [
            # float32 even under mixed precision: the reconstruction the loss compares
            layers.Dense(math.prod(shape), activation=output_activation, name="reconstruction",
                         dtype="float32"),
            layers.Reshape(shape, name="reshape", dtype="float32"),
        ]


@register("conv_autoencoder")
class ConvAutoencoder(ChainModel):
    """Convolutional autoencoder: conv/max-pool encoder, conv/UpSampling2D decoder; 12,193 params.

    Encoder: per entry of ``filters`` a 3x3 "same" convolution and a 2x2 max pooling ("same", so
    any size works). Decoder: the mirror image with 2x up-sampling ("nearest" or "bilinear"), a
    crop back to the input's size where pooling rounded up, and a sigmoid convolution to the
    input's channels.
    """

    default_input_shape = (28, 28, 1)
    test_kwargs = {"input_shape": (12, 12, 1), "filters": (4, 2)}

    @staticmethod
    def make_layers(input_shape: Sequence[int] = (28, 28, 1), filters: Sequence[int] = (32, 16),
                    kernel_size: int = 3, activation: str = "relu", interpolation: str = "nearest",
                    output_activation: Optional[str] = "sigmoid", include_top: bool = True,
                    pooling: Optional[str] = None) -> list[keras.layers.Layer]:
        """The conv autoencoder's layers: conv/pool encoder, conv/up-sampling decoder (or the encoder alone).

        Args:
            input_shape: (H, W, C) of an example; the reconstruction has the same shape.
            filters: channels of each encoder stage (the decoder mirrors them).
            kernel_size: of every convolution.
            activation: of the hidden convolutions.
            interpolation: of the decoder's UpSampling2D: "nearest" (default) or "bilinear" (or
                another UpSampling2D mode: bicubic, lanczos3, lanczos5, area).
            output_activation: of the reconstruction ("sigmoid" for inputs in [0, 1]).
            include_top: the whole autoencoder; False gives the encoder alone (the code maps).
            pooling: with include_top=False, None (the code maps), "avg" or "max" (a vector).
        """
        shape = tuple(input_shape)
        if len(shape) != 3:
            raise ValueError(f"conv_autoencoder needs input_shape (H, W, C); received: "
                             f"input_shape={shape}")
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {', '.join(INTERPOLATIONS)}; "
                             f"received: interpolation={interpolation!r}")
        if pooling not in (None, "avg", "max"):
            raise ValueError(f"pooling must be None, 'avg' or 'max'; received: pooling={pooling!r}")
        if not filters or any(f < 1 for f in filters):
            raise ValueError(f"filters must be positive channel counts; received: "
                             f"filters={tuple(filters)}")
        stack: list[keras.layers.Layer] = []
        for index, channels in enumerate(filters, start=1):
            stack += [layers.Conv2D(channels, kernel_size, padding="same", activation=activation,
                                    name=f"encoder_conv{index}"),
                      layers.MaxPooling2D(2, padding="same", name=f"encoder_pool{index}")]
        if not include_top:
            return stack + head_layers(0, False, pooling)
        for index, channels in enumerate(reversed(tuple(filters)), start=1):
            stack += [layers.Conv2D(channels, kernel_size, padding="same", activation=activation,
                                    name=f"decoder_conv{index}"),
                      layers.UpSampling2D(2, interpolation=interpolation,
                                          name=f"decoder_up{index}")]
        height, width = shape[0], shape[1]
        for _ in filters:                                   # "same" pooling rounds up
            height, width = -(-height // 2), -(-width // 2)
        scale = 2 ** len(filters)
        extra_h, extra_w = height * scale - shape[0], width * scale - shape[1]
        if extra_h or extra_w:
            stack.append(layers.Cropping2D(((0, extra_h), (0, extra_w)), name="crop"))
        stack.append(layers.Conv2D(shape[2], kernel_size, padding="same",     # float32, as above
                                   activation=output_activation, name="reconstruction",
                                   dtype="float32"))
        return stack
