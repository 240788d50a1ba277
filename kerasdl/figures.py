"""The figures of a run, written as PNGs into its run directory (``kerasdl report`` redraws them).

* ``curves.png``: loss and metrics per epoch, train and validation;
* ``samples.png``: training inputs with their labels (image datasets);
* ``predictions.png``: test inputs with prediction and truth, wrong ones in red (image classifiers);
* ``confusion.png``: the test confusion matrix (classifiers);
* ``model.png``: the model diagram (keras.utils.plot_model; needs Graphviz's ``dot``);

and, for classifiers, ``per_class.json``: the test results of every class by its name (see
:func:`per_class_results`), which ``kerasdl report`` prints without loading TensorFlow.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from kerasdl.plots import image_grid, plot_confusion, plot_history, plot_model_diagram

GRID = 32          # images per grid
PER_CLASS = "per_class.json"


def _is_image_batch(x) -> bool:
    return hasattr(x, "shape") and len(x.shape) == 4 and x.shape[-1] in (1, 3)


def _class_ids(y: np.ndarray) -> np.ndarray:
    return y.argmax(-1) if y.ndim == 2 and y.shape[-1] > 1 else y.reshape(len(y)).astype(int)


def write_figures(model, data, history: dict[str, list[float]], run_dir: Path, title: str,
                  log: Callable[[str], None] = print, best_epoch: Optional[int] = None,
                  phases: Sequence[dict] = ()) -> list[Path]:
    """Write every figure that fits this model and data; return their paths.

    ``best_epoch`` and the starts of ``phases`` are marked on the curves.
    """
    run_dir = Path(run_dir)
    written = ([plot_history(history, run_dir / "curves.png", title, best_epoch, phases)]
               if history else [])
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
        truth, predicted, images = _test_predictions(model, data.test)
        written.append(plot_confusion(truth, predicted, data.num_classes, run_dir / "confusion.png",
                                      class_names=data.class_names))
        write_per_class(truth, predicted, data.num_classes, run_dir / PER_CLASS,
                        class_names=data.class_names)
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


def _test_predictions(model, test) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """True and predicted class ids of the test split, and its first ``GRID`` images, in one pass.

    Each batch is one call of the model (inference mode): ``model.predict`` would trace its own
    function of ``steps_per_execution`` unrolled steps, twice (the last execution is shorter),
    which took longer than the whole pass (seconds on a 2-core CPU; bench/README.md, "MNIST fast").
    """
    truths, predictions, images = [], [], []
    for x, y in test:                   # tf.data batches: runs are on TensorFlow (README)
        truths.append(_class_ids(np.asarray(y)))
        outputs = np.asarray(model(x, training=False))
        predictions.append(outputs.argmax(-1).reshape(len(truths[-1])))
        if _is_image_batch(x) and sum(map(len, images)) < GRID:
            images.append(np.asarray(x))
    return np.concatenate(truths), np.concatenate(predictions), images


def per_class_results(truth: np.ndarray, predicted: np.ndarray, num_classes: int,
                      class_names: Optional[Sequence[str]] = None) -> dict[str, dict]:
    """Class name -> its test results, in class-id order (a class without a name: its id).

    ``count``: test examples of the class; ``correct``: those predicted right; ``predicted``:
    test examples predicted as the class; ``accuracy``: correct / count, the share of the class's
    examples classified right (which is its recall); ``precision``: correct / predicted;
    ``recall``; ``f1``. A ratio with a zero denominator is None (a class absent from the test
    split, or never predicted).
    """
    truth, predicted = np.asarray(truth).astype(int), np.asarray(predicted).astype(int)
    names = list(class_names or ())

    def ratio(a: float, b: float) -> Optional[float]:
        return a / b if b else None

    results = {}
    for class_id in range(num_classes):
        count = int(np.sum(truth == class_id))
        chosen = int(np.sum(predicted == class_id))
        correct = int(np.sum((truth == class_id) & (predicted == class_id)))
        precision, recall = ratio(correct, chosen), ratio(correct, count)
        f1 = (None if precision is None or recall is None else
              ratio(2 * precision * recall, precision + recall) or 0.0)
        name = names[class_id] if class_id < len(names) else str(class_id)
        results[name] = {"id": class_id, "count": count, "correct": correct, "predicted": chosen,
                         "accuracy": recall, "precision": precision, "recall": recall, "f1": f1}
    return results


def write_per_class(truth: np.ndarray, predicted: np.ndarray, num_classes: int, path: Path,
                    class_names: Optional[Sequence[str]] = None) -> Path:
    """:func:`per_class_results` as JSON at ``path``, written atomically, classes in id order."""
    from kerasdl.files import atomic_write_text

    results = per_class_results(truth, predicted, num_classes, class_names)
    atomic_write_text(Path(path), json.dumps(results, indent=2) + "\n")
    return Path(path)
