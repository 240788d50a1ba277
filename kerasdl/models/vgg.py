"""VGG: configurations A (VGG-11), D (VGG-16) and E (VGG-19).

Five stages of 3x3 ReLU convolutions ("same" padding; 64, 128, 256, 512, 512 filters), each ended
by a 2x2/2 max pool, then fc1 and fc2 of 4096 ReLU units and a softmax classifier. The variants
differ only in the number of convolutions per stage:

    vgg11 (A)  1, 1, 2, 2, 2    132,863,336 parameters at 224x224x3 / 1000 classes
    vgg16 (D)  2, 2, 3, 3, 3    138,357,544
    vgg19 (E)  2, 2, 4, 4, 4    143,667,240

One private builder (:func:`_vgg_layers`) takes the per-stage counts; the registered classes only
name the paper's variants. Layer names and weight shapes are those of ``keras.applications.VGG16``
and ``VGG19`` (``block1_conv1`` ... ``block5_pool``, ``flatten``, ``fc1``, ``fc2``,
``predictions``), so their ImageNet weights load into any of the three styles: by name from a
``.weights.h5`` file, or in order from the legacy ``.h5`` files keras.applications downloads. The
paper's dropout (0.5 after fc1 and fc2) is the default; the dropout layers hold no weights, and
``dropout=0`` leaves them out, giving exactly keras.applications' layer list.

Reference:
    Simonyan, Zisserman. "Very deep convolutional networks for large-scale image recognition."
    ICLR 2015 (arXiv:1409.1556, 2014).
"""
from __future__ import annotations

from typing import Optional, Sequence

import keras
from keras import layers

from kerasdl.models.base import ChainModel, head_layers
from kerasdl.models.registry import register

#: filters of the five stages (all configurations)
STAGE_FILTERS = (64, 128, 256, 512, 512)


def _vgg_layers(convs_per_stage: Sequence[int], num_classes: int, include_top: bool,
                pooling: Optional[str], dropout: float,
                classifier_activation: Optional[str]) -> list[keras.layers.Layer]:
    """The layers of a VGG network with ``convs_per_stage[i]`` convolutions in stage ``i + 1``."""
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"pooling must be None, 'avg' or 'max'; received: pooling={pooling!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1); received: dropout={dropout!r}")
    stack: list[keras.layers.Layer] = []
    for block, (convs, filters) in enumerate(zip(convs_per_stage, STAGE_FILTERS), start=1):
        for index in range(1, convs + 1):
            stack.append(layers.Conv2D(filters, 3, padding="same", activation="relu",
                                       name=f"block{block}_conv{index}"))
        stack.append(layers.MaxPooling2D(2, strides=2, name=f"block{block}_pool"))
    if not include_top:
        return stack + head_layers(num_classes, False, pooling)
    stack.append(layers.Flatten(name="flatten"))
    for name in ("fc1", "fc2"):
        stack.append(layers.Dense(4096, activation="relu", name=name))
        if dropout:
            stack.append(layers.Dropout(dropout, name=f"{name}_dropout"))
    return stack + head_layers(num_classes, True, None, classifier_activation)


class _VGG(ChainModel):
    """What the VGG configurations share (not registered); each names its ``convs_per_stage``."""

    default_input_shape = (224, 224, 3)
    convs_per_stage: tuple[int, ...] = ()
    # conv stack only at 32x32x3 (block5_pool is 1x1): 9-20 M parameters, fast in three styles
    test_kwargs = {"input_shape": (32, 32, 3), "include_top": False, "pooling": "avg"}


def _make_layers(convs_per_stage: tuple[int, ...]):
    def make_layers(num_classes: int = 1000, include_top: bool = True,
                    pooling: Optional[str] = None, dropout: float = 0.5,
                    classifier_activation: Optional[str] = "softmax"
                    ) -> list[keras.layers.Layer]:
        """A VGG configuration's layers: conv stages with max pools, then fc1, fc2 and the classifier.

        Args:
            num_classes: classes of the classifier (include_top only).
            include_top: end with flatten, fc1, fc2 and the classifier; otherwise end after
                block5_pool (+ ``pooling``). Any input of at least 32x32 works; fc1 has
                ``block5_pool height x width x 512`` inputs (7x7x512 at the published 224x224).
            pooling: with include_top=False, None (block5_pool's 4-D maps), "avg" or "max".
            dropout: rate after fc1 and after fc2, as in the paper (0 leaves the layers out).
            classifier_activation: of the output layer; None gives logits.

        Returns:
            the layers, input to output.
        """
        return _vgg_layers(convs_per_stage, num_classes, include_top, pooling, dropout,
                           classifier_activation)
    return staticmethod(make_layers)


@register("vgg11")
class VGG11(_VGG):
    """VGG-11, configuration A (Simonyan & Zisserman 2014): 224x224x3, 132,863,336 parameters."""

    convs_per_stage = (1, 1, 2, 2, 2)
    make_layers = _make_layers(convs_per_stage)


@register("vgg16")
class VGG16(_VGG):
    """VGG-16, configuration D (Simonyan & Zisserman 2014): 224x224x3, 138,357,544 parameters."""

    convs_per_stage = (2, 2, 3, 3, 3)
    make_layers = _make_layers(convs_per_stage)


@register("vgg19")
class VGG19(_VGG):
    """VGG-19, configuration E (Simonyan & Zisserman 2014): 224x224x3, 143,667,240 parameters."""

    convs_per_stage = (2, 2, 4, 4, 4)
    make_layers = _make_layers(convs_per_stage)
