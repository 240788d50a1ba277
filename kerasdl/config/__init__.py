"""Experiment configs: frozen, typed dataclasses, validated before TensorFlow is imported.

An experiment is a tree of sections (``data``, ``model``, ``trainer``, ``callbacks``, ``device``,
``output``, ``finetune``). Every section is a frozen, keyword-only dataclass that checks its own
fields when it is created, so a typo or a wrong type fails where the config is written, naming the
full key path (``trainer.optimzer``) and the closest valid key. ``--set`` overrides go through the
same checks.

The package, one job per module: :mod:`~kerasdl.config.tables` (the names a config may use, one
table per vocabulary), :mod:`~kerasdl.config.checking` (the type checker of sections),
:mod:`~kerasdl.config.naming` (names that become file names), :mod:`~kerasdl.config.sections`
(the sections and :class:`Experiment`), :mod:`~kerasdl.config.overrides` (``--set``).

It imports no TensorFlow: ``kerasdl show``, ``kerasdl list`` and config errors stay fast.
"""
from __future__ import annotations

import warnings

from kerasdl.config.naming import MAX_NAME_LENGTH, NAME_PATTERN, check_name
from kerasdl.config.overrides import flat_config, parse_overrides, parse_value, with_overrides
from kerasdl.config.sections import (Callbacks, CheckpointConfig, Data, Device, EarlyStoppingConfig,
                                     Experiment, Finetune, ModelConfig, Output, ReduceLR,
                                     TensorBoardConfig, Trainer)
from kerasdl.config.tables import (AUGMENTATIONS, DEFAULT_SMOKE, DEVICE_POLICIES, DEVICE_POLICY,
                                   HIGHER_IS_BETTER, LOSSES, METRICS, OPTIMIZERS, RECIPES,
                                   VALIDATION_PREFIX, Recipe, device_policy_names, metric_base,
                                   metric_direction)
from kerasdl.errors import ConfigError

__all__ = ["AUGMENTATIONS", "DEFAULT_SMOKE", "DEVICE_POLICIES", "DEVICE_POLICY", "HIGHER_IS_BETTER",
           "LOSSES", "MAX_NAME_LENGTH", "METRICS", "NAME_PATTERN", "OPTIMIZERS", "RECIPES",
           "VALIDATION_PREFIX", "Callbacks", "CheckpointConfig", "ConfigError", "Data", "Device",
           "EarlyStoppingConfig", "Experiment", "Finetune", "ModelConfig", "Output", "Recipe",
           "ReduceLR", "TensorBoardConfig", "Trainer", "check_name", "device_policy_names",
           "flat_config", "metric_base", "metric_direction", "parse_overrides", "parse_value",
           "with_overrides"]

#: old section name -> new: the old names were those of Keras classes (keras.Model, keras.callbacks.*)
RENAMED: dict[str, str] = {"Model": "ModelConfig", "EarlyStopping": "EarlyStoppingConfig",
                           "TensorBoard": "TensorBoardConfig", "Checkpoint": "CheckpointConfig"}


def renamed_section(module: str, name: str):
    """The section once called ``name``, with a DeprecationWarning naming its new name (PEP 562).

    Raises AttributeError, as a missing attribute of ``module`` does, for any other name.
    """
    if name not in RENAMED:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    new = RENAMED[name]
    warnings.warn(f"{module}.{name} is renamed {module}.{new}, so that it is not taken for a Keras "
                  f"class; import {new} instead", DeprecationWarning, stacklevel=3)
    return globals()[new]


def __getattr__(name: str):
    """The old section names (Model, EarlyStopping, ...), deprecated: see :data:`RENAMED`."""
    return renamed_section(__name__, name)
