"""Crash and resume: a run killed at any point (kill -9, real processes) and resumed ends exactly
where an uninterrupted run ends; no half files, no NaN weights, corrupt files said clearly."""
from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO

EXPERIMENT = str(REPO / "experiments" / "mlp_digits.py")
# the digits MLP (dropout on), op determinism on; EarlyStopping (patience 1 on val_accuracy)
# stops it after epoch 6 of 8, one epoch after its best: the best weights must be restored
SETTINGS = ["--set", "data.source=embedded", "--set", "trainer.epochs=8", "--set",
            "trainer.deterministic=true", "--set", "trainer.verbose=0", "--set",
            "output.publish=never", "--set", "callbacks.early_stopping.patience=1", "--set",
            "trainer.learning_rate=0.004"]

#: KERASDL_KILL_AT points in training (``point:epoch``: in the middle of a write) ...
TRAINING_POINTS = ["backup-write:2", "backup-rename:3",
                   "checkpoint-write:6",       # the best epoch (5) written as the fit ends
                   "backup-rename:6"]          # the last backup, of the early-stopped epoch
#: ... and after it, in the order the runner reaches them (kerasdl/runner.py)
FINISHING_POINTS = ["train-end", "metrics-written", "model-write", "model-saved",
                    "figures-written", "published", "manifest-written", "report-written"]
#: the default suite kills at these; the slow tests at all the others
QUICK_POINTS = {"backup-rename:3", "train-end"}


