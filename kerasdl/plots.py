"""PNG figures of a run (matplotlib, headless): curves, sample grids, predictions, confusion, diagram.

Every figure's size is bounded whatever the data (the number of classes, the length of class
names), so drawing it fits a laptop's memory. Characters the font lacks (CJK class names in
DejaVu Sans) are drawn as boxes without matplotlib's ``Glyph ... missing from font`` warnings.
"""
from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np


def pyplot():
    """matplotlib.pyplot on the headless Agg backend (runs write PNGs; no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


#: above this many classes a confusion matrix is an image: no counts in cells, no tick per class
DETAILED_CLASSES = 40
#: the side of a confusion figure, in inches, at most (1,400 pixels at 100 dpi)
CONFUSION_INCHES = 14.0


def save_figure(fig, path: Path, title: str = "", dpi: int = 100) -> Path:
    """Title (if any), tight layout, write ``fig`` to ``path`` as PNG and free it."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font")
            if title:
                fig.suptitle(title)
            if fig.get_layout_engine() is None:      # a constrained figure lays itself out
                fig.tight_layout()
            fig.savefig(path, dpi=dpi)
    finally:
        pyplot().close(fig)
    return path


def plot_curves(panels: dict[str, dict[str, list[float]]], path: Path, title: str = "",
                legend_size: Optional[float] = None,
                x_values: Optional[dict[str, list[float]]] = None, xlabel: str = "epoch",
                marks: Sequence[tuple[float, str, str]] = (),
                runs: Optional[Sequence[str]] = None) -> Path:
    """Plot curves, one panel per entry of ``panels`` ({panel: {line label: values}}).

    Lines run against the epoch, or against ``x_values[label]`` (e.g. seconds since training
    started) with ``xlabel``; each of ``marks`` = (x, label, line style) is a vertical line in every
    panel (the best epoch, where a phase starts). With ``runs`` (every line label, in legend
    order: ``kerasdl compare``) the lines are runs, drawn by :func:`runs_figure`.
    """
    if runs is not None:
        return save_figure(runs_figure(panels, runs, x_values=x_values, xlabel=xlabel), path, title)
    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.5), squeeze=False)
    for ax, (name, lines) in zip(axes[0], panels.items()):
        for label, values in lines.items():
            x = (x_values or {}).get(label) or range(1, len(values) + 1)
            ax.plot(x, values, marker="o", label=label)
        for x, label, style in marks:
            ax.axvline(x, color="grey", linestyle=style, linewidth=1, label=label)
        ax.set_xlabel(xlabel)
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=legend_size)
    return save_figure(fig, path, title)


#: up to this many runs a compare figure marks each epoch with a dot
MARKED_RUNS = 10
#: the longest run label a compare legend shows (longer ones keep their end: the folder names)
LABEL_CHARS = 48
#: line styles that tell apart runs of neighbouring colours above 20 runs
_STYLES = ("-", "--", "-.", ":")


def run_styles(count: int) -> list[dict]:
    """``count`` distinct line styles (colour, line style) for the runs of a compare figure.

    Up to 10 runs the tab10 colours, up to 20 tab20's; above, colours evenly spaced along the
    turbo colour map (none repeats), neighbours told apart by their line style too."""
    plt = pyplot()
    if count <= 20:
        cmap = plt.get_cmap("tab10" if count <= 10 else "tab20")
        return [{"color": cmap(index), "linestyle": "-"} for index in range(count)]
    cmap = plt.get_cmap("turbo")
    return [{"color": cmap(0.03 + 0.94 * index / (count - 1)), "linestyle": _STYLES[index % 4]}
            for index in range(count)]


