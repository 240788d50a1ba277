"""kerasdl: classic deep-learning architectures as Keras 3 builders, run by one experiment runner.

The public surface::

    from kerasdl import build, list_models, load_experiment, run, Experiment

Importing kerasdl does not import TensorFlow; ``build``, ``list_models``, ``load_model`` and
``run``, first reached, do, as the CLI does: without TensorFlow's start-up lines (its oneDNN, CUDA
and CPU-feature notices; :mod:`kerasdl.quiet`), unless the program imported TensorFlow itself first
or ``KERASDL_DEBUG=1`` asks to see everything.
"""
from __future__ import annotations

import sys

from kerasdl.config import (Callbacks, CheckpointConfig, Data, Device, EarlyStoppingConfig, Experiment,
                            Finetune, ModelConfig, Output, ReduceLR, TensorBoardConfig, Trainer,
                            with_overrides)
from kerasdl.config import renamed_section as _renamed_section
from kerasdl.errors import ConfigError, DataError, KerasdlError, ModelError
from kerasdl.experiment import load_experiment

__version__ = "0.1.0"

__all__ = ["build", "list_models", "load_model", "load_experiment", "run", "RunResult", "Experiment", "Data",
           "ModelConfig", "Trainer", "Callbacks", "EarlyStoppingConfig", "CheckpointConfig",
           "TensorBoardConfig", "ReduceLR", "Device", "Finetune",
           "Output", "with_overrides", "KerasdlError", "ConfigError", "DataError", "ModelError"]


def __getattr__(name: str):
    """Lazy access to the parts that import TensorFlow (quietly, :func:`_import_tensorflow`).

    The config sections' old names (``kerasdl.Model``, ...) still work, with a DeprecationWarning.
    """
    if name in ("build", "list_models", "load_model", "run", "RunResult"):
        _import_tensorflow()
    if name in ("build", "list_models"):
        from kerasdl.models import registry

        return getattr(registry, name)
    if name == "load_model":
        from kerasdl.loading import load_model

        return load_model
    if name in ("run", "RunResult"):
        from kerasdl import runner

        return getattr(runner, name)
    return _renamed_section(__name__, name)


def _import_tensorflow() -> None:
    """TensorFlow imported as the CLI imports it, unless the user's program already did."""
    if "tensorflow" not in sys.modules:
        from kerasdl.quiet import import_tensorflow

        import_tensorflow()
