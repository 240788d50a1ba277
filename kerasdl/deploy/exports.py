"""``kerasdl export``: a trained model for serving, written only once its export is checked.

Exports go through Keras 3's ``model.export`` (TF SavedModel, ONNX via tf2onnx, LiteRT via the
TensorFlow Lite converter: :data:`kerasdl.deploy.formats.EXPORT_FORMATS`); ``pip install
"kerasdl[export]"`` brings what ONNX needs. No export is kept that has not been loaded back in
its own runtime and given Keras's outputs on one example, its inputs fed by name
(:func:`kerasdl.deploy.checking.check_export`).

Reference: Keras 3 ``Model.export`` (https://keras.io/api/models/model_saving_apis/export/).
"""
from __future__ import annotations

import errno
import os
import re
import shutil
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

from kerasdl.deploy.checking import check_export, check_twin, example_inputs
from kerasdl.deploy.formats import EXPORT_FORMATS
from kerasdl.deploy.reference import Trained
from kerasdl.errors import ConfigError, DataError, KerasdlError
from kerasdl.logs import Log, quiet
from kerasdl.rundir import MODEL



def export_target(model_path: Path, home: Path, fmt: str, output: Optional[Path] = None) -> Path:
    """Where ``export`` writes, checked: a new path, never a link; imports no TensorFlow.

    The default is each model's own: ``<run>/export/<file>`` for a run directory (its
    ``model.keras``), ``<folder>/<stem>.export/<file>`` for any other model file (a published
    ``saved_models/<name>.keras``: ``saved_models/<name>.export/``; ``checkpoints/best.keras``).
    """
    if fmt not in EXPORT_FORMATS:
        raise ConfigError(f"unknown export format '{fmt}'; formats: {', '.join(EXPORT_FORMATS)}")
    file_name = EXPORT_FORMATS[fmt].file_name
    if output is not None:
        target = Path(output)
    elif Path(model_path) == Path(home) / MODEL:
        target = Path(home) / "export" / file_name
    else:
        target = Path(model_path).with_name(f"{Path(model_path).stem}.export") / file_name
    if target.is_symlink():
        raise KerasdlError(f"{target} is a symbolic link (to {os.readlink(target)}); give --output "
                           "a new path: an export is never written through a link")
    if target.exists():
        raise KerasdlError(f"{target} exists; give --output a new path (nothing is overwritten)")
    return target


def export(trained: Trained, fmt: str, output: Optional[Path] = None,
           log: Optional[Log] = None) -> Path:
    """``model.export`` in ``fmt`` (saved_model, onnx, litert) to ``output``, checked.

    ``output`` defaults to the model's own folder (:func:`export_target`); refuses to overwrite,
    and says which formats a model can take. The export is written beside its target under a
    temporary name, loaded back in its own runtime (:data:`EXPORT_FORMATS`) and run on one example,
    its outputs compared with Keras's (:func:`check_export`), and only then renamed into place:
    an export that fails its check, or is killed, leaves nothing at the target. ``log`` gets one
    line saying what was checked.
    """
    from kerasdl.files import kill_point

    target = export_target(trained.model_path, trained.home, fmt, output)
    export_format = EXPORT_FORMATS[fmt]
    source = with_symbolic_inputs(trained.model)
    _refuse_unfit_format(source, fmt)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_exports(target)
    # litert wants a .tflite name; the temporary one keeps the format's suffix
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}{export_format.suffix}")
    model, precision = float32_twin(source)
    try:
        with _converter_chatter_hidden():
            if fmt == "onnx":
                _export_onnx(model, partial)
            else:
                model.export(str(partial), format=export_format.keras_format, verbose=False)
            checked = check_export(model, fmt, partial, target)
            if precision:
                checked = f"{check_twin(source, model, precision, target)}; {checked}"
        (log or quiet)(checked)              # (stderr is kerasdl's again)
        kill_point("export-written")          # written whole under the temporary name, checked
        _move_into_place(partial, target)
    finally:
        _remove(partial)
    return target


