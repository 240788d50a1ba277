"""kerasdl.training: the phase loop every run fits through, on a tiny Keras model."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from kerasdl.training import (FitPart, Phase, Resumed, epochs_left, fit_phases, is_phased,
                              phase_at, phase_records, phase_spans, single_phase)


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices((x, y)).batch(16)


def _model():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])


class _Compiles:
    """compile_phase that records each learning rate it compiled at."""

    def __init__(self):
        self.rates = []

    def __call__(self, model, rate):
        model.compile(optimizer=keras.optimizers.SGD(rate), loss="sparse_categorical_crossentropy")
        self.rates.append(rate)


class _Work:
    """A PhaseWork that records what it was asked to do."""

    def __init__(self):
        self.calls = []

    def set_trainable(self, model, phase):
        self.calls.append(("set_trainable", phase.name))
        return f"the {phase.name}"

    def after_compile(self, model, phase):
        self.calls.append(("after_compile", phase.name))
        return ""

    def part_to_fit(self, model, phase, train, validation, log):
        self.calls.append(("part_to_fit", phase.name))
        return FitPart()


PLAN = [Phase("head", 2, 0.1, None), Phase("all", 3, 0.01, "all")]


def test_spans_name_the_phase_each_epoch_ends_in():
    assert [(p.name, a, b) for p, a, b in phase_spans(PLAN)] == [("head", 0, 2), ("all", 2, 5)]
    assert [phase_at(PLAN, e) for e in range(1, 6)] == ["1/2 head"] * 2 + ["2/2 all"] * 3
    assert phase_at(PLAN, 6) == "after the last phase"
    assert is_phased(PLAN) and not is_phased(single_phase(3, 0.1))
    assert phase_records(single_phase(3, 0.1)) == []
    assert [r["first_epoch"] for r in phase_records(PLAN)] == [1, 3]


def test_each_phase_compiles_at_its_rate_and_the_epoch_count_continues():
    model, compiles, work, lines = _model(), _Compiles(), _Work(), []
    history = fit_phases(model, PLAN, _data(), None, [], compile_phase=compiles,
                         fit_kwargs={"verbose": 0, "shuffle": False}, work=work, log=lines.append)
    assert compiles.rates == [0.1, 0.01]
    assert len(history["loss"]) == 5
    assert [c for c in work.calls if c[0] == "set_trainable"] == [("set_trainable", "head"),
                                                                 ("set_trainable", "all")]
    assert "phase 1/2 'head': epochs 1-2" in lines[0] and "phase 2/2 'all': epochs 3-5" in lines[1]


def test_a_plain_phase_fits_the_model_as_it_was_compiled():
    model, compiles = _model(), _Compiles()
    compiles(model, 0.5)
    history = fit_phases(model, single_phase(3, 0.5), _data(), None, [], compile_phase=compiles,
                         fit_kwargs={"verbose": 0, "shuffle": False})
    assert compiles.rates == [0.5] and len(history["loss"]) == 3    # no compile of its own


def test_a_resume_inside_a_phase_restores_the_optimizer_after_its_compile():
    model, compiles, restored = _model(), _Compiles(), []
    history = fit_phases(model, PLAN, _data(), None, [], compile_phase=compiles,
                         fit_kwargs={"verbose": 0, "shuffle": False}, work=_Work(),
                         resumed=Resumed(3, restore_optimizer=lambda m: restored.append(
                             m.optimizer.learning_rate.numpy())))
    assert compiles.rates == [0.01]                      # the head phase is over
    assert restored == [pytest.approx(0.01)]             # after the phase's own compile
    assert len(history["loss"]) == 2                     # epochs 4 and 5


def test_a_resume_at_a_phase_boundary_ends_that_phase_then_starts_the_next_afresh():
    """Resumed after the head's last epoch: a zero-epoch fit in the head (its optimizer back, its
    train end run), then the next phase with a fresh optimizer, epochs 3-5."""
    restored, ended, compiles, model = [], [], _Compiles(), _model()
    callback = keras.callbacks.LambdaCallback(on_train_end=lambda logs=None: ended.append(True))
    history = fit_phases(model, PLAN, _data(), None, [callback], compile_phase=compiles,
                         fit_kwargs={"verbose": 0, "shuffle": False}, work=_Work(),
                         resumed=Resumed(2, restore_optimizer=lambda m: restored.append(
                             m.optimizer)))
    assert compiles.rates == [0.1, 0.01] and ended == [True, True]
    assert len(restored) == 1 and model.optimizer is not restored[0]
    assert len(history["loss"]) == 3


def test_no_epochs_left_still_fits_once_for_the_callbacks_train_end():
    """An early-stopped run resumed after its last backup, in its last phase: fit() runs zero
    epochs in that phase, so that train-end callbacks run and the optimizer goes back."""
    ended, restored, compiles = [], [], _Compiles()
    callback = keras.callbacks.LambdaCallback(on_train_end=lambda logs=None: ended.append(True))
    history = fit_phases(_model(), PLAN, _data(), None, [callback], compile_phase=compiles,
                         fit_kwargs={"verbose": 0, "shuffle": False}, work=_Work(),
                         resumed=Resumed(4, stopped=True, restore_optimizer=restored.append))
    assert ended == [True] and len(restored) == 1
    assert compiles.rates == [0.01]                      # the phase it stopped in
    assert history == {}
    assert epochs_left(PLAN, Resumed(4, stopped=True)) == 0


def test_an_early_stop_ends_its_phase_not_the_run():
    """Stopped early in the head (epoch 1 of 2): the resumed run ends the head, then fits the
    next phase's epochs 3-5, as the uninterrupted run does (fit() resets stop_training)."""
    ended, compiles = [], _Compiles()
    callback = keras.callbacks.LambdaCallback(on_train_end=lambda logs=None: ended.append(True))
    history = fit_phases(_model(), PLAN, _data(), None, [callback], compile_phase=compiles,
                         fit_kwargs={"verbose": 0, "shuffle": False}, work=_Work(),
                         resumed=Resumed(1, stopped=True))
    assert compiles.rates == [0.1, 0.01] and ended == [True, True]
    assert len(history["loss"]) == 3
    assert [epochs_left(PLAN, r) for r in (Resumed(), Resumed(1), Resumed(1, stopped=True),
                                           Resumed(2), Resumed(5))] == [5, 4, 3, 3, 0]


