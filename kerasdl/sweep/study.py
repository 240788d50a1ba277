"""``kerasdl sweep``: search an experiment's settings with Optuna, each trial a normal kerasdl run.

The sweep process asks Optuna for a trial, runs it as ``python -m kerasdl run EXPERIMENT --set
KEY=VALUE ...`` in its own folder of the sweep directory, follows its ``history.csv`` epoch by
epoch (reporting the metric, so a pruner can stop it), and tells Optuna the result. ``--parallel
K`` runs K trials at once, one subprocess each, with the cores shared out (``device.threads``).
The study lives in a storage (an SQLite file in the sweep directory by default, or a PostgreSQL /
MySQL URL shared by sweep processes on many machines), so:

* running the same command again continues the study until ``--trials`` trials have finished;
* a trial whose sweep process died (kill -9, a lost machine) is marked failed and **resumed** from
  its run's last epoch backup by the next sweep process that sees it (same machine: at once, by its
  process id; another machine: once its heartbeat is older than :data:`STALE_AFTER_S`);
* sweep processes sharing one storage finish N trials between them, none twice.

Optuna: Akiba et al., "Optuna: A Next-generation Hyperparameter Optimization Framework", KDD 2019.
"""
from __future__ import annotations

import csv
import dataclasses
import importlib.util
import io
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from kerasdl.config import VALIDATION_PREFIX, Experiment, check_name, metric_base, metric_direction
from kerasdl.errors import ConfigError, KerasdlError
from kerasdl.sweep.space import Param, set_item
from kerasdl.sweep.tensorboard import TrialSession, trial_name

Log = Callable[[str], None]

#: seconds between a running trial's heartbeats, and the age at which a trial of another machine
#: counts as dead (its sweep process was killed or its machine lost)
HEARTBEAT_S = 10.0
STALE_AFTER_S = 120.0
#: how often the sweep reads a running trial's history.csv (pruning works at epoch ends)
POLL_S = 0.5
PRUNERS = ("median", "hyperband")
TRIALS_CSV = "trials.csv"
BEST_EXPERIMENT = "best_experiment.py"
#: how many times a trial killed by a signal (the out-of-memory killer's SIGKILL) is resumed
SIGNAL_RESUMES = 2
#: URL scheme -> (the driver module SQLAlchemy picks for it, the driver the README names, its
#: pip package, the explicit scheme that selects it)
DRIVERS = {"postgresql": ("psycopg", "psycopg2", "psycopg2-binary", "postgresql+psycopg2"),
           "mysql": ("MySQLdb", "pymysql", "PyMySQL", "mysql+pymysql")}

# user attributes of a trial in the study
OWNER, HEARTBEAT, RUN_DIR, WALL, RESUMES, NOTE = ("kerasdl_owner", "kerasdl_heartbeat",
                                                   "kerasdl_run_dir", "kerasdl_wall_s",
                                                   "kerasdl_resumes", "kerasdl_note")
SURPLUS = "kerasdl_surplus"
CUT_OFF = "kerasdl_cut_off"     # a failed trial that a later trial resumes
_WAIT = object()       # nothing to claim yet: trials of other sweep processes are still running


class SweepError(KerasdlError):
    """A sweep cannot start or go on.

    A storage that cannot be opened, a study made for other settings, an experiment whose trials
    all fail.
    """


@dataclasses.dataclass(frozen=True)
class SweepPlan:
    """Everything ``kerasdl sweep`` was asked to do, checked (see :func:`plan_sweep`)."""

    experiment_path: Path
    experiment: Experiment              # with the fixed --set overrides applied
    fixed: tuple[str, ...]              # the fixed --set items, passed to every trial
    space: dict[str, Param]
    trials: int
    parallel: int
    metric: str
    direction: str                      # "maximize" or "minimize"
    prune: Optional[str]
    sweep_dir: Path
    storage: str
    study_name: str
    seed: Optional[int] = None

    def definition(self) -> dict[str, Any]:
        """What makes a study this sweep's.

        Kept in the study, checked when the command is run again.
        """
        return {"experiment": self.experiment.name, "metric": self.metric,
                "direction": self.direction,
                "space": {key: param.describe() for key, param in self.space.items()},
                "fixed": list(self.fixed)}


