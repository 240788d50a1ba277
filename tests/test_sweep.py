"""kerasdl sweep (issue #16): search settings with Optuna, every trial a real kerasdl run.

The sweeps here are real: real Optuna studies in real SQLite files (and a real PostgreSQL server
where one can be started), trials as real ``python -m kerasdl run`` subprocesses on sklearn's
digits, a real kill -9. Only the argument checks run in the default suite; the sweeps are slow.
"""
from __future__ import annotations

import csv
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import REPO, run_cli, run_python
from kerasdl.errors import ConfigError
from kerasdl.experiment import load_experiment
from kerasdl.sweep import parse_param, parse_space

EXPERIMENT = str(REPO / "experiments" / "mlp_digits.py")
SHORT = ("--set", "trainer.epochs=3", "--set", "callbacks.early_stopping.enabled=False",
         "--set", "callbacks.tensorboard.enabled=False")


def test_specs_parse_into_optuna_ranges():
    assert parse_param("trainer.learning_rate=loguniform(1e-4, 1e-1)").describe() == \
        "loguniform(0.0001, 0.1)"
    assert parse_param("data.batch_size=choice(32, 128)").values == (32, 128)
    assert parse_param("trainer.optimizer=choice(adam, sgd)").values == ("adam", "sgd")
    assert parse_param("trainer.epochs = int(1, 5)").describe() == "int(1, 5)"
    augment = parse_param("data.augment=choice((), ('translate',), ('translate', 'rotate'))")
    assert augment.values == ((), ("translate",), ("translate", "rotate"))
    pytest.importorskip("optuna")
    assert parse_param("trainer.learning_rate=loguniform(1e-4, 1e-1)").distribution().log
    # Optuna's choices are scalars: a tuple is kept as its text and decoded back
    labels = augment.distribution().choices
    assert labels == ("()", "('translate',)", "('translate', 'rotate')")
    assert [augment.decode(label) for label in labels] == list(augment.values)


@pytest.mark.parametrize("item, message", [
    ("trainer.learning_rate=loguniform(0, 1)", "loguniform() needs 0 < low < high"),
    ("trainer.epochs=int(5, 1)", "low must be below high; got int(5, 1)"),
    ("trainer.epochs=int(1.5, 4)", "int() takes whole numbers"),
    ("trainer.learning_rate=normal(0, 1)", "unknown SPEC 'normal'"),
    ("trainer.learning_rate=uniform(0.1)", "uniform() takes two numbers, low and high"),
    ("data.batch_size=choice(32)", "choice() needs at least two values"),
    ("trainer.learnin_rate=uniform(0.1, 0.2)",
     "unknown config key 'trainer.learnin_rate' (did you mean 'learning_rate'?)"),
    ("trainer.epochs=int(0, 3)", "the value 0 fails the config check: config key "
                                 "'trainer.epochs' must be >= 1"),
    ("trainer.optimizer=choice(adam, adamm)", "the value 'adamm' fails the config check"),
    ("trainer.learning_rate", "--param expects KEY=SPEC"),
])
def test_a_bad_param_is_refused_before_any_trial(item, message):
    experiment = load_experiment(EXPERIMENT)
    with pytest.raises(ConfigError) as error:
        parse_space([item], experiment)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_sweep_errors_are_one_line_and_import_no_tensorflow(tmp_path):
    code = f"""
import sys
from kerasdl.cli import main
for argv in (["sweep", {EXPERIMENT!r}, "--param", "trainer.learning_rate=loguniform(0, 1)",
              "--trials", "2"],
             ["sweep", {EXPERIMENT!r}, "--param", "trainer.learnin_rate=uniform(0.1, 0.2)",
              "--trials", "2"],
             ["sweep", {EXPERIMENT!r}, "--param", "trainer.epochs=int(1, 3)", "--trials", "2",
              "--metric", "val_accurcy"]):
    try:
        main(argv)
    except SystemExit as exit:
        print("EXIT", exit.code)
print("TF_IMPORTED", "tensorflow" in sys.modules, "keras" in sys.modules)
"""
    result = run_python(code, cwd=tmp_path)
    assert result.stdout.split() == ["EXIT", "2", "EXIT", "2", "EXIT", "2", "TF_IMPORTED",
                                     "False", "False"], result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("error: ") for line in lines), lines
    assert "did you mean 'learning_rate'" in lines[1]
    assert "did you mean 'accuracy'" in lines[2]
    assert not list(tmp_path.iterdir())           # nothing written


# --- real sweeps -------------------------------------------------------------------------------

def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}


def _sweep_args(workdir: Path, trials: int, *extra: str) -> list[str]:
    return ["sweep", EXPERIMENT, "--trials", str(trials), "--workdir", str(workdir), *extra]