class _Score(keras.callbacks.Callback):
    """Logs ``score`` = ``values[epoch]`` (a course that EarlyStopping watches)."""

    def __init__(self, values):
        super().__init__()
        self.values = values

    def on_epoch_end(self, epoch, logs=None):
        logs["score"] = float(self.values[epoch])


class _Killed(Exception):
    pass


def _two_phase_run(tmp_path, plan, patience: int, kill_at: int = None, resume: bool = False):
    """``plan`` fitted with EarlyStopping (restoring its best weights) and epoch backups, as a
    run does; killed as epoch ``kill_at`` (0-based) begins, or resumed from ``tmp_path``."""
    from kerasdl.callbacks import (EpochBackup, NaNGuard, RestoreCallbackState, best_weights,
                                   read_backup)
    from kerasdl.resume import restore_optimizer, restore_variables

    model, guard = _model(), NaNGuard()
    stopping = keras.callbacks.EarlyStopping(monitor="score", mode="min", patience=patience,
                                             restore_best_weights=True)
    callbacks = [_Score([1, 5, 5, 5, 5, 5]), guard, stopping]
    callbacks.append(EpochBackup(tmp_path, list(callbacks), guard))
    resumed = Resumed()
    if resume:
        state, arrays = read_backup(tmp_path)
        restore_variables(model, arrays, optimizer=False)
        callbacks.append(RestoreCallbackState(list(callbacks), state["callbacks"],
                                              best_weights(arrays)))
        resumed = Resumed(state["epoch"], state["stopped"],
                          lambda m: restore_optimizer(m, arrays))
    if kill_at is not None:
        def kill(epoch, logs=None):
            if epoch == kill_at:
                raise _Killed
        callbacks.append(keras.callbacks.LambdaCallback(on_epoch_begin=kill))
    history = fit_phases(model, plan, _data(), None, callbacks, compile_phase=_Compiles(),
                         fit_kwargs={"verbose": 0, "shuffle": False}, work=_Work(),
                         resumed=resumed)
    return model.get_weights(), history


