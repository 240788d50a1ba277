"""One writer per run directory (issue 29, 1): a run holds its directory's lock for its whole life;
a second ``--resume`` of a held run is refused naming the holder; ``--resume latest`` skips held
runs; a killed holder's lock is gone with it (the kernel drops the flock)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO
from test_resume import _kerasdl

from kerasdl.rundir import LOCK, RunInUse, lock_holder, run_lock


def test_the_lock_refuses_a_second_holder_and_names_the_first(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom pathlib import Path\n"
         "from kerasdl.rundir import run_lock\n"
         f"with run_lock(Path({str(tmp_path)!r})):\n    print('held', flush=True)\n"
         "    time.sleep(60)\n"], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert lock_holder(tmp_path)["pid"] == holder.pid
        with pytest.raises(RunInUse, match=rf"being written by another process \(pid {holder.pid} on host"):
            with run_lock(tmp_path):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert lock_holder(tmp_path) is None                 # kill -9 released it
    with run_lock(tmp_path):                             # and it can be taken again
        assert json.loads((tmp_path / LOCK).read_text())["pid"] == os.getpid()
    assert lock_holder(tmp_path) is None


def _killed_run(workdir: Path) -> Path:
    """A run of the resume tests' experiment killed (kill -9) at its epoch-2 backup."""
    result = _kerasdl(["--workdir", str(workdir)], cwd=workdir, env={"KERASDL_KILL_AT": "backup-rename:2"})
    assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]
    return max(workdir.iterdir(), key=lambda d: d.stat().st_mtime)


def _wait_until_held(run_dir: Path, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        holder = lock_holder(run_dir)
        if holder and holder["pid"] == process.pid:
            return
        assert process.poll() is None, "the resumed run ended before taking the lock"
        time.sleep(0.2)
    raise AssertionError(f"{run_dir} was never locked by pid {process.pid}")


@pytest.mark.slow
def test_two_resumes_of_one_run_one_is_refused_and_latest_skips_a_held_run(tmp_path):
    older = _killed_run(tmp_path)
    time.sleep(1.1)
    newer = _killed_run(tmp_path)
    os.utime(older, (time.time() - 100, time.time() - 100))
    first = _kerasdl(["--workdir", str(tmp_path), "--resume", str(newer)], cwd=tmp_path, wait=False)
    try:
        _wait_until_held(newer, first)
        first.send_signal(signal.SIGSTOP)          # it holds the lock and stays put while the others try
        second = _kerasdl(["--workdir", str(tmp_path), "--resume", str(newer)], cwd=tmp_path)
        assert second.returncode == 1, second.stderr[-2000:]
        line = second.stderr.strip().splitlines()[-1]
        assert f"run {newer} is being written by another process (pid {first.pid} on host" in line
        assert "Traceback" not in second.stderr
        latest = _kerasdl(["--workdir", str(tmp_path), "--resume", "latest"], cwd=tmp_path,
                          env={"KERASDL_KILL_AT": "train-end", "PYTHONUNBUFFERED": "1"})
        assert f"--resume latest: {older}" in latest.stdout, latest.stdout[-2000:]
        assert f"skipped 1 still running ({newer.name})" in latest.stdout
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    # the holder is gone: its run resumes and finishes
    done = _kerasdl(["--workdir", str(tmp_path), "--resume", str(newer)], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (newer / "report.txt").exists() and lock_holder(newer) is None


@pytest.mark.slow
def test_ctrl_c_says_which_run_stopped_and_how_to_continue_it(tmp_path):
    command = [sys.executable, "-m", "kerasdl", "run", str(REPO / "experiments" / "mlp_digits.py"),
               "--set", "trainer.epochs=500", "--set", "callbacks.early_stopping.enabled=false",
               "--set", "output.publish=never", "--workdir", str(tmp_path / "my runs")]
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        for line in process.stdout:                       # bounded: the run prints this early
            if line.startswith("[kerasdl] training for"):
                break
        time.sleep(1.0)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    (run_dir,) = (tmp_path / "my runs").iterdir()
    assert process.returncode == 130, err[-2000:]
    assert f"[kerasdl] interrupted: {run_dir} is unfinished; continue it with the same command and " \
           f"--resume '{run_dir}'" in out
    assert lock_holder(run_dir) is None
