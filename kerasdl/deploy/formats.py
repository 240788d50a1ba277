"""The export formats: one table, from the format's name to everything about it.

Reference: Keras 3 ``Model.export`` (https://keras.io/api/models/model_saving_apis/export/).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from kerasdl.deploy.runtimes import run_litert, run_onnx, run_saved_model


@dataclass(frozen=True)
class ExportFormat:
    """One export format: how Keras writes it and how its check loads it back."""

    keras_format: str          # Keras's ``model.export`` format
    file_name: str             # the file or folder it writes
    runtime: str               # the runtime its check loads the export back in
    run: Callable[[Path, dict, Path], list]     # that runtime's run on named inputs
    description: str           # one line for ``kerasdl export --help``

    @property
    def suffix(self) -> str:
        """The suffix of its file ('' for a folder): a temporary name keeps it."""
        return Path(self.file_name).suffix


#: kerasdl's format names, as ``kerasdl export --format`` takes them
EXPORT_FORMATS: dict[str, ExportFormat] = {
    "saved_model": ExportFormat(
        "tf_saved_model", "saved_model", "tf.saved_model.load (its serving_default signature)",
        run_saved_model, "TensorFlow SavedModel folder (TF Serving, TF.js converter)"),
    "onnx": ExportFormat(
        "onnx", "model.onnx", "onnxruntime", run_onnx,
        "ONNX file via tf2onnx (onnxruntime; pip install \"kerasdl[export]\")"),
    "litert": ExportFormat(
        "litert", "model.tflite", "the plain LiteRT interpreter (tf.lite.Interpreter)", run_litert,
        "LiteRT (TensorFlow Lite) flat buffer for phones and microcontrollers"),
}