def plan_sweep(experiment_path: str | Path, experiment: Experiment, fixed: Sequence[str],
               space: dict[str, Param], trials: int, parallel: int = 1,
               metric: Optional[str] = None, prune: Optional[str] = None,
               storage: Optional[str] = None, study_name: Optional[str] = None,
               workdir: Optional[str | Path] = None, seed: Optional[int] = None) -> SweepPlan:
    """Check a sweep's settings (no TensorFlow, no Optuna) and resolve its defaults.

    The metric defaults to ``callbacks.monitor`` (maximized when higher is better, as Keras
    decides); the study name to the experiment's name; the sweep directory to
    ``<workdir or sweeps>/<study>``; the storage to ``sqlite:///<sweep dir>/study.db``.
    """
    if trials < 1:
        raise ConfigError(f"--trials must be >= 1; got {trials}")
    if parallel < 1:
        raise ConfigError(f"--parallel must be >= 1; got {parallel}")
    if prune is not None and prune not in PRUNERS:
        raise ConfigError(f"--prune takes {' or '.join(PRUNERS)}; got {prune!r}")
    metric = metric or experiment.callbacks.monitor
    base = metric_base(metric)
    logged = experiment.logged_metrics()
    if base not in logged:
        from kerasdl.errors import did_you_mean

        raise ConfigError(f"--metric {metric!r} is not logged by this experiment; it logs "
                          f"{', '.join(sorted(logged))} and their val_ forms"
                          f"{did_you_mean(base, logged)}")
    if metric.startswith(VALIDATION_PREFIX) and experiment.data.validation_fraction == 0:
        raise ConfigError(f"--metric {metric!r} needs validation data, but "
                          "data.validation_fraction is 0; set it > 0 or use --metric " + base)
    study_name = experiment.name if study_name is None else study_name
    check_name(study_name, "--study", names="the folder <workdir>/<study>",
               hint=f"; choose a name like {experiment.name}-lr")
    sweep_dir = Path(workdir or "sweeps") / study_name
    # the path percent-encoded: SQLAlchemy decodes it, and a '?', '#' or '{' (which Optuna fills
    # in as a template) in --workdir stays part of the file name
    storage = (storage_url(storage) if storage else
               f"sqlite:///{urllib.parse.quote(str((sweep_dir / 'study.db').resolve()))}")
    return SweepPlan(Path(experiment_path), experiment, tuple(fixed), dict(space), trials,
                     parallel, metric, "maximize" if metric_direction(metric) == "max" else "minimize",
                     prune, sweep_dir, storage, study_name, seed)


def storage_url(url: str) -> str:
    """The SQLAlchemy URL for ``--storage url``, with the driver the README names where needed.

    ``postgresql://`` makes SQLAlchemy 2 load psycopg 3 and ``mysql://`` mysqlclient; where that
    driver is missing and psycopg2 (psycopg2-binary) or PyMySQL is installed, the URL names it
    (``postgresql+psycopg2://``, ``mysql+pymysql://``). A URL that names its driver is kept.
    Raises a ConfigError naming the pip package when no driver is installed.
    """
    if not url.startswith(("sqlite:", "postgresql", "mysql")):
        raise ConfigError(f"--storage must be an SQLAlchemy URL (sqlite:///FILE, "
                          f"postgresql://USER@HOST/DB, mysql://USER@HOST/DB); got {url!r}")
    scheme, _, rest = url.partition("://")
    if scheme not in DRIVERS:                      # sqlite, or a driver named (postgresql+...)
        return url
    default, named, package, explicit = DRIVERS[scheme]
    if _installed(default):
        return url
    if _installed(named):
        return f"{explicit}://{rest}"
    raise ConfigError(f"--storage {scheme}://... needs a database driver, and none is installed: "
                      f"pip install {package}")


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@dataclasses.dataclass
class SweepResult:
    """What a sweep left: its directory, the study's trials table and the best trial."""

    sweep_dir: Path
    trials_csv: Path
    finished: int
    best: Optional[dict[str, Any]]       # number, value, params, run_dir; None if none completed
    best_experiment: Optional[Path]
    wall_s: float


