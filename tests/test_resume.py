"""Crash and resume: a run killed at any point (kill -9, real processes) and resumed ends exactly
where an uninterrupted run ends; no half files, no NaN weights, corrupt files said clearly."""
from __future__ import annotations

import csv
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
# 6 epochs of the digits MLP (dropout on), op determinism on, patience that can trigger
SETTINGS = ["--set", "data.source=embedded", "--set", "trainer.epochs=6", "--set",
            "trainer.deterministic=true", "--set", "trainer.verbose=0", "--set",
            "output.publish=never", "--set", "callbacks.early_stopping.patience=2", "--set",
            "trainer.learning_rate=0.004"]


def _kerasdl(args, cwd, env=None, wait=True):
    command = [sys.executable, "-m", "kerasdl", "run", EXPERIMENT, *SETTINGS, *args]
    full_env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    if not wait:
        return subprocess.Popen(command, cwd=cwd, env=full_env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    return subprocess.run(command, cwd=cwd, env=full_env, capture_output=True, text=True,
                          timeout=300)


def _weights(path: Path):
    import kerasdl

    return kerasdl.load_model(path).get_weights()


def _history(run_dir: Path):
    with open(run_dir / "history.csv") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("uninterrupted")
    result = _kerasdl(["--workdir", str(workdir)], cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = workdir.iterdir()
    return run_dir


def _resume_and_compare(workdir: Path, uninterrupted: Path) -> float:
    result = _kerasdl(["--workdir", str(workdir), "--resume", "latest"], cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resuming after epoch" in result.stdout
    (run_dir,) = workdir.iterdir()
    difference = max(float(np.abs(a - b).max()) for a, b in
                     zip(_weights(run_dir / "model.keras"), _weights(uninterrupted / "model.keras")))
    assert difference <= 1e-6, difference
    for name in ("checkpoints/best.keras",):
        best = max(float(np.abs(a - b).max()) for a, b in
                   zip(_weights(run_dir / name), _weights(uninterrupted / name)))
        assert best <= 1e-6, (name, best)
    # history: same length and values, i.e. EarlyStopping's patience counted across the crash
    ours, theirs = _history(run_dir), _history(uninterrupted)
    assert len(ours) == len(theirs)
    np.testing.assert_allclose([float(r["val_loss"]) for r in ours],
                               [float(r["val_loss"]) for r in theirs], rtol=1e-6)
    assert not [p for p in run_dir.rglob("*") if ".tmp" in p.name]     # no temp files left
    assert not (run_dir / "backup").exists()                           # finished: cleaned up
    return difference


@pytest.mark.parametrize("point", ["backup-write:2", "backup-rename:3", "checkpoint-write:2"])
def test_kill_during_a_write_then_resume(tmp_path, uninterrupted, point):
    killed = _kerasdl(["--workdir", str(tmp_path)], cwd=tmp_path, env={"KERASDL_KILL_AT": point})
    assert killed.returncode == -signal.SIGKILL
    _resume_and_compare(tmp_path, uninterrupted)


@pytest.mark.parametrize("seed", [0, 1])
def test_kill_at_a_random_moment_then_resume(tmp_path, uninterrupted, seed):
    """SIGKILL once the run has backed up a random epoch, after a further random delay."""
    rng = random.Random(seed)
    epoch, delay = rng.randint(1, 3), rng.uniform(0.0, 1.5)
    process = _kerasdl(["--workdir", str(tmp_path)], cwd=tmp_path, wait=False)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and process.poll() is None:
            if list(tmp_path.glob(f"*/backup/epoch-{epoch:04d}")):
                break
            time.sleep(0.05)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    (run_dir,) = tmp_path.iterdir()
    if (run_dir / "metrics.json").exists():
        pytest.skip("the run finished before the kill landed")
    _resume_and_compare(tmp_path, uninterrupted)


def test_resume_refuses_a_different_or_finished_experiment(tmp_path, uninterrupted):
    changed = subprocess.run(
        [sys.executable, "-m", "kerasdl", "run", EXPERIMENT, *SETTINGS, "--set",
         "trainer.learning_rate=0.1", "--resume", str(uninterrupted)],
        cwd=tmp_path, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert changed.returncode == 2
    assert "differs from the interrupted run at trainer.learning_rate" in changed.stderr
    finished = _kerasdl(["--resume", str(uninterrupted)], cwd=tmp_path)
    assert finished.returncode == 2 and "that run already finished" in finished.stderr


def test_corrupt_backup_falls_back_to_the_previous_one(tmp_path, uninterrupted):
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
    difference = max(float(np.abs(a - b).max()) for a, b in
                     zip(_weights(run_dir / "model.keras"), _weights(uninterrupted / "model.keras")))
    assert difference <= 1e-6
