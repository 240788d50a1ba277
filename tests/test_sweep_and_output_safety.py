"""Issue 24, part 4: sweeps, offline runs and quiet output, as a hostile user meets them.

Everything runs the real path: ``python -m kerasdl`` subprocesses (or ``kerasdl.cli.main`` in a
fresh process, for the checks that end before TensorFlow is imported), real Optuna studies, a real
PostgreSQL server where one can be started, real kills. The sweeps, the wheel and the PostgreSQL
storage are slow.
"""
from __future__ import annotations

import ast
import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
import venv
from pathlib import Path

import pytest

from conftest import REPO, run_cli, run_python
from test_sweep import postgres_url  # noqa: F401  (the fixture: a real server, or a skip)

EXPERIMENT = str(REPO / "experiments" / "mlp_digits.py")
SHORT = ("--set", "callbacks.early_stopping.enabled=False",
         "--set", "callbacks.tensorboard.enabled=False")
#: the strings a hostile user passes as --study, and puts into --workdir and --set values
PWNED = 'x"""+__import__("os").system("touch PWNED")+"""'
HOSTILE_NAMES = [PWNED, "../../escaped", "..", ".", "two\nlines", "{}", "back\\slash", "it's",
                 'say "hi"', "with space", ""]
HOSTILE_FOLDER = 'C:\\Users\\me\\u00e9 """{x}\' q?#%41'


def _env(**extra: str) -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2", **extra}


def _kerasdl(*args: str, cwd: Path, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kerasdl", *args], cwd=cwd, env=_env(**env),
                          capture_output=True, text=True, timeout=timeout)


# --- 1, 2: study names, generated files, storage URLs --------------------------------------------

def test_hostile_study_names_and_storages_are_refused_in_one_line_before_any_folder(tmp_path):
    fake = tmp_path / "fake_drivers"          # a PyMySQL that find_spec sees, for the URL mapping
    (fake / "pymysql").mkdir(parents=True)
    (fake / "pymysql" / "__init__.py").write_text("")
    work = tmp_path / "work"
    code = f"""
import sys
from kerasdl.cli import main
from kerasdl.sweep.study import storage_url

base = ["sweep", {EXPERIMENT!r}, "--param", "trainer.learning_rate=uniform(0.01, 0.1)",
        "--trials", "1", "--workdir", {str(work)!r}]
for name in {HOSTILE_NAMES!r}:
    try:
        main([*base, "--study", name])
    except SystemExit as exit:
        print("EXIT", exit.code)
for storage in ("mysql://me@db.example/sweeps",
                "postgresql+psycopg2://nobody@127.0.0.1:1/none?connect_timeout=2"):
    try:
        main([*base, "--storage", storage])
    except SystemExit as exit:
        print("EXIT", exit.code)
print("TF_IMPORTED", "tensorflow" in sys.modules)
print("PG", storage_url("postgresql://me@db.example/sweeps"))
sys.path.insert(0, {str(fake)!r})
print("MYSQL", storage_url("mysql://me@db.example/sweeps"))
print("KEPT", storage_url("postgresql+psycopg://me@db.example/sweeps"))
"""
    result = run_python(code, cwd=tmp_path)
    out = result.stdout.splitlines()
    assert out[:len(HOSTILE_NAMES) + 2] == ["EXIT 2"] * (len(HOSTILE_NAMES) + 1) + ["EXIT 1"], \
        result.stdout + result.stderr
    errors = result.stderr.strip().splitlines()
    assert len(errors) == len(HOSTILE_NAMES) + 2, errors           # one line each, no traceback
    for name, line in zip(HOSTILE_NAMES, errors):
        assert line.startswith("error: --study must use letters, digits, '_', '-' or '.' only "
                               "(it names the folder <workdir>/<study>); got " + repr(name)), line
    assert errors[-2] == ("error: --storage mysql://... needs a database driver, and none is "
                          "installed: pip install PyMySQL")
    assert errors[-1].startswith("error: --storage postgresql+psycopg2://nobody@127.0.0.1:1/none"
                                 "?connect_timeout=2 cannot be opened: "), errors[-1]
    assert out[len(HOSTILE_NAMES) + 2:] == [
        "TF_IMPORTED False", "PG postgresql+psycopg2://me@db.example/sweeps",
        "MYSQL mysql+pymysql://me@db.example/sweeps",
        "KEPT postgresql+psycopg://me@db.example/sweeps"]
    # nothing was made: no study folder, none outside --workdir, no PWNED, no empty sweep folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake_drivers"]
    assert not list(REPO.glob("PWNED")) and not (tmp_path.parent / "escaped").exists()