def runs_figure(panels: dict[str, dict[str, list[float]]], labels: Sequence[str],
                x_values: Optional[dict[str, list[float]]] = None, xlabel: str = "epoch"):
    """The figure of ``kerasdl compare``: one panel per metric, one line per run, one legend.

    ``panels`` is {panel: {run label: values}}; ``labels`` all runs' labels in legend order (a
    run may be missing from a panel). The legend lies outside the panels, on the right, in as
    many columns as it needs (20 runs a column), the figure growing to hold it; each run keeps
    its style (:func:`run_styles`) in every panel. Returns the figure, not yet saved.
    """
    plt = pyplot()
    labels = list(labels)
    styles = dict(zip(labels, run_styles(len(labels))))
    columns = min(len(panels), 3) or 1
    rows = -(-len(panels) // columns) or 1
    legend_columns = -(-len(labels) // 20) or 1
    shown = {label: label if len(label) <= LABEL_CHARS else "..." + label[-(LABEL_CHARS - 3):]
             for label in labels}
    longest = max((len(text) for text in shown.values()), default=0)
    legend_inches = legend_columns * (0.7 + 0.06 * longest)
    height = max(3.5 * rows, 0.16 * -(-len(labels) // legend_columns) + 0.8)
    fig, axes = plt.subplots(rows, columns, figsize=(4.5 * columns + legend_inches, height),
                             squeeze=False, layout="constrained")
    handles = {}
    for ax, (name, lines) in zip(axes.flat, panels.items()):
        for label, values in lines.items():
            x = (x_values or {}).get(label) or range(1, len(values) + 1)
            marker = "o" if len(labels) <= MARKED_RUNS else None
            handles[label], = ax.plot(x, values, marker=marker, markersize=4, linewidth=1.3,
                                      label=shown[label], **styles[label])
        ax.set_xlabel(xlabel)
        ax.set_title(name)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    ordered = [label for label in labels if label in handles]
    fig.legend([handles[label] for label in ordered], [shown[label] for label in ordered],
               loc="outside right upper", ncols=legend_columns, fontsize=7,
               title=f"{len(labels)} runs" if len(labels) > 1 else None, title_fontsize=8)
    return fig


def plot_history(history: dict[str, list[float]], path: Path, title: str = "",
                 best_epoch: Optional[int] = None, phases: Sequence[dict] = ()) -> Path:
    """Plot training curves: one panel per metric, train and validation per epoch.

    The learning rate has its own panel where the run logged it; the best epoch and where each
    phase of a transfer run starts (``phases``: the manifest's, with ``name`` and ``first_epoch``)
    are marked.
    """
    names = [k for k in history if not k.startswith("val_") and k != "learning_rate"]
    panels = {name: {"train": history[name],
                     **({"validation": history[f"val_{name}"]} if f"val_{name}" in history else {})}
              for name in names}
    if "learning_rate" in history:
        panels["learning rate"] = {"learning rate": history["learning_rate"]}
    epochs = len(next(iter(history.values()), []))
    marks = [(phase["first_epoch"] - 0.5, f"phase '{phase['name']}'", ":") for phase in phases
             if 1 < phase["first_epoch"] <= epochs]
    if best_epoch:
        marks.append((best_epoch, f"best epoch {best_epoch}", "--"))
    return plot_curves(panels, path, title, marks=marks)


def _show_image(ax, image: np.ndarray) -> None:
    image = np.asarray(image, dtype=np.float32)
    low, high = float(image.min()), float(image.max())
    image = (image - low) / (high - low) if high > low else image * 0
    if image.shape[-1] == 1:
        ax.imshow(image[..., 0], cmap="gray")
    else:
        ax.imshow(image[..., :3])
    ax.set_xticks([])
    ax.set_yticks([])


def image_grid(images: np.ndarray, titles: Sequence[str], path: Path, title: str = "",
               wrong: Optional[Sequence[bool]] = None, columns: int = 8) -> Path:
    """A grid of images with a title each; titles of ``wrong`` ones in red with a red frame."""
    plt = pyplot()
    count = len(images)
    rows = max(1, -(-count // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(1.6 * columns, 1.8 * rows), squeeze=False)
    for index, ax in enumerate(axes.flat):
        if index >= count:
            ax.axis("off")
            continue
        _show_image(ax, images[index])
        bad = bool(wrong[index]) if wrong is not None else False
        ax.set_title(titles[index], fontsize=8, color="red" if bad else "black")
        if bad:
            for spine in ax.spines.values():
                spine.set_edgecolor("red")
                spine.set_linewidth(2)
    return save_figure(fig, path, title)


def plot_confusion(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int, path: Path,
                   title: str = "confusion matrix (test)",
                   class_names: Optional[Sequence[str]] = None) -> Path:
    """Plot a confusion matrix: rows true class, columns predicted class.

    Up to :data:`DETAILED_CLASSES` classes each cell shows its count and the axes the class names
    (else the ids); above, the matrix is an image with a colour bar and class-id ticks, in a
    figure of at most :data:`CONFUSION_INCHES` a side, so its memory stays bounded (ImageNet's
    1,000 classes: ``bench/confusion_memory.py``).
    """
    plt = pyplot()
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (y_true.astype(int), y_pred.astype(int)), 1)
    detailed = num_classes <= DETAILED_CLASSES
    size = min(CONFUSION_INCHES, max(4.0, 0.45 * num_classes + 2))
    fig, ax = plt.subplots(figsize=(size, size))
    image = ax.imshow(matrix, cmap="Blues", interpolation="nearest" if detailed else "antialiased")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if detailed:
        for i, j in zip(*np.nonzero(matrix)):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if matrix[i, j] > matrix.max() / 2 else "black")
        ticks = [str(name)[:24] for name in class_names] if class_names else \
            [str(i) for i in range(num_classes)]
        ax.set_xticks(range(num_classes), ticks, rotation=90 if max(map(len, ticks)) > 2 else 0)
        ax.set_yticks(range(num_classes), ticks)
    else:
        ax.set_xlabel("predicted class id")
        ax.set_ylabel("true class id")
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="test examples")
    ax.set_title(f"{title}: {np.trace(matrix)}/{matrix.sum()} right")
    return save_figure(fig, path)


def plot_model_diagram(model, path: Path, log: Callable[[str], None] = print) -> Optional[Path]:
    """``keras.utils.plot_model`` to ``path``; without Graphviz, say how to get it and return None."""
    import keras

    if shutil.which("dot") is None:
        log("[kerasdl] model diagram skipped: Graphviz's `dot` program is not installed "
            "(install it: apt-get install graphviz, brew install graphviz or conda install graphviz)")
        return None
    try:
        keras.utils.plot_model(model, to_file=str(path), show_shapes=True, show_layer_names=True,
                               expand_nested=False, dpi=80)
    except (ImportError, OSError) as error:
        log(f"[kerasdl] model diagram skipped: {error}")
        return None
    return path