def _move_into_place(partial: Path, target: Path) -> None:
    """Rename ``partial`` to ``target``, never replacing what appeared there meanwhile.

    A file is hard-linked (which fails where ``target`` exists, however late it appeared: a
    rename would replace it) and its partial name removed by the caller; a SavedModel folder is
    renamed (which fails onto a file or a folder that holds anything)."""
    appeared = KerasdlError(f"{target} appeared while exporting; give --output a new path "
                            "(nothing is overwritten)")
    if target.exists() or target.is_symlink():
        raise appeared
    try:
        if partial.is_dir():
            os.rename(partial, target)
        else:
            os.link(partial, target)
    except (FileExistsError, IsADirectoryError, NotADirectoryError) as error:
        raise appeared from error
    except OSError as error:
        if error.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
        raise appeared from error


def mixed_precision_of(model) -> Optional[str]:
    """The mixed dtype policy ``model``'s layers compute in (mixed_bfloat16, mixed_float16).

    None where every layer computes in its variables' dtype (float32)."""
    for layer in (model, *model._flatten_layers(include_self=False, recursive=True)):
        policy = getattr(layer, "dtype_policy", None)
        if policy is not None and policy.compute_dtype != policy.variable_dtype:
            return policy.name
    return None


def float32_twin(model):
    """(the model to export, the mixed policy it was trained in or None).

    A model trained under a mixed policy (Keras mixed precision: variables float32, computation
    bfloat16 or float16; https://keras.io/api/mixed_precision/) is exported as its float32 twin:
    the model saved, its archive's model config given ``float32`` for every mixed dtype policy, and loaded
    back under the float32 global policy; its weights (float32 already) and its layers' assets
    (a TextVectorization's vocabulary) come with it. Its signatures are float32 and every runtime
    serves it with builtin float32 kernels (LiteRT has no builtin bfloat16 convolution). A float32
    model is returned as it is."""
    import json
    import tempfile
    import zipfile

    import keras
    from keras.src.saving.saving_lib import _CONFIG_FILENAME    # the archive's model config

    from kerasdl.loading import load_model

    precision = mixed_precision_of(model)
    if precision is None:
        return model, None
    previous = keras.mixed_precision.global_policy()
    with tempfile.TemporaryDirectory(prefix="kerasdl-float32-") as folder:
        mixed, rebuilt = Path(folder) / "mixed.keras", Path(folder) / "float32.keras"
        model.save(mixed)
        with zipfile.ZipFile(mixed) as source, zipfile.ZipFile(rebuilt, "w") as target:
            for item in source.infolist():
                data = source.read(item.filename)
                if item.filename == _CONFIG_FILENAME:
                    data = json.dumps(_float32_policies(json.loads(data))).encode()
                target.writestr(item, data)
        keras.mixed_precision.set_global_policy("float32")
        try:
            twin = load_model(rebuilt, compile=False)
        finally:
            keras.mixed_precision.set_global_policy(previous)
    still = mixed_precision_of(twin)
    if still is not None:
        raise KerasdlError(f"this model, trained in {precision}, could not be rebuilt in float32 "
                           f"for export (a layer keeps {still}); train it with --set "
                           "device.precision=float32 to export it")
    return twin, precision


def _float32_policies(config):
    """``config`` (a serialized Keras object) with each mixed dtype policy replaced by float32."""
    if isinstance(config, list):
        return [_float32_policies(item) for item in config]
    if not isinstance(config, dict):
        return config
    if str(config.get("dtype", "")).startswith("mixed_"):          # a policy given by its name
        config = {**config, "dtype": "float32"}
    if (config.get("class_name") == "DTypePolicy"
            and str(config.get("config", {}).get("name", "")).startswith("mixed_")):
        return {**config, "config": {**config["config"], "name": "float32"}}
    return {key: _float32_policies(value) for key, value in config.items()}


