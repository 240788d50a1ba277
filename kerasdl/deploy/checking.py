"""The check every export passes before it is kept: Keras's outputs, from its own runtime.

The export is loaded back in its runtime and run on one example fed by input name, and its
outputs are compared with Keras's. A LiteRT file lists its inputs in another order than Keras
(the seq2seq's ``decoder_input`` before ``source``): feeding by name is what makes the comparison
mean anything.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from kerasdl.deploy.formats import EXPORT_FORMATS
from kerasdl.deploy.messages import clip, first_line
from kerasdl.errors import DataError, KerasdlError

#: an export passes its check where every output is within this of Keras's, times the largest
#: Keras output where that is above 1 (float32 kernels that differ in summation order: LeNet-5's
#: and ResNet-20's exports differ from Keras by 1e-7 to 1e-6)
EXPORT_TOLERANCE = 1e-4

#: a model trained in mixed precision is exported as its float32 twin, whose outputs must be
#: within this of the model's own (bfloat16 computation, 8-bit significand: a relative rounding
#: of 2**-8 = 0.4% per operation), absolute on each output, times the largest output where that
#: is above 1; measured on LeNet-5 (bench/README.md, "bfloat16 on this CPU")
MIXED_EXPORT_TOLERANCE = 2e-2


def example_inputs(model) -> list[np.ndarray]:
    """One example batch (2 rows) for ``model``'s inputs, in their order.

    Seeded uniform [0, 1) floats, token id 1 for integer inputs (in every vocabulary: 0 is
    padding), a short sentence for string inputs; a dimension the model leaves open is 4."""
    rng = np.random.default_rng(0)
    examples = []
    for tensor in model.inputs:
        shape = (2, *(4 if d is None else int(d) for d in tensor.shape[1:]))
        dtype = str(tensor.dtype)
        if dtype == "string":
            examples.append(np.full(shape, "a short example sentence", dtype=object))
        elif "int" in dtype or dtype == "bool":
            examples.append(np.ones(shape, dtype))
        else:
            examples.append(rng.random(shape).astype(dtype))
    return examples


def check_export(model, fmt: str, path: Path, target: Path) -> str:
    """Load the export at ``path`` in its own runtime, run it on one example, compare with Keras.

    Inputs are found and fed by the names of the model's inputs; each output must be within
    :data:`EXPORT_TOLERANCE` of Keras's. A LiteRT file that needs TensorFlow's Flex delegate
    (``FlexTensorListReserve``: the loops of LSTM/GRU layers) is refused: the plain interpreter,
    and LiteRT on a device without the select-ops library, cannot run it.
    Returns the line saying what was checked; raises a one-line DataError naming ``target``.
    """
    runtime = EXPORT_FORMATS[fmt].runtime
    names = [tensor.name for tensor in model.inputs]
    examples = example_inputs(model)
    started = time.perf_counter()
    try:
        found = EXPORT_FORMATS[fmt].run(path, dict(zip(names, examples)), target)
    except KerasdlError:
        raise
    except Exception as error:      # the runtime's own failure, whatever its class
        raise DataError(f"the {fmt} export of this model does not run in {runtime} "
                        f"({clip(first_line(error), 160)}); nothing was written to {target}; "
                        "export it in another format") from None
    expected = _keras_outputs(model, examples)
    seconds = time.perf_counter() - started        # the check's whole cost: runtime and Keras
    worst = _largest_difference(fmt, found, expected, target)
    return (f"checked {target.name} in {runtime}: fed by name ({', '.join(names)}), Keras's "
            f"outputs within {worst:.1e} on one example (tolerance {EXPORT_TOLERANCE:.0e}; "
            f"{seconds:.2f} s)")


def check_twin(model, twin, precision: str, target: Path) -> str:
    """The float32 ``twin`` of ``model`` (trained in ``precision``) against ``model``, on one example.

    Each output must be within :data:`MIXED_EXPORT_TOLERANCE`. Returns the line saying so;
    raises a one-line DataError naming ``target``."""
    examples = example_inputs(model)
    worst = 0.0
    for index, difference, tolerance in _differences(
            _keras_outputs(twin, examples), _keras_outputs(model, examples),
            MIXED_EXPORT_TOLERANCE):
        if not difference <= tolerance:
            raise DataError(f"the float32 export of this model, trained in {precision}, differs "
                            f"from the model's own outputs by {difference:.3g} at output {index} "
                            f"(tolerance {tolerance:.0e}); nothing was written to {target}; "
                            "train it with --set device.precision=float32 to export it")
        worst = max(worst, difference)
    return (f"trained in {precision}, exported in float32: the float32 model within "
            f"{worst:.1e} of the {precision} one on one example (tolerance "
            f"{MIXED_EXPORT_TOLERANCE:.0e})")


def _keras_outputs(model, examples: list[np.ndarray]) -> list[np.ndarray]:
    """Keras's outputs on ``examples``, flattened: one eager call, no predict loop."""
    import keras
    import tensorflow as tf

    tensors = [tf.constant(example) for example in examples]
    return [np.asarray(keras.ops.convert_to_numpy(value)) for value in keras.tree.flatten(
        model(tensors if len(tensors) > 1 else tensors[0], training=False))]


def _largest_difference(fmt: str, found: list, expected: list[np.ndarray], target: Path) -> float:
    """The largest difference of the export's outputs from Keras's; refuses one beyond tolerance."""
    if len(found) != len(expected):
        raise DataError(f"the {fmt} export gives {len(found)} outputs where the model gives "
                        f"{len(expected)}; nothing was written to {target}")
    for index, (ours, theirs) in enumerate(zip(found, expected)):
        if np.shape(ours) != theirs.shape:
            raise DataError(f"the {fmt} export's output {index} has shape {np.shape(ours)} where "
                            f"Keras's has {theirs.shape}; nothing was written to {target}")
    worst = 0.0
    for index, difference, tolerance in _differences(found, expected, EXPORT_TOLERANCE):
        if not difference <= tolerance:
            raise DataError(f"the {fmt} export does not give Keras's outputs: in "
                            f"{EXPORT_FORMATS[fmt].runtime}, output {index} differs by "
                            f"{difference:.3g} on one example (tolerance {tolerance:.0e}); nothing "
                            f"was written to {target}; export it in another format")
        worst = max(worst, difference)
    return worst


def _differences(found: list, expected: list[np.ndarray], tolerance: float):
    """Per output: its index, its largest difference from ``expected``'s, and its tolerance.

    The tolerance is ``tolerance`` times the largest expected value where that is above 1."""
    for index, (ours, theirs) in enumerate(zip(found, expected)):
        ours = np.asarray(ours, np.float64)
        theirs = np.asarray(theirs, np.float64)
        if not theirs.size:
            yield index, 0.0, tolerance
            continue
        yield (index, float(np.abs(ours - theirs).max()),
               tolerance * max(1.0, float(np.abs(theirs).max())))
