"""Paths that mean the same from anywhere (issue 29, 2): a run records its output folders absolute,
so a ``--resume`` started from another working directory, with the same relative ``--set``
options, publishes where the interrupted run would have and keeps the model published before."""
from __future__ import annotations

import json
import signal

import pytest

from test_resume import _difference, _kerasdl

ALWAYS = ["--set", "output.publish=always", "--set", "output.saved_models_dir=saved",
          "--workdir", "runs"]


@pytest.mark.slow
def test_a_resume_from_another_folder_publishes_where_the_run_would_have(tmp_path):
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir(), elsewhere.mkdir()
    first = _kerasdl(ALWAYS, cwd=home)
    assert first.returncode == 0, first.stderr[-2000:]
    (first_run,) = (home / "runs").iterdir()
    config = json.loads((first_run / "config.json").read_text())
    assert config["output"]["saved_models_dir"] == str(home / "saved")      # recorded absolute
    assert config["output"]["runs_dir"] == str(home / "runs")
    killed = _kerasdl(ALWAYS, cwd=home, env={"KERASDL_KILL_AT": "backup-rename:3"})
    assert killed.returncode == -signal.SIGKILL
    (second_run,) = set((home / "runs").iterdir()) - {first_run}

    resumed = _kerasdl([*ALWAYS, "--resume", str(second_run)], cwd=elsewhere)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert not (elsewhere / "saved").exists() and not (elsewhere / "runs").exists()
    published = json.loads((home / "saved" / "mlp_digits.json").read_text())
    previous = json.loads((home / "saved" / "mlp_digits.previous.json").read_text())
    assert published["run_dir"] == str(second_run) and previous["run_dir"] == str(first_run)
    assert _difference(home / "saved" / "mlp_digits.keras", second_run / "model.keras") == 0.0
    assert _difference(home / "saved" / "mlp_digits.previous.keras", first_run / "model.keras") == 0.0


@pytest.mark.parametrize("content, says", [
    (b'{"name": "mlp_digits", "data": {"na', "config.json is not valid JSON"),
    (b'{"data": 3, "model": {"name": "mlp"}}', "config.json: 'data' is 3, not an object"),
    (b'[]', "config.json holds a JSON list, not the object kerasdl wrote"),
    (b'{"name": "caf\xe9"}', "config.json is not UTF-8 text"),
])
def test_a_resume_names_a_damaged_config_before_tensorflow(tmp_path, content, says):
    from conftest import REPO, run_cli

    run_dir = tmp_path / "runs" / "mlp_digits-20261205-120000"
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_bytes(content)
    result = run_cli("run", str(REPO / "experiments" / "mlp_digits.py"), "--resume", str(run_dir),
                     cwd=tmp_path, timeout=60)
    assert result.returncode != 0
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {run_dir}/{says}") and "restore it, or start a new run" in line, line
    assert "importing TensorFlow" not in result.stdout