def run_sweep(plan: SweepPlan, log: Log = print) -> SweepResult:
    """Run (or continue) the sweep ``plan`` until its study has ``plan.trials`` finished trials."""
    started = time.time()
    made = _first_missing(plan.sweep_dir)
    plan.sweep_dir.mkdir(parents=True, exist_ok=True)
    try:
        study = _open_study(plan)
    except BaseException:
        if made is not None:              # a storage that failed leaves no folder behind
            shutil.rmtree(made, ignore_errors=True)
        raise
    sweeper = _Sweeper(plan, study, log)
    done = sweeper.count_finished()
    log(f"[kerasdl] sweep {plan.study_name}: {done} of {plan.trials} trials finished so far; "
        f"{plan.metric} is {'maximized' if plan.direction == 'maximize' else 'minimized'}"
        f"{f', {plan.parallel} at a time' if plan.parallel > 1 else ''}; "
        f"directory {plan.sweep_dir}")
    workers = [threading.Thread(target=sweeper.work, name=f"sweep-{i}", daemon=True)
               for i in range(plan.parallel)]
    for worker in workers:
        worker.start()
    for worker in workers:
        while worker.is_alive():         # join in slices, so Ctrl-C reaches this thread
            worker.join(0.2)
    if sweeper.fatal:
        raise sweeper.fatal
    return sweeper.finish(time.time() - started)


def _first_missing(directory: Path) -> Optional[Path]:
    """The outermost folder of ``directory``'s path that does not exist yet (None if it does)."""
    missing = None
    for folder in (directory, *directory.parents):
        if folder.exists():
            break
        missing = folder
    return missing


def _open_study(plan: SweepPlan):
    try:
        import optuna
    except ImportError:
        raise SweepError("kerasdl sweep needs Optuna: pip install 'kerasdl[sweep]'") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    attempts = 5
    for attempt in range(attempts):
        try:
            storage = optuna.storages.RDBStorage(
                plan.storage, engine_kwargs=({"connect_args": {"timeout": 60}}
                                             if plan.storage.startswith("sqlite") else {}))
            break
        except ImportError as error:      # the database driver: psycopg2, PyMySQL
            raise SweepError(f"--storage {plan.storage}: its database driver is not installed "
                             f"({error}); for PostgreSQL pip install psycopg2-binary, for MySQL "
                             "pip install PyMySQL") from None
        except Exception as error:        # noqa: BLE001 - SQLAlchemy's: unreachable, refused, ...
            # ... or two sweep processes making a new storage's tables at the same moment
            # ("already exists", "UNIQUE constraint failed"): the second try finds them made
            if attempt == attempts - 1:
                raise SweepError(f"--storage {plan.storage} cannot be opened: "
                                 f"{str(error).splitlines()[0]}") from None
            time.sleep(0.5 + random.random())
    study = optuna.create_study(storage=storage, study_name=plan.study_name,
                                pruner=_pruner(plan), direction=plan.direction,
                                load_if_exists=True)
    # --seed: a continued study draws new samples, not the first run's again
    study.sampler = optuna.samplers.TPESampler(
        seed=None if plan.seed is None else plan.seed + len(study.get_trials(deepcopy=False)))
    definition = plan.definition()
    stored = study.user_attrs.get("kerasdl_sweep")
    if stored is None:
        study.set_user_attr("kerasdl_sweep", definition)
    elif stored != definition:
        differs = [k for k in definition if definition[k] != stored.get(k)]
        raise SweepError(f"study {plan.study_name!r} in {plan.storage} was made for other "
                         f"settings (its {', '.join(differs)} differ: {stored}); run the same "
                         "command to continue it, or name a new study with --study NAME")
    return study


def _pruner(plan: SweepPlan):
    import optuna

    if plan.prune == "median":      # stop a trial below the median of the others at that epoch
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
    if plan.prune == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1,
                                              max_resource=plan.experiment.trainer.epochs)
    return optuna.pruners.NopPruner()