def test_best_experiment_holds_user_text_only_as_literals(tmp_path):
    from kerasdl.experiment import load_experiment
    from kerasdl.sweep import parse_space, plan_sweep
    from kerasdl.sweep.study import _write_best_experiment

    experiment = load_experiment(EXPERIMENT)
    hostile_set = f"description={PWNED!r}"
    plan = plan_sweep(EXPERIMENT, experiment, [hostile_set],
                      parse_space(["trainer.learning_rate=uniform(0.01, 0.1)"], experiment), 2,
                      workdir=tmp_path / HOSTILE_FOLDER, study_name="mlp-digits.v2")
    plan.sweep_dir.mkdir(parents=True)
    path = _write_best_experiment(plan, {"number": 3, "value": 0.9, "run_dir": str(plan.sweep_dir),
                                         "params": {"trainer.learning_rate": 0.05}})
    # every user string is a string constant of the module, none in its code or docstring
    tree = ast.parse(path.read_text())
    constants = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)}
    assert {hostile_set, str(plan.sweep_dir)} <= constants
    assert HOSTILE_FOLDER not in ast.get_docstring(tree) and "PWNED" not in ast.get_docstring(tree)
    shown = run_cli("show", str(path), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    config = json.loads(shown.stdout)
    assert config["description"] == PWNED and config["trainer"]["learning_rate"] == 0.05
    assert not list(tmp_path.rglob("PWNED"))


# --- 6: sample-folder, killed ------------------------------------------------------------------

@pytest.mark.slow      # (the default suite is at its 10 minutes)
def test_a_killed_sample_folder_leaves_no_half_written_folder(tmp_path):
    target = tmp_path / "digits"
    killed = _kerasdl("sample-folder", str(target), "--per-class", "3", cwd=tmp_path,
                      KERASDL_KILL_AT="sample-folder:100")
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assert not target.exists()                                   # not 99 images and a 0-byte PNG
    assert [p.name for p in tmp_path.iterdir()][0].startswith(".digits.partial-")
    again = _kerasdl("sample-folder", str(target), "--per-class", "3", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("[kerasdl] wrote 15 training and 500 test images")
    assert [p.name for p in tmp_path.iterdir()] == ["digits"]     # the killed run's leftovers gone
    pngs = list(target.rglob("*.png"))
    assert len(pngs) == 515 and min(p.stat().st_size for p in pngs) > 0


# --- 5: transfer without network ---------------------------------------------------------------

@pytest.mark.slow      # (a real run; the default suite is at its 10 minutes)
def test_offline_transfer_names_the_ways_out(tmp_path):
    from kerasdl.data.mnist_subsets import write_digit_folder

    write_digit_folder(tmp_path / "digits", per_class=2)
    unreachable = "http://127.0.0.1:9"          # a refused connection, as on a machine offline
    result = _kerasdl("run", str(REPO / "experiments" / "transfer_folder.py"),
                      "--set", f"data.name=folder:{tmp_path / 'digits'}", "--set", "data.test_limit=10",
                      "--workdir", str(tmp_path / "runs"), cwd=tmp_path,
                      HTTPS_PROXY=unreachable, https_proxy=unreachable,
                      KERAS_HOME=str(tmp_path / "keras_home"))
    assert result.returncode == 1
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("error: keras:MobileNetV2's ImageNet weights could not be downloaded "), \
        result.stderr[-3000:]
    assert ("set --set finetune.weights=None (random initialisation), or --set "
            "finetune.weights=PATH to a local weights file, or place "
            "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5 (from https://") in error
    assert error.endswith(f"in {tmp_path / 'keras_home' / 'models'}/")
    assert "Traceback" not in result.stderr and not list((tmp_path / "runs").glob("*"))


# --- 7, 8: quiet library use, bounded figures --------------------------------------------------

def test_library_use_is_as_quiet_as_the_cli(tmp_path):
    code = """
import sys, time
start = time.perf_counter()
import kerasdl
print("IMPORT", round(time.perf_counter() - start, 2), "tensorflow" in sys.modules)
import numpy as np
model = kerasdl.build("lenet5")
from kerasdl.plots import image_grid, plot_confusion
names = ["猫", "犬", "鳥"]
plot_confusion(np.array([0, 1, 2, 2]), np.array([0, 1, 1, 2]), 3, "confusion.png", class_names=names)
image_grid(np.random.rand(3, 8, 8, 1), names, "grid.png", title="動物")
print("PARAMS", model.count_params())
"""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "KERASDL_DEBUG")}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300, env={**env, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""                           # no TensorFlow notices, no Glyph warnings
    imported = result.stdout.split()
    assert imported[0] == "IMPORT" and float(imported[1]) < 1.0 and imported[2] == "False"
    assert "PARAMS 61706" in result.stdout and (tmp_path / "grid.png").stat().st_size > 0


def test_the_confusion_figure_stays_small_at_imagenet_scale():
    result = subprocess.run([sys.executable, "bench/confusion_memory.py", "--classes", "40", "2000"],
                            cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.strip().splitlines()[1:]]
    for classes, baseline, confusion, predictions, png_kb in rows:
        assert int(confusion) - int(baseline) < 600, rows       # MB; 6 GB at 300 classes before
        assert int(predictions) - int(baseline) < 600, rows


@pytest.mark.slow
def test_a_run_with_2000_classes_finishes_with_its_figures(tmp_path):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for index in range(2000):                  # 2,000 classes of 2 images, half held out
        folder = tmp_path / "classes" / f"class{index:04d}"
        folder.mkdir(parents=True)
        for image in range(2):
            Image.fromarray(rng.integers(0, 255, (16, 16), dtype=np.uint8)).save(
                folder / f"{image}.png")
    result = run_cli("run", "lenet5", "--set", f"data.name=folder:{tmp_path / 'classes'}",
                     "--set", "data.test_fraction=0.5", "--set", "trainer.epochs=1",
                     "--set", "data.augment=()", "--workdir", str(tmp_path / "runs"),
                     cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    run_dir = next((tmp_path / "runs").glob("lenet5-*"))
    assert (run_dir / "report.txt").is_file()                     # finished, not left unfinished
    for figure in ("confusion.png", "predictions.png", "samples.png"):
        assert (run_dir / figure).stat().st_size < 2_000_000, figure
    assert len(json.loads((run_dir / "per_class.json").read_text())) == 2000


# --- 9: experiment names from anywhere, the README's example -----------------------------------

def test_a_builtin_experiment_name_resolves_outside_the_repository(tmp_path):
    shown = run_cli("show", "lenet5", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["name"] == "lenet5"
    listed = run_cli("list", cwd=tmp_path)
    assert listed.returncode == 0 and re.search(r"lenet5\.py +LeNet-5 on MNIST", listed.stdout)
    assert not list(tmp_path.iterdir())


def test_the_readmes_experiment_example_is_lenet5():
    from kerasdl.experiment import load_experiment

    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Experiment files"):]
    example = section[section.index("```python") + len("```python"):section.index("```\n", 10)]
    namespace: dict = {}
    exec(compile(example, "README.md", "exec"), namespace)       # the README's own text
    assert namespace["get_config"]().to_dict() == load_experiment("lenet5").to_dict()


@pytest.mark.slow
def test_run_by_name_from_an_installed_wheel(tmp_path):
    wheel = subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps",
                            "--no-build-isolation", "-w", str(tmp_path / "dist"), "-q"],
                           capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert wheel.returncode == 0, wheel.stderr
    venv.create(tmp_path / "env", system_site_packages=True, with_pip=False)
    python = str(tmp_path / "env" / "bin" / "python")
    built = next((tmp_path / "dist").glob("kerasdl-*.whl"))
    # pip of the outer interpreter installs into the virtual environment (no network needed)
    install = subprocess.run([sys.executable, "-m", "pip", "--python", python, "install",
                              "--no-deps", "--force-reinstall", str(built), "-q"],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    result = subprocess.run([python, "-m", "kerasdl", "run", "lenet5", "--smoke", "--set",
                             "data.source=embedded"], cwd=outside, capture_output=True, text=True,
                            timeout=600, env={**env, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "site-packages/kerasdl/experiments/lenet5.py" in subprocess.run(
        [python, "-c", "from kerasdl.experiment import resolve_experiment_path as r; "
                       "print(r('lenet5').resolve())"],
        cwd=outside, capture_output=True, text=True, env=env).stdout
    assert list((outside / "runs").glob("lenet5-*/report.txt"))


# --- 1, 3, 4: a real sweep with a hostile folder, a trial killed as the OOM killer does ----------

def _trials(sweep_dir: Path) -> list[dict]:
    with open(sweep_dir / "trials.csv") as handle:
        return list(csv.DictReader(handle))


def _epochs_done(trial_dir: Path) -> int:
    histories = list(trial_dir.glob("*/history.csv"))
    return max((len(h.read_text().strip().splitlines()) - 1 for h in histories), default=0)


def _processes_with(args: list[str]) -> list[int]:
    """The ids of this machine's processes whose command line holds ``args`` in a row."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = [a.decode(errors="replace") for a in cmdline.read_bytes().split(b"\0")]
        except OSError:
            continue
        if any(argv[i:i + len(args)] == args for i in range(len(argv))):
            found.append(int(cmdline.parent.name))
    return found


@pytest.mark.slow
def test_a_trial_killed_by_sigkill_is_named_and_resumed(tmp_path):
    workdir = tmp_path / HOSTILE_FOLDER
    sweep_dir = workdir / "mlp_digits"
    sweep = subprocess.Popen(
        [sys.executable, "-m", "kerasdl", "sweep", EXPERIMENT, "--trials", "2", "--seed", "0",
         "--workdir", str(workdir), "--param", "trainer.learning_rate=loguniform(1e-3, 1e-2)",
         "--set", "trainer.epochs=12", "--set", "data.batch_size=8", *SHORT],
        cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 300
        while _epochs_done(sweep_dir / "trial-0000") < 2:
            assert time.time() < deadline and sweep.poll() is None, "trial 0 made no epochs"
            time.sleep(0.2)
        pids = _processes_with(["--workdir", str(sweep_dir / "trial-0000")])
        assert len(pids) == 1, pids
        os.kill(pids[0], signal.SIGKILL)                  # as the out-of-memory killer does
        output = sweep.communicate(timeout=900)[0]
    finally:
        if sweep.poll() is None:
            sweep.kill()
    assert sweep.returncode == 0, output
    assert re.search(r"trial 0 was killed by SIGKILL; the out-of-memory killer does this after "
                     r"\d+ s; it will be resumed from its last epoch backup", output), output
    rows = _trials(sweep_dir)
    assert rows[0]["state"] == "FAIL" and rows[0]["note"] == (
        "killed by SIGKILL; the out-of-memory killer does this; resumed as a later trial")
    complete = [row for row in rows if row["state"] == "COMPLETE"]
    assert len(complete) == 2 and complete[0]["note"] == "resumes trial 0", rows
    log = (sweep_dir / "trial-0000" / "log.txt").read_text()
    assert "resuming after epoch" in log and _epochs_done(sweep_dir / "trial-0000") == 12
    assert "of 2 trials finished (2 complete)" in output
    # the generated best_experiment.py loads, whatever the folder's name holds
    shown = run_cli("show", str(sweep_dir / "best_experiment.py"), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["trainer"]["epochs"] == 12
    assert not list(tmp_path.rglob("PWNED"))
    # compare names the trials and shows the metric the sweep optimized
    table = run_cli("compare", str(sweep_dir), cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.strip().splitlines()
    assert "sweep val_accuracy" in lines[0] and "trainer.learning_rate" in lines[0]
    numbers = {row["trial"]: row["val_accuracy"] for row in complete}
    for line in lines[1:]:
        trial = re.match(r"trial (\d+) ", line)
        assert trial and numbers[trial.group(1)] in line, lines


@pytest.mark.slow
def test_a_postgresql_url_as_the_readme_writes_it(tmp_path, postgres_url):  # noqa: F811
    readme_form = postgres_url.replace("postgresql+psycopg2://", "postgresql://")
    result = run_cli("sweep", EXPERIMENT, "--trials", "1", "--workdir", str(tmp_path),
                     "--storage", readme_form, "--study", "readme-form",
                     "--param", "trainer.learning_rate=loguniform(1e-3, 1e-2)",
                     "--set", "trainer.epochs=2", *SHORT, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "driver" not in result.stderr and "1 of 1 trials finished (1 complete)" in result.stdout
