"""Publishing to saved_models/: never replaced by a worse or unscored model; atomic writes."""
from __future__ import annotations

import json

import pytest

from kerasdl.config import Experiment, Output
from kerasdl.files import atomic_write_json
from kerasdl.publishing import publish_model

DATA = {"name": "mnist", "source": "embedded", "test_split": "test", "test_limit": None}


@pytest.fixture
def experiment(tmp_path):
    return Experiment(name="exp", output=Output(saved_models_dir=str(tmp_path / "saved")))


def _model_file(tmp_path, content: str):
    path = tmp_path / f"{content}.keras"
    path.write_text(content)
    return path


def _publish(tmp_path, experiment, content, loss, data=DATA, run=None):
    """Publish a model file holding ``content`` from the run directory ``run`` (default: a run
    of its own, ``run-<content>``)."""
    (tmp_path / "saved").mkdir(exist_ok=True)
    return publish_model(_model_file(tmp_path, content), experiment,
                         {"loss": loss, "accuracy": 1 - loss}, data,
                         tmp_path / (run or f"run-{content}"))


def test_first_better_and_worse_runs(tmp_path, experiment):
    target = tmp_path / "saved" / "exp.keras"
    first = _publish(tmp_path, experiment, "first", loss=0.5)
    assert first.published and target.read_text() == "first"
    worse = _publish(tmp_path, experiment, "worse", loss=0.6)
    assert not worse.published and "kept" in worse.reason and target.read_text() == "first"
    tie = _publish(tmp_path, experiment, "tie", loss=0.5)
    assert not tie.published and target.read_text() == "first"
    better = _publish(tmp_path, experiment, "better", loss=0.4)
    assert better.published and target.read_text() == "better"
    record = json.loads((tmp_path / "saved" / "exp.json").read_text())
    assert record["test_metrics"]["loss"] == 0.4 and record["selection_metric"] == "loss"


def test_a_resumed_run_that_published_before_its_crash_is_told_so(tmp_path, experiment):
    """Killed after publishing, a resumed run publishes again: it finds its own record and
    reports it as published (its model is already there), even though it is no better."""
    assert _publish(tmp_path, experiment, "first", loss=0.5, run="run-a").published
    again = _publish(tmp_path, experiment, "first", loss=0.5, run="run-a")
    assert again.published and "by this run before it was interrupted" in again.reason
    other = _publish(tmp_path, experiment, "other", loss=0.5, run="run-b")     # a tie: kept
    assert not other.published and (tmp_path / "saved" / "exp.keras").read_text() == "first"


def test_unscored_or_differently_scored_models_are_kept(tmp_path, experiment):
    (tmp_path / "saved").mkdir()
    (tmp_path / "saved" / "exp.keras").write_text("users own")
    result = _publish(tmp_path, experiment, "new", loss=0.1)
    assert not result.published and "no readable record" in result.reason
    assert (tmp_path / "saved" / "exp.keras").read_text() == "users own"
    atomic_write_json(tmp_path / "saved" / "exp.json", {"test_metrics": {"loss": 0.9},
                                                        "data": {**DATA, "source": "tfds"}})
    result = _publish(tmp_path, experiment, "new", loss=0.1)
    assert not result.published and "scored on other test data" in result.reason
    # a record without the selection metric: kept, even against a far worse run (issue 14, 4)
    atomic_write_json(tmp_path / "saved" / "exp.json", {"test_metrics": {"accuracy": 0.5},
                                                        "data": DATA})
    result = _publish(tmp_path, experiment, "awful", loss=9.9)
    assert not result.published and "has no test loss to compare with" in result.reason
    assert (tmp_path / "saved" / "exp.keras").read_text() == "users own"


