"""The default callback set of every run, built from the experiment's ``callbacks`` section,
and the throughput monitor that every run reports from."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import keras

from kerasdl.config import Experiment

CHECKPOINT = Path("checkpoints") / "best.keras"
TENSORBOARD = Path("tensorboard")
HISTORY = Path("history.csv")


def build_callbacks(experiment: Experiment, run_dir: Path) -> list:
    """TerminateOnNaN, CSV history, TensorBoard, the best checkpoint, ReduceLROnPlateau, EarlyStopping.

    The checkpoint and early stopping watch ``callbacks.monitor``; the runner has already checked
    that the compiled model logs it.
    """
    cfg = experiment.callbacks
    mode = experiment.monitor_mode()
    callbacks = []
    if cfg.terminate_on_nan:
        callbacks.append(keras.callbacks.TerminateOnNaN())
    if cfg.csv_logger:
        callbacks.append(keras.callbacks.CSVLogger(str(run_dir / HISTORY)))
    if cfg.tensorboard.enabled:
        tb = cfg.tensorboard
        callbacks.append(keras.callbacks.TensorBoard(
            log_dir=str(run_dir / TENSORBOARD), histogram_freq=tb.histogram_freq,
            update_freq=tb.update_freq, profile_batch=tb.profile_batch, write_graph=tb.write_graph))
    if cfg.checkpoint.enabled:
        (run_dir / CHECKPOINT).parent.mkdir(parents=True, exist_ok=True)
        callbacks.append(keras.callbacks.ModelCheckpoint(
            str(run_dir / CHECKPOINT), monitor=cfg.monitor, mode=mode,
            save_best_only=cfg.checkpoint.save_best_only, verbose=0))
    if cfg.reduce_lr.enabled:
        callbacks.append(keras.callbacks.ReduceLROnPlateau(
            monitor=cfg.monitor, mode=mode, factor=cfg.reduce_lr.factor,
            patience=cfg.reduce_lr.patience, min_lr=cfg.reduce_lr.min_lr, verbose=1))
    if cfg.early_stopping.enabled:
        es = cfg.early_stopping
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=cfg.monitor, mode=mode, patience=es.patience, min_delta=es.min_delta,
            restore_best_weights=es.restore_best_weights, verbose=1))
    return callbacks


def _peak_memory_mb() -> float:
    """Peak memory of this process: the GPU's peak where one is used, else the host's max RSS."""
    import resource

    import tensorflow as tf

    if tf.config.list_logical_devices("GPU"):
        try:
            return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
        except (ValueError, RuntimeError):
            pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # KiB on Linux


class ThroughputMonitor(keras.callbacks.Callback):
    """Times the training part of each epoch (validation excluded) at epoch granularity.

    No per-batch hooks, so it costs nothing per step. The summary skips the first epoch (tracing
    and warm-up) when there are more.
    """

    def __init__(self, examples_per_epoch: int):
        super().__init__()
        self.examples_per_epoch = examples_per_epoch
        self.train_times: list[float] = []
        self.steps: Optional[int] = None
        self._start: Optional[float] = None
        self._train_end: Optional[float] = None

    def on_epoch_begin(self, epoch, logs=None):
        self._train_end = None
        self._start = time.perf_counter()

    def on_test_begin(self, logs=None):
        if self._start is not None and self._train_end is None:
            self._train_end = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.train_times.append((self._train_end or time.perf_counter()) - self._start)
        self.steps = self.params.get("steps") if self.params else None

    def summary(self) -> dict[str, float]:
        """samples/s, ms/step, s/epoch (steady state, training only) and peak memory in MB."""
        if not self.train_times:
            return {}
        steady = sorted(self.train_times[1:] or self.train_times)
        epoch_time = steady[len(steady) // 2]
        return {"samples_per_s": round(self.examples_per_epoch / epoch_time, 1),
                "step_time_ms": round(1000 * epoch_time / (self.steps or 1), 3),
                "epoch_time_s": round(epoch_time, 3),
                "first_epoch_s": round(self.train_times[0], 3),
                "peak_memory_mb": round(_peak_memory_mb(), 1)}
