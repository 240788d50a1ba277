"""kerasdl.training: the phase loop every run fits through, on a tiny Keras model."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from kerasdl.training import (FitPart, Phase, Resumed, fit_phases, is_phased, phase_at,
                              phase_records, phase_spans, single_phase)


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


def test_a_resume_at_a_phase_boundary_starts_the_phase_with_a_fresh_optimizer():
    restored = []
    fit_phases(_model(), PLAN, _data(), None, [], compile_phase=_Compiles(),
               fit_kwargs={"verbose": 0, "shuffle": False}, work=_Work(),
               resumed=Resumed(2, restore_optimizer=restored.append))
    assert restored == []


def test_no_epochs_left_still_fits_once_for_the_callbacks_train_end():
    """An early-stopped run resumed after its last backup: fit() runs zero epochs in the phase
    it stopped in, so that train-end callbacks run and the optimizer goes back."""
    ended, restored, compiles = [], [], _Compiles()
    callback = keras.callbacks.LambdaCallback(on_train_end=lambda logs=None: ended.append(True))
    history = fit_phases(_model(), PLAN, _data(), None, [callback], compile_phase=compiles,
                         fit_kwargs={"verbose": 0, "shuffle": False}, work=_Work(),
                         resumed=Resumed(1, stopped=True, restore_optimizer=restored.append))
    assert ended == [True] and len(restored) == 1
    assert compiles.rates == [0.1]                       # the head phase, which it stopped in
    assert history == {}


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
