"""The figures of a run, written as PNGs into its run directory (``kerasdl report`` redraws them).

* ``curves.png``: loss and metrics per epoch, train and validation;
* ``samples.png``: training inputs with their labels (image datasets);
* ``predictions.png``: test inputs with prediction and truth, wrong ones in red (image classifiers);
* ``confusion.png``: the test confusion matrix (classifiers);
* ``model.png``: the model diagram (keras.utils.plot_model; needs Graphviz's ``dot``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from kerasdl.plots import image_grid, plot_confusion, plot_history, plot_model_diagram

GRID = 32          # images per grid


def _is_image_batch(x) -> bool:
    return hasattr(x, "shape") and len(x.shape) == 4 and x.shape[-1] in (1, 3)


def _class_ids(y: np.ndarray) -> np.ndarray:
    return y.argmax(-1) if y.ndim == 2 and y.shape[-1] > 1 else y.reshape(len(y)).astype(int)


def write_figures(model, data, history: dict[str, list[float]], run_dir: Path, title: str,
                  log: Callable[[str], None] = print) -> list[Path]:
    """Write every figure that fits this model and data; return their paths."""
    run_dir = Path(run_dir)
    written = [plot_history(history, run_dir / "curves.png", title)] if history else []
    x_train, y_train = next(iter(data.train))
    # one label per example (not per token, as seq2seq and taggers have); subclassed models
    # have no ``outputs``
    per_example = hasattr(y_train, "shape") and (
        len(y_train.shape) == 1 or (len(y_train.shape) == 2 and (
            data.label_format == "one_hot" or y_train.shape[-1] == 1)))
    classifier = (data.label_format in ("sparse", "one_hot") and data.num_classes
                  and per_example and len(getattr(model, "outputs", None) or [0]) == 1)
    if _is_image_batch(x_train):
        labels = ([data.class_name(int(i)) for i in _class_ids(np.asarray(y_train))[:GRID]]
                  if classifier else [""] * min(GRID, len(x_train)))
        written.append(image_grid(np.asarray(x_train)[:GRID], labels,
                                  run_dir / "samples.png", f"{title}: training samples"))
    if classifier:
        truths, images = [], []
        for x, y in data.test:
            truths.append(_class_ids(np.asarray(y)))
            if _is_image_batch(x) and sum(map(len, images)) < GRID:
                images.append(np.asarray(x))
        truth = np.concatenate(truths)
        predicted = model.predict(data.test, verbose=0).argmax(-1).reshape(len(truth))
        written.append(plot_confusion(truth, predicted, data.num_classes, run_dir / "confusion.png",
                                      class_names=data.class_names))
        if images:
            shown = np.concatenate(images)[:GRID]
            wrong = predicted[: len(shown)] != truth[: len(shown)]
            name = lambda class_id: data.class_name(int(class_id))  # noqa: E731
            titles = [f"{name(p)} (true {name(t)})" if w else name(p) for p, t, w in
                      zip(predicted, truth, wrong)]
            written.append(image_grid(shown, titles, run_dir / "predictions.png",
                                      f"{title}: test predictions ({int(wrong.sum())} wrong shown)",
                                      wrong=wrong))
    diagram = plot_model_diagram(model, run_dir / "model.png", log=log)
    return written + ([diagram] if diagram else [])
