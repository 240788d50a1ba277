"""The callback set of every run, built from the experiment's ``callbacks`` section.

kerasdl's own callbacks, one module each:

* :class:`NaNGuard` (``guard``): stops at the first NaN/Inf loss; nothing is saved after it;
* :class:`BestCheckpoint` (``checkpoint``): ``checkpoints/best.keras``, atomically (in a run,
  when each phase ends: the epoch backups hold the best epoch until then);
* :class:`HistoryWriter`, :class:`LearningRateLogger`, :class:`DataEpoch` (``history``):
  ``history.csv``, the learning rate in the logs, the data pipeline's epoch;
* :class:`EpochBackup`, :class:`RestoreCallbackState` (``backup``): what ``--resume`` needs;
* :class:`FitClock`, :class:`ThroughputMonitor` (``timing``): time to accuracy and throughput;
* :class:`StopAtTarget` (``target``): stops at the first epoch that reaches ``callbacks.target``.

Like Keras's, they take keyword arguments with Keras's defaults (``BestCheckpoint(filepath,
monitor="val_loss", mode="auto", ...)``); ``mode="auto"`` is resolved from the metric's name
(``monitor``).

They take the places of Keras's TerminateOnNaN, ModelCheckpoint, CSVLogger and BackupAndRestore,
whose state does not survive a restart; EarlyStopping, ReduceLROnPlateau and TensorBoard are
Keras's. The callbacks that write the model (:class:`SavesModel`) write the whole model also
when the runner fits a part of it (the classifier on cached backbone features).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import keras

from kerasdl.callbacks.backup import (BACKUP_DIR, EpochBackup, RestoreCallbackState, best_weights,
                                      checkpoint_variables, has_backup, read_backup, write_backup)
from kerasdl.callbacks.checkpoint import BestCheckpoint
from kerasdl.callbacks.guard import NaNGuard
from kerasdl.callbacks.history import DataEpoch, HistoryWriter, LearningRateLogger
from kerasdl.callbacks.saves import SavesModel
from kerasdl.callbacks.target import StopAtTarget
from kerasdl.callbacks.timing import FitClock, ThroughputMonitor
from kerasdl.config import Experiment
from kerasdl.rundir import HISTORY as HISTORY_FILE

CHECKPOINT = Path("checkpoints") / "best.keras"
#: a run's best checkpoint waits in memory (and in the epoch backups) for at most this long; it is
#: written when each phase ends (bench/runner_overhead.py: a write per epoch cost 3-6% of a
#: LeNet-5 epoch)
CHECKPOINT_EVERY_S = 300.0
TENSORBOARD = Path("tensorboard")
HISTORY = Path(HISTORY_FILE)

__all__ = ["BACKUP_DIR", "BestCheckpoint", "CHECKPOINT", "CallbackSet", "DataEpoch", "EpochBackup",
           "FitClock", "HISTORY", "HistoryWriter", "LearningRateLogger", "NaNGuard",
           "RestoreCallbackState", "SavesModel", "StopAtTarget", "TENSORBOARD", "ThroughputMonitor",
           "best_weights", "build_callbacks", "checkpoint_variables", "has_backup", "read_backup",
           "tensorboard_dir", "write_backup", "write_hparams"]


@dataclass
class CallbackSet:
    """The run's callbacks in order, and the ones the runner talks to.

    ``target`` is the :class:`StopAtTarget` of ``callbacks.target`` (its ``reached_epoch`` and
    ``seconds`` go to the manifest), or None where the experiment sets no target.
    """

    callbacks: list
    guard: NaNGuard
    throughput: ThroughputMonitor
    clock: FitClock
    target: Optional[StopAtTarget] = None


def build_callbacks(experiment: Experiment, run_dir: Path, data, history: Optional[dict] = None,
                    resume_state: Optional[dict] = None, best_weights: Optional[list] = None,
                    phase=None) -> CallbackSet:
    """The run's callbacks, in the order they run.

    The data epoch setter, the learning-rate logger, the NaN guard, history.csv, TensorBoard, the
    best checkpoint, ReduceLROnPlateau, EarlyStopping, the throughput monitor, the fit clock, the
    stop at ``callbacks.target`` (after the clock, whose time it reads, and before the backup,
    which records that it stopped the run) and the epoch backup. The checkpoint, early stopping
    and the target watch ``callbacks.monitor``; the runner has already checked that the compiled
    model logs it. With ``resume_state`` (the ``callbacks`` of :func:`read_backup`'s state) the
    stateful callbacks continue where the interrupted run left them. ``phase(epoch)`` names a
    transfer run's phase for the backups.
    """
    cfg = experiment.callbacks
    mode = experiment.monitor_mode()
    history = history or {}
    guard = NaNGuard(stop=cfg.terminate_on_nan)
    callbacks: list = [DataEpoch(data), LearningRateLogger(), guard]
    if cfg.csv_logger:
        callbacks.append(HistoryWriter(run_dir / HISTORY, history))
    if cfg.tensorboard.enabled:
        tb = cfg.tensorboard
        log_dir = tensorboard_dir(experiment, run_dir)
        if tb.hparams and not history:     # a resumed run wrote them when it started
            write_hparams(log_dir, experiment, run_dir.name)
        callbacks.append(keras.callbacks.TensorBoard(
            log_dir=str(log_dir), histogram_freq=tb.histogram_freq,
            update_freq=tb.update_freq, profile_batch=tb.profile_batch, write_graph=tb.write_graph))
    if cfg.checkpoint.enabled:
        (run_dir / CHECKPOINT).parent.mkdir(parents=True, exist_ok=True)
        callbacks.append(BestCheckpoint(run_dir / CHECKPOINT, monitor=cfg.monitor, mode=mode,
                                        save_best_only=cfg.checkpoint.save_best_only, guard=guard,
                                        save_every_s=CHECKPOINT_EVERY_S if cfg.backup else None))
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
    target = None
    if cfg.target is not None:
        target = StopAtTarget(cfg.monitor, cfg.target, mode=mode, clock=clock)
        callbacks.append(target)
    if cfg.backup:
        callbacks.append(EpochBackup(run_dir, list(callbacks), guard, history, phase=phase))
    if resume_state:
        callbacks.append(RestoreCallbackState(list(callbacks), resume_state, best_weights,
                                              checkpoint_variables(run_dir, resume_state)))
    return CallbackSet(callbacks, guard, throughput, clock, target)


def tensorboard_dir(experiment: Experiment, run_dir: Path) -> Path:
    """Where the run's TensorBoard logs go (Keras's callback writes ``train/``, ``validation/``).

    ``<run_dir>/tensorboard``, or ``callbacks.tensorboard.log_dir`` taken from the run directory
    (``..``: the folder holding it, as a sweep's trials do; an absolute path as it is)."""
    log_dir = experiment.callbacks.tensorboard.log_dir or str(TENSORBOARD)
    return Path(os.path.normpath(Path(run_dir) / Path(log_dir).expanduser()))


def write_hparams(log_dir: Path, experiment: Experiment, session: str) -> None:
    """Write the run's config as TensorBoard HParams (one session per run).

    The HParams dashboard then compares runs, e.g. the trials of a sweep (``tensorboard --logdir
    sweeps/NAME``); its metrics are the epoch scalars that Keras's TensorBoard callback writes
    beside them."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    from kerasdl.config import flat_config

    with tf.summary.create_file_writer(str(log_dir)).as_default():
        hp.hparams(flat_config(experiment.to_dict()), trial_id=session)
