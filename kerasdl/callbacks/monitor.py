"""Which way a monitored metric improves: ``mode="auto"`` resolved once from the metric's name.

As Keras's ``MonitorCallback._set_monitor_op`` does (keras/src/callbacks/monitor_callback.py),
``val_`` is ignored and accuracy-like metrics (:data:`kerasdl.config.HIGHER_IS_BETTER`) are
maximized, the rest (losses, errors) minimized: :func:`kerasdl.config.metric_direction`, the
rule that runs, sweeps and publishing also compare by. kerasdl decides from the name alone, before
training, so a callback knows its direction without the compiled model.
"""
from __future__ import annotations

from typing import Literal

from kerasdl.config import metric_direction

#: the modes a monitoring callback takes
MODES = ("auto", "min", "max")


def resolve_mode(monitor: str, mode: str, owner: str) -> Literal["min", "max"]:
    """``mode`` itself, or for ``"auto"`` 'max' where a higher ``monitor`` is better, else 'min'.

    Raises:
        ValueError: ``mode`` is not one of :data:`MODES` (``owner`` names the callback).
    """
    if mode not in MODES:
        raise ValueError(f"{owner}(mode=...) takes 'auto', 'min' or 'max'; got {mode!r}; "
                         "'auto' picks 'max' for accuracy-like metrics and 'min' for the rest")
    if not isinstance(monitor, str) or not monitor:
        raise ValueError(f"{owner}(monitor=...) takes the name of a logged metric, e.g. "
                         f"'val_loss'; got {monitor!r}")
    if mode != "auto":
        return mode
    return metric_direction(monitor)


def improves(value: float, best, mode: str) -> bool:
    """Whether ``value`` beats ``best`` (None: nothing yet) in ``mode`` ('min' or 'max')."""
    if best is None:
        return True
    return value > best if mode == "max" else value < best
