"""The callback set of every run, built from the experiment's ``callbacks`` section.

kerasdl's own NaN guard, best checkpoint, history writer and epoch backup (kerasdl/resume.py) take
the places of Keras's TerminateOnNaN, ModelCheckpoint, CSVLogger and BackupAndRestore, whose
state does not survive a restart; EarlyStopping, ReduceLROnPlateau and TensorBoard are Keras's.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import keras

from kerasdl.config import Experiment

CHECKPOINT = Path("checkpoints") / "best.keras"
TENSORBOARD = Path("tensorboard")
HISTORY = Path("history.csv")


@dataclass
class CallbackSet:
    """The run's callbacks in order, and the ones the runner talks to."""

    callbacks: list
    guard: Any                      # kerasdl.resume.NaNGuard
    throughput: "ThroughputMonitor"
    clock: "FitClock"


class DataEpoch(keras.callbacks.Callback):
    """Tells the data pipeline which epoch starts, so its order and augmentation follow from
    (seed, epoch) alone: an epoch looks the same in a resumed run as in an uninterrupted one."""

    def __init__(self, data):
        super().__init__()
        self.data = data

    def on_epoch_begin(self, epoch, logs=None):
        self.data.set_epoch(epoch)


def build_callbacks(experiment: Experiment, run_dir: Path, data, history: Optional[dict] = None,
                    resume_state: Optional[dict] = None,
                    best_weights: Optional[list] = None) -> CallbackSet:
    """The data epoch setter, NaN guard, history.csv, TensorBoard, the best checkpoint,
    ReduceLROnPlateau, EarlyStopping, the throughput monitor, the fit clock and the epoch backup,
    in that order.

    The checkpoint and early stopping watch ``callbacks.monitor``; the runner has already checked
    that the compiled model logs it. With ``resume_state`` (from kerasdl.resume.read_backup) the
    stateful callbacks continue where the interrupted run left them.
    """
    from kerasdl.resume import (BestCheckpoint, EpochBackup, HistoryWriter, NaNGuard,
                                RestoreCallbackState)

    cfg = experiment.callbacks
    mode = experiment.monitor_mode()
    history = history or {}
    guard = NaNGuard(stop=cfg.terminate_on_nan)
    callbacks: list = [DataEpoch(data), guard]
    if cfg.csv_logger:
        callbacks.append(HistoryWriter(run_dir / HISTORY, history))
    if cfg.tensorboard.enabled:
        tb = cfg.tensorboard
        if not history:              # a resumed run wrote them when it started
            write_hparams(run_dir / TENSORBOARD, experiment, run_dir.name)
        callbacks.append(keras.callbacks.TensorBoard(
            log_dir=str(run_dir / TENSORBOARD), histogram_freq=tb.histogram_freq,
            update_freq=tb.update_freq, profile_batch=tb.profile_batch, write_graph=tb.write_graph))
    if cfg.checkpoint.enabled:
        (run_dir / CHECKPOINT).parent.mkdir(parents=True, exist_ok=True)
        callbacks.append(BestCheckpoint(run_dir / CHECKPOINT, cfg.monitor, mode,
                                        cfg.checkpoint.save_best_only, guard))
    if cfg.reduce_lr.enabled:
        callbacks.append(keras.callbacks.ReduceLROnPlateau(
            monitor=cfg.monitor, mode=mode, factor=cfg.reduce_lr.factor,
            patience=cfg.reduce_lr.patience, min_lr=cfg.reduce_lr.min_lr, verbose=1))
    if cfg.early_stopping.enabled:
        es = cfg.early_stopping
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=cfg.monitor, mode=mode, patience=es.patience, min_delta=es.min_delta,
            restore_best_weights=es.restore_best_weights, verbose=1))
    throughput, clock = ThroughputMonitor(data.counts["train"]), FitClock()
    callbacks += [throughput, clock]
    if cfg.backup:
        callbacks.append(EpochBackup(run_dir, list(callbacks), guard, history))
    if resume_state:
        callbacks.append(RestoreCallbackState(list(callbacks), resume_state, best_weights))
    return CallbackSet(callbacks, guard, throughput, clock)


def write_hparams(log_dir: Path, experiment: Experiment, session: str) -> None:
    """The run's config as TensorBoard HParams (one session per run), so the HParams dashboard
    compares runs, e.g. the trials of a sweep (``tensorboard --logdir sweeps/NAME``); its metrics
    are the epoch scalars that Keras's TensorBoard callback writes beside them."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    from kerasdl.config import flat_config

    with tf.summary.create_file_writer(str(log_dir)).as_default():
        hp.hparams(flat_config(experiment.to_dict()), trial_id=session)


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


class FitClock(keras.callbacks.Callback):
    """Records when each epoch ended, in seconds since training started: ``epoch_end_s``, one
    entry per epoch (training and validation included), which the manifest keeps and
    ``kerasdl report --time-to`` reads (the time to reach an accuracy, as DAWNBench measures).

    The clock runs across the phases of a transfer run (one ``fit`` each) and across a resume
    (the backup carries ``epoch_end_s``; the time the run was stopped is not counted).
    """

    def __init__(self):
        super().__init__()
        self.epoch_end_s: list[float] = []
        self._start: Optional[float] = None
        self._offset: Optional[float] = None

    def on_train_begin(self, logs=None):
        self._start, self._offset = time.perf_counter(), None

    def on_epoch_end(self, epoch, logs=None):
        if self._offset is None:          # read here: a resume restores the list after train_begin
            self._offset = self.epoch_end_s[-1] if self.epoch_end_s else 0.0
        self.epoch_end_s.append(round(self._offset + time.perf_counter() - self._start, 3))


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

    @property
    def steady_times(self) -> list[float]:
        """Every epoch's time but the first (tracing and warm-up), or the only one."""
        return self.train_times[1:] or self.train_times

    def summary(self) -> dict[str, float]:
        """samples/s, ms/step, s/epoch (steady state, training only), every epoch's training time
        and peak memory in MB."""
        if not self.train_times:
            return {}
        epoch_time = statistics.median(self.steady_times)
        return {"samples_per_s": round(self.examples_per_epoch / epoch_time, 1),
                "step_time_ms": round(1000 * epoch_time / (self.steps or 1), 3),
                "epoch_time_s": round(epoch_time, 3),
                "first_epoch_s": round(self.train_times[0], 3),
                "epoch_times_s": [round(t, 4) for t in self.train_times],
                "peak_memory_mb": round(_peak_memory_mb(), 1)}