class _Sweeper:
    """The trial loop that each of the sweep's worker threads runs."""

    def __init__(self, plan: SweepPlan, study, log: Log):
        import optuna

        self.plan, self.study, self.log, self.optuna = plan, study, log, optuna
        self.claim_lock = threading.Lock()
        self.owner = _process_identity(os.getpid())
        self.distributions = {key: p.distribution() for key, p in plan.space.items()}
        self.fatal: Optional[Exception] = None
        self.stop = threading.Event()
        self.running_here = 0               # trials this process's threads are running
        cores = os.cpu_count() or 1
        self.threads = max(1, cores // plan.parallel) if plan.parallel > 1 else 0

    # --- the study's bookkeeping -----------------------------------------------------------
    def counted_trials(self) -> list:
        """The trials that count towards --trials: finished or running.

        Not surplus claims, not queued, and not cut-off runs that a later trial resumes.
        """
        S = self.optuna.trial.TrialState
        trials = self.study.get_trials(deepcopy=False)
        resumed = _resumed_numbers(trials)
        return [t for t in trials if t.state != S.WAITING and not t.user_attrs.get(SURPLUS)
                and not (t.state == S.FAIL and (t.number in resumed or t.user_attrs.get(CUT_OFF)))]

    def count_finished(self) -> int:
        return sum(1 for t in self.counted_trials() if t.state.is_finished())

    def _reap_dead_trials(self) -> None:
        """Mark trials whose sweep process is gone as failed, and queue their resumption."""
        S = self.optuna.trial.TrialState
        host = socket.gethostname()
        for trial in self.study.get_trials(deepcopy=False, states=(S.RUNNING,)):
            owner = trial.user_attrs.get(OWNER)
            if not owner or owner == self.owner:
                continue
            owner_host = owner.split(":", 1)[0]
            if owner_host == host:
                dead = not _alive(owner)
            else:
                dead = time.time() - trial.user_attrs.get(HEARTBEAT, 0) > STALE_AFTER_S
            if not dead:
                continue
            try:
                self.study.tell(trial.number, state=S.FAIL)
            except Exception:       # noqa: BLE001 - another sweep process reaped it first
                continue
            self.study.enqueue_trial(trial.params, user_attrs={RESUMES: trial.number})
            self.log(f"[kerasdl] trial {trial.number} was cut off (its sweep process {owner} is "
                     "gone); it will be resumed from its last epoch backup")

    def _claim(self):
        """The next trial to run, or None once the study has enough.

        This machine's sweep processes claim one at a time; machines sharing a storage settle
        races by trial number.
        """
        from kerasdl.files import exclusive_lock

        with self.claim_lock, exclusive_lock(self.plan.sweep_dir / ".claim.lock"):
            if self.stop.is_set():
                return None
            self._reap_dead_trials()
            counted = self.counted_trials()
            if len(counted) >= self.plan.trials:
                # wait while others run the last trials: one whose process dies is resumed here
                running = [t.number for t in counted if not t.state.is_finished()]
                return _WAIT if running and not self.running_here else None
            trial = self.study.ask(self.distributions)
            trial.set_user_attr(OWNER, self.owner)
            trial.set_user_attr(HEARTBEAT, time.time())
            counted = sorted(t.number for t in self.counted_trials())
            if trial.number not in counted[: self.plan.trials]:   # another machine was first
                trial.set_user_attr(SURPLUS, True)
                self.study.tell(trial, state=self.optuna.trial.TrialState.FAIL)
                if RESUMES in trial.user_attrs:
                    self.study.enqueue_trial(trial.params,
                                             user_attrs={RESUMES: trial.user_attrs[RESUMES]})
                return None
            return trial

    # --- one trial ---------------------------------------------------------------------------
    def work(self) -> None:
        try:
            waiting = False
            while not self.stop.is_set():
                trial = self._claim()
                if trial is None:
                    return
                if trial is _WAIT:
                    if not waiting:
                        self.log("[kerasdl] waiting for the last trials, running in other "
                                 "sweep processes")
                    waiting = True
                    time.sleep(2.0)
                    continue
                waiting = False
                with self.claim_lock:
                    self.running_here += 1
                try:
                    self._run(trial)
                finally:
                    with self.claim_lock:
                        self.running_here -= 1
        except BaseException as error:      # noqa: BLE001 - reported by run_sweep
            self.fatal = self.fatal or error
            self.stop.set()

    def _run(self, trial) -> None:
        plan, S = self.plan, self.optuna.trial.TrialState
        params = {key: param.decode(trial.params[key]) for key, param in plan.space.items()}
        resumes = trial.user_attrs.get(RESUMES)
        trial_dir = plan.sweep_dir / trial_name(trial.number if resumes is None else resumes)
        tensorboard = plan.experiment.callbacks.tensorboard.enabled
        resume_from = _unfinished_run(trial_dir) if resumes is not None else None
        command = [sys.executable, "-m", "kerasdl", "run", str(plan.experiment_path),
                   *[arg for item in plan.fixed for arg in ("--set", item)],
                   *[arg for key, value in params.items() for arg in ("--set", set_item(key, value))],
                   "--set", "output.publish=never", "--set", "trainer.verbose=2",
                   "--set", f"device.threads={self.threads}", "--workdir", str(trial_dir)]
        if tensorboard:    # logs in the trial's folder, above the run's; the sweep writes HParams
            command += ["--set", "callbacks.tensorboard.log_dir='..'",
                        "--set", "callbacks.tensorboard.hparams=False"]
        if resume_from is not None:
            command += ["--resume", str(resume_from)]
        shown = _shown(params)
        how = (f", resuming trial {resumes} from {resume_from}" if resume_from else
               f", re-running trial {resumes} (it had no run directory yet)" if resumes is not None
               else "")
        self.log(f"[kerasdl] trial {trial.number} started: {shown}{how}")
        trial_dir.mkdir(parents=True, exist_ok=True)
        session = TrialSession(plan, trial_dir, params) if tensorboard else None
        started = time.time()
        with open(trial_dir / "log.txt", "a") as log_file:
            process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
            pruned_at = self._follow(trial, process, trial_dir, session)
        wall = time.time() - started
        run_dir = _run_directory(trial_dir)
        trial.set_user_attr(WALL, round(wall, 2))
        if run_dir is not None:
            trial.set_user_attr(RUN_DIR, str(run_dir))
        history = _read_history(run_dir) if run_dir else {}
        values = history.get(plan.metric, [])
        status = None        # the HParams session's: success, failure, none (pruned, cut off)
        if pruned_at is not None:
            trial.set_user_attr(NOTE, f"pruned after epoch {pruned_at}")
            self.study.tell(trial, state=S.PRUNED)
            self.log(f"[kerasdl] trial {trial.number} pruned after epoch {pruned_at} "
                     f"({plan.metric} {values[-1]:.4f}) in {wall:.0f} s")
        elif process.returncode == 0 and values:
            best = max(values) if plan.direction == "maximize" else min(values)
            self.study.tell(trial, best)
            status = "success"
            self.log(f"[kerasdl] trial {trial.number} finished: {plan.metric} {best:.4f} in "
                     f"{wall:.0f} s ({len(values)} epochs)")
        elif process.returncode < 0 and self._resume_killed(trial, -process.returncode, wall):
            pass
        else:
            reason = (_killed_by(-process.returncode) if process.returncode < 0 else
                      _last_error(trial_dir / "log.txt") or f"exit status {process.returncode}")
            trial.set_user_attr(NOTE, reason[:500])
            self.study.tell(trial, state=S.FAIL)
            status = "failure"
            self.log(f"[kerasdl] trial {trial.number} failed in {wall:.0f} s: {reason}")
            if not any(t.state == S.COMPLETE for t in self.study.get_trials(deepcopy=False)):
                self.fatal = SweepError(f"the sweep's first trial failed, so the others would "
                                        f"too: {reason} (its log: {trial_dir / 'log.txt'})")
                self.stop.set()
        if session is not None:
            session.end(pruned_at or len(values), round(wall, 2), status)
        self._write_trials_csv()

    def _resume_killed(self, trial, signum: int, wall: float) -> bool:
        """A trial whose process a signal killed: queue its resumption, as of a cut-off trial.

        Returns False (the trial simply failed) once it was resumed :data:`SIGNAL_RESUMES` times.
        """
        original = trial.user_attrs.get(RESUMES, trial.number)
        tries = sum(1 for t in self.study.get_trials(deepcopy=False)
                    if t.user_attrs.get(RESUMES) == original)
        if tries >= SIGNAL_RESUMES:
            return False
        reason = _killed_by(signum)
        trial.set_user_attr(NOTE, reason)
        trial.set_user_attr(CUT_OFF, True)
        self.study.tell(trial, state=self.optuna.trial.TrialState.FAIL)
        self.study.enqueue_trial(trial.params, user_attrs={RESUMES: original})
        self.log(f"[kerasdl] trial {trial.number} was {reason} after {wall:.0f} s; it will be "
                 "resumed from its last epoch backup")
        return True

    def _follow(self, trial, process: subprocess.Popen, trial_dir: Path,
                session: Optional[TrialSession] = None) -> Optional[int]:
        """Wait for the trial's process; return the epoch the pruner stopped it at, or None.

        Reports each finished epoch's metric to Optuna (and to the trial's HParams ``session``),
        keeps the heartbeat going, and stops the process if the pruner says so (returns that
        epoch).
        """
        reported, beat = 0, time.time()
        while True:
            finished = process.poll() is not None
            run_dir = _run_directory(trial_dir)
            values = _read_history(run_dir).get(self.plan.metric, []) if run_dir else []
            for epoch in range(reported, len(values)):
                trial.report(values[epoch], step=epoch + 1)
                reported = epoch + 1
                if session is not None:
                    session.epoch(reported, values[epoch])
                if (self.plan.prune and not finished and reported < self.plan.experiment.trainer.epochs
                        and trial.should_prune()):
                    process.send_signal(signal.SIGTERM)
                    process.wait()
                    return reported
            if finished:
                return None
            if time.time() - beat > HEARTBEAT_S:
                trial.set_user_attr(HEARTBEAT, time.time())
                beat = time.time()
            time.sleep(POLL_S)

    # --- the end -------------------------------------------------------------------------------
    def _write_trials_csv(self) -> Path:
        from kerasdl.files import atomic_write_text

        keys = list(self.plan.space)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["trial", "name", *keys, "state", self.plan.metric, "wall_s", "run_dir",
                         "note"])
        trials = self.study.get_trials(deepcopy=False)
        resumed = _resumed_numbers(trials)
        for t in trials:
            if t.user_attrs.get(SURPLUS):
                continue
            note = t.user_attrs.get(NOTE, "")
            if t.number in resumed or t.user_attrs.get(CUT_OFF):
                note = f"{note or 'cut off'}; resumed as a later trial"
            if RESUMES in t.user_attrs:
                note = (f"resumes trial {t.user_attrs[RESUMES]}" + (f"; {note}" if note else ""))
            writer.writerow([t.number, trial_name(t.user_attrs.get(RESUMES, t.number)),
                             *[t.params.get(k, "") for k in keys], t.state.name,
                             "" if t.value is None else f"{t.value:.6g}",
                             t.user_attrs.get(WALL, ""), t.user_attrs.get(RUN_DIR, ""), note])
        path = self.plan.sweep_dir / TRIALS_CSV
        atomic_write_text(path, buffer.getvalue())
        return path

    def finish(self, wall: float) -> SweepResult:
        S = self.optuna.trial.TrialState
        trials_csv = self._write_trials_csv()
        finished = self.count_finished()
        states = [t.state for t in self.counted_trials()]
        summary = ", ".join(f"{states.count(s)} {s.name.lower()}" for s in
                            (S.COMPLETE, S.PRUNED, S.FAIL) if states.count(s))
        self.log(f"[kerasdl] sweep {self.plan.study_name}: {finished} of {self.plan.trials} trials "
                 f"finished ({summary or 'none'}); this process took {wall:.0f} s; "
                 f"wrote {trials_csv}")
        if self.plan.experiment.callbacks.tensorboard.enabled:
            self.log(f"[kerasdl] the trials in TensorBoard (runs trial-NNNN/train, "
                     f"trial-NNNN/validation; HParams): tensorboard --logdir {self.plan.sweep_dir}")
        if not any(s == S.COMPLETE for s in states):
            return SweepResult(self.plan.sweep_dir, trials_csv, finished, None, None, wall)
        best = self.study.best_trial
        params = {key: param.decode(best.params[key]) for key, param in self.plan.space.items()}
        record = {"number": best.number, "value": best.value, "params": params,
                  "run_dir": best.user_attrs.get(RUN_DIR)}
        path = _write_best_experiment(self.plan, record)
        shown = _shown(params)
        self.log(f"[kerasdl] best trial {best.number}: {self.plan.metric} {best.value:.4f} "
                 f"({shown}); rerun it: python -m kerasdl run {path}")
        return SweepResult(self.plan.sweep_dir, trials_csv, finished, record, path, wall)