def test_always_keeps_the_previous_and_never_publishes_nothing(tmp_path, experiment):
    _publish(tmp_path, experiment, "first", loss=0.1)
    import dataclasses
    always = dataclasses.replace(experiment, output=dataclasses.replace(experiment.output,
                                                                        publish="always"))
    assert _publish(tmp_path, always, "second", loss=0.9).published
    assert (tmp_path / "saved" / "exp.previous.keras").read_text() == "first"
    never = dataclasses.replace(experiment, output=dataclasses.replace(experiment.output,
                                                                       publish="never"))
    assert not _publish(tmp_path, never, "third", loss=0.0).published
    assert (tmp_path / "saved" / "exp.keras").read_text() == "second"


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    atomic_write_json(tmp_path / "m.json", {"a": 1})
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


def test_saving_builds_keras_reference_objects_once_per_type(tmp_path, monkeypatch):
    """kerasdl.compat.cached_saving_skipsets: Keras 3.15 rebuilds throwaway Layer/Optimizer/Metric
    objects on every save (its cache key is misspelt); after the fix, once per type, and the saved
    models still reload with the same weights."""
    import collections

    import keras
    import numpy as np
    from keras.src.saving import saving_lib

    from kerasdl.models import build
    from kerasdl.files import save_model_atomically
    from kerasdl.loading import load_model

    calls = collections.Counter()
    original = saving_lib.get_attr_skipset

    def counting(obj_type):
        calls[obj_type] += 1
        return original(obj_type)

    monkeypatch.setattr(saving_lib, "get_attr_skipset", counting)   # the fix wraps this one
    from kerasdl import compat

    monkeypatch.setattr(compat, "_SKIPSETS", {})                     # as in a fresh process
    model = build("lenet5", style="functional")
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="mse",
                  metrics=["mae"])
    model.train_on_batch(np.zeros((2, 32, 32, 1)), np.zeros((2, 10)))
    for index in range(3):
        save_model_atomically(model, tmp_path / f"m{index}.keras")
    assert calls and max(calls.values()) == 1, calls
    reloaded = load_model(tmp_path / "m2.keras")
    for a, b in zip(reloaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


PUBLISHER = """
import json, sys, time
from pathlib import Path
from kerasdl.config import Experiment, Output
from kerasdl.publishing import publish_model
tmp, worker, start = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
experiment = Experiment(name="exp", output=Output(saved_models_dir=str(tmp / "saved")))
while time.time() < start:
    pass
for attempt, loss in enumerate(json.loads(sys.argv[4])):
    model = tmp / f"w{worker}-{attempt}.keras"
    model.write_bytes(f"{loss}|".encode() * 100_000)      # 0.6-0.8 MB: a torn copy would show
    publish_model(model, experiment, {"loss": loss, "accuracy": 1 - loss},
                  {"name": "mnist", "source": "embedded", "test_split": "test", "test_limit": None},
                  tmp / f"run-{loss}")
"""


def test_runs_publishing_at_the_same_moment_take_turns_and_the_best_wins(tmp_path):
    """Four processes publish 30 models each at the same moment, every one better than the
    one before it, so their compare-and-replace steps overlap (issue 14, 7): the published model
    is the best of all 120, whole, and its record is its own. (Without the lock this failed in
    5 of 6 tries.)"""
    import subprocess
    import sys
    import time

    from conftest import REPO

    (tmp_path / "saved").mkdir()
    losses = [round(0.9 - 0.02 * step - 0.001 * worker, 6)       # worker = index % 4
              for step in range(30) for worker in range(4)]
    start = time.time() + 3
    workers = [subprocess.Popen([sys.executable, "-c", PUBLISHER, str(tmp_path), str(worker),
                                 str(start), json.dumps(losses[worker::4])],
                                env={**__import__("os").environ, "PYTHONPATH": str(REPO)})
               for worker in range(4)]
    assert [w.wait(timeout=120) for w in workers] == [0, 0, 0, 0]
    best = min(losses)
    assert (tmp_path / "saved" / "exp.keras").read_bytes() == f"{best}|".encode() * 100_000
    record = json.loads((tmp_path / "saved" / "exp.json").read_text())
    assert record["test_metrics"]["loss"] == best and record["run_dir"].endswith(f"run-{best}")
    assert not list((tmp_path / "saved").glob(".exp.keras.*.tmp"))