def with_symbolic_inputs(model):
    """``model``, or a functional model around it where it is subclassed.

    A subclassed model has no symbolic inputs and, loaded from its file, was never called; Keras
    exports only called models, and the export's check feeds inputs by name. The functional model
    takes one input of the shape the subclassed one was built for."""
    import keras

    try:
        if model.inputs:
            return model
    except AttributeError:              # a subclassed model has no inputs
        pass
    shape = (getattr(model, "_build_shapes_dict", None) or {}).get("input_shape")
    if not isinstance(shape, (list, tuple)) or any(isinstance(d, (list, tuple, dict))
                                                   for d in shape):
        raise KerasdlError(f"the subclassed model {model.name} has no single input shape it was "
                           f"built for (build shapes {shape!r}), so it cannot be exported; build "
                           "it (model.build((None, *input_shape))) and save it again, or train "
                           "the functional style (--set model.style=functional)")
    inputs = keras.Input(tuple(shape[1:]), name="input")
    return keras.Model(inputs, model(inputs), name=model.name)


def _refuse_unfit_format(model, fmt: str) -> None:
    """Refuse a format that cannot carry the model (string inputs) or whose converter is missing."""
    if fmt != "saved_model" and any(t.dtype == "string" for t in model.inputs):
        raise DataError(f"format '{fmt}' cannot carry this model: it takes string inputs "
                        "(text vectorization inside the model); export it as saved_model")
    if fmt == "onnx":
        for module in ("tf2onnx", "onnx"):
            try:
                __import__(module)
            except ImportError:
                raise KerasdlError(f"export to onnx needs {module}: pip install "
                                   "\"kerasdl[export]\"") from None


@contextmanager
def _converter_chatter_hidden():
    """The converters' own lines on stderr (C++ included) dropped, unless debugging.

    TensorFlow's, tf2onnx's and the LiteRT converter's: what an export says is kerasdl's check
    line or its one-line error."""
    from kerasdl.quiet import debug_enabled, filtered_stderr

    if debug_enabled():
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # tf.lite.Interpreter's deprecation notice, ...
        with filtered_stderr(re.compile(".")):
            yield


def _export_onnx(model, path: Path) -> None:
    """``model.export(path, format="onnx")`` whose graph takes the model's inputs only.

    A Normalization layer built from given statistics (the csv: models) holds its mean and
    variance as eager tensors, which tf2onnx turns into extra graph inputs; as variables they are
    frozen into the graph as constants."""
    import keras
    import tensorflow as tf

    inputs = model.inputs                  # Keras's ONNX export needs a model that has been called
    examples = example_inputs(model)       # (an open dimension, seq2seq's lengths, is given one)
    model(examples if len(examples) > 1 else examples[0])
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.Normalization) and layer.mean is not None:
            for name in ("mean", "variance"):
                value = getattr(layer, name)
                if not isinstance(value, tf.Variable):
                    setattr(layer, name, tf.Variable(value, trainable=False, name=name))
    model.export(str(path), format="onnx", verbose=False)
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    initializers = {tensor.name for tensor in graph.initializer}
    found = [tensor.name for tensor in graph.input if tensor.name not in initializers]
    if len(found) != len(inputs):
        raise KerasdlError(f"the ONNX graph takes {len(found)} inputs ({', '.join(found)}) where "
                           f"the model takes {len(inputs)}: a constant of the model became an "
                           "input; export it as saved_model or litert")


def _remove_abandoned_exports(target: Path) -> None:
    """Remove the temporary exports to ``target`` of processes that are gone (killed ones)."""
    for partial in target.parent.glob(f".{target.name}.partial-*"):
        pid = partial.name.rsplit("partial-", 1)[1].split(".")[0]
        if pid.isdigit() and not _alive(int(pid)):
            _remove(partial)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
