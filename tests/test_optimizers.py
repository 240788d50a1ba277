"""The one-cycle learning rate of ``trainer.lr_schedule="one_cycle"`` (Smith & Topin 2018): where
it starts, peaks and ends, and a model compiled with it saves and reloads in a .keras file."""
from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import keras
import numpy as np
import pytest

from kerasdl.config import Trainer
from kerasdl.optimizers import make_optimizer

PEAK = 1e-2
STEPS_PER_EPOCH, EPOCHS = 20, 2
TOTAL_STEPS = STEPS_PER_EPOCH * EPOCHS
WARMUP_STEPS = TOTAL_STEPS // 4


def _one_cycle_experiment(**trainer_settings):
    """An experiment whose trainer asks for the one-cycle schedule (built around the config's
    checks, so this runs before or after 'one_cycle' is one of lr_schedule's allowed values)."""
    trainer = {**{f.name: getattr(Trainer(), f.name) for f in dataclasses.fields(Trainer)},
               "optimizer": "adam", "learning_rate": PEAK, "epochs": EPOCHS,
               "lr_schedule": "one_cycle", **trainer_settings}
    return SimpleNamespace(trainer=SimpleNamespace(**trainer))


def _rate(optimizer, step: int) -> float:
    """The optimizer's scheduled rate at ``step`` (Keras keeps the schedule in _learning_rate)."""
    return float(optimizer._learning_rate(step))


def test_one_cycle_starts_at_a_25th_of_the_peak_peaks_after_a_quarter_and_ends_near_zero():
    optimizer = make_optimizer(_one_cycle_experiment(), steps_per_epoch=STEPS_PER_EPOCH)
    rates = [_rate(optimizer, step) for step in range(TOTAL_STEPS + 1)]
    assert rates[0] == pytest.approx(PEAK / 25)
    assert rates[WARMUP_STEPS] == pytest.approx(PEAK)
    assert max(rates) == pytest.approx(PEAK)
    assert rates[TOTAL_STEPS] == pytest.approx(PEAK * 1e-4)
    assert all(a < b for a, b in zip(rates[:WARMUP_STEPS], rates[1:WARMUP_STEPS + 1]))   # rises
    assert all(a > b for a, b in zip(rates[WARMUP_STEPS:-1], rates[WARMUP_STEPS + 1:]))  # falls


def test_one_cycle_keeps_the_optimizer_settings_such_as_adams_betas():
    optimizer = make_optimizer(_one_cycle_experiment(optimizer_kwargs={"beta_1": 0.7, "beta_2": 0.9}),
                               steps_per_epoch=STEPS_PER_EPOCH)
    assert (optimizer.beta_1, optimizer.beta_2) == (0.7, 0.9)


def test_a_model_compiled_with_one_cycle_saves_and_reloads_with_its_schedule(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=make_optimizer(_one_cycle_experiment(), steps_per_epoch=STEPS_PER_EPOCH),
                  loss="sparse_categorical_crossentropy")
    x, y = np.random.default_rng(0).normal(size=(32, 4)), np.arange(32) % 3
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)                 # 8 steps into the cycle
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    assert int(reloaded.optimizer.iterations) == 8
    for step in (0, WARMUP_STEPS, TOTAL_STEPS):
        assert _rate(reloaded.optimizer, step) == pytest.approx(_rate(model.optimizer, step))
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