def _kerasdl(args, cwd, env=None, wait=True, experiment=EXPERIMENT, settings=SETTINGS):
    command = [sys.executable, "-m", "kerasdl", "run", experiment, *settings, *args]
    full_env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    if not wait:
        return subprocess.Popen(command, cwd=cwd, env=full_env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    return subprocess.run(command, cwd=cwd, env=full_env, capture_output=True, text=True,
                          timeout=300)


def _weights(path: Path):
    import kerasdl

    return kerasdl.load_model(path).get_weights()


def _difference(a: Path, b: Path) -> float:
    return max(float(np.abs(x - y).max()) for x, y in zip(_weights(a), _weights(b)))


def _history(run_dir: Path):
    with open(run_dir / "history.csv") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The run that never stopped, and its wall time in seconds."""
    workdir = tmp_path_factory.mktemp("uninterrupted")
    started = time.time()
    result = _kerasdl(["--workdir", str(workdir)], cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = workdir.iterdir()
    assert len(_history(run_dir)) == 6, "EarlyStopping no longer stops this run after epoch 6"
    return run_dir, time.time() - started


def _publishing(tmp_path: Path) -> list[str]:
    """A run folder and a saved_models folder of this test's own, publishing on."""
    return ["--workdir", str(tmp_path / "runs"), "--set", "output.publish=if_better",
            "--set", f"output.saved_models_dir={tmp_path / 'saved'}"]


def _finish_and_compare(tmp_path: Path, uninterrupted: Path, experiment=EXPERIMENT,
                        settings=SETTINGS, name=None) -> float:
    """Resume the killed run in ``tmp_path`` (unless it finished) and check that it ended exactly
    as the uninterrupted run; returns the largest weight difference of its model.keras."""
    (run_dir,) = (tmp_path / "runs").iterdir()
    name = name or Path(experiment).stem            # the name it is published under
    if not (run_dir / "report.txt").exists():
        result = _kerasdl([*_publishing(tmp_path), "--resume", "latest"], cwd=tmp_path,
                          experiment=experiment, settings=settings)
        assert result.returncode == 0, result.stderr[-3000:]
        assert "resuming" in result.stdout
        assert not (run_dir / "backup").exists()                       # finished: cleaned up
    else:   # finished before the kill: nothing to resume, and --resume says so
        refused = _kerasdl([*_publishing(tmp_path), "--resume", str(run_dir)], cwd=tmp_path,
                           experiment=experiment, settings=settings)
        assert refused.returncode == 2 and "that run already finished" in refused.stderr
    difference = _difference(run_dir / "model.keras", uninterrupted / "model.keras")
    assert difference <= 1e-6, difference
    best = _difference(run_dir / "checkpoints/best.keras", uninterrupted / "checkpoints/best.keras")
    assert best <= 1e-6, best
    published = _difference(tmp_path / "saved" / f"{name}.keras", uninterrupted / "model.keras")
    assert published <= 1e-6, published
    record = json.loads((tmp_path / "saved" / f"{name}.json").read_text())
    assert record["run_dir"] == str(run_dir)
    ours, theirs = json.loads((run_dir / "metrics.json").read_text()), json.loads(
        (uninterrupted / "metrics.json").read_text())
    assert ours == pytest.approx(theirs, rel=1e-6)
    # history: same length and values, i.e. EarlyStopping's patience counted across the crash
    ours, theirs = _history(run_dir), _history(uninterrupted)
    assert len(ours) == len(theirs)
    np.testing.assert_allclose([float(r["val_loss"]) for r in ours],
                               [float(r["val_loss"]) for r in theirs], rtol=1e-6)
    assert not [p for p in run_dir.rglob("*") if ".tmp" in p.name]     # no temp files left
    # the training clock runs on across the crash: an end time per epoch, rising
    times = json.loads((run_dir / "manifest.json").read_text())["epoch_end_s"]
    assert len(times) == len(ours) and all(a < b for a, b in zip(times, times[1:])), times
    print(f"max weight difference {difference:.1e}")
    return difference


@pytest.mark.parametrize("point", [
    point if point in QUICK_POINTS else pytest.param(point, marks=pytest.mark.slow)
    for point in TRAINING_POINTS + FINISHING_POINTS])
def test_kill_at_every_point_then_resume(tmp_path, uninterrupted, point):
    """SIGKILL at a named point (in the middle of a write, or between two phases after training),
    then --resume latest: model.keras, best.keras, the published model, metrics and history
    equal those of the run that never stopped."""
    killed = _kerasdl(_publishing(tmp_path), cwd=tmp_path, env={"KERASDL_KILL_AT": point})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    _finish_and_compare(tmp_path, uninterrupted[0])


@pytest.mark.parametrize("seed", [pytest.param(0, marks=pytest.mark.slow),   # 23 s each
                                  pytest.param(1, marks=pytest.mark.slow),
                                  pytest.param(2, marks=pytest.mark.slow)])
def test_kill_at_a_random_moment_then_resume(tmp_path, uninterrupted, seed):
    """SIGKILL at a moment drawn uniformly over the whole uninterrupted run's wall time (start-up,
    training, evaluation, saving, figures, publishing): every outcome ends as the run that never
    stopped, or (killed before training) leaves nothing behind."""
    delay = random.Random(seed).uniform(0.0, uninterrupted[1])
    process = _kerasdl(_publishing(tmp_path), cwd=tmp_path, wait=False)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    runs = list((tmp_path / "runs").iterdir())
    print(f"killed after {delay:.2f} s of {uninterrupted[1]:.2f} s: "
          + (f"{sorted(p.name for p in runs[0].iterdir())}" if runs else "no run directory"))
    if not runs:            # killed while preparing: nothing was left behind to trip over
        assert not (tmp_path / "saved").exists() or not any((tmp_path / "saved").iterdir())
        return
    _finish_and_compare(tmp_path, uninterrupted[0])


@pytest.mark.slow          # 27 s: the default suite's quick kill points cover the mechanism
def test_kill_then_resume_on_an_image_folder(tmp_path):
    """The user's own data resumes exactly too: LeNet-5 (with its random-shift augmentation) on a
    folder:PATH of class subfolders, killed while backing up epoch 2 of 4 (so the resumed run
    replays epochs 2-4 from the epoch-1 backup), ends with the uninterrupted run's weights, bit
    for bit, and its metrics, history and per-class results."""
    from test_local_data import make_image_folder

    folder = make_image_folder(tmp_path / "shapes", per_class=20)
    experiment = str(REPO / "experiments" / "lenet5.py")
    settings = ["--set", f"data.name=folder:{folder}", "--set", "trainer.epochs=4", "--set",
                "data.batch_size=16", "--set", "trainer.deterministic=true", "--set",
                "trainer.verbose=0", "--set", "output.publish=never"]
    whole = _kerasdl(["--workdir", str(tmp_path / "uninterrupted")], cwd=tmp_path,
                     experiment=experiment, settings=settings)
    assert whole.returncode == 0, whole.stderr[-3000:]
    (uninterrupted,) = (tmp_path / "uninterrupted").iterdir()
    assert len(_history(uninterrupted)) == 4
    killed = _kerasdl(_publishing(tmp_path), cwd=tmp_path, experiment=experiment,
                      settings=settings, env={"KERASDL_KILL_AT": "backup-rename:2"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert [p.name for p in (run_dir / "backup").glob("epoch-*")] == ["epoch-0001"]
    # published as lenet5-shapes: the user's folder is not lenet5's own data (issue 24, 3)
    difference = _finish_and_compare(tmp_path, uninterrupted, experiment, settings,
                                     name="lenet5-shapes")
    assert difference == 0.0
    for name in ("metrics.json", "per_class.json"):          # exactly, not approximately
        assert (json.loads((run_dir / name).read_text())
                == json.loads((uninterrupted / name).read_text())), name


def test_resume_refuses_a_different_or_finished_experiment(tmp_path, uninterrupted):
    uninterrupted = uninterrupted[0]
    changed = subprocess.run(
        [sys.executable, "-m", "kerasdl", "run", EXPERIMENT, *SETTINGS, "--set",
         "trainer.learning_rate=0.1", "--resume", str(uninterrupted)],
        cwd=tmp_path, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert changed.returncode == 2
    assert "differs from the interrupted run at trainer.learning_rate" in changed.stderr
    finished = _kerasdl(["--resume", str(uninterrupted)], cwd=tmp_path)
    assert finished.returncode == 2 and "that run already finished" in finished.stderr


@pytest.mark.slow          # 27 s; tests/test_run_folders.py reads damaged run files in the default suite
def test_corrupt_backup_falls_back_to_the_previous_one(tmp_path, uninterrupted):
    uninterrupted = uninterrupted[0]
    killed = _kerasdl(["--workdir", str(tmp_path)], cwd=tmp_path,
                      env={"KERASDL_KILL_AT": "backup-rename:4"})
    assert killed.returncode == -signal.SIGKILL
    (run_dir,) = tmp_path.iterdir()
    newest = sorted((run_dir / "backup").glob("epoch-*"))[-1]
    data = (newest / "state.npz").read_bytes()
    (newest / "state.npz").write_bytes(data[: len(data) // 2])          # truncated
    result = _kerasdl(["--workdir", str(tmp_path), "--resume", "latest"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"backup {newest}" in result.stdout and "is corrupt" in result.stdout
    assert "resuming from the previous backup" in result.stdout
    assert _difference(run_dir / "model.keras", uninterrupted / "model.keras") <= 1e-6


@pytest.mark.parametrize("recipe, options, point, phase", [
    pytest.param("finetune_all", [], "backup-rename:3", "1/1 all", marks=pytest.mark.slow),
    pytest.param("two_phase", ["--set", "finetune.layer_lr_decay=0.5"], "backup-rename:4",
                 "2/2 all", marks=pytest.mark.slow),
    pytest.param("two_phase", [], "backup-rename:3", "1/2 head", marks=pytest.mark.slow),
    pytest.param("linear_probe", ["--set", "finetune.cache_features=True"], "backup-rename:3",
                 "1/1 head", marks=pytest.mark.slow),
    pytest.param("linear_probe", [], "backup-rename:2", "1/1 head", marks=pytest.mark.slow),
    pytest.param("cut_and_probe", ["--set", "finetune.cut_at='s4'"], "backup-rename:4",
                 "1/1 head", marks=pytest.mark.slow),
    pytest.param("retrain_all", [], "backup-write:3", "1/1 all", marks=pytest.mark.slow),
], ids=["finetune_all-mid-phase", "layer_lr_decay-mid-phase-2", "two_phase-at-the-boundary",
        "cache_features-mid-run", "linear_probe-mid-run", "cut_and_probe-mid-run",
        "retrain_all-mid-backup-write"])
def test_a_fine_tuning_run_resumes_exactly(tmp_path, recipe, options, point, phase):
    """A transfer run killed in the middle of a phase resumes with that phase's optimizer state
    (issue 14, 1: every phase compiled a fresh optimizer, and the resumed run ended 0.20 away in
    weights; 2: with layer_lr_decay the resume failed outright); killed at a phase boundary, the
    next phase starts with a fresh optimizer, as it did in the uninterrupted run. A head trained
    on cached features resumes too (issue 14, 3: its backups held the head alone, and the cached
    features came in an order that a restart did not repeat). The final and the best model and
    the history end as in the uninterrupted run. Every recipe is killed once, and its last backup
    names the phase it was written in."""
    experiment = str(REPO / "experiments" / "transfer_finetune.py")
    settings = ["--smoke", "--set", f"finetune.recipe={recipe}", "--set", "trainer.epochs=5",
                "--set", "finetune.head_epochs=2", "--set", "trainer.deterministic=true",
                "--set", "trainer.verbose=0", *options]
    whole = _kerasdl(["--workdir", str(tmp_path / "uninterrupted")], cwd=tmp_path,
                     experiment=experiment, settings=settings)
    assert whole.returncode == 0, whole.stderr[-3000:]
    (uninterrupted,) = (tmp_path / "uninterrupted").iterdir()
    killed = _kerasdl(["--workdir", str(tmp_path / "runs")], cwd=tmp_path, experiment=experiment,
                      settings=settings, env={"KERASDL_KILL_AT": point})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    newest = max((run_dir / "backup").glob("epoch-*"))       # the backup records its phase
    assert json.loads((newest / "state.json").read_text())["phase"] == phase
    resumed = _kerasdl(["--workdir", str(tmp_path / "runs"), "--resume", "latest"], cwd=tmp_path,
                       experiment=experiment, settings=settings)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    difference = _difference(run_dir / "model.keras", uninterrupted / "model.keras")
    best = _difference(run_dir / "checkpoints/best.keras", uninterrupted / "checkpoints/best.keras")
    print(f"max weight difference {difference:.1e}, of the best checkpoint {best:.1e}")
    assert difference == 0.0 and best == 0.0
    assert (json.loads((run_dir / "metrics.json").read_text())
            == json.loads((uninterrupted / "metrics.json").read_text()))
    assert _history(run_dir) == _history(uninterrupted)


def test_a_backup_that_does_not_fit_says_which_variable_and_shape():
    """Same count, other shapes: the message names the variable and both shapes (issue 14, 2:
    it said "variables (14) do not fit this optimizer (14)")."""
    import keras

    from kerasdl.errors import CorruptFileError
    from kerasdl.resume import restore_variables

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    arrays = {"model_0": np.zeros((4, 2)), "model_1": np.zeros(2)}
    with pytest.raises(CorruptFileError, match=r"model variable 0 has shape \(4, 2\), this "
                                               r"model's \(3, 2\) \(1 of 2 differ\)"):
        restore_variables(model, arrays)
    with pytest.raises(CorruptFileError, match="the backup has 1 model variables, this model has 2"):
        restore_variables(model, {"model_0": np.zeros((3, 2))})


def test_a_backup_written_in_another_phase_is_refused(tmp_path):
    """Backups record their phase; a resume whose plan puts that epoch in another phase (the
    recipe's plan changed under the run) is refused, naming both phases."""
    from kerasdl.errors import CorruptFileError
    from kerasdl.resume import check_backup_phase
    from kerasdl.transfer.recipes import phase_at, plan_phases

    phases = plan_phases("two_phase", epochs=5, learning_rate=1e-3, head_epochs=2)
    assert [phase_at(phases, epoch) for epoch in range(1, 6)] == ["1/2 head"] * 2 + ["2/2 all"] * 3
    check_backup_phase({"epoch": 2, "phase": "1/2 head"}, phase_at(phases, 2), tmp_path)
    check_backup_phase({"epoch": 3}, phase_at(phases, 3), tmp_path)        # no recipe: no phase
    with pytest.raises(CorruptFileError, match=r"epoch 3 in .* was written in phase 1/2 head, "
                                               r"but this experiment's plan puts that epoch in "
                                               r"phase 2/2 all"):
        check_backup_phase({"epoch": 3, "phase": "1/2 head"}, phase_at(phases, 3), tmp_path)


@pytest.mark.slow          # 38 s; tests/test_training.py and test_callbacks.py test the target
def test_a_run_stops_at_its_target_and_resumes_to_the_same_end(tmp_path, uninterrupted):
    """callbacks.target (issue 28, 2): training ends at the end of the first epoch whose
    val_accuracy reaches the target, the manifest and the report give that epoch and the
    seconds to it; killed before reaching it and resumed, the run ends at the same epoch with the
    same weights."""
    accuracies = [float(row["val_accuracy"]) for row in _history(uninterrupted[0])]
    # a target first reached after epoch 1: the first later epoch better than all before it
    epoch = next(e for e in range(2, len(accuracies) + 1)
                 if accuracies[e - 1] > max(accuracies[:e - 1]))
    target = ["--set", f"callbacks.target={accuracies[epoch - 1]!r}"]
    whole = _kerasdl(["--workdir", str(tmp_path / "whole"), *target], cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr[-3000:]
    (whole_dir,) = (tmp_path / "whole").iterdir()
    assert len(_history(whole_dir)) == epoch
    record = json.loads((whole_dir / "manifest.json").read_text())["target"]
    assert record["reached_epoch"] == epoch and record["metric"] == "val_accuracy"
    assert 0 < record["seconds"] <= json.loads((whole_dir / "manifest.json").read_text())[
        "epoch_end_s"][-1] + 1e-6
    assert f"reached in epoch {epoch}" in whole.stdout
    killed = _kerasdl(["--workdir", str(tmp_path / "runs"), *target], cwd=tmp_path,
                      env={"KERASDL_KILL_AT": f"backup-rename:{epoch - 1}"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    resumed = _kerasdl(["--workdir", str(tmp_path / "runs"), "--resume", "latest", *target],
                       cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert len(_history(run_dir)) == epoch
    assert json.loads((run_dir / "manifest.json").read_text())["target"]["reached_epoch"] == epoch
    assert _difference(run_dir / "model.keras", whole_dir / "model.keras") <= 1e-6
