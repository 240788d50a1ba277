"""Discriminative (layer-wise) learning rates: any Keras optimizer, one step size per layer.

ULMFiT fine-tunes the top layer at the full rate and every layer below at the rate of the layer
above divided by a constant (2.6), because lower layers hold more general features that should
move less. :class:`LayerwiseLearningRate` wraps any ``keras.optimizers`` optimizer and gives each
variable ``learning_rate * multiplier``; :func:`layer_multipliers` computes the multipliers of a
transfer model: 1 for the head, ``decay ** k`` for the k-th layer with weights of the backbone,
counted from its top (``decay = 1 / 2.6`` is ULMFiT's).

How. Scaling the gradients would not do it: Adam, RMSprop, Adagrad and friends divide by a
running gradient scale, so a scaled gradient gives the same step. Instead the wrapper lets the
inner optimizer take its normal step and then scales that step: ``v <- v0 + m * (v - v0)``. For
the optimizers Keras ships, the step (including momentum buffers and decoupled weight decay) is
linear in the learning rate, so this is exactly the step the optimizer would take at
``m * learning_rate``. ``tests/test_transfer.py`` measures the ratio.

Reference:
    Howard, Ruder. "Universal Language Model Fine-tuning for Text Classification." ACL 2018
    (section 3.2, discriminative fine-tuning).
"""
from __future__ import annotations

from typing import Iterable, Mapping, Optional

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasdl")
class LayerwiseLearningRate(keras.optimizers.Optimizer):
    """An optimizer whose step for variable ``v`` is ``multipliers[v.path]`` times the inner one's.

    Variables not in ``multipliers`` take the inner optimizer's step unchanged. ``learning_rate``
    and ``iterations`` are the inner optimizer's, so callbacks (ReduceLROnPlateau, TensorBoard)
    see the usual values.

    Args:
        inner_optimizer: a ``keras.optimizers.Optimizer`` (not built yet).
        multipliers: ``{variable.path: multiplier}``.
    """

    def __init__(self, inner_optimizer, multipliers: Mapping[str, float], name: Optional[str] = None,
                 **kwargs):
        if kwargs:
            raise ValueError("LayerwiseLearningRate takes no optimizer arguments; set them on the "
                             f"inner optimizer. Received: {', '.join(sorted(kwargs))}")
        if getattr(inner_optimizer, "use_ema", False):
            raise ValueError("LayerwiseLearningRate cannot wrap an optimizer with use_ema=True "
                             "(its moving average would see the unscaled step)")
        super().__init__(learning_rate=0.0, name=name or "layerwise_learning_rate")
        self.inner_optimizer = inner_optimizer
        self.multipliers = {str(path): float(m) for path, m in multipliers.items()}

    def build(self, var_list):
        self.inner_optimizer.build(var_list)
        super().build(var_list)

    @property
    def variables(self):
        return self._variables + self.inner_optimizer.variables

    def apply(self, grads, trainable_variables=None):
        if not self.built:
            with keras.name_scope(self.name, caller=self):
                self.build(trainable_variables)
            self.built = True
        variables = list(trainable_variables if trainable_variables is not None
                         else self._trainable_variables)
        scaled = [(v, self.multipliers[v.path]) for v in variables
                  if self.multipliers.get(v.path, 1.0) != 1.0]
        before = [ops.copy(ops.convert_to_tensor(v)) for v, _ in scaled]
        self.inner_optimizer.apply(grads, trainable_variables)
        for (variable, multiplier), old in zip(scaled, before):
            step = ops.subtract(ops.convert_to_tensor(variable), old)
            variable.assign(ops.add(old, ops.multiply(step, ops.cast(multiplier, step.dtype))))
            if variable.constraint is not None:
                variable.assign(variable.constraint(variable))

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        raise NotImplementedError("LayerwiseLearningRate is stateful (TensorFlow backend)")

    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        self.inner_optimizer.learning_rate = learning_rate

    @property
    def iterations(self):
        return self.inner_optimizer.iterations

    def finalize_variable_values(self, var_list):
        self.inner_optimizer.finalize_variable_values(var_list)

    def get_config(self):
        return {"name": self.name, "multipliers": dict(self.multipliers),
                "inner_optimizer": keras.saving.serialize_keras_object(self.inner_optimizer)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        inner = keras.saving.deserialize_keras_object(config.pop("inner_optimizer"),
                                                      custom_objects=custom_objects)
        return cls(inner, **config)


def layer_multipliers(head_layers: Iterable[keras.layers.Layer],
                      backbone_layers: Iterable[keras.layers.Layer], decay: float
                      ) -> dict[str, float]:
    """Learning-rate multipliers per variable, decaying down the backbone: ``{variable.path: multiplier}``.

    1 for the head, ``decay ** k`` for the backbone's k-th layer with weights counted from the top
    (k = 1 for the layer just below the head).

    Args:
        head_layers: layers that train at the full rate.
        backbone_layers: the backbone's layers, input to output.
        decay: in (0, 1]; ULMFiT uses 1 / 2.6.
    """
    if not 0 < decay <= 1:
        raise ValueError(f"decay must be in (0, 1]; received: decay={decay}")
    multipliers: dict[str, float] = {}

    def put(variable, multiplier):
        if multipliers.get(variable.path, multiplier) != multiplier:
            raise ValueError(f"two variables share the path '{variable.path}' with different "
                             "learning-rate multipliers; give their layers distinct names")
        multipliers[variable.path] = multiplier

    for layer in head_layers:
        for variable in layer.weights:
            if variable.trainable:
                put(variable, 1.0)
    with_weights = [layer for layer in backbone_layers if layer.weights]
    for depth, layer in enumerate(reversed(with_weights), start=1):
        for variable in layer.weights:
            if variable.trainable:           # BatchNorm's moving statistics are never trained
                put(variable, float(decay ** depth))
    return multipliers
