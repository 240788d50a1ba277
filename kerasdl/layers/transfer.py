"""The layers a transfer model is made of besides its backbone and head (kerasdl.transfer).

* :class:`ApplicationPreprocessing`: ``keras.applications.<family>.preprocess_input`` as a layer,
  so the preprocessing a pretrained backbone expects travels inside the saved ``.keras`` model.
* :class:`TextPreprocessing`: a keras-hub text preprocessor (tokenizer and packer) as a layer, so
  a text transfer model takes raw strings, and reloads from its ``.keras`` file.
* :class:`FrozenMode`: runs a backbone in inference mode (BatchNormalization on its moving
  statistics, Dropout off) whatever mode the outer model is in.

Why :class:`FrozenMode` exists. The Keras guide's ``x = base_model(inputs, training=False)`` pins
inference mode in tf.keras 2, but in Keras 3 a functional model passes the *outer* call's
``training`` to every node it runs, overriding the ``training=False`` recorded at construction
(keras-team/keras#20285; ``keras/src/models/functional.py``: ``operation_fn``). So under ``fit``
a nested backbone runs in training mode: its BatchNormalization layers normalise with the batch's
statistics as soon as they are unfrozen (and update their moving statistics), and its Dropout
layers drop even while the backbone is frozen. A layer whose ``call`` passes ``training=False``
explicitly is the one thing Keras 3 does not override (an explicit argument has priority over
the call context), which is what this wrapper does. ``tests/test_transfer.py`` pins the
behaviour: a frozen backbone's weights *and* moving statistics stay bit-identical under ``fit``.

Reference:
    Yosinski, Clune, Bengio, Lipson. "How transferable are features in deep neural networks?"
    NIPS 2014.
    Ioffe, Szegedy. "Batch Normalization." ICML 2015 (inference uses the moving statistics).
"""
from __future__ import annotations

import importlib
from typing import Optional

import keras


@keras.saving.register_keras_serializable(package="kerasdl")
class ApplicationPreprocessing(keras.layers.Layer):
    """``keras.applications.<family>.preprocess_input(inputs * input_scale)`` as a layer.

    Args:
        family: the ``keras.applications`` module, e.g. "resnet", "mobilenet_v2", "vgg16".
        input_scale: multiplies the inputs first. keras.applications expect pixels in [0, 255];
            kerasdl's pipeline rescales them to [0, 1] by default (``data.rescale = 1/255``), so
            the transfer model is built with ``input_scale = 1 / data.rescale`` (255).
    """

    def __init__(self, family: str, input_scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.family = family
        self.input_scale = float(input_scale)
        self._preprocess_input = preprocess_function(family)

    def call(self, inputs):
        x = keras.ops.cast(inputs, self.compute_dtype)
        if self.input_scale != 1.0:
            x = x * self.input_scale
        return self._preprocess_input(x)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "family": self.family, "input_scale": self.input_scale}


def preprocess_function(family: str):
    """``keras.applications.<family>.preprocess_input``."""
    module = importlib.import_module(f"keras.applications.{family}")
    return module.preprocess_input


@keras.saving.register_keras_serializable(package="kerasdl")
class FrozenMode(keras.layers.Layer):
    """Wraps a backbone; with ``inference=True`` it always runs it with ``training=False``.

    ``trainable`` of the wrapper and of the backbone's layers still decides what the optimizer
    updates (set by the recipes); ``inference`` decides only how BatchNormalization and Dropout
    behave. ``inference=False`` (the retrain_all recipe) follows the outer model's mode.

    Args:
        backbone: a ``keras.Model`` (functional; see :mod:`kerasdl.transfer.backbones`).
        inference: run the backbone in inference mode whatever the outer mode is.
    """

    def __init__(self, backbone: keras.Model, inference: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.backbone = backbone
        self.inference = bool(inference)

    def build(self, input_shape):
        if not self.backbone.built:
            self.backbone.build(input_shape)
        self.built = True

    def call(self, inputs, training=None):
        return self.backbone(inputs, training=False if self.inference else training)

    def compute_output_shape(self, input_shape):
        return self.backbone.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "inference": self.inference,
                "backbone": keras.saving.serialize_keras_object(self.backbone)}

    @classmethod
    def from_config(cls, config, custom_objects: Optional[dict] = None):
        return cls(**_with_layer(config, "backbone", custom_objects))


@keras.saving.register_keras_serializable(package="kerasdl")
class TextPreprocessing(keras.layers.Layer):
    """A keras-hub text preprocessor (raw strings -> its dict of token ids, masks) as a layer.

    keras-hub keeps a preprocessor outside its models (it runs in ``tf.data``); inside a functional
    model it cannot reload, because Keras rebuilds the graph by calling each layer symbolically
    before it loads their assets, and a tokenizer without its vocabulary (an asset) cannot be
    called. This layer states its outputs instead (``outputs``: name -> (shape without the batch,
    dtype), taken from one call at construction), so the graph is rebuilt without calling the
    tokenizer; its vocabulary then loads as the preprocessor's asset.

    Args:
        preprocessor: a ``keras_hub.models.TextClassifierPreprocessor`` (e.g. BERT's).
        outputs: what it returns; None: found by calling it on one string.
    """

    def __init__(self, preprocessor, outputs: Optional[dict] = None, **kwargs):
        super().__init__(**kwargs)
        self.preprocessor = preprocessor
        if outputs is None:
            example = preprocessor(keras.ops.convert_to_tensor(["a"]))
            outputs = {name: (list(value.shape[1:]), keras.backend.standardize_dtype(value.dtype))
                       for name, value in example.items()}
        self.outputs = {name: (list(shape), dtype) for name, (shape, dtype) in outputs.items()}

    def build(self, input_shape):
        # not the preprocessor's: it builds its packer at its first call, once its tokenizer's
        # vocabulary has loaded (when a model reloads, this build comes before the assets)
        self.built = True

    def call(self, inputs):
        return self.preprocessor(inputs)

    def compute_output_spec(self, inputs):
        return {name: keras.KerasTensor((inputs.shape[0], *shape), dtype=dtype)
                for name, (shape, dtype) in self.outputs.items()}

    def get_config(self):
        return {**super().get_config(), "outputs": self.outputs,
                "preprocessor": keras.saving.serialize_keras_object(self.preprocessor)}

    @classmethod
    def from_config(cls, config, custom_objects: Optional[dict] = None):
        return cls(**_with_layer(config, "preprocessor", custom_objects))


def _with_layer(config: dict, key: str, custom_objects: Optional[dict]) -> dict:
    """``config`` with the Keras object serialized under ``key`` deserialized."""
    return {**config, key: keras.saving.deserialize_keras_object(config[key],
                                                                 custom_objects=custom_objects)}
