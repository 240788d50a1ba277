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

Importing this package imports no TensorFlow; the names below are its public interface.
"""
from kerasdl.deploy.checking import EXPORT_TOLERANCE, check_export, example_inputs
from kerasdl.deploy.evaluation import evaluate
from kerasdl.deploy.exports import export, export_target
from kerasdl.deploy.formats import EXPORT_FORMATS, ExportFormat
from kerasdl.deploy.messages import clip, quote
from kerasdl.deploy.prediction import Prediction, Translation, describe, iter_lines, predict, translate
from kerasdl.deploy.readers import PREDICT_BATCH, image_batches, read_stdin
from kerasdl.deploy.reference import Located, Trained, load_trained, locate_trained, model_and_home

__all__ = [
    "EXPORT_FORMATS", "EXPORT_TOLERANCE", "ExportFormat", "Located", "PREDICT_BATCH", "Prediction",
    "Trained", "Translation", "check_export", "clip", "describe", "evaluate", "example_inputs",
    "export", "export_target", "image_batches", "iter_lines", "load_trained", "locate_trained",
    "model_and_home", "predict", "quote", "read_stdin", "translate",
]
