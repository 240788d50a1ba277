"""The default callback set of every run, built from the experiment's ``callbacks`` section."""
from __future__ import annotations

from pathlib import Path

from kerasdl.config import Experiment

CHECKPOINT = Path("checkpoints") / "best.keras"
TENSORBOARD = Path("tensorboard")
HISTORY = Path("history.csv")


def build_callbacks(experiment: Experiment, run_dir: Path) -> list:
    """TerminateOnNaN, CSV history, TensorBoard, the best checkpoint, ReduceLROnPlateau, EarlyStopping.

    The checkpoint and early stopping watch ``callbacks.monitor``; the runner has already checked
    that the compiled model logs it.
    """
    import keras

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
