"""Shared fixtures: a subprocess runner for the CLI and a small, fast experiment."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m kerasdl ARGS`` in a fresh process, from ``cwd``."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([sys.executable, "-m", "kerasdl", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def run_python(code: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh Python process (nothing imported yet)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def no_download(monkeypatch, tmp_path):
    """An unreachable download host, as on an offline machine; returns an empty TFDS data dir."""
    from kerasdl.data import tfds_source

    monkeypatch.setattr(tfds_source, "can_reach", lambda *a, **k: False)
    return str(tmp_path / "tfds")


def small_experiment(tmp_path: Path, **sections):
    """A seconds-long experiment on the embedded digits (8x8) with an MLP; sections override."""
    from kerasdl.config import Callbacks, Data, Experiment, Model, Output, Trainer

    defaults = dict(
        name="small",
        data=Data(name="digits", source="embedded", batch_size=32, validation_fraction=0.2),
        model=Model(name="mlp", kwargs={"hidden": (32,)}),
        trainer=Trainer(epochs=2, verbose=0),
        callbacks=Callbacks(monitor="val_loss"),
        output=Output(runs_dir=str(tmp_path / "runs"),
                      saved_models_dir=str(tmp_path / "saved_models")),
    )
    defaults.update(sections)
    return Experiment(**defaults)
