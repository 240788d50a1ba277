"""Loading saved models: kerasdl's classes registered first, and clear errors for bad files."""
from __future__ import annotations

import os
from pathlib import Path


def load_model(path: str | os.PathLike, safe_mode: bool = True, compile: bool = True):
    """``keras.models.load_model`` with kerasdl's model classes registered first.

    Subclassed kerasdl models load only after their classes are registered, which importing
    ``kerasdl.models`` does; plain Keras code can do that itself: ``import kerasdl.models``.
    """
    import zipfile

    import keras

    from kerasdl.compat import cached_saving_skipsets
    from kerasdl.errors import CorruptFileError, KerasdlError, UnsafeModelFile
    from kerasdl.models.registry import list_models

    path = Path(path)
    if path.is_dir():
        kind = ("a TensorFlow SavedModel folder (an export: load it with tf.saved_model.load, or "
                "serve it)" if (path / "saved_model.pb").is_file() else "a folder")
        raise KerasdlError(f"{path} is {kind}, not a Keras model file; kerasdl.load_model takes a "
                           ".keras file (a run's model.keras, or saved_models/<name>.keras) or a "
                           "Keras 2 .h5 file")
    if not path.is_file():
        raise KerasdlError(f"model file not found: {path}")
    list_models()                      # imports every family module, registering its classes
    import kerasdl.layers.transfer     # noqa: F401  transfer models' layers
    import kerasdl.layerwise           # noqa: F401  and their layer-wise learning rates
    if path.suffix == ".keras" and not zipfile.is_zipfile(path):   # Keras would say "not found"
        raise CorruptFileError(f"model file {path} ({path.stat().st_size:,} bytes) is corrupt: "
                               "not a readable .keras (zip) archive; truncated or overwritten?")
    try:
        with cached_saving_skipsets():
            return keras.models.load_model(str(path), safe_mode=safe_mode, compile=compile)
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as error:
        raise CorruptFileError(f"model file {path} ({path.stat().st_size:,} bytes) is corrupt: "
                               f"{type(error).__name__}: {error}") from error
    except ValueError as error:
        if "safe_mode" in str(error):
            raise UnsafeModelFile(f"{path} holds code (e.g. a Lambda layer) that safe mode will not "
                               "load; if you trust the file, load it with safe_mode=False "
                               f"(kerasdl.load_model(path, safe_mode=False))") from error
        raise
