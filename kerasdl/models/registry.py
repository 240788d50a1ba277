"""The model registry: every architecture is one name, built in any of three Keras styles.

``@register("lenet5")`` on a :class:`~kerasdl.models.base.ChainModel` subclass (or any class with
``build_sequential``/``build_functional``/``build_subclassed`` class methods) makes the name
available to :func:`build`, :func:`list_models`, experiment files and the registry-driven tests.

:func:`kerasdl.catalog.catalog` lists the same names without importing TensorFlow.
"""
from __future__ import annotations

import fnmatch
import importlib
import inspect
from typing import Any

from kerasdl.catalog import family_modules
from kerasdl.errors import ModelError, did_you_mean, unknown_name

STYLES = ("sequential", "functional", "subclassed")

_REGISTRY: dict[str, type] = {}


def register(name: str):
    """Class decorator: register a model family under ``name`` and make it Keras-serializable."""
    def decorate(cls):
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"model name '{name}' is registered twice "
                             f"({_REGISTRY[name].__module__} and {cls.__module__})")
        import keras

        cls = keras.saving.register_keras_serializable(package="kerasdl", name=cls.__name__)(cls)
        cls.registry_name = name
        _REGISTRY[name] = cls
        return cls
    return decorate


def _load_families() -> None:
    for module in family_modules():
        importlib.import_module(f"kerasdl.models.{module}")


def list_models(pattern: str = "*") -> list[str]:
    """Sorted names of the registered models that match the shell-style ``pattern``."""
    _load_families()
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, pattern))


def get_model_class(name: str) -> type:
    """The class registered as ``name``; an unknown name is a ModelError."""
    _load_families()
    if name not in _REGISTRY:
        raise ModelError(unknown_name("model", name, _REGISTRY, "model.name"))
    return _REGISTRY[name]


def build(name: str, style: str = "functional", **kwargs: Any):
    """Build the registered model ``name`` in ``style`` and return a plain ``keras.Model``.

    Args:
        name: a registered name (see :func:`list_models`).
        style: "sequential", "functional" or "subclassed"; the three give the same layers, the same
            parameter count and, with the same weights, the same outputs.
        **kwargs: the family's arguments, e.g. ``input_shape``, ``num_classes``, ``include_top``,
            ``pooling``; unknown ones are an error naming the valid ones.
    """
    cls = get_model_class(name)
    if style not in STYLES:
        raise ModelError(f"unknown model style '{style}'{did_you_mean(style, STYLES)}; "
                         f"valid styles: {', '.join(STYLES)}")
    if style not in getattr(cls, "styles", STYLES):
        raise ModelError(f"model '{name}' has no {style} style ({cls.__doc__.strip().splitlines()[0]}); "
                         f"its styles: {', '.join(cls.styles)}")
    check_kwargs(cls, kwargs)
    check_shapes_and_counts(name, kwargs)
    check_backend(cls, kwargs)
    try:
        return getattr(cls, f"build_{style}")(**kwargs)
    except ValueError as error:
        if "input_shape" not in kwargs or "output size would be zero or negative" not in str(error):
            raise
        raise ModelError(f"model '{name}' cannot take input_shape={tuple(kwargs['input_shape'])!r}: "
                         "its layers shrink the input below one pixel; give larger inputs (its "
                         f"default is {cls.default_input_shape}; data.image_size=(H, W) resizes "
                         "images)") from error


def builder_parameters(cls) -> dict[str, inspect.Parameter]:
    """The arguments a family accepts: ``input_shape`` and those of its ``make_layers``."""
    params = dict(inspect.signature(cls.make_layers).parameters)
    params["input_shape"] = inspect.Parameter("input_shape", inspect.Parameter.KEYWORD_ONLY,
                                              default=cls.default_input_shape)
    return params


def check_kwargs(cls, kwargs: dict[str, Any]) -> None:
    """Raise ModelError for a key of ``kwargs`` that ``cls``'s builder does not take."""
    valid = builder_parameters(cls)
    for key in kwargs:
        if key not in valid:
            raise ModelError(f"model '{cls.registry_name}' has no argument '{key}'"
                             f"{did_you_mean(key, valid)}; its arguments: {', '.join(valid)}")


def check_backend(cls, kwargs: dict[str, Any]) -> None:
    """Raise ModelError where ``cls`` built with ``kwargs`` needs TensorFlow and Keras runs on another.

    The class's ``tensorflow_only`` hook says so; a class without one runs on every backend."""
    needs = getattr(cls, "tensorflow_only", lambda options: None)(kwargs)
    if needs is None:
        return
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        return
    why, instead = needs
    raise ModelError(f"model '{cls.registry_name}' needs the TensorFlow backend ({why}); KERAS_BACKEND "
                     f"is '{backend}'; set KERAS_BACKEND=tensorflow before Keras is imported"
                     + (f", or {instead}" if instead else ""))


def check_shapes_and_counts(name: str, kwargs: dict[str, Any]) -> None:
    """Raise ModelError for an ``input_shape`` or ``num_classes`` that no model can be built with.

    Library callers pass these by hand: ``num_classes="10"``, ``input_shape=32`` or
    ``input_shape=(0, 0, 3)`` would otherwise fail deep inside Keras with a message about tensors.
    """
    if "num_classes" in kwargs and kwargs["num_classes"] is not None:
        count = kwargs["num_classes"]
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ModelError(f"model '{name}': num_classes must be a whole number >= 1; received: "
                             f"num_classes={count!r} ({type(count).__name__}); e.g. num_classes=10")
    if "input_shape" in kwargs and kwargs["input_shape"] is not None:
        shape = kwargs["input_shape"]
        example = ("e.g. input_shape=(28, 28, 1) for 28x28 grey images, (None, 8) for sequences of "
                   "any length with 8 features")
        if not isinstance(shape, (tuple, list)):
            raise ModelError(f"model '{name}': input_shape must be a tuple of dimensions without the "
                             f"batch axis; received: input_shape={shape!r} ({type(shape).__name__}); "
                             f"{example}")
        bad = [d for d in shape if d is not None and (isinstance(d, bool) or not isinstance(d, int) or d < 1)]
        if bad or not shape:
            raise ModelError(f"model '{name}': input_shape={tuple(shape)!r} has "
                             f"{'no dimensions' if not shape else f'the dimension(s) {bad!r}'}; every "
                             f"dimension is a whole number >= 1 (or None where it varies); {example}")