def _write_best_experiment(plan: SweepPlan, best: dict[str, Any]) -> Path:
    """Write an experiment file that is the best trial's config; return its path.

    The sweep's experiment with its fixed and searched settings (and no output.publish override,
    so a rerun publishes as usual). Generated code holds no user text: the study name, paths and
    settings are ``repr()`` literals, and the docstring only numbers and the (checked) metric name.
    """
    from kerasdl.files import atomic_write_text

    overrides = [*plan.fixed, *(set_item(k, v) for k, v in best["params"].items())]
    source = os.path.relpath(plan.experiment_path.resolve(), plan.sweep_dir.resolve())
    path = plan.sweep_dir / BEST_EXPERIMENT
    listed = "".join(f"    {item!r},\n" for item in overrides)
    atomic_write_text(path, f'''"""The best trial ({int(best["number"])}) of a kerasdl sweep: \
{plan.metric} {float(best["value"]):.4f}.

Run it with ``python -m kerasdl run`` and this file's path. It is the sweep's experiment file
(EXPERIMENT, relative to this folder) with OVERRIDES; kerasdl sweep wrote it.
"""
from pathlib import Path

from kerasdl.experiment import load_experiment

STUDY = {plan.study_name!r}
EXPERIMENT = {source!r}
TRIAL_RUN_DIR = {best["run_dir"]!r}
OVERRIDES = [
{listed}]


def get_config():
    return load_experiment(Path(__file__).parent / EXPERIMENT, overrides=OVERRIDES)
''')
    return path


