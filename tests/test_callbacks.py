"""kerasdl.callbacks: the run's own callbacks, each in real Keras fits of a tiny Dense model on
NumPy data (2-4 epochs): the best checkpoint's modes and keywords, the NaN guard, history.csv
across a resume, the stop at a target and its state in the epoch backup."""
from __future__ import annotations

import types

import keras
import numpy as np
import pytest

from kerasdl.callbacks import (BestCheckpoint, EpochBackup, FitClock, HistoryWriter, NaNGuard,
                               RestoreCallbackState, StopAtTarget, build_callbacks,
                               checkpoint_variables, read_backup)
from kerasdl.errors import CorruptFileError

from conftest import small_experiment


def _data(n: int = 64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64")


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _fit(model, callbacks, epochs: int = 3, initial_epoch: int = 0) -> dict:
    x, y = _data()
    return model.fit(x, y, batch_size=16, epochs=epochs, initial_epoch=initial_epoch,
                     validation_data=(x[:16], y[:16]), shuffle=False, verbose=0,
                     callbacks=callbacks).history


class ScriptedLogs(keras.callbacks.Callback):
    """Writes ``values[epoch]`` into each epoch's logs as ``name`` (a metric whose course is known)."""

    def __init__(self, name: str, values):
        super().__init__()
        self.name, self.values = name, list(values)

    def on_epoch_end(self, epoch, logs=None):
        logs[self.name] = self.values[epoch]


class PoisonWeights(keras.callbacks.Callback):
    """Sets the first weight to NaN as ``epoch`` begins, so that epoch's loss is NaN."""

    def __init__(self, epoch: int):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            kernel = self.model.weights[0]
            kernel.assign(np.full(kernel.shape, np.nan, "float32"))


class WeightsAtEpochEnd(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append([np.array(w) for w in self.model.get_weights()])


# === BestCheckpoint ===

@pytest.mark.parametrize("monitor, mode, expected", [
    ("val_accuracy", "auto", "max"), ("accuracy", "auto", "max"), ("val_auc", "auto", "max"),
    ("val_loss", "auto", "min"), ("mae", "auto", "min"), ("val_accuracy", "min", "min"),
    ("loss", "max", "max")])
def test_auto_mode_is_resolved_from_the_metric_name_as_keras_does(tmp_path, monitor, mode, expected):
    assert BestCheckpoint(tmp_path / "b.keras", monitor=monitor, mode=mode).mode == expected
    assert StopAtTarget(monitor, 0.5, mode=mode).mode == expected


def test_best_checkpoint_has_keras_defaults_and_explains_bad_arguments(tmp_path):
    best = BestCheckpoint(tmp_path / "b.keras")
    assert (best.monitor, best.mode, best.save_best_only, best.guard) == ("val_loss", "min",
                                                                          True, None)
    with pytest.raises(ValueError, match="takes 'auto', 'min' or 'max'; got 'largest'"):
        BestCheckpoint(tmp_path / "b.keras", mode="largest")
    with pytest.raises(ValueError, match="saves a .keras file; got filepath=.*b.h5"):
        BestCheckpoint(tmp_path / "b.h5")
    with pytest.raises(TypeError, match="takes the run's NaNGuard or None"):
        BestCheckpoint(tmp_path / "b.keras", guard="yes")


@pytest.mark.parametrize("monitor, mode, pick", [("val_loss", "auto", min), ("val_loss", "min", min),
                                                 ("val_loss", "max", max),
                                                 ("val_accuracy", "auto", max)])
def test_best_checkpoint_keeps_the_best_value_of_its_mode(tmp_path, monitor, mode, pick):
    path = tmp_path / "best.keras"
    best = BestCheckpoint(path, monitor=monitor, mode=mode, guard=NaNGuard())
    history = _fit(_model(), [best.guard, best])
    assert best.best == pytest.approx(pick(history[monitor]))
    assert keras.saving.load_model(path).count_params() == 10


def test_best_checkpoint_takes_its_options_by_keyword_only(tmp_path):
    guard = NaNGuard()
    with pytest.raises(TypeError):
        BestCheckpoint(tmp_path / "best.keras", "val_loss")     # as Keras's: by keyword
    best = BestCheckpoint(tmp_path / "best.keras", monitor="val_loss", mode="min",
                          save_best_only=False, guard=guard)
    _fit(_model(), [guard, best], epochs=2)
    assert (best.monitor, best.mode, best.save_best_only, best.guard) == ("val_loss", "min",
                                                                          False, guard)


@pytest.mark.parametrize("with_guard", [True, False])
def test_a_nan_epoch_is_never_saved(tmp_path, with_guard):
    """Epoch 2's weights are NaN: the checkpoint keeps epoch 1's, guarded or not."""
    path, weights = tmp_path / "best.keras", WeightsAtEpochEnd()
    guard = NaNGuard(stop=False)
    best = BestCheckpoint(path, monitor="loss", save_best_only=False,
                          guard=guard if with_guard else None)
    _fit(_model(), [PoisonWeights(epoch=1), guard, best, weights], epochs=3)
    assert np.isnan(weights.weights[1][0]).all()
    for saved, first in zip(keras.saving.load_model(path).get_weights(), weights.weights[0]):
        np.testing.assert_array_equal(saved, first)


def test_a_waiting_checkpoint_is_written_when_the_fit_ends(tmp_path):
    """save_every_s: nothing is written while the fit runs; at its end the file holds the best
    epoch's weights (epoch 2 of 5, by a scripted score), and the model keeps its own."""
    path, weights = tmp_path / "best.keras", WeightsAtEpochEnd()

    class FileAtEpochEnd(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seen = []

        def on_epoch_end(self, epoch, logs=None):
            self.seen.append(path.exists())

    seen = FileAtEpochEnd()
    best = BestCheckpoint(path, monitor="score", mode="min", guard=NaNGuard(), save_every_s=1e9)
    model = _model()
    _fit(model, [ScriptedLogs("score", [5, 1, 3, 4, 6]), best.guard, best, weights, seen],
         epochs=5)
    assert seen.seen == [False] * 5 and best.pending_epoch is None and best.best == 1
    for saved, expected in zip(keras.saving.load_model(path).get_weights(), weights.weights[1]):
        np.testing.assert_array_equal(saved, expected)
    for own, last in zip(model.get_weights(), weights.weights[-1]):
        np.testing.assert_array_equal(own, last)


def test_a_waiting_checkpoint_is_written_once_save_every_s_has_passed(tmp_path):
    """save_every_s=0: every improving epoch is written at its end, as without it."""
    path = tmp_path / "best.keras"
    best = BestCheckpoint(path, monitor="score", mode="min", save_every_s=0)
    stamps = []

    class Stamp(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            stamps.append(path.stat().st_mtime_ns if path.exists() else None)

    _fit(_model(), [ScriptedLogs("score", [5, 1, 3]), best, Stamp()], epochs=3)
    assert stamps[0] is not None and stamps[1] != stamps[0] and stamps[2] == stamps[1]
    with pytest.raises(ValueError, match="save_every_s"):
        BestCheckpoint(path, save_every_s=-1)


def test_the_backups_keep_the_folder_of_a_waiting_checkpoint(tmp_path):
    """The best epoch (2) is older than the last two backups: its folder is kept, and a resumed
    run reads the checkpoint's variables back from it and writes them (what a kill leaves)."""
    weights, guard = WeightsAtEpochEnd(), NaNGuard()
    best = BestCheckpoint(tmp_path / "checkpoints" / "best.keras", monitor="score", mode="min",
                          guard=guard, save_every_s=1e9)
    (tmp_path / "checkpoints").mkdir()
    model = _model()

    class Killed(Exception):
        pass

    class KillAfter(keras.callbacks.Callback):     # a crash after epoch 5's backup, before the end
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 4:
                backup.wait()
                raise Killed

    backup = EpochBackup(tmp_path, [guard, best], guard)
    with pytest.raises(Killed):
        _fit(model, [ScriptedLogs("score", [5, 1, 3, 4, 6]), guard, best, weights, backup,
                     KillAfter()], epochs=5)
    assert not best.filepath.exists()
    folders = sorted(p.name for p in (tmp_path / "backup").glob("epoch-*"))
    assert folders == ["epoch-0002", "epoch-0004", "epoch-0005"]
    state, _ = read_backup(tmp_path)
    assert state["epoch"] == 5 and state["callbacks"]["BestCheckpoint"] == {"best": 1.0,
                                                                          "pending_epoch": 2}
    variables = checkpoint_variables(tmp_path, state["callbacks"])
    resumed = BestCheckpoint(best.filepath, monitor="score", mode="min", save_every_s=1e9)
    restore = RestoreCallbackState([resumed], state["callbacks"], None, variables)
    _fit(_model(), [resumed, restore], epochs=5, initial_epoch=5)       # no epochs left
    assert resumed.best == 1.0 and resumed.pending_epoch is None
    for saved, expected in zip(keras.saving.load_model(best.filepath).get_weights(),
                               weights.weights[1]):
        np.testing.assert_array_equal(saved, expected)
    (tmp_path / "backup" / "epoch-0002" / "state.npz").write_bytes(b"torn")
    with pytest.raises(CorruptFileError, match="epoch 2.*epoch-0002.*start a new run"):
        checkpoint_variables(tmp_path, state["callbacks"])


@pytest.mark.parametrize("background", [True, False])
def test_a_failed_backup_write_is_raised_in_the_training_thread(tmp_path, background):
    """A backup that cannot be written (backup/ is a file) fails the fit, on a thread or not."""
    (tmp_path / "backup").write_text("not a folder")
    guard = NaNGuard()
    with pytest.raises(OSError):
        _fit(_model(), [guard, EpochBackup(tmp_path, [guard], guard, background=background)])


def test_a_background_backup_equals_one_written_in_place(tmp_path):
    for background in (True, False):
        guard = NaNGuard()
        (tmp_path / str(background)).mkdir()
        _fit(_model(), [guard, EpochBackup(tmp_path / str(background), [guard], guard,
                                           background=background)])
    (state, arrays), (state_here, arrays_here) = (read_backup(tmp_path / str(b))
                                                  for b in (True, False))
    assert state == state_here and arrays.keys() == arrays_here.keys()
    for key in arrays:
        np.testing.assert_array_equal(arrays[key], arrays_here[key])


# === NaNGuard ===

def test_nan_guard_stops_at_the_first_nan_epoch():
    guard = NaNGuard()
    history = _fit(_model(), [PoisonWeights(epoch=1), guard], epochs=4)
    assert len(history["loss"]) == 2
    assert guard.tripped["epoch"] == 2 and guard.tripped["metric"] == "loss"
    assert np.isnan(guard.tripped["value"])


def test_nan_guard_that_only_records_lets_training_go_on():
    guard = NaNGuard(stop=False)
    history = _fit(_model(), [PoisonWeights(epoch=1), guard], epochs=3)
    assert len(history["loss"]) == 3 and guard.tripped["epoch"] == 2


# === HistoryWriter ===

def test_history_writer_appends_after_a_resume(tmp_path):
    path, model = tmp_path / "history.csv", _model()
    first = HistoryWriter(path)
    _fit(model, [first], epochs=2)
    before = path.read_text().splitlines()
    assert len(before) == 3 and before[0].startswith("epoch,accuracy,loss")
    resumed = HistoryWriter(filename=path, history=first.history)
    _fit(model, [resumed], epochs=3, initial_epoch=2)
    after = path.read_text().splitlines()
    assert after[:3] == before and [row.split(",")[0] for row in after[1:]] == ["0", "1", "2"]
    with pytest.raises(TypeError, match="takes the epochs already done as a dict"):
        HistoryWriter(path, history=[1.0])


# === StopAtTarget ===

@pytest.mark.parametrize("values, target, mode, reached", [
    ([0.5, 0.7, 0.9, 0.95], 0.85, "max", 3),      # the first epoch >= 0.85
    ([0.5, 0.85, 0.9, 0.95], 0.85, "max", 2),     # reaching it exactly counts
    ([0.9, 0.6, 0.3, 0.1], 0.5, "min", 3),        # the first epoch <= 0.5
    ([0.5, 0.6, 0.7, 0.8], 0.95, "max", None)])   # never reached: every epoch runs
def test_stop_at_target_stops_at_the_first_epoch_that_reaches_it(values, target, mode, reached):
    stop = StopAtTarget("score", target, mode=mode)
    history = _fit(_model(), [ScriptedLogs("score", values), stop], epochs=4)
    assert len(history["loss"]) == (reached or 4)
    assert stop.reached_epoch == reached
    if reached:
        assert stop.seconds == stop.clock.epoch_end_s[reached - 1] > 0
    else:
        assert stop.seconds is None


def test_stop_at_target_reads_the_runs_clock_and_explains_bad_arguments():
    clock = FitClock()
    stop = StopAtTarget("val_accuracy", 0.0, clock=clock)
    _fit(_model(), [clock, stop], epochs=3)
    assert stop.reached_epoch == 1 and stop.seconds == clock.epoch_end_s[0]
    with pytest.raises(ValueError, match="takes a finite number, the value of 'val_accuracy'"):
        StopAtTarget("val_accuracy", float("nan"))
    with pytest.raises(ValueError, match="takes 'auto', 'min' or 'max'"):
        StopAtTarget("val_accuracy", 0.9, mode="up")
    with pytest.raises(TypeError, match="takes the run's FitClock or None"):
        StopAtTarget("val_accuracy", 0.9, clock=NaNGuard())


def test_stop_at_target_state_and_the_stop_round_trip_through_the_backup(tmp_path):
    """The backup of the epoch that reached the target says stopped (so the runner resumes it as
    stopped) and carries reached_epoch and seconds to the resumed run's callback."""
    guard, clock, model = NaNGuard(), FitClock(), _model()
    stop = StopAtTarget("score", 0.8, mode="max", clock=clock)
    callbacks = [ScriptedLogs("score", [0.5, 0.9, 0.95]), guard, clock, stop]
    callbacks.append(EpochBackup(tmp_path, list(callbacks), guard))
    _fit(model, callbacks, epochs=3)
    state, _ = read_backup(tmp_path)
    assert state["epoch"] == 2 and state["stopped"] is True
    assert state["callbacks"]["StopAtTarget"] == {"reached_epoch": 2, "seconds": stop.seconds}

    clock_again = FitClock()
    again = StopAtTarget("score", 0.8, mode="max", clock=clock_again)
    restore = RestoreCallbackState([clock_again, again], state["callbacks"], None)
    _fit(model, [clock_again, again, restore], epochs=2, initial_epoch=2)   # nothing left to run
    assert (again.reached_epoch, again.seconds) == (2, stop.seconds)
    assert clock_again.epoch_end_s == clock.epoch_end_s


def test_build_callbacks_places_the_target_after_the_clock_and_before_the_backup(tmp_path):
    from kerasdl.config import with_overrides

    experiment = with_overrides(small_experiment(tmp_path), {"callbacks.target": 0.9,
                                                             "callbacks.monitor": "val_accuracy",
                                                             "callbacks.tensorboard.enabled": False})
    data = types.SimpleNamespace(counts={"train": 64}, set_epoch=lambda epoch: None)
    callback_set = build_callbacks(experiment, tmp_path, data)
    kinds = [type(cb).__name__ for cb in callback_set.callbacks]
    assert kinds.index("FitClock") < kinds.index("StopAtTarget") < kinds.index("EpochBackup")
    target = callback_set.target
    assert (target.monitor, target.target, target.mode) == ("val_accuracy", 0.9, "max")
    assert target.clock is callback_set.clock
    no_target = build_callbacks(with_overrides(experiment, {"callbacks.target": None}),
                                tmp_path, data)
    assert no_target.target is None
    assert "StopAtTarget" not in [type(cb).__name__ for cb in no_target.callbacks]