@pytest.mark.parametrize("plan, patience, kill_at", [
    (PLAN, 10, 2),                        # after the head's last epoch, its best was epoch 1
    ([Phase("head", 3, 0.1, None), Phase("all", 2, 0.01, "all")], 1, 3)])   # stopped at 2 of 3
def test_a_run_killed_after_a_phase_ends_resumes_to_the_same_weights(tmp_path, plan, patience,
                                                                      kill_at):
    """EarlyStopping puts the head's best weights back as the head's fit ends; a run killed
    before the next phase's first backup must do the same when resumed."""
    (tmp_path / "whole").mkdir()
    expected, _ = _two_phase_run(tmp_path / "whole", plan, patience)
    (tmp_path / "killed").mkdir()
    with pytest.raises(_Killed):
        _two_phase_run(tmp_path / "killed", plan, patience, kill_at=kill_at)
    weights, history = _two_phase_run(tmp_path / "killed", plan, patience, resume=True)
    assert len(history["loss"]) == plan[-1].epochs
    for ours, theirs in zip(weights, expected):
        np.testing.assert_array_equal(ours, theirs)


def test_a_target_reached_in_the_first_phase_ends_the_run():
    """Keras resets stop_training at each fit(), so the loop itself ends a run whose target
    (callbacks.target) was reached in an earlier phase."""
    from kerasdl.callbacks.target import StopAtTarget

    target = StopAtTarget("loss", 1e9)                    # reached at the end of epoch 1
    history = fit_phases(_model(), PLAN, _data(), None, [target], compile_phase=_Compiles(),
                         fit_kwargs={"verbose": 0, "shuffle": False}, work=_Work())
    assert target.reached_epoch == 1 and len(history["loss"]) == 1


def test_no_phases_fit_nothing():
    assert fit_phases(_model(), [], _data(), None, [], compile_phase=_Compiles()) == {}


def test_a_cached_phase_with_no_epochs_left_fits_its_part():
    """A resumed cache_features run with no epochs left fits the classifier part (zero epochs),
    whose weights EarlyStopping watched, not the whole model."""
    fitted = []

    class Part(_Work):
        def part_to_fit(self, model, phase, train, validation, log):
            head = _model()
            head.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
            head.fit = lambda *args, **kwargs: fitted.append(kwargs) or keras.callbacks.History()
            return FitPart(head, train, validation, [])

    plan = [Phase("head", 3, 0.1, None, cache_features=True)]
    fit_phases(_model(), plan, _data(), None, [], compile_phase=_Compiles(), work=Part(),
               resumed=Resumed(3, stopped=True))
    assert [(f["initial_epoch"], f["epochs"]) for f in fitted] == [(3, 3)]


def test_the_backup_state_goes_back_in_the_first_fit_only():
    """A later phase's fit starts EarlyStopping afresh, as in the uninterrupted run."""
    from kerasdl.callbacks.backup import RestoreCallbackState

    stopping = keras.callbacks.EarlyStopping(monitor="loss", patience=5)
    restore = RestoreCallbackState([stopping], {"EarlyStopping": {"wait": 4}}, None)
    stopping.on_train_begin()
    restore.on_train_begin()
    assert stopping.wait == 4
    stopping.on_train_begin()            # the next phase's fit
    restore.on_train_begin()
    assert stopping.wait == 0