def _killed_by(signum: int) -> str:
    """``killed by SIGKILL; the out-of-memory killer does this`` (``killed by signal 99``)."""
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    oom = "; the out-of-memory killer does this" if signum == signal.SIGKILL else ""
    return f"killed by {name}{oom}"


def _resumed_numbers(trials) -> set[int]:
    """The numbers of cut-off trials that a later trial of ``trials`` resumes."""
    return {t.user_attrs[RESUMES] for t in trials if RESUMES in t.user_attrs}


def _shown(params: dict[str, Any]) -> str:
    """``trainer.learning_rate=0.004430, data.batch_size=32`` (floats to 4 significant digits)."""
    return ", ".join(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value!r}"
                     for key, value in params.items())


def _process_identity(pid: int) -> str:
    """``host:pid:start`` - a process, told apart from a later one that reuses its id."""
    return f"{socket.gethostname()}:{pid}:{_start_time(pid)}"


def _start_time(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "?"


def _alive(owner: str) -> bool:
    """Whether the process ``host:pid:start`` (of this machine) still runs."""
    try:
        _, pid, start = owner.split(":")
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:          # another user's process: it exists
        return True
    return start == "?" or _start_time(int(pid)) == start


def _die_with_parent() -> None:
    """In the trial's process: die when the sweep process dies (Linux).

    So a killed sweep leaves no orphan trial writing into the run directory that the next sweep
    resumes.
    """
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):      # pragma: no cover - not Linux
        pass


def _run_directory(trial_dir: Path) -> Optional[Path]:
    """The kerasdl run directory inside a trial's folder (None before the run made it)."""
    runs = sorted(p.parent for p in Path(trial_dir).glob("*/config.json"))
    return runs[-1] if runs else None


def _unfinished_run(trial_dir: Path) -> Optional[Path]:
    from kerasdl.rundir import FINISHED      # imports no TensorFlow

    run_dir = _run_directory(trial_dir)
    return run_dir if run_dir is not None and not (run_dir / FINISHED).exists() else None


def _read_history(run_dir: Optional[Path]) -> dict[str, list[float]]:
    from kerasdl.reports import read_history

    try:
        return read_history(run_dir) if run_dir else {}
    except (OSError, ValueError):      # caught between writes: read it at the next poll
        return {}


def _last_error(log_path: Path) -> str:
    """The trial's one-line error (kerasdl's ``error: ...``), else its last line."""
    try:
        lines = [line.strip() for line in log_path.read_text(errors="replace").splitlines()
                 if line.strip()]
    except OSError:
        return ""
    errors = [line for line in lines if line.startswith("error:")]
    return (errors or lines or [""])[-1]
