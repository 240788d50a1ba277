"""Throughput measurement of an experiment (``kerasdl bench``): fit a few epochs, write nothing."""
from __future__ import annotations

from typing import Callable

from kerasdl.config import Experiment


def measure_throughput(experiment: Experiment, epochs: int = 3,
                       log: Callable[[str], None] = print) -> dict[str, float]:
    """Steady-state training throughput of ``experiment``'s model and pipeline.

    Runs ``epochs`` epochs of ``model.fit`` with no callbacks but the throughput monitor and no
    validation; the first epoch (tracing, warm-up) is left out. Returns samples/s, ms/step,
    s/epoch and peak memory in MB.
    """
    from kerasdl.callbacks import ThroughputMonitor
    from kerasdl.runner import prepare

    prepared = prepare(experiment, log)
    monitor = ThroughputMonitor(examples_per_epoch=prepared.data.counts["train"])
    with prepared.devices.scope():
        prepared.model.fit(prepared.data.train, epochs=epochs, callbacks=[monitor], verbose=0,
                           shuffle=False)
    return monitor.summary()
