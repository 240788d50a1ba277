"""Putting a trained model to work: ``kerasdl predict``, ``evaluate`` and ``export``.

One job per module:

* :mod:`~kerasdl.deploy.reference`: the model and its record (run directory, ``.keras`` file or
  published model), found without TensorFlow, then loaded (:func:`locate_trained`,
  :func:`load_trained`);
* :mod:`~kerasdl.deploy.readers`: predict's inputs read as training read them (images, arrays,
  CSV rows, UTF-8 text, stdin);
* :mod:`~kerasdl.deploy.prediction`: :func:`predict` and :func:`translate`;
* :mod:`~kerasdl.deploy.evaluation`: :func:`evaluate` on another dataset or split;
* :mod:`~kerasdl.deploy.formats` (the one table of export formats), :mod:`~kerasdl.deploy.exports`
  (:func:`export`), :mod:`~kerasdl.deploy.checking` (:func:`check_export`) and
  :mod:`~kerasdl.deploy.runtimes` (each format's runtime);
* :mod:`~kerasdl.deploy.messages`: user text cut to fit one-line messages.

Importing this package imports no TensorFlow, nor any of its modules until one of the names
below is first used (PEP 562), so ``kerasdl --help``, which lists :data:`EXPORT_FORMATS`, pays
only for the formats table.
"""
from __future__ import annotations

import importlib

#: every public name, and the module of this package that defines it
_HOMES = {
    "EXPORT_TOLERANCE": "checking", "check_export": "checking", "example_inputs": "checking",
    "evaluate": "evaluation",
    "export": "exports", "export_target": "exports",
    "EXPORT_FORMATS": "formats", "ExportFormat": "formats",
    "clip": "messages", "quote": "messages",
    "Prediction": "prediction", "Translation": "prediction", "describe": "prediction",
    "iter_lines": "prediction", "predict": "prediction", "translate": "prediction",
    "PREDICT_BATCH": "readers", "image_batches": "readers", "read_stdin": "readers",
    "Located": "reference", "Trained": "reference", "load_trained": "reference",
    "locate_trained": "reference", "model_and_home": "reference",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    """``kerasdl.deploy.NAME``: imported from its module on first use, then kept here."""
    if name not in _HOMES:
        raise AttributeError(f"module 'kerasdl.deploy' has no attribute {name!r}; its names are "
                             f"{', '.join(__all__)}")
    value = getattr(importlib.import_module(f"kerasdl.deploy.{_HOMES[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))
