"""An export loaded back in its own runtime and run on named inputs (the export's check).

Each ``run_*`` takes the export's path, the model's inputs by name and the export's final
target (named in errors), and returns the outputs in Keras's order. Imports no runtime until one
is called.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from kerasdl.errors import DataError


def _by_output_index(outputs: dict) -> list:
    """A signature's outputs (``output_0``, ``output_1``, ... ``output_10``) in Keras's order."""
    def index(name):
        tail = name.rsplit("_", 1)[-1]
        return (0, int(tail), name) if tail.isdigit() else (1, 0, name)
    return [outputs[name] for name in sorted(outputs, key=index)]


def _same_names(fmt: str, found: Sequence[str], inputs: dict, target: Path) -> None:
    """Refuse an export whose input names are not the model's: it could not be fed by name."""
    if sorted(found) != sorted(inputs):
        raise DataError(f"the {fmt} export takes inputs named {', '.join(found)} where the model "
                        f"takes {', '.join(inputs)}: they cannot be fed by name; nothing was "
                        f"written to {target}")


def run_saved_model(path: Path, inputs: dict, target: Path) -> list:
    """A SavedModel's outputs on ``inputs``, by its ``serving_default`` signature."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    serve = loaded.signatures["serving_default"]
    _same_names("saved_model", list(serve.structured_input_signature[1]), inputs, target)
    outputs = serve(**{name: tf.constant(value) for name, value in inputs.items()})
    return [value.numpy() for value in _by_output_index(outputs)]


def run_onnx(path: Path, inputs: dict, target: Path) -> list:
    """An ONNX file's outputs on ``inputs``, in onnxruntime on the CPU."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    _same_names("onnx", [feed.name for feed in session.get_inputs()], inputs, target)
    return session.run(None, inputs)


def run_litert(path: Path, inputs: dict, target: Path) -> list:
    """A LiteRT file's outputs on ``inputs``; refused where it needs TensorFlow's Flex ops."""
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_path=str(path))
    flex = sorted({op["op_name"] for op in interpreter._get_ops_details()
                   if op["op_name"].startswith("Flex")})
    if flex:
        raise DataError(
            f"format 'litert' cannot carry this model: its LiteRT file needs TensorFlow's Flex "
            f"delegate for {', '.join(flex[:4])}{', ...' if len(flex) > 4 else ''} (ops outside "
            "LiteRT's builtin set), which the plain LiteRT interpreter does not have; export it "
            f"as saved_model or onnx (nothing was written to {target})")
    signatures = interpreter.get_signature_list()
    key = "serving_default" if "serving_default" in signatures else next(iter(signatures))
    _same_names("litert", signatures[key]["inputs"], inputs, target)
    outputs = interpreter.get_signature_runner(key)(**inputs)
    return _by_output_index(outputs)