def _trials(sweep_dir: Path) -> list[dict]:
    with open(sweep_dir / "trials.csv") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_a_sweep_finds_better_settings_and_leaves_a_rerunnable_best(tmp_path):
    result = run_cli(*_sweep_args(tmp_path, 6, "--seed", "0", "--parallel", "2",
                                  "--param", "trainer.learning_rate=loguniform(1e-5, 1e-1)",
                                  "--param", "data.batch_size=choice(16, 128)",
                                  "--set", "trainer.epochs=3",
                                  "--set", "callbacks.early_stopping.enabled=False"),
                     cwd=tmp_path, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    sweep_dir = tmp_path / "mlp_digits"
    rows = _trials(sweep_dir)
    assert [row["state"] for row in rows] == ["COMPLETE"] * 6
    scores = [float(row["val_accuracy"]) for row in rows]
    assert max(scores) - min(scores) > 0.2, scores              # the space matters, and was searched
    best = rows[scores.index(max(scores))]
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith(f"[kerasdl] best trial {best['trial']}: val_accuracy "
                           f"{max(scores):.4f} (trainer.learning_rate=")
    assert last.endswith(f"rerun it: python -m kerasdl run {sweep_dir / 'best_experiment.py'}")
    # every trial is a finished kerasdl run in its own folder, not published
    run_dirs = {row["run_dir"] for row in rows}
    assert len(run_dirs) == 6 and all((Path(d) / "report.txt").is_file() for d in run_dirs)
    assert not (tmp_path / "saved_models").exists()
    # --parallel 2: the cores are shared out, one thread pool size per trial
    threads = {json.loads((Path(d) / "manifest.json").read_text())["devices"]["threads"]
               for d in run_dirs}
    assert threads == {max(1, (os.cpu_count() or 1) // 2)}, threads
    # the best trial's config, as an experiment file
    rerun = load_experiment(sweep_dir / "best_experiment.py")
    assert rerun.trainer.learning_rate == float(best["trainer.learning_rate"])
    assert rerun.data.batch_size == int(best["data.batch_size"]) and rerun.trainer.epochs == 3
    # HParams for TensorBoard's dashboard, in each run
    from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

    runs = EventMultiplexer().AddRunsFromDirectory(str(sweep_dir))
    runs.Reload()
    with_hparams = [name for name, content in runs.PluginRunToTagToContent("hparams").items()
                    if content]
    assert len(with_hparams) == 6, with_hparams
    # kerasdl compare takes the sweep directory: one row per trial, the searched keys as columns
    table = run_cli("compare", str(sweep_dir), cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.strip().splitlines()
    assert len(lines) == 7 and "trainer.learning_rate" in lines[0] and "data.batch_size" in lines[0]


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _epochs_done(trial_dir: Path) -> int:
    histories = list(trial_dir.glob("*/history.csv"))
    return max((len(h.read_text().strip().splitlines()) - 1 for h in histories), default=0)


@pytest.mark.slow
def test_a_killed_sweep_continues_and_resumes_the_cut_off_trial(tmp_path):
    args = _sweep_args(tmp_path, 3, "--seed", "0",
                       "--param", "trainer.learning_rate=loguniform(1e-3, 1e-2)",
                       "--set", "trainer.epochs=40", "--set", "data.batch_size=8",
                       "--set", "callbacks.early_stopping.enabled=False",
                       "--set", "callbacks.tensorboard.enabled=False")
    sweep_dir = tmp_path / "mlp_digits"
    sweep = subprocess.Popen([sys.executable, "-m", "kerasdl", *args], cwd=tmp_path, env=_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for(lambda: _epochs_done(sweep_dir / "trial-0001") >= 2, 300, "trial 1's epochs")
    finally:
        sweep.send_signal(signal.SIGKILL)
        first_output = sweep.communicate()[0]
    cut_at = _epochs_done(sweep_dir / "trial-0001")
    assert 2 <= cut_at < 40, first_output
    # the trial's process died with the sweep (it would go on writing into the run otherwise)
    time.sleep(1)
    orphans = subprocess.run(["pgrep", "-f", str(sweep_dir / "trial-0001")], capture_output=True)
    assert orphans.returncode == 1, orphans.stdout

    again = run_cli(*args, cwd=tmp_path, timeout=900)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "trial 1 was cut off" in again.stdout
    rows = _trials(sweep_dir)
    states = {row["trial"]: (row["state"], row["note"]) for row in rows}
    assert states["0"] == ("COMPLETE", "") and states["1"] == ("FAIL",
                                                              "cut off; resumed as a later trial")
    resumer = [row for row in rows if row["note"] == "resumes trial 1"]
    assert len(resumer) == 1 and resumer[0]["state"] == "COMPLETE"
    assert sum(row["state"] == "COMPLETE" for row in rows) == 3
    # trial 1 went on from its backup, in the same run directory, to its 40 epochs
    log = (sweep_dir / "trial-0001" / "log.txt").read_text()
    resumed_after = [int(line.split("resuming after epoch ")[1].split()[0])
                     for line in log.splitlines() if "resuming after epoch" in line]
    assert len(resumed_after) == 1 and resumed_after[0] >= cut_at - 1, log[-2000:]
    assert resumer[0]["run_dir"] == str(next((sweep_dir / "trial-0001").glob("*/config.json")).parent)
    assert _epochs_done(sweep_dir / "trial-0001") == 40
    # no completed trial ran twice: trial 0 has one run, started once
    assert len(list((sweep_dir / "trial-0000").glob("*/config.json"))) == 1
    assert (sweep_dir / "trial-0000" / "log.txt").read_text().count("[kerasdl] run directory") == 1


@pytest.fixture(scope="module")
def postgres_url():
    """A real PostgreSQL server in a temporary folder, or a skip that says why there is none."""
    pytest.importorskip("psycopg2", reason="psycopg2 is not installed (pip install "
                                           "psycopg2-binary)")
    initdb = shutil.which("initdb") or next(iter(sorted(glob.glob(
        "/usr/lib/postgresql/*/bin/initdb"))), None)
    if initdb is None:
        pytest.skip("no PostgreSQL server here (initdb not found; Debian: apt-get install "
                    "postgresql)")
    bin_dir = Path(initdb).parent
    as_user: list[str] = []
    root = tempfile.mkdtemp(prefix="kerasdl-pg-", dir="/tmp")
    if os.geteuid() == 0:                  # the server refuses to run as root
        if subprocess.run(["id", "postgres"], capture_output=True).returncode != 0:
            pytest.skip("running as root and there is no 'postgres' user to run the server as")
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = f"{root}/data"
    run = lambda *cmd: subprocess.run([*as_user, *cmd], capture_output=True, text=True,  # noqa: E731
                                      timeout=120)
    made = run(str(bin_dir / "initdb"), "-D", data, "-A", "trust", "-U", "postgres")
    if made.returncode != 0:
        pytest.skip(f"initdb failed: {made.stderr.strip()[-300:]}")
    started = run(str(bin_dir / "pg_ctl"), "-D", data, "-w", "-l", f"{root}/log",
                  "-o", f"-k {root} -p {port} -c listen_addresses=''", "start")
    if started.returncode != 0:
        pytest.skip(f"the PostgreSQL server did not start: {started.stderr.strip()[-300:]}")
    try:
        import psycopg2

        connection = psycopg2.connect(host=root, port=port, user="postgres", dbname="postgres")
        connection.autocommit = True
        connection.cursor().execute("CREATE DATABASE kerasdl")
        connection.close()
        yield f"postgresql+psycopg2://postgres@/kerasdl?host={root}&port={port}"
    finally:
        run(str(bin_dir / "pg_ctl"), "-D", data, "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.parametrize("storage", ["sqlite", "postgresql"])
def test_two_sweep_processes_share_one_study(tmp_path, storage, request):
    url = (f"sqlite:///{tmp_path / 'shared.db'}" if storage == "sqlite"
           else request.getfixturevalue("postgres_url"))
    processes = [subprocess.Popen(
        [sys.executable, "-m", "kerasdl",
         *_sweep_args(tmp_path / f"machine{i}", 5, "--storage", url, "--study", "shared",
                      "--param", "trainer.learning_rate=loguniform(1e-3, 1e-2)", *SHORT)],
        cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for i in (1, 2)]
    outputs = [p.communicate(timeout=900)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    import optuna

    study = optuna.load_study(study_name="shared", storage=url)
    complete = [t for t in study.get_trials() if t.state.name == "COMPLETE"]
    assert len(complete) == 5, [(t.number, t.state.name) for t in study.get_trials()]
    assert len({t.user_attrs["kerasdl_run_dir"] for t in complete}) == 5
    ran = sorted(int(n) for out in outputs for n in
                 [line.split()[2] for line in out.splitlines() if " started: " in line])
    assert ran == sorted(t.number for t in complete), outputs         # none ran twice
    # the process that ran out of trials first waited for the other's last one
    last_lines = [out.strip().splitlines()[-2:] for out in outputs]
    assert all(" of 5 trials finished (5 complete)" in lines[0] for lines in last_lines), outputs
    assert len({lines[1].split(";")[0] for lines in last_lines}) == 1, outputs   # the same best


@pytest.mark.slow
def test_prune_stops_poor_trials_early(tmp_path):
    result = run_cli(*_sweep_args(tmp_path, 8, "--seed", "0", "--prune",
                                  "--param", "trainer.learning_rate=loguniform(1e-6, 1e-2)",
                                  "--set", "trainer.epochs=6",
                                  "--set", "callbacks.early_stopping.enabled=False",
                                  "--set", "callbacks.tensorboard.enabled=False"),
                     cwd=tmp_path, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = _trials(tmp_path / "mlp_digits")
    pruned = [row for row in rows if row["state"] == "PRUNED"]
    assert pruned, rows
    best = max(float(row["val_accuracy"]) for row in rows if row["state"] == "COMPLETE")
    for row in pruned:
        assert float(row["val_accuracy"]) < best
        epochs = int(row["note"].split("pruned after epoch ")[1])
        assert epochs < 6 and not (Path(row["run_dir"]) / "report.txt").exists()
