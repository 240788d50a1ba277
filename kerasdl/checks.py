"""Pre-flight checks: does the model fit the data and the loss? Raised before any training."""
from __future__ import annotations

from typing import Optional, Sequence

from kerasdl.config import LOSSES
from kerasdl.errors import DataError


def _fmt(shape: Sequence[Optional[int]]) -> str:
    dims = ", ".join("None" if d is None else str(d) for d in shape)
    return f"({dims}{',' if len(shape) == 1 else ''})"


def _same(a: Sequence[Optional[int]], b: Sequence[Optional[int]]) -> bool:
    """Equal shapes, where None (unknown) matches any size."""
    return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b))


def model_input_shape(model) -> Optional[tuple]:
    """The per-example input shape the model declares (without the batch axis), if it declares one."""
    inputs = getattr(model, "inputs", None)
    if inputs:
        return tuple(inputs[0].shape[1:])
    declared = getattr(model, "declared_input_shape", None)
    return tuple(declared) if declared else None


def check_model_fits_data(*, model_name: str, input_shape: Optional[Sequence[Optional[int]]],
                          output_shape: Sequence[Optional[int]],
                          features_shape: Sequence[Optional[int]], labels_shape: Sequence[Optional[int]],
                          labels_are_integers: bool, loss: str, num_classes: Optional[int],
                          dataset: str) -> None:
    """Raise DataError naming exactly what disagrees between data, model and loss.

    All shapes include the batch axis (``None``). Pure: no TensorFlow, so it is unit-tested on
    shapes alone.
    """
    features_shape, labels_shape = tuple(features_shape), tuple(labels_shape)
    output_shape = tuple(output_shape)
    if input_shape is not None:
        expected = (None, *tuple(input_shape))
        if not _same(expected, features_shape):
            raise DataError(
                f"input shape mismatch: dataset '{dataset}' yields features of shape "
                f"{_fmt(features_shape)} but model '{model_name}' expects {_fmt(expected)}; "
                "resize the data (data.image_size=(H, W)) or build the model for the data "
                "(remove model.kwargs.input_shape to take it from the dataset)")
    label_kind = LOSSES[loss][1]
    classes = output_shape[-1] if len(output_shape) >= 2 else None
    if label_kind == "sparse" and not num_classes and not labels_are_integers:
        raise DataError(f"dataset '{dataset}' has a numeric target (float labels, no classes) but loss "
                        f"'{loss}' needs class ids; set trainer.loss='mse' for a numeric target (or, "
                        "for csv: and npz: data, data.label_type='classes' if the numbers are classes)")
    if label_kind == "sparse":
        if len(output_shape) < 2 or classes is None or classes < 2:
            raise DataError(f"loss '{loss}' needs a model output of shape (None, ..., classes) with "
                            f"classes >= 2; model '{model_name}' outputs {_fmt(output_shape)}")
        ids_shape = output_shape[:-1]
        if not (_same(labels_shape, ids_shape) or _same(labels_shape, (*ids_shape, 1))):
            raise DataError(
                f"loss '{loss}' needs integer class ids of shape {_fmt(ids_shape)} for outputs "
                f"{_fmt(output_shape)}; the labels have shape {_fmt(labels_shape)}"
                + (" (one-hot?); use loss 'categorical_crossentropy' for one-hot labels, or "
                   "data.label_format='sparse'" if _same(labels_shape, output_shape) else ""))
        if not labels_are_integers:
            raise DataError(f"loss '{loss}' needs integer class ids; the labels are floats; use "
                            "a loss for real-valued targets or integer labels")
    elif label_kind == "one_hot":
        if not _same(labels_shape, output_shape):
            raise DataError(
                f"loss '{loss}' needs one-hot labels of the output's shape {_fmt(output_shape)}; "
                f"the labels have shape {_fmt(labels_shape)}"
                + (" (class ids): use loss 'sparse_categorical_crossentropy', or "
                   "data.label_format='one_hot'" if _same(labels_shape, output_shape[:-1]) else ""))
    else:
        squeeze = lambda s: s[:-1] if len(s) > 1 and s[-1] == 1 else s  # noqa: E731
        if not _same(squeeze(labels_shape), squeeze(output_shape)):
            raise DataError(f"loss '{loss}' compares labels with outputs of the same shape; model "
                            f"'{model_name}' outputs {_fmt(output_shape)} but the labels have shape "
                            f"{_fmt(labels_shape)}")
    if num_classes and label_kind in ("sparse", "one_hot") and classes != num_classes:
        raise DataError(f"model '{model_name}' outputs {classes} classes but dataset '{dataset}' has "
                        f"{num_classes}; set model.kwargs.num_classes={num_classes} (or leave it out "
                        "to take it from the dataset)")
